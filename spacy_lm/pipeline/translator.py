"""`translator`: sequence-to-sequence translation with attention as a spaCy component.

The doc is the source sentence, tokenised by the pipeline's tokenizer; the target language has
its own tokenizer (``target_lang``: a blank spaCy pipeline's). spaCy's ``Example`` needs its
predicted and reference docs to share their text, so a training pair's target rides in the
reference doc's ``doc._.translation`` (`spacy_lm.ParallelCorpus.v1` puts it there).

The model reads the source's tokens + ``<eos>``; the decoder reads ``<eos>`` + target tokens and
predicts target tokens + ``<eos>``, as every LM here. ``update`` minimises the mean token NLL of a
batch (teacher forcing). Inference decodes with the project's one decoder
(:mod:`spacy_lm.decoding`) through a language model whose state carries the source
(:class:`spacy_lm.pipeline.translation.SourceConditionedLM`): greedy by default, beam search,
sampling, streaming. Target tokenisation, batching by output bound and ``<unk>`` replacement
live in :mod:`spacy_lm.pipeline.translation`.

Annotations: ``doc._.translation`` (detokenised text), ``doc._.translation_tokens``,
``doc._.translation_logprobs`` (nats per output token), ``doc._.translation_score`` and, with
``store_attention``, ``doc._.translation_attention`` (output tokens × source tokens + ``<eos>``).
An empty source gets an empty translation. With ``replace_unk``, an output ``<unk>`` is replaced
by the source token it attends to most (Luong et al. 2015's unknown-word replacement).
Output length is bounded by ``max_length`` and by ``length_ratio`` × source length + 10.
"""
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate

from ..batching import PreparedDoc, SequenceBatch, prepare_doc, real_rows, window_loss
from ..checks import check_setting as _check, is_count as _is_count
from ..corpora.corpus import config_corpus
from ..decoding import GenerationConfig, generate, stream
from ..errors import Errors
from ..extensions import install_translation_extensions, set_translation_annotations
from ..text.detokenize import detokenize_text
from ..text.vocab import TokenVocab, lm_tokens
from ..types import Seq2SeqLMModel
from .recurrent_base import RecurrentPipe, check_recurrent_settings
from .serialization import _LoadMismatch
from .translation import (
    SourceConditionedLM,
    TargetTokenizer,
    bound_batches,
    output_bound,
    replace_unks,
    translation_result,
)

FORMAT_VERSION = 1

