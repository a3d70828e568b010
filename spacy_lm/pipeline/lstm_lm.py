"""`lstm_lm`: a recurrent (LSTM or GRU) language model as a spaCy component.

The component knows docs and examples; its model knows arrays. It calls only the model's
contract (:class:`spacy_lm.types.RecurrentLMModel`), and :mod:`spacy_lm.batching` turns docs
into windows: each doc is one stream (``<eos>`` starts and closes it), long docs run in
windows of ``max_length`` tokens with the state carried (exact scoring; truncated BPTT in
training), and all windows of a batch form one update.

The component is also an encoder: `spacy_lm.LSTMLMListener.v1` layers in downstream
components (e.g. `textcat` with `spacy_lm.TextCatLSTM.v1`) receive its per-doc hidden states
from ``predict`` (no gradient) and ``update``, as spaCy's `tok2vec` feeds `Tok2VecListener`s.
In ``update`` the LM's own loss is backpropagated at once, so the LM learns even when the
listening component is frozen; a listener's gradient, when it comes, is backpropagated
through the same windows and applied at the next ``finish_update``.

Stream training (``spacy_lm.PlainTextStreamCorpus.v1``): a batch holds chunk ``c`` of each
stream; ``update`` starts a chunk from the state its stream had after chunk ``c - 1`` in the
previous update (kept detached: truncated BPTT across updates), any other doc from the
initial state. The carried states serve training only: ``predict`` neither reads nor changes
them. ``score_stream`` reads a corpus as one stream (the evaluation of the benchmarks).
"""
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example, validate_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate

from ..architectures.listener import LSTMLMListener, empty_backprop, store_states
from ..batching import (
    DIRECTIONS,
    PreparedDoc,
    SequenceBatch,
    chunk_mark,
    prepare_doc,
    real_rows,
    run_windows,
    stream_prefix,
    trained_windows,
    stream_segments,
    summed_nll_by_length,
    window_loss,
)
from ..checks import check_setting, is_count, require_finite
from ..errors import Errors
from ..extensions import install_extensions, set_lm_annotations
from ..metrics.scorers import perplexity_score, stream_scores
from ..types import RecurrentLMModel, State
from .recurrent_base import RecurrentPipe, check_recurrent_settings
from .stream_states import CarriedStates

FORMAT_VERSION = 1
PREDICT_WINDOW = 512  # state is carried exactly, so at inference the window only bounds memory
SCORE_BATCH_SIZE = 128  # total_nll's default docs per batch, the fastest measured (see total_nll)

