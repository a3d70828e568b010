"""`translator`: sequence-to-sequence translation with attention as a spaCy component.

The doc is the source sentence, tokenised by the pipeline's tokenizer; the target language has
its own tokenizer (``target_lang``: a blank spaCy pipeline's). spaCy's ``Example`` needs its
predicted and reference docs to share their text, so a training pair's target rides in the
reference doc's ``doc._.translation`` (`spacy_lm.ParallelCorpus.v1` puts it there).

The model reads the source's tokens + ``<eos>``; the decoder reads ``<eos>`` + target tokens and
predicts target tokens + ``<eos>``, as every LM here. ``update`` minimises the mean token NLL of a
batch (teacher forcing). Inference decodes with the project's one decoder
(:mod:`spacy_lm.decoding`) through :class:`SourceConditionedLM`, a language model whose state
carries the source: greedy by default, beam search, sampling, streaming.

Annotations: ``doc._.translation`` (detokenised text), ``doc._.translation_tokens``,
``doc._.translation_logprobs`` (nats per output token), ``doc._.translation_score`` and, with
``store_attention``, ``doc._.translation_attention`` (output tokens × source tokens + ``<eos>``).
An empty source gets an empty translation. With ``replace_unk``, an output ``<unk>`` is replaced
by the source token it attends to most (Luong et al. 2015's unknown-word replacement).
Output length is bounded by ``max_length`` and by ``length_ratio`` × source length + 10.
"""
import math
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy
import spacy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate

from ..about import __version__
from ..batching import PreparedDoc, SequenceBatch, prepare_doc, real_rows, stream_prefix, window_loss
from ..checks import check_setting as _check, is_count as _is_count
from ..corpora.corpus import config_corpus
from ..decoding import Generation, GenerationConfig, generate, stream
from ..text.detokenize import detokenize_text
from ..errors import Errors
from ..extensions import install_translation_extensions, set_translation_annotations
from ..metrics.scorers import takes_lm
from ..training.clipping import clip_global_grad_norm
from ..text.vocab import ATTRS, TokenVocab, lm_tokens
from .serialization import LMSerializationMixin, _LoadMismatch
from .trainable import check_drop

FORMAT_VERSION = 1
MODEL_METHODS = ("forward_train", "decode", "start_state", "step", "step_with_attention", "select_state",
                 "concat_states", "loss", "score", "log_probs")

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