DEFAULT_TRANSLATOR_MODEL = """
[model]
@architectures = "spacy_lm.Seq2SeqAttention.v1"
cell = "gru"
embed_size = 256
encoder_width = 256
decoder_width = 256
depth = 1
bidirectional = true
attention = "general"
input_feeding = true
dropout = 0.3
tie_embeddings = false
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_TRANSLATOR_MODEL)["model"]


@Language.factory(
    "translator",
    assigns=["doc._.translation", "doc._.translation_tokens", "doc._.translation_logprobs"],
    default_config={
        "model": DEFAULT_MODEL,
        "target_lang": "en",
        "attr": "ORTH",
        "min_freq": 2,
        "max_size": 50000,
        "max_length": 100,
        "length_ratio": 1.5,
        "num_beams": 1,
        "length_penalty": 1.0,
        "no_repeat_ngram_size": 0,
        "replace_unk": True,
        "store_attention": False,
        "batch_size": 64,
        "grad_norm_clip": 1.0,
        "scorer": {"@scorers": "spacy_lm.translation_scorer.v1"},
    },
    default_score_weights={"translation_bleu": 1.0, "translation_tok_bleu": None, "translation_chrf": None,
                           "translation_perplexity": None},
)
def make_translator(nlp: Language, name: str, model: Model, target_lang: str, attr: str, min_freq: int,
                    max_size: Optional[int], max_length: int, length_ratio: float, num_beams: int,
                    length_penalty: float, no_repeat_ngram_size: int, replace_unk: bool, store_attention: bool,
                    batch_size: int, grad_norm_clip: Optional[float], scorer: Optional[Callable]) -> "Translator":
    """A translator from the pipeline's language into ``target_lang``.

    max_length: training pairs are cut to this many tokens per side, and no output is longer.
    num_beams / length_penalty / no_repeat_ngram_size: how ``nlp(...)`` decodes (1 beam: greedy).
    """
    return Translator(nlp.vocab, model, name, target_lang=target_lang, attr=attr, min_freq=min_freq,
                      max_size=max_size, max_length=max_length, length_ratio=length_ratio, num_beams=num_beams,
                      length_penalty=length_penalty, no_repeat_ngram_size=no_repeat_ngram_size,
                      replace_unk=replace_unk, store_attention=store_attention, batch_size=batch_size,
                      grad_norm_clip=grad_norm_clip, scorer=scorer, tokenizer=nlp.tokenizer)




class Translator(RecurrentPipe):
    format_version = FORMAT_VERSION
    contract = Seq2SeqLMModel
    not_text_error = Errors.E135
    # The saved vocabularies were built with these (config.cfg editing one: E035); training and
    # decoding settings are the config's (see serialization.py).
    structural_settings = ("target_lang", "attr", "min_freq", "max_size")
    runtime_settings = ("max_length", "length_ratio", "replace_unk", "store_attention", "batch_size",
                        "grad_norm_clip")

    def __init__(self, vocab: Vocab, model: Model, name: str = "translator", *, target_lang: str = "en",
                 attr: str = "ORTH", min_freq: int = 2, max_size: Optional[int] = 50000, max_length: int = 100,
                 length_ratio: float = 1.5, num_beams: int = 1, length_penalty: float = 1.0,
                 no_repeat_ngram_size: int = 0, replace_unk: bool = True, store_attention: bool = False,
                 batch_size: int = 64, grad_norm_clip: Optional[float] = 1.0, scorer: Optional[Callable] = None,
                 tokenizer: Optional[Callable[[str], Doc]] = None) -> None:
        check_recurrent_settings(attr, max_length, grad_norm_clip)
        _check(_is_count(min_freq, 1), "min_freq", "an integer >= 1", min_freq)
        _check(isinstance(length_ratio, (int, float)) and length_ratio > 0, "length_ratio", "a number > 0",
               length_ratio)
        _check(_is_count(batch_size, 1), "batch_size", "an integer >= 1", batch_size)
        super().__init__(vocab, model, name, scorer=scorer, tokenizer=tokenizer,
                         cfg={"target_lang": target_lang, "attr": attr, "min_freq": min_freq, "max_size": max_size,
                              "max_length": max_length, "length_ratio": float(length_ratio),
                              "replace_unk": bool(replace_unk), "store_attention": bool(store_attention),
                              "batch_size": batch_size, "grad_norm_clip": grad_norm_clip})
        self.target_tokenizer = TargetTokenizer(target_lang)
        install_translation_extensions()
        self.model: Seq2SeqLMModel = model
        self.source_vocab: Optional[TokenVocab] = None  # lm_vocab is the target's (what the decoder generates)
        self.generation = GenerationConfig(max_new_tokens=max_length, num_beams=num_beams,
                                           length_penalty=length_penalty, no_repeat_ngram_size=no_repeat_ngram_size)

    @property
    def is_initialized(self) -> bool:
        return self.lm_vocab is not None and self.source_vocab is not None

    @property
    def target_nlp(self) -> Language:
        return self.target_tokenizer.nlp

    # ------------------------------------------------------------------ tokens and ids
    def target_doc(self, text: str) -> Doc:
        """The target text tokenised for the target language (cached)."""
        return self.target_tokenizer.doc(text)

    def target_tokens(self, text: str) -> List[str]:
        """The target language's tokens of ``text`` (what tokenised BLEU compares)."""
        return self.target_tokenizer.tokens(text)

    def _source_ids(self, doc: Doc, limit: Optional[int] = None) -> Optional[numpy.ndarray]:
        """Source tokens + ``<eos>`` (cut to ``limit`` tokens, the <eos> kept); None when empty."""
        prepared = prepare_doc(self.source_vocab, doc)
        if prepared is None:
            return None
        ids = prepared[1]
        if limit is not None and len(ids) > limit + 1:
            ids = numpy.concatenate([ids[:limit], ids[-1:]])
        return ids

    def _target_prepared(self, eg: Example, i: int) -> Optional[PreparedDoc]:
        text = eg.reference._.translation
        if not isinstance(text, str):
            raise ValueError(Errors.E132.format(name=self.name, i=i, value=text))
        return self._truncate(prepare_doc(self.lm_vocab, self.target_doc(text)))

    def _source_grid(self, sources: Sequence[numpy.ndarray]):
        """Time-major ``(S, B)`` ids and lengths on the device."""
        ops = self.model.ops
        lengths = numpy.asarray([len(s) for s in sources], dtype="int32")
        grid = numpy.zeros((int(lengths.max()), len(sources)), dtype="int32")
        for j, ids in enumerate(sources):
            grid[: len(ids), j] = ids
        return ops.asarray(grid), ops.asarray(lengths)

    def _pair_batch(self, examples: Sequence[Example]):
        """Teacher-forcing batch of the pairs with both sides non-empty: the target window
        (sequences longest first) and the sources in the same order."""
        self._require_initialized()
        sources, targets = [], []
        for i, eg in enumerate(examples):
            target = self._target_prepared(eg, i)
            source = self._source_ids(eg.predicted, self.cfg["max_length"])
            if target is not None and source is not None:
                sources.append(source)
                targets.append(target)
        if not targets:
            return None
        batch = SequenceBatch(self.model.ops, targets)
        window = next(batch.windows(len(batch.seqs[0][0])))
        src_ids, src_lengths = self._source_grid([sources[i] for i in batch.order])
        return batch, window, src_ids, src_lengths

    # ------------------------------------------------------------------ training
    def update(self, examples: Iterable[Example], *, drop: float = 0.0, sgd: Optional[Optimizer] = None,
               losses: Optional[Dict[str, float]] = None) -> Dict[str, float]:
        """One optimizer step on the batch's mean target-token NLL (teacher forcing)."""
        examples, drop, losses = self._begin_update(examples, drop, losses, "Translator.update")
        prepared = self._pair_batch(examples)
        if prepared is None:
            return losses
        batch, window, src_ids, src_lengths = prepared
        set_dropout_rate(self.model, drop)
        (hidden, _), backprop = self.model.forward_train(src_ids, src_lengths, window.ids, True)
        n_tokens = batch.n_targets
        total, d_hidden = window_loss(self.model, window, hidden, 1.0 / n_tokens, self.name)
        backprop(d_hidden)
        losses[self.name] += total / n_tokens
        if sgd is not None:
            self.finish_update(sgd)
        return losses

    def get_loss(self, examples: Iterable[Example], scores: Any) -> Tuple[float, None]:
        """Teacher-forced mean token NLL of the examples (the gradient comes from ``update``)."""
        total, n = self.teacher_forced_nll(examples)
        return (total / n if n else 0.0), None

    def teacher_forced_nll(self, examples: Iterable[Example]) -> Tuple[float, int]:
        """Summed NLL (nats) of the reference targets given their sources, each target's
        closing ``<eos>`` counted, and the number of target tokens: teacher-forced, i.e. each
        token is predicted from the gold prefix, not from the model's own output."""
        examples = list(examples)
        total, n = 0.0, 0
        size = self.cfg["batch_size"]
        for start in range(0, len(examples), size):
            prepared = self._pair_batch(examples[start : start + size])
            if prepared is None:
                continue
            batch, window, src_ids, src_lengths = prepared
            (hidden, _), _ = self.model.forward_train(src_ids, src_lengths, window.ids, False)
            nll, _ = self.model.score(real_rows(window, hidden), window.targets[window.real])
            total += float(self.model.ops.to_numpy(nll).astype("float64").sum())
            n += batch.n_targets
        return total, n

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None,
                   corpus: Optional[str] = None) -> None:
        """Build the source vocabulary (from the predicted docs) and the target vocabulary (from
        ``reference._.translation``, tokenised for the target language); initialize the model."""
        if corpus is not None:
            get_examples = config_corpus(nlp, corpus, self.name)
        validate_get_examples(get_examples, "Translator.initialize")
        attr = self.cfg["attr"]
        source_docs, target_docs = [], []
        for i, eg in enumerate(get_examples()):
            text = eg.reference._.translation
            if not isinstance(text, str):
                raise ValueError(Errors.E132.format(name=self.name, i=i, value=text))
            source_docs.append(eg.predicted)
            target_docs.append(self.target_doc(text))
        source_counts = TokenVocab.count(source_docs, attr=attr)
        target_counts = TokenVocab.count(target_docs, attr=attr)
        if not source_counts:
            raise ValueError(Errors.E003.format(name=self.name))
        if not target_counts:
            raise ValueError(Errors.E133.format(name=self.name))
        settings = {"attr": attr, "min_freq": self.cfg["min_freq"], "max_size": self.cfg["max_size"]}
        self.source_vocab = TokenVocab.from_counts(source_counts, **settings)
        self.lm_vocab = TokenVocab.from_counts(target_counts, **settings)
        self._set_vocab_size()
        self.model.initialize()

    def _vocab_dims(self) -> Dict[str, TokenVocab]:
        return {"nV": self.lm_vocab, "nV_src": self.source_vocab}

    # ------------------------------------------------------------------ inference
    def source_lm(self, docs: Sequence[Doc]) -> SourceConditionedLM:
        """The decoder conditioned on these (non-empty) sources: a language model for
        :func:`spacy_lm.decoding.generate` with one prompt per source."""
        self._require_initialized()
        sources = [self._source_ids(doc) for doc in docs]
        if any(s is None for s in sources):
            raise ValueError(Errors.E009.format(setting="docs", requirement="non-empty sources", value=len(docs)))
        src_ids, src_lengths = self._source_grid(sources)
        return SourceConditionedLM(self.model, self.lm_vocab, self.model.start_state(src_ids, src_lengths),
                                   [len(s) for s in sources], name=self.name)

    def _bound(self, n_source: int) -> int:
        """The longest output for a source of ``n_source`` ids (its <eos> included)."""
        return output_bound(n_source, self.cfg["max_length"], self.cfg["length_ratio"])

    def _config(self, n_source: int, settings: Dict[str, Any]) -> GenerationConfig:
        config = self.generation.replace(max_new_tokens=self._bound(n_source))
        return config.replace(**settings) if settings else config

    def translate_docs(self, docs: Sequence[Doc], **settings: Any) -> List[Optional[Dict[str, Any]]]:
        """Translate each doc (None for an empty one) with the component's decoding settings,
        ``settings`` (GenerationConfig's names) overriding them: result dicts for
        :func:`spacy_lm.extensions.set_translation_annotations`, every hypothesis in
        ``alternatives`` (best first) when ``num_return_sequences`` > 1."""
        self._require_initialized()
        results: List[Optional[Dict[str, Any]]] = [None] * len(docs)
        for part in bound_batches(docs, self.cfg["batch_size"], self._bound):
            lm = self.source_lm([docs[i] for i in part])
            config = self._config(max(lm.source_lengths), settings)
            generations = generate(lm, [[] for _ in part], config, detokenize=detokenize_text)
            for j, i in enumerate(part):
                results[i] = translation_result(docs[i], lm, j, generations[j], replace_unk=self.cfg["replace_unk"],
                                                store_attention=self.cfg["store_attention"])
        return results

    def predict(self, docs: Iterable[Doc]) -> List[Optional[Dict[str, Any]]]:
        return self.translate_docs(list(docs))

    def set_annotations(self, docs: Iterable[Doc], results: List[Optional[Dict[str, Any]]]) -> None:
        for doc, result in zip(docs, results):
            if result is None:  # an empty source: an empty translation
                result = {"text": "", "tokens": [], "logprobs": [], "score": 0.0}
            set_translation_annotations(doc, {k: v for k, v in result.items() if k != "alternatives"})

    def translate(self, texts: Iterable[Union[str, Doc]], **settings: Any) -> List[str]:
        """The translation of each text (decoding ``settings`` as in ``translate_docs``)."""
        docs = [self._as_doc(t) for t in texts]
        return [r["text"] if r is not None else "" for r in self.translate_docs(docs, **settings)]

    def stream(self, text: Union[str, Doc], **settings: Any) -> Iterator[str]:
        """The translation of one text, token by token as the decoder settles each (an
        ``<unk>`` replaced as in ``translate`` when ``replace_unk``)."""
        doc = self._as_doc(text)
        if not lm_tokens(doc):
            return
        lm = self.source_lm([doc])
        ids: List[int] = []
        for token in stream(lm, [], self._config(lm.source_lengths[0], settings), detokenize=detokenize_text):
            ids.append(token.token_id)
            if token.token_id == self.lm_vocab.unk_id and self.cfg["replace_unk"]:
                attention = lm.attention([ids])[0]
                yield replace_unks(doc, [token.token], [token.token_id], attention[-1:], self.lm_vocab.unk_id)[0]
            else:
                yield token.token

    # ------------------------------------------------------------------ serialization
    def _saved_vocabs(self) -> Dict[str, TokenVocab]:
        return {"lm_vocab": self._require_initialized(), "source_vocab": self.source_vocab}

    def _payload(self) -> Dict[str, bytes]:
        """As every recurrent component's, the source vocabulary's checksum recorded in ``cfg``."""
        self._require_initialized()
        self.cfg.update(source_vocab_checksum=self.source_vocab.checksum, source_vocab_size=len(self.source_vocab))
        return super()._payload()

    def _read_vocabs(self, cfg: Dict[str, Any], read: Callable[[str], bytes]) -> None:
        super()._read_vocabs(cfg, read)
        self.source_vocab = TokenVocab.from_bytes(read("source_vocab"))
        expected = cfg.get("source_vocab_checksum")
        if expected is not None and self.source_vocab.checksum != expected:
            raise _LoadMismatch(Errors.E034, detail=f"source_vocab checksum {self.source_vocab.checksum[:16]}... "
                                                    f"vs {expected[:16]}... in cfg")

    def _forget_vocabs(self) -> None:
        self.lm_vocab = None
        self.source_vocab = None