DEFAULT_LSTM_LM_MODEL = """
[model]
@architectures = "spacy_lm.LSTMLanguageModel.v1"
width = 200
depth = 2
embed_size = null
dropout = 0.2
tie_weights = null
cell = "lstm"
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_LSTM_LM_MODEL)["model"]



@Language.factory(
    "lstm_lm",
    assigns=["doc._.lm_logprob", "doc._.lm_perplexity", "doc._.lm_surprisals", "token._.lm_surprisal"],
    default_config={
        "model": DEFAULT_MODEL,
        "attr": "ORTH",
        "min_freq": 1,
        "max_size": 50000,
        "max_length": 35,
        "grad_norm_clip": None,
        "direction": "forward",
        "grad_tokens": None,
        "annotate": True,
        "scorer": {"@scorers": "spacy_lm.perplexity_scorer.v1"},
    },
    default_score_weights={"lm_score": 1.0, "lm_accuracy": 0.0, "lm_perplexity": None, "lm_loss": None},
)
def make_lstm_lm(
    nlp: Language,
    name: str,
    model: Model,
    attr: str,
    min_freq: int,
    max_size: Optional[int],
    max_length: int,
    grad_norm_clip: Optional[float],
    direction: str,
    grad_tokens: Optional[int],
    annotate: bool,
    scorer: Optional[Callable],
) -> "LSTMLanguageModel":
    """A recurrent LM writing token surprisal, doc log-probability and perplexity.

    attr: token attribute the vocabulary is built on (ORTH, LOWER or NORM).
    min_freq / max_size: vocabulary cut-offs applied in ``initialize``.
    max_length: training window in tokens (the truncated-BPTT length).
    grad_norm_clip: scale the gradients so that their joint L2 norm is at most this before each
        optimizer step (PyTorch's clip_grad_norm_, as LM recipes use; Thinc's grad_clip clips each
        array on its own); null: no clipping here.
    direction: "forward" reads each doc left to right; "backward" right to left (the backward LM
        of ELMo and ULMFiT's backward model: token i's state has read tokens n-1..i); stream
        training then needs a reader with direction = "backward" (E290).
    grad_tokens: with listeners, the gradient reaches only the windows that hold one of the last
        grad_tokens tokens of a doc in reading order (ULMFiT's BPT3C: a long review is read whole,
        its early windows without a backward pass, so memory is bounded); null: every window.
    annotate: false: ``predict`` only encodes (listeners get the states; no surprisal is computed
        and the lm_* annotations stay empty), about half the inference time of a transfer pipeline.
        A runtime setting: a trained pipeline loads with
        ``spacy.load(path, config={"components": {"lstm_lm": {"annotate": False}}})``.
    """
    return LSTMLanguageModel(nlp.vocab, model, name, attr=attr, min_freq=min_freq, max_size=max_size,
                             max_length=max_length, grad_norm_clip=grad_norm_clip, direction=direction,
                             grad_tokens=grad_tokens, annotate=annotate, scorer=scorer)


class LSTMLanguageModel(RecurrentPipe):
    format_version = FORMAT_VERSION
    contract = RecurrentLMModel
    # The saved vocabulary was built with these (config.cfg editing one: E035); the training
    # window and clipping are the config's (see serialization.py).
    structural_settings = ("attr", "min_freq", "max_size", "direction")
    runtime_settings = ("max_length", "grad_norm_clip", "grad_tokens", "annotate")

    def __init__(self, vocab: Vocab, model: Model, name: str = "lstm_lm", *, attr: str = "ORTH",
                 min_freq: int = 1, max_size: Optional[int] = 50000, max_length: int = 35,
                 grad_norm_clip: Optional[float] = None, direction: str = "forward",
                 grad_tokens: Optional[int] = None, annotate: bool = True,
                 scorer: Optional[Callable] = perplexity_score) -> None:
        check_recurrent_settings(attr, max_length, grad_norm_clip)
        if direction not in DIRECTIONS:
            raise ValueError(Errors.E291.format(setting=f"components.{name}.direction", value=direction))
        check_setting(grad_tokens is None or is_count(grad_tokens, 1), "grad_tokens", "null or an integer >= 1",
                      grad_tokens)
        check_setting(isinstance(annotate, bool), "annotate", "true or false", annotate)
        super().__init__(vocab, model, name, scorer=scorer,
                         cfg={"attr": attr, "min_freq": min_freq, "max_size": max_size, "max_length": max_length,
                              "grad_norm_clip": grad_norm_clip, "direction": direction, "grad_tokens": grad_tokens,
                              "annotate": annotate})
        install_extensions()
        self.model: RecurrentLMModel = model
        self.listener_map: Dict[str, List[Model]] = {}
        self.listening_components: List[str] = []
        self._carried = CarriedStates()  # stream training: each stream's state for its next chunk

    # ------------------------------------------------------------------ listeners
    # As spaCy's Tok2Vec: `nlp.initialize` and sourcing call find_listeners for every
    # later component (spacy.ty.ListenedToComponent).
    @property
    def listeners(self) -> List[Model]:
        return [m for c in self.listening_components for m in self.listener_map[c]]

    def add_listener(self, listener: Model, component_name: str) -> None:
        self.listener_map.setdefault(component_name, [])
        if component_name not in self.listening_components:
            self.listening_components.append(component_name)
        if listener not in self.listener_map[component_name]:
            self.listener_map[component_name].append(listener)

    def remove_listener(self, listener: Model, component_name: str) -> bool:
        if component_name in self.listener_map and listener in self.listener_map[component_name]:
            self.listener_map[component_name].remove(listener)
            if not self.listener_map[component_name]:
                del self.listener_map[component_name]
                self.listening_components.remove(component_name)
            return True
        return False

    def find_listeners(self, component) -> None:
        names = ("*", self.name)
        if isinstance(getattr(component, "model", None), Model):
            for node in component.model.walk():
                if isinstance(node, LSTMLMListener) and node.upstream_name in names:
                    self.add_listener(node, component.name)

    def _feed_listeners(self, docs: List[Doc], rows: List[Any], backprop: Callable,
                        accumulate: Optional[Callable] = None) -> None:
        batch_id = LSTMLMListener.get_batch_id(docs)
        for listener in self.listeners[:-1]:
            listener.receive(batch_id, rows, accumulate or backprop)
        if self.listeners:
            self.listeners[-1].receive(batch_id, rows, backprop)

    @property
    def backward(self) -> bool:
        """Whether the LM reads right to left (``direction = "backward"``; older models: forward)."""
        return self.cfg.get("direction", "forward") == "backward"

    def _batch(self, docs: Sequence[Doc]) -> SequenceBatch:
        return SequenceBatch.from_docs(self.model.ops, self._require_initialized(), docs, self.backward)

    # ------------------------------------------------------------------ encoder
    def encode_docs(self, docs: Iterable[Doc]) -> List[Any]:
        """The LM's hidden states for each doc, ``(len(doc), width)`` (see LSTMLMListener)."""
        docs = list(docs)
        batch = self._batch(docs)
        windows = [(w, hidden) for w, hidden, _, _ in run_windows(self.model, batch, PREDICT_WINDOW, False)]
        return batch.gather_rows(docs, windows, self.model.get_dim("nO"))

    # ------------------------------------------------------------------ inference
    def predict(self, docs: Iterable[Doc]) -> List[Optional[Dict[str, Any]]]:
        """Per doc: NLL (nats) of each target, whether it was the argmax, and its token index
        (None for every doc when ``annotate`` is false); listeners get the hidden-state rows."""
        docs = list(docs)
        batch = self._batch(docs)
        ops = self.model.ops
        annotating = self.cfg.get("annotate", True)
        nll_out = [numpy.zeros(len(s[0]), dtype="float32") for s in batch.seqs]
        correct_out = [numpy.zeros(len(s[0]), dtype="bool") for s in batch.seqs]
        listening = bool(self.listeners)
        windows = []
        for window, hidden, _, _ in run_windows(self.model, batch, PREDICT_WINDOW, False):
            if listening:
                windows.append((window, hidden))
            if not annotating:
                continue
            nll, correct = self.model.score(real_rows(window, hidden), window.targets[window.real])
            batch.spread(window, ops.to_numpy(nll), nll_out)
            batch.spread(window, ops.to_numpy(correct), correct_out)
        results: List[Optional[Dict[str, Any]]] = [None] * len(docs)
        for j, i in enumerate(batch.order):
            if annotating:
                require_finite(numpy, nll_out[j], name=self.name, what="token surprisals")
                results[i] = {"nll": nll_out[j], "correct": correct_out[j], "positions": batch.seqs[j][2]}
        if listening:
            # No gradient flows back from predict: a frozen, annotating lstm_lm stays fixed.
            rows = batch.gather_rows(docs, windows, self.model.get_dim("nO"))
            self._feed_listeners(docs, rows, empty_backprop)
            for doc, doc_rows in zip(docs, rows):
                store_states(doc, self.name, ops.to_numpy(doc_rows))
        return results

    def total_nll(self, prepared: Sequence[PreparedDoc], *, batch_size: int = SCORE_BATCH_SIZE) -> numpy.ndarray:
        """The summed NLL (nats, float64) of each prepared doc, in the order given: corpus
        scoring's score-only path (no Doc, no per-token values, no top-1 flags), batched by
        length over whole docs (``batching.summed_nll_by_length``).

        ``prepared``: docs as :func:`spacy_lm.batching.prepare_doc` (or ``prepare_ids``) makes
        them for this LM, none None (a backward LM's already reversed). Equals ``predict``'s
        ``nll.sum()`` up to float32 rounding. The default ``batch_size``, 128, was the fastest
        measured (5.1k tokens/s; 16 to 256 docs all within 4% of it, 1.24-1.27x ``nlp.pipe``'s;
        1 CPU thread, width 200, depth 2, WikiText-2's 33k-word vocabulary:
        benchmarks/lstm_scoring_speed.py); batches cut by a token budget and windows of 64 to
        1024 steps were within the noise of it, and the NLL through ``score`` 1.34x slower."""
        self._require_initialized()
        check_setting(is_count(batch_size, 1), "batch_size", "an integer >= 1", batch_size, where="total_nll")
        totals = summed_nll_by_length(self.model, list(prepared), batch_size, PREDICT_WINDOW)
        require_finite(numpy, totals, name=self.name, what="token surprisals")
        return totals

    def set_annotations(self, docs: Iterable[Doc], scores: List[Optional[Dict[str, Any]]]) -> None:
        for doc, result in zip(docs, scores):
            set_lm_annotations(doc, result)

    def score_stream(self, docs: Iterable[Doc], n_segments: int = 1) -> Dict[str, Any]:
        """The docs, in the order given, read as ONE stream: their prepared sequences joined (each
        doc keeps its ``<eos>`` rule, so line docs and stream chunks join as the corpus stream
        does), in windows of PREDICT_WINDOW with the state carried (exact; memory bounded).
        Returns lm_stream_perplexity, lm_stream_loss (mean NLL, nats), lm_stream_accuracy and
        lm_stream_n_predicted (None values for an empty stream).

        n_segments > 1 cuts the stream into that many contiguous segments of nearly equal
        length, read side by side in one batch, each from a fresh state (pytorch/examples
        evaluates in 10 streams): faster, and slightly worse at each segment start. Carried
        training states are neither read nor changed."""
        vocab = self._require_initialized()
        docs = list(docs)
        if self.backward and not (docs and chunk_mark(docs[0]) is not None):
            docs = docs[::-1]  # a backward LM reads the stream from its end (backward chunks come in that order)
        segments = stream_segments([prepare_doc(vocab, doc, self.backward) for doc in docs], n_segments)
        batch = SequenceBatch(self.model.ops, segments)
        total_nll, n_correct, n_predicted = 0.0, 0, 0
        for window, hidden, _, _ in run_windows(self.model, batch, PREDICT_WINDOW, False):
            nll, correct = self.model.score(real_rows(window, hidden), window.targets[window.real])
            total_nll += float(nll.sum(dtype="float64"))
            n_correct += int(correct.sum())
            n_predicted += len(window.real_host)
        require_finite(numpy, total_nll, name=self.name, what="token surprisals")
        return stream_scores(total_nll, n_correct, n_predicted)

    # ------------------------------------------------------------------ training
    def update(self, examples: Iterable[Example], *, drop: float = 0.0, sgd: Optional[Optimizer] = None,
               losses: Optional[Dict[str, float]] = None) -> Dict[str, float]:
        """One optimizer step over a batch: mean token cross-entropy (nats) over all its windows.

        With listeners the LM reads ``eg.predicted`` (the docs the listeners see) and keeps each
        window's backprop until the last listener sends its gradient (see the module docstring);
        with ``grad_tokens`` too, only the windows near each doc's end are trained (BPT3C): the
        others are read forward only, their states handed on as constants."""
        examples, drop, losses = self._begin_update(examples, drop, losses, "LSTMLanguageModel.update")
        listening = bool(self.listeners)
        docs = [eg.predicted if listening else eg.reference for eg in examples]
        batch = self._batch(docs)
        marks = [chunk_mark(doc) for doc in docs]
        streaming = any(mark is not None for mark in marks)
        state = self._carried.before(self.model, batch, marks) if streaming else None
        set_dropout_rate(self.model, drop)
        size = self.cfg["max_length"]
        grad_tokens = self.cfg.get("grad_tokens") if listening and not streaming else None
        trained = trained_windows(batch, size, grad_tokens)
        n_total = sum(n for n, train in trained if train)
        total_nll = 0.0
        windows, backprops = [], []
        # Streaming keeps finished rows, so every chunk's final state is there to carry.
        for w, (window, hidden, state, backprop) in enumerate(
                run_windows(self.model, batch, size, [train for _, train in trained],
                            keep_finished=streaming, state=state)):
            if not trained[w][1]:
                windows.append((window, hidden))
                backprops.append(None)
                continue
            window_nll, d_hidden = window_loss(self.model, window, hidden, 1.0 / n_total, self.name)
            total_nll += window_nll
            backprop(d_hidden)
            if listening:
                windows.append((window, hidden))
                backprops.append(backprop)
        if n_total:
            losses[self.name] += total_nll / n_total
        if streaming:
            self._carried.keep(batch, marks, state)
        if listening:
            self._send_to_listeners(docs, batch, windows, backprops, sgd)
        if sgd is not None:
            self.finish_update(sgd)
        return losses

    def _send_to_listeners(self, docs: List[Doc], batch: SequenceBatch, windows, backprops: List[Callable],
                           sgd: Optional[Optimizer]) -> None:
        """Hand the windows' hidden states to the listeners; their summed row gradients are
        backpropagated through the windows when the last listener calls back."""
        ops = self.model.ops
        rows = batch.gather_rows(docs, windows, self.model.get_dim("nO"))
        d_rows = [ops.alloc2f(*r.shape, dtype=r.dtype) for r in rows]

        def accumulate_gradient(one_d_rows):
            for i, d in enumerate(one_d_rows):
                d_rows[i] += d
            return [ops.alloc2f(*r.shape, dtype=r.dtype) for r in rows]

        def backprop(one_d_rows):
            accumulate_gradient(one_d_rows)
            d_hiddens = [ops.alloc3f(*hidden.shape, dtype=hidden.dtype) for _, hidden in windows]
            batch.scatter_rows(d_rows, [w for w, _ in windows], d_hiddens)
            for d_hidden, window_backprop in zip(d_hiddens, backprops):
                if window_backprop is not None:  # a window read forward only (grad_tokens)
                    window_backprop(d_hidden)
            if sgd is not None:
                self.finish_update(sgd)
            return []

        self._feed_listeners(docs, rows, backprop, accumulate_gradient)

    def get_loss(self, examples: Iterable[Example], scores: List[Optional[Dict[str, Any]]]) -> Tuple[float, None]:
        """Mean NLL per predicted token (nats) of ``predict`` output; the gradient is
        produced window by window inside ``update``, so none is returned here."""
        validate_examples(examples, "LSTMLanguageModel.get_loss")
        values = [r["nll"] for r in scores if r is not None]
        if not values:
            return 0.0, None
        return float(numpy.concatenate(values).mean()), None

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None,
                   vocab_size: Optional[int] = None, corpus: Optional[str] = None) -> None:
        """Build the token vocabulary from the training corpus and initialize the model.

        corpus: a dot name in the pipeline config (e.g. "corpora.train") to count instead of
            ``get_examples``. Stream training needs it: with ``max_epochs = -1`` spaCy
            initializes on the first 100 examples only, which would make a tiny vocabulary.
        """
        self._count_vocab(get_examples, "LSTMLanguageModel.initialize", nlp=nlp, corpus=corpus,
                          vocab_size=vocab_size)
        self._carried.clear()
        self.model.initialize()

    # ------------------------------------------------------------------ language-model protocol
    # (spacy_lm.types.LanguageModel): decoding reads the component only through these methods.
    @property
    def ops(self):
        return self.model.ops

    def initial_state(self, batch_size: int) -> State:
        self._require_initialized()
        return self.model.initial_state(batch_size)

    def prime(self, prompts: Sequence[Sequence[int]]) -> Tuple[Any, State]:
        """Read ``<eos>`` + each prompt, in windows with the state carried (memory is bounded
        by the window whatever the prompt length): next-token log-probs and the state."""
        vocab = self._require_initialized()
        if self.backward:
            raise ValueError(Errors.E292.format(name=self.name))
        if not prompts:
            raise ValueError(Errors.E024.format(what="prime"))
        ops = self.model.ops
        streams = [numpy.asarray(stream_prefix(vocab, p), dtype="int32") for p in prompts]
        batch = SequenceBatch(ops, [(s, s, numpy.arange(len(s), dtype="int32")) for s in streams])
        last: List[Any] = [None] * len(prompts)
        state = None
        for window, hidden, state, _ in run_windows(self.model, batch, PREDICT_WINDOW, False, keep_finished=True):
            for j, i in enumerate(batch.order):
                n = window.lengths_host[j]
                if n and window.start + n == len(streams[i]):
                    last[i] = hidden[n - 1, j]
        # Sequence j of the batch is prompt order[j]: put the state rows back in prompt order.
        position = numpy.empty(len(prompts), dtype="int32")
        position[batch.order] = numpy.arange(len(prompts), dtype="int32")
        return self.model.log_probs(ops.xp.stack(last)), self.model.select_state(state, ops.asarray(position))

    def step(self, state: State, token_ids) -> Tuple[Any, State]:
        """Log-probabilities of the next token after ``token_ids`` (B,), and the new state."""
        self._require_initialized()
        return self.model.step(token_ids, state)

    def select_state(self, state: State, indices) -> State:
        return self.model.select_state(state, self.model.ops.asarray(indices, dtype="int32"))

    # ------------------------------------------------------------------ serialization
    def _restore(self, cfg: Dict[str, Any], read: Callable[[str], bytes]) -> None:
        self._carried.clear()
        super()._restore(cfg, read)

