"""`ngram_lm`: an interpolated modified Kneser-Ney n-gram LM as a spaCy component.

Counts are gathered in ``initialize`` from the training corpus (so ``spacy assemble`` and
``spacy train`` both build it) and estimated as KenLM's ``lmplz`` does (see
:mod:`spacy_lm.ngram`); nothing is trained by gradient, so this is a plain ``Pipe``.
Alternatively ``initialize`` reads an ARPA file (``[initialize.components.ngram_lm]
arpa = "model.arpa"``, e.g. written by ``lmplz``), and ``to_arpa`` writes one for KenLM.

Conventions (KenLM's): a doc is read as the same token stream as every spacy_lm LM
(:func:`spacy_lm.batching.prepare_doc`: whitespace skipped, closing ``<eos>`` added unless present).
Every ``<eos>`` that is read as context (the implicit one before the doc, and any marker
inside it) starts a new sentence: the context restarts at ``<s>``, which is never predicted.
``<eos>`` is predicted at each sentence end; ARPA files call it ``</s>``. Tokens outside the
vocabulary map to ``<unk>``. A literal ``<unk>`` in training text (WikiText has them) is
counted as an ordinary word; when ``<unk>`` never occurs it gets lmplz's ``gamma / |V|``.

Tables are checked where scores come out of them, not at load: a model (from ARPA, msgpack or
memory) whose scores are NaN or infinite raises E079 naming the component when scoring
(``predict``, ``score_stream``), and the decoder checks its next-token log-probs the same way.
"""
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy
import srsly
from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.tokens import Doc
from spacy.training import Example, validate_get_examples
from spacy.util import minibatch
from spacy.vocab import Vocab
from thinc.api import NumpyOps
from thinc.util import to_numpy

from ..about import __version__
from ..batching import PreparedDoc, prepare_doc, stream_segments
from ..checks import require_finite
from ..corpora.corpus import config_corpus
from ..errors import Errors
from ..extensions import install_extensions, set_lm_annotations
from ..ngram import (DEFAULT_FALLBACK, LN10, NGramModel, check_discount_fallback, check_prune, estimate, read_arpa,
                     sentence_stream, write_arpa)
from ..ngram.hashed import HashedNGramIndex
from ..metrics.scorers import perplexity_score, stream_scores, takes_lm
from ..text.vocab import ATTRS, SPECIALS, TokenVocab
from .serialization import LMSerializationMixin

FORMAT_VERSION = 1
SCORE_TOKENS = 1 << 18  # tokens per group in total_nll: ~6M tokens/s at 128k-512k, 2.8M/s for 4.5M at once (#34)


@Language.factory(
    "ngram_lm",
    assigns=["doc._.lm_logprob", "doc._.lm_perplexity", "doc._.lm_surprisals", "token._.lm_surprisal"],
    default_config={
        "order": 5,
        "attr": "ORTH",
        "min_freq": 1,
        "max_size": None,
        "prune": [],
        "discount_fallback": list(DEFAULT_FALLBACK),
        "scorer": {"@scorers": "spacy_lm.perplexity_scorer.v1"},
    },
    default_score_weights={"lm_score": 1.0, "lm_accuracy": 0.0, "lm_perplexity": None, "lm_loss": None},
)
def make_ngram_lm(
    nlp: Language,
    name: str,
    order: int,
    attr: str,
    min_freq: int,
    max_size: Optional[int],
    prune: List[int],
    discount_fallback: Optional[List[float]],
    scorer: Optional[Callable],
) -> "NGramLanguageModel":
    """A modified Kneser-Ney n-gram LM writing token surprisal, doc log-probability and perplexity.

    order: n-gram order (5 as lmplz's usual setting).
    attr / min_freq / max_size: the vocabulary (rarer types map to ``<unk>``, which is then
        counted as a word).
    prune: per-order raw-count thresholds, lmplz ``--prune`` style ([] = none; [0, 0, 1] drops
        singleton 3-grams and above).
    discount_fallback: [D1, D2, D3+] used for an order whose discounts cannot be estimated
        (tiny data), with a warning; null raises instead, as lmplz does without the flag.
        0 < D1 <= 1, 0 < D2 <= 2, 0 < D3+ <= 3 (others make NaN or zero probabilities: E009).
    """
    return NGramLanguageModel(nlp.vocab, name, order=order, attr=attr, min_freq=min_freq, max_size=max_size,
                              prune=prune, discount_fallback=discount_fallback, scorer=scorer)