class Translator(LMSerializationMixin, TrainablePipe):
    format_version = FORMAT_VERSION
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
        if attr not in ATTRS:
            raise ValueError(Errors.E008.format(attr=attr, options=sorted(ATTRS)))
        _check(_is_count(max_length, 1), "max_length", "an integer >= 1", max_length)
        _check(_is_count(min_freq, 1), "min_freq", "an integer >= 1", min_freq)
        _check(isinstance(length_ratio, (int, float)) and length_ratio > 0, "length_ratio", "a number > 0",
               length_ratio)
        _check(_is_count(batch_size, 1), "batch_size", "an integer >= 1", batch_size)
        _check(grad_norm_clip is None or (isinstance(grad_norm_clip, (int, float)) and math.isfinite(grad_norm_clip)
                                          and grad_norm_clip > 0), "grad_norm_clip", "a positive number or null",
               grad_norm_clip)
        for method in MODEL_METHODS:
            if not callable(getattr(model, method, None)):
                raise ValueError(Errors.E131.format(name=name, model=model.name, method=method))
        try:
            self.target_nlp = spacy.blank(target_lang)
        except Exception as err:
            raise ValueError(Errors.E009.format(setting="target_lang", value=target_lang,
                                                requirement="a language code spaCy knows (e.g. 'en', 'de')")) from err
        install_translation_extensions()
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.tokenizer = tokenizer
        self.lm_vocab: Optional[TokenVocab] = None  # the target vocabulary (what the decoder generates)
        self.source_vocab: Optional[TokenVocab] = None
        self.generation = GenerationConfig(max_new_tokens=max_length, num_beams=num_beams,
                                           length_penalty=length_penalty, no_repeat_ngram_size=no_repeat_ngram_size)
        self.cfg: Dict[str, Any] = {"target_lang": target_lang, "attr": attr, "min_freq": min_freq,
                                    "max_size": max_size, "max_length": max_length,
                                    "length_ratio": float(length_ratio), "replace_unk": bool(replace_unk),
                                    "store_attention": bool(store_attention), "batch_size": batch_size,
                                    "grad_norm_clip": grad_norm_clip, "format": FORMAT_VERSION,
                                    "spacy_lm_version": __version__}
        self._target_cache: Dict[str, Doc] = {}

    @property
    def is_initialized(self) -> bool:
        return self.lm_vocab is not None and self.source_vocab is not None

    def _require_initialized(self) -> Tuple[TokenVocab, TokenVocab]:
        if not self.is_initialized:
            raise ValueError(Errors.E005.format(name=self.name))
        return self.source_vocab, self.lm_vocab

    # ------------------------------------------------------------------ tokens and ids
    def target_doc(self, text: str) -> Doc:
        """The target text tokenised for the target language (cached: training reads each
        target once per epoch)."""
        doc = self._target_cache.get(text)
        if doc is None:
            doc = self.target_nlp.make_doc(text)
            if len(self._target_cache) < 1_000_000:
                self._target_cache[text] = doc
        return doc

    def target_tokens(self, text: str) -> List[str]:
        """The target language's tokens of ``text`` (what tokenised BLEU compares)."""
        return [t.text for t in lm_tokens(self.target_doc(text))]

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
        prepared = prepare_doc(self.lm_vocab, self.target_doc(text))
        limit = self.cfg["max_length"]
        if prepared is None or len(prepared[1]) <= limit + 1:
            return prepared
        inputs, targets, positions = prepared
        eos = numpy.asarray([self.lm_vocab.eos_id], dtype="int32")
        return inputs[: limit + 1], numpy.concatenate([targets[:limit], eos]), positions[: limit + 1]

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
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        drop = check_drop(drop, self.name)
        examples = list(examples)
        validate_examples(examples, "Translator.update")
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

    def finish_update(self, sgd: Optimizer) -> None:
        if self.cfg.get("grad_norm_clip"):
            clip_global_grad_norm(self.model, self.cfg["grad_norm_clip"])
        self.model.finish_update(sgd)

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
        self._set_vocab_sizes()
        self.model.initialize()

    def _set_vocab_sizes(self) -> None:
        for dim, vocab in (("nV", self.lm_vocab), ("nV_src", self.source_vocab)):
            if self.model.has_dim(dim) and self.model.get_dim(dim) != len(vocab):
                raise ValueError(Errors.E023.format(name=self.name, found=self.model.get_dim(dim),
                                                    expected=len(vocab)))
            self.model.set_dim(dim, len(vocab))

    # ------------------------------------------------------------------ inference
    def _as_doc(self, text: Union[str, Doc]) -> Doc:
        if isinstance(text, Doc):
            return text
        if not isinstance(text, str):
            raise TypeError(Errors.E135.format(name=self.name, type=type(text).__name__))
        return self.tokenizer(text) if self.tokenizer is not None else Doc(self.vocab, words=text.split())

    def source_lm(self, docs: Sequence[Doc]) -> "SourceConditionedLM":
        """The decoder conditioned on these (non-empty) sources: a language model for
        :func:`spacy_lm.decoding.generate` with one prompt per source."""
        self._require_initialized()
        sources = [self._source_ids(doc) for doc in docs]
        if any(s is None for s in sources):
            raise ValueError(Errors.E009.format(setting="docs", requirement="non-empty sources", value=len(docs)))
        src_ids, src_lengths = self._source_grid(sources)
        return SourceConditionedLM(self, self.model.start_state(src_ids, src_lengths), [len(s) for s in sources])

    def _bound(self, n_source: int) -> int:
        """The longest output for a source of ``n_source`` ids (its <eos> included)."""
        return min(self.cfg["max_length"], int(math.ceil(self.cfg["length_ratio"] * n_source)) + 10)

    def _config(self, n_source: int, settings: Dict[str, Any]) -> GenerationConfig:
        config = self.generation.replace(max_new_tokens=self._bound(n_source))
        return config.replace(**settings) if settings else config

    def _batches(self, docs: Sequence[Doc]) -> Iterator[List[int]]:
        """Indices of the non-empty docs in batches of at most ``batch_size`` whose sources share
        one output bound (so a doc's translation does not depend on its batch)."""
        work = sorted((i for i, doc in enumerate(docs) if lm_tokens(doc)), key=lambda i: -len(lm_tokens(docs[i])))
        size = self.cfg["batch_size"]
        group: List[int] = []
        for i in work:
            if group and (len(group) == size or self._bound(len(lm_tokens(docs[i])) + 1)
                          != self._bound(len(lm_tokens(docs[group[0]])) + 1)):
                yield group
                group = []
            group.append(i)
        if group:
            yield group

    def translate_docs(self, docs: Sequence[Doc], **settings: Any) -> List[Optional[Dict[str, Any]]]:
        """Translate each doc (None for an empty one) with the component's decoding settings,
        ``settings`` (GenerationConfig's names) overriding them: result dicts for
        :func:`spacy_lm.extensions.set_translation_annotations`, every hypothesis in
        ``alternatives`` (best first) when ``num_return_sequences`` > 1."""
        self._require_initialized()
        results: List[Optional[Dict[str, Any]]] = [None] * len(docs)
        for part in self._batches(docs):
            lm = self.source_lm([docs[i] for i in part])
            config = self._config(max(lm.source_lengths), settings)
            generations = generate(lm, [[] for _ in part], config, detokenize=detokenize_text)
            for j, i in enumerate(part):
                results[i] = self._result(docs[i], lm, j, generations[j])
        return results

    def _with_unk_replaced(self, doc: Doc, tokens: List[str], token_ids: Sequence[int], attention) -> List[str]:
        """Each output ``<unk>`` replaced by the source token it attends to most."""
        source_tokens = [t.text for t in lm_tokens(doc)]
        unk = self.lm_vocab.unk_id
        return [source_tokens[int(attention[k, : len(source_tokens)].argmax())] if token_id == unk else token
                for k, (token, token_id) in enumerate(zip(tokens, token_ids))]

    def _result(self, doc: Doc, lm: "SourceConditionedLM", row: int, generations: List[Generation]) -> Dict[str, Any]:
        """One doc's annotations from its hypotheses (best first). Attention comes from a
        teacher-forced pass over an output, run only when stored or needed to replace ``<unk>``."""
        unk = self.lm_vocab.unk_id
        texts, best_attention = [], None
        for k, generation in enumerate(generations):
            tokens = list(generation.tokens)
            needs_unk = self.cfg["replace_unk"] and unk in generation.token_ids
            attention = None
            if needs_unk or (k == 0 and self.cfg["store_attention"]):
                attention = lm.attention([generation.token_ids], rows=[row])[0]
            if needs_unk:
                tokens = self._with_unk_replaced(doc, tokens, generation.token_ids, attention)
            if k == 0:
                best_tokens, best_attention = tokens, attention
            texts.append(detokenize_text(tokens))
        best = generations[0]
        result = {"text": texts[0], "tokens": best_tokens, "logprobs": [float(v) for v in best.logprobs],
                  "score": float(best.score)}
        if self.cfg["store_attention"]:
            result["attention"] = best_attention.tolist()
        if len(generations) > 1:
            result["alternatives"] = texts
        return result

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
                yield self._with_unk_replaced(doc, [token.token], [token.token_id], attention[-1:])[0]
            else:
                yield token.token

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        if takes_lm(self.scorer):
            kwargs["lm"] = self
        return super().score(examples, **kwargs)

    # ------------------------------------------------------------------ serialization
    def _payload(self) -> Dict[str, bytes]:
        source_vocab, target_vocab = self._require_initialized()
        self.cfg.update(source_vocab_checksum=source_vocab.checksum, source_vocab_size=len(source_vocab))
        return {"lm_vocab": target_vocab.to_bytes(), "source_vocab": source_vocab.to_bytes(),
                "model": self.model.to_bytes()}

    def _restore(self, cfg: Dict[str, Any], read: Callable[[str], bytes]) -> None:
        try:
            self.lm_vocab = self._read_vocab(cfg, read)
            self.source_vocab = TokenVocab.from_bytes(read("source_vocab"))
            expected = cfg.get("source_vocab_checksum")
            if expected is not None and self.source_vocab.checksum != expected:
                raise _LoadMismatch(Errors.E034, detail=f"source_vocab checksum {self.source_vocab.checksum[:16]}... "
                                                        f"vs {expected[:16]}... in cfg")
            self.cfg.update(cfg)
            self._set_vocab_sizes()
            self.model.from_bytes(read("model"))
        except Exception:
            self.lm_vocab = None
            self.source_vocab = None
            raise


