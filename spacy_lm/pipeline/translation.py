"""What only translation needs, beside the `translator` component: the target language's
tokenisation, batches of sources that share one output bound, the decoder conditioned on sources
(with its attention), and Luong et al. 2015's unknown-word replacement.
"""
import math
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import numpy
import spacy
from spacy.tokens import Doc

from ..decoding import Generation
from ..errors import Errors
from ..text.detokenize import detokenize_text
from ..text.vocab import lm_tokens
from .conditioned_lm import ConditionedLM

TARGET_CACHE_SIZE = 1_000_000


class TargetTokenizer:
    """The target language's tokenizer (a blank spaCy pipeline's), caching the docs it makes:
    training reads each target once per epoch."""

    def __init__(self, lang: str) -> None:
        try:
            self.nlp = spacy.blank(lang)
        except Exception as err:
            raise ValueError(Errors.E009.format(setting="target_lang", value=lang,
                                                requirement="a language code spaCy knows (e.g. 'en', 'de')")) from err
        self._cache: Dict[str, Doc] = {}

    def doc(self, text: str) -> Doc:
        doc = self._cache.get(text)
        if doc is None:
            doc = self.nlp.make_doc(text)
            if len(self._cache) < TARGET_CACHE_SIZE:
                self._cache[text] = doc
        return doc

    def tokens(self, text: str) -> List[str]:
        """The target tokens of ``text`` (what tokenised BLEU compares)."""
        return [t.text for t in lm_tokens(self.doc(text))]


def output_bound(n_source: int, max_length: int, length_ratio: float) -> int:
    """The longest output for a source of ``n_source`` ids (its <eos> included):
    ``length_ratio`` × source length + 10, at most ``max_length``."""
    return min(max_length, int(math.ceil(length_ratio * n_source)) + 10)


def bound_batches(docs: Sequence[Doc], size: int, bound: Callable[[int], int]) -> Iterator[List[int]]:
    """Indices of the non-empty docs, longest first, in batches of at most ``size`` whose sources
    share one output bound (so a doc's translation does not depend on its batch)."""
    work = sorted((i for i, doc in enumerate(docs) if lm_tokens(doc)), key=lambda i: -len(lm_tokens(docs[i])))
    group: List[int] = []
    for i in work:
        if group and (len(group) == size
                      or bound(len(lm_tokens(docs[i])) + 1) != bound(len(lm_tokens(docs[group[0]])) + 1)):
            yield group
            group = []
        group.append(i)
    if group:
        yield group


class SourceConditionedLM(ConditionedLM):
    """A translator's decoder conditioned on a batch of sources (row ``i`` decodes source ``i``),
    with the attention of a teacher-forced pass over an output."""

    def __init__(self, model: Any, lm_vocab: Any, start: Any, source_lengths: List[int], *, name: str) -> None:
        super().__init__(model, lm_vocab, start, len(source_lengths), name=name, conditions="sources",
                         batch_error=Errors.E134)
        self.source_lengths = source_lengths

    def attention(self, outputs: Sequence[Sequence[int]], rows: Optional[Sequence[int]] = None
                  ) -> List[numpy.ndarray]:
        """The attention ``(len(outputs[k]), S)`` of source ``rows[k]`` (default: source ``k``)
        while it reads ``outputs[k]`` (row ``t``: the step that produced token ``t``)."""
        eos = self.lm_vocab.eos_id
        rows = list(range(len(outputs))) if rows is None else list(rows)
        result: List[numpy.ndarray] = []
        for i, output in zip(rows, outputs):
            if not output:
                result.append(numpy.zeros((0, self.source_lengths[i]), dtype="float32"))
                continue
            ids = self.ops.asarray(numpy.asarray([[eos, *output[:-1]]], dtype="int32").T.copy())
            start = self.model.select_state(self.start, numpy.asarray([i], dtype="int32"))
            (_, attn, _), _ = self.model.decode(ids, start, False)
            result.append(self.ops.to_numpy(attn[:, 0, : self.source_lengths[i]]))
        return result


def replace_unks(doc: Doc, tokens: List[str], token_ids: Sequence[int], attention, unk_id: int) -> List[str]:
    """Each output ``<unk>`` replaced by the source token it attends to most."""
    source_tokens = [t.text for t in lm_tokens(doc)]
    return [source_tokens[int(attention[k, : len(source_tokens)].argmax())] if token_id == unk_id else token
            for k, (token, token_id) in enumerate(zip(tokens, token_ids))]


def translation_result(doc: Doc, lm: SourceConditionedLM, row: int, generations: List[Generation], *,
                       replace_unk: bool, store_attention: bool) -> Dict[str, Any]:
    """One doc's annotations from its hypotheses (best first). Attention comes from a
    teacher-forced pass over an output, run only when stored or needed to replace ``<unk>``."""
    unk = lm.lm_vocab.unk_id
    texts, best_tokens, best_attention = [], [], None
    for k, generation in enumerate(generations):
        tokens = list(generation.tokens)
        needs_unk = replace_unk and unk in generation.token_ids
        attention = None
        if needs_unk or (k == 0 and store_attention):
            attention = lm.attention([generation.token_ids], rows=[row])[0]
        if needs_unk:
            tokens = replace_unks(doc, tokens, generation.token_ids, attention, unk)
        if k == 0:
            best_tokens, best_attention = tokens, attention
        texts.append(detokenize_text(tokens))
    best = generations[0]
    result = {"text": texts[0], "tokens": best_tokens, "logprobs": [float(v) for v in best.logprobs],
              "score": float(best.score)}
    if store_attention:
        result["attention"] = best_attention.tolist()
    if len(generations) > 1:
        result["alternatives"] = texts
    return result
