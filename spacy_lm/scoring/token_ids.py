"""The score-only path of corpus scoring: texts → LM ids → one total per text, with none of what
``nlp.pipe`` makes for a user who reads documents (pipeline Docs, per-token surprisal lists,
top-1 flags, Doc extensions): a third of the n-gram pass went there (#16's profile).

It applies when nothing but the tokenizer runs before the LM (``score_only_path`` says when) and
the LM component has ``total_nll`` (``ngram_lm``, ``lstm_lm``); the scores are those of
``nlp(text)`` (tests/scoring/test_token_ids.py checks random records to 1e-6). Ids come through
the stream rule of ``batching.prepare_ids``, as ``prepare_doc`` gives them:

* spacy_lm's whitespace tokenizer (the usual one for corpus LMs) is ``str.split``, so its
  ORTH and LOWER ids are read from the words directly, with no Doc at all (spaCy's LOWER is
  ``str.lower`` of the text);
* any other tokenizer makes its Doc (the tokenizer alone), whose ids come from its attribute
  array (``TokenVocab.doc_ids``).
"""
import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy

from ..batching import PreparedDoc, prepare_ids
from ..text.tokenizer import WhitespaceTokenizer
from ..text.vocab import TokenVocab
from .settings import Scores


class ScoreOnlyPath:
    """An LM component scored straight from texts (see the module docstring)."""

    def __init__(self, nlp: Any, component: Any, total_nll: Optional[Callable[[Sequence[PreparedDoc]], Any]] = None
                 ) -> None:
        self.nlp, self.component = nlp, component
        self.total_nll = total_nll or component.total_nll
        self.vocab: TokenVocab = component.lm_vocab
        self.backward = bool(getattr(component, "backward", False))
        self.split_words = isinstance(nlp.tokenizer, WhitespaceTokenizer) and self.vocab.attr in ("ORTH", "LOWER")

    def prepare(self, texts: Sequence[str]) -> Tuple[List[Optional[PreparedDoc]], List[int]]:
        """Each text's prepared ids (None when it has no token but whitespace) and its token
        count (``len(doc)``)."""
        if self.split_words:
            return self._prepare_words(texts)
        prepared: List[Optional[PreparedDoc]] = []
        n_tokens: List[int] = []
        for doc in self.nlp.tokenizer.pipe(texts):
            ids, positions = self.vocab.doc_ids(doc)
            prepared.append(self._prepare(ids, positions))
            n_tokens.append(len(doc))
        return prepared, n_tokens

    def _prepare_words(self, texts: Sequence[str]) -> Tuple[List[Optional[PreparedDoc]], List[int]]:
        """str.split for all texts, one vocabulary look-up pass over all their words."""
        lower = self.vocab.attr == "LOWER"
        split = [(text.lower() if lower else text).split() for text in texts]
        n_tokens = [len(words) for words in split]
        ids = self.vocab.ids_of_strings([word for words in split for word in words])
        bounds = numpy.cumsum([0] + n_tokens)
        prepared = [self._prepare(ids[a:b], numpy.arange(b - a, dtype="int32")) if b > a else None
                    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]
        return prepared, n_tokens

    def _prepare(self, ids: numpy.ndarray, positions: numpy.ndarray) -> Optional[PreparedDoc]:
        if not len(ids):
            return None
        if self.backward:
            ids, positions = ids[::-1], positions[::-1]
        return prepare_ids(ids, positions, self.vocab.eos_id)

    def score(self, texts: Sequence[str]) -> List[Scores]:
        """``perplexity``, ``logprob`` (nats), ``n_tokens``, ``n_predicted`` per text, as
        ``nlp(text)``'s ``doc._.lm_*`` give them (None and 0 for a text with no tokens)."""
        prepared, n_tokens = self.prepare(texts)
        live = [i for i, p in enumerate(prepared) if p is not None]
        totals = self.total_nll([prepared[i] for i in live]) if live else []
        scores: List[Dict[str, Any]] = [{"perplexity": None, "logprob": None, "n_tokens": n, "n_predicted": 0}
                                        for n in n_tokens]
        for i, total in zip(live, numpy.asarray(totals).tolist()):
            n_predicted = len(prepared[i][1])  # type: ignore[index]
            scores[i].update(perplexity=math.exp(total / n_predicted), logprob=-total, n_predicted=n_predicted)
        return scores


def score_only_path(nlp: Any, name: str, ngram_backend: str = "numpy",
                    arpa: Optional[str] = None) -> Optional[ScoreOnlyPath]:
    """The score-only path for component ``name`` when only the tokenizer runs before it (the
    enabled pipes are ``[name]``) and it has ``total_nll``; None otherwise (``nlp.pipe`` then).
    ``ngram_backend="kenlm"``: an ``ngram_lm`` is queried by KenLM (over ``arpa`` when it was read
    from that file); other LMs are not n-gram models and keep their own ``total_nll``."""
    component = nlp.get_pipe(name)
    if nlp.pipe_names != [name] or not hasattr(component, "total_nll"):
        return None
    if getattr(component, "lm_vocab", None) is None:
        return None
    total_nll = None
    if ngram_backend == "kenlm" and nlp.get_pipe_meta(name).factory == "ngram_lm":
        from ..ngram.kenlm_query import KenLMQuery

        total_nll = KenLMQuery.from_component(component, arpa).total_nll
    return ScoreOnlyPath(nlp, component, total_nll)