class SourceConditionedLM:
    """A translator's decoder conditioned on a batch of sources: the LanguageModel protocol
    (:mod:`spacy_lm.types`) with the source in the state. Row ``i`` decodes source ``i``, so
    ``prime`` takes exactly one prompt (a target-side prefix, usually empty) per source."""

    def __init__(self, translator: Translator, start, source_lengths: List[int]) -> None:
        self.translator = translator
        self.start = start
        self.source_lengths = source_lengths

    @property
    def lm_vocab(self) -> TokenVocab:
        return self.translator.lm_vocab

    @property
    def ops(self):
        return self.translator.model.ops

    @property
    def model(self) -> Model:
        return self.translator.model

    def _check_batch(self, n: int) -> None:
        if n != len(self.source_lengths):
            raise ValueError(Errors.E134.format(name=self.translator.name, n=n, n_held=len(self.source_lengths),
                                                conditions="sources"))

    def initial_state(self, batch_size: int):
        self._check_batch(batch_size)
        return self.start

    def _forced(self, rows: Sequence[int], streams: Sequence[Sequence[int]]):
        """Teacher-forced pass of equal-length ``streams`` from the start states of ``rows``."""
        ops = self.ops
        ids = ops.asarray(numpy.asarray(streams, dtype="int32").T.copy())
        start = self.model.select_state(self.start, numpy.asarray(rows, dtype="int32"))
        (hidden, attn, end), _ = self.model.decode(ids, start, False)
        return hidden, attn, end

    def prime(self, prompts: Sequence[Sequence[int]]):
        """Read ``<eos>`` + each prompt from its source's start state (prompts of one length at a time)."""
        self._check_batch(len(prompts))
        streams = [stream_prefix(self.lm_vocab, p) for p in prompts]
        by_length: Dict[int, List[int]] = {}
        for i, s in enumerate(streams):
            by_length.setdefault(len(s), []).append(i)
        order, log_probs, states = [], [], []
        for rows in by_length.values():
            hidden, _, end = self._forced(rows, [streams[i] for i in rows])
            log_probs.append(self.model.log_probs(hidden[-1]))
            states.append(end)
            order.extend(rows)
        xp = self.ops.xp
        inverse = numpy.argsort(numpy.asarray(order))
        state = self.model.select_state(self.model.concat_states(states), inverse)
        return xp.concatenate(log_probs, axis=0)[self.ops.asarray(inverse)], state

    def step(self, state, token_ids):
        return self.model.step(token_ids, state)

    def select_state(self, state, indices):
        return self.model.select_state(state, indices)

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
            _, attn, _ = self._forced([i], [[eos, *output[:-1]]])
            result.append(self.ops.to_numpy(attn[:, 0, : self.source_lengths[i]]))
        return result