class NGramLanguageModel(LMSerializationMixin, Pipe):
    format_version = FORMAT_VERSION
    # Every setting shaped the saved tables (config.cfg editing one: E035; see serialization.py).
    structural_settings = ("order", "attr", "min_freq", "max_size", "prune", "discount_fallback")

    def __init__(self, vocab: Vocab, name: str = "ngram_lm", *, order: int = 5, attr: str = "ORTH",
                 min_freq: int = 1, max_size: Optional[int] = None, prune: Sequence[int] = (),
                 discount_fallback: Optional[Sequence[float]] = DEFAULT_FALLBACK,
                 scorer: Optional[Callable] = perplexity_score) -> None:
        if not isinstance(order, int) or order < 1:
            raise ValueError(Errors.E009.format(setting="order", requirement="an integer of at least 1", value=order))
        if attr not in ATTRS:
            raise ValueError(Errors.E008.format(attr=attr, options=sorted(ATTRS)))
        check_prune(prune, order)
        discount_fallback = check_discount_fallback(discount_fallback)
        install_extensions()
        self.vocab = vocab
        self.name = name
        self.scorer = scorer
        self.lm_vocab: Optional[TokenVocab] = None
        self.model: Optional[NGramModel] = None
        self._hashed: Optional[Tuple[NGramModel, HashedNGramIndex]] = None  # built at the first total_nll
        self._ops = NumpyOps()
        self.cfg: Dict[str, Any] = {"order": order, "attr": attr, "min_freq": min_freq, "max_size": max_size,
                                    "prune": list(prune),
                                    "discount_fallback": None if discount_fallback is None else list(discount_fallback),
                                    "format": FORMAT_VERSION, "spacy_lm_version": __version__}

    # ------------------------------------------------------------------ building
    def initialize(self, get_examples: Optional[Callable[[], Iterable[Example]]] = None, *,
                   nlp: Optional[Language] = None, arpa: Optional[Union[str, Path]] = None,
                   corpus: Optional[str] = None) -> None:
        """Count the training corpus and estimate the model.

        arpa: load this ARPA file instead (its order replaces the configured one, in
            ``nlp.config`` too, so that the saved config describes the model).
        corpus: a dot name in the pipeline config (e.g. "corpora.train") to count instead of
            ``get_examples``: ``spacy assemble`` passes no examples, so its config sets this.
        """
        if arpa is not None:
            self.load_arpa(arpa)
            if nlp is not None and self.name in nlp.component_names:
                nlp.get_pipe_config(self.name)["order"] = self.cfg["order"]
            return
        if corpus is not None:
            get_examples = config_corpus(nlp, corpus, self.name)
        validate_get_examples(get_examples, "NGramLanguageModel.initialize")
        attr = self.cfg["attr"]
        counts = TokenVocab.count((eg.reference for eg in get_examples()), attr=attr)
        if not counts:
            raise ValueError(Errors.E003.format(name=self.name))
        vocab = TokenVocab.from_counts(counts, attr=attr, min_freq=self.cfg["min_freq"], max_size=self.cfg["max_size"])
        stream = self._stream(vocab, (eg.reference for eg in get_examples()))
        self.lm_vocab = vocab
        self.model = estimate(stream, len(vocab), self.cfg["order"], prune=self.cfg["prune"],
                              discount_fallback=self.cfg["discount_fallback"])

    @staticmethod
    def _stream(vocab: TokenVocab, docs: Iterable[Doc]) -> numpy.ndarray:
        """All docs as one sentence stream (``<s>`` = len(vocab) at each sentence start)."""
        inputs, targets = [], []
        for doc in docs:
            prepared = prepare_doc(vocab, doc)
            if prepared is not None:
                inputs.append(prepared[0])
                targets.append(prepared[1])
        if not targets:
            return numpy.zeros(0, dtype="int64")
        return sentence_stream(numpy.concatenate(inputs), numpy.concatenate(targets), vocab.eos_id, len(vocab))

    def _require_initialized(self) -> Tuple[TokenVocab, NGramModel]:
        if self.lm_vocab is None or self.model is None:
            raise ValueError(Errors.E005.format(name=self.name))
        return self.lm_vocab, self.model

    # ------------------------------------------------------------------ ARPA
    def to_arpa(self, path: Union[str, Path]) -> None:
        """Write the model as ARPA (``<eos>`` as ``</s>``), loadable by ``kenlm.Model``."""
        vocab, model = self._require_initialized()
        write_arpa(model, vocab.strings, path, eos_index=vocab.eos_id)

    def load_arpa(self, path: Union[str, Path]) -> "NGramLanguageModel":
        """Replace the model by an ARPA file's (``</s>`` becomes ``<eos>``; words keep the
        file's order after the specials)."""
        strings, model = read_arpa(path, specials=SPECIALS)
        self.lm_vocab = TokenVocab(strings, attr=self.cfg["attr"])
        self.model = model
        self.cfg["order"] = model.order
        return self

    @classmethod
    def from_arpa(cls, path: Union[str, Path], vocab: Optional[Vocab] = None, name: str = "ngram_lm",
                  **kwargs: Any) -> "NGramLanguageModel":
        """A standalone component from an ARPA file (add it to a pipeline with
        ``nlp.add_pipe("ngram_lm")`` + ``initialize(arpa=...)`` for config-driven use)."""
        component = cls(vocab if vocab is not None else Vocab(), name, **kwargs)
        return component.load_arpa(path)

    # ------------------------------------------------------------------ inference
    def __call__(self, doc: Doc) -> Doc:
        self.set_annotations([doc], self.predict([doc]))
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        for docs in minibatch(stream, size=batch_size):
            self.set_annotations(docs, self.predict(docs))
            yield from docs

    def predict(self, docs: Iterable[Doc]) -> List[Optional[Dict[str, Any]]]:
        """Per doc: NLL (nats) of each target, whether it was the argmax, and its token index.
        All docs of a batch are scored in one vectorised pass."""
        vocab, model = self._require_initialized()
        docs = list(docs)
        prepared = [prepare_doc(vocab, doc) for doc in docs]
        results: List[Optional[Dict[str, Any]]] = [None] * len(docs)
        live = [i for i, p in enumerate(prepared) if p is not None]
        if not live:
            return results
        inputs = numpy.concatenate([prepared[i][0] for i in live])
        targets = numpy.concatenate([prepared[i][1] for i in live])
        stream = sentence_stream(inputs, targets, vocab.eos_id, model.bos_id)
        log10p, correct = model.score(stream)
        nll = (-log10p * LN10).astype("float32")
        require_finite(numpy, nll, name=self.name, what="token surprisals")
        start = 0
        for i in live:
            n = len(prepared[i][1])
            results[i] = {"nll": nll[start : start + n], "correct": correct[start : start + n],
                          "positions": prepared[i][2]}
            start += n
        return results

    def set_annotations(self, docs: Iterable[Doc], scores: List[Optional[Dict[str, Any]]]) -> None:
        for doc, result in zip(docs, scores):
            set_lm_annotations(doc, result)

    def total_nll(self, prepared: Sequence[PreparedDoc]) -> numpy.ndarray:
        """Summed NLL (nats, float64) of each prepared doc (``prepare_doc`` / ``prepare_ids``): the
        score-only path of corpus scoring, with no Doc, no per-token lists and no top-1 flags,
        through probing tables (ngram/hashed.py, built from the model at the first call, under 1 s
        for 6M n-grams). Equal to ``predict``'s ``nll`` summed per doc (to float32 rounding).
        Docs are scored in groups of about ``SCORE_TOKENS`` tokens, whose arrays stay in cache."""
        vocab, model = self._require_initialized()
        if self._hashed is None or self._hashed[0] is not model:
            self._hashed = (model, HashedNGramIndex(model))
        totals = numpy.zeros(len(prepared), dtype="float64")
        if not len(prepared):
            return totals
        lengths = numpy.fromiter((len(p[1]) for p in prepared), dtype="int64", count=len(prepared))
        group = numpy.cumsum(lengths) // SCORE_TOKENS
        bounds = numpy.flatnonzero(numpy.diff(group)) + 1
        for start, end in zip([0, *bounds.tolist()], [*bounds.tolist(), len(prepared)]):
            totals[start:end] = self._group_nll(vocab, model, prepared[start:end])
        require_finite(numpy, totals, name=self.name, what="token surprisals")
        return totals

    def _group_nll(self, vocab: TokenVocab, model: NGramModel, prepared: Sequence[PreparedDoc]) -> numpy.ndarray:
        inputs = numpy.concatenate([p[0] for p in prepared])
        targets = numpy.concatenate([p[1] for p in prepared])
        first = numpy.cumsum([0] + [len(p[1]) for p in prepared[:-1]])
        stream = sentence_stream(inputs, targets, vocab.eos_id, model.bos_id)
        # Each doc starts at its first target's place in the stream, or at the <s> before it.
        starts = inputs == vocab.eos_id
        doc_starts = first + numpy.cumsum(starts)[first] - starts[first]
        return -self._hashed[1].total_log10(stream, doc_starts) * LN10  # type: ignore[index]

    def score_stream(self, docs: Iterable[Doc], n_segments: int = 1) -> Dict[str, Any]:
        """The docs read as one stream (``lm_stream_*`` keys, as ``lstm_lm.score_stream``).
        Every ``<eos>`` restarts the n-gram context, so for docs that end with one (lines) the
        stream scores equal the pooled per-doc scores. A segment of ``n_segments`` > 1 that
        starts inside a sentence starts without context."""
        vocab, model = self._require_initialized()
        total_nll, n_correct, n_predicted = 0.0, 0, 0
        for inputs, targets, _ in stream_segments([prepare_doc(vocab, doc) for doc in docs], n_segments):
            log10p, correct = model.score(sentence_stream(inputs, targets, vocab.eos_id, model.bos_id))
            total_nll -= float(log10p.sum()) * LN10
            n_correct += int(correct.sum())
            n_predicted += len(targets)
        require_finite(numpy, total_nll, name=self.name, what="token surprisals")
        return stream_scores(total_nll, n_correct, n_predicted)

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        """The scorer's scores; a scorer that asks for it (perplexity_scorer.v2) gets ``lm=self``."""
        if takes_lm(self.scorer):
            kwargs["lm"] = self
        return super().score(examples, **kwargs)

    # ------------------------------------------------------------------ language-model protocol
    # (spacy_lm.types.LanguageModel). A state is a (B, max(1, order - 1)) int64 array of the last
    # context ids, right-aligned, -1 padding, <s> (= len(lm_vocab)) at the sentence start.
    @property
    def ops(self) -> NumpyOps:
        return self._ops

    def _width(self) -> int:
        return max(1, self._require_initialized()[1].order - 1)

    def initial_state(self, batch_size: int) -> numpy.ndarray:
        _, model = self._require_initialized()
        state = numpy.full((batch_size, self._width()), -1, dtype="int64")
        state[:, -1] = model.bos_id
        return state

    def _advance(self, state: numpy.ndarray, token_ids) -> numpy.ndarray:
        vocab, model = self._require_initialized()
        token_ids = numpy.asarray(to_numpy(token_ids), dtype="int64").reshape(-1)
        new = numpy.empty_like(state)
        new[:, :-1] = state[:, 1:]
        new[:, -1] = token_ids
        ended = token_ids == vocab.eos_id  # a new sentence starts after </s>
        new[ended] = -1
        new[ended, -1] = model.bos_id
        return new

    def _log_probs(self, state: numpy.ndarray) -> numpy.ndarray:
        _, model = self._require_initialized()
        return (model.next_log10(state) * LN10).astype("float32")

    def prime(self, prompts: Sequence[Sequence[int]]) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """Only a prompt's last ``order - 1`` tokens can reach the state (each token shifts one
        out, and ``<eos>`` resets it), so only they are read: time and memory do not grow with
        the prompt."""
        if not prompts:
            raise ValueError(Errors.E024.format(what="prime"))
        width = self._width()
        state = self.initial_state(len(prompts))
        rows = []
        for j, prompt in enumerate(prompts):
            row = state[j : j + 1]
            for token in prompt[max(0, len(prompt) - width):]:
                row = self._advance(row, [token])
            rows.append(row)
        state = numpy.concatenate(rows, axis=0)
        return self._log_probs(state), state

    def step(self, state: numpy.ndarray, token_ids) -> Tuple[numpy.ndarray, numpy.ndarray]:
        state = self._advance(numpy.asarray(state), token_ids)
        return self._log_probs(state), state

    def select_state(self, state: numpy.ndarray, indices) -> numpy.ndarray:
        return numpy.asarray(state)[numpy.asarray(to_numpy(indices), dtype="int64")]

    # ------------------------------------------------------------------ serialization
    def _payload(self) -> Dict[str, bytes]:
        vocab, model = self._require_initialized()
        return {"lm_vocab": vocab.to_bytes(), "model": srsly.msgpack_dumps(model.to_msg())}

    def _restore(self, cfg: Dict[str, Any], read: Callable[[str], bytes]) -> None:
        vocab = self._read_vocab(cfg, read)
        model = NGramModel.from_msg(srsly.msgpack_loads(read("model")))
        if model.n_vocab != len(vocab):
            raise ValueError(Errors.E023.format(name=self.name, found=model.n_vocab, expected=len(vocab)))
        self.cfg.update(cfg)
        self.lm_vocab, self.model = vocab, model
