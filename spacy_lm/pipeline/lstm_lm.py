"""`lstm_lm`: an LSTM language model as a spaCy component.

Each doc is one token stream: ``<eos>`` starts it (as the previous line's end does in a
corpus stream) and closes it, unless the doc already ends with an ``<eos>`` marker token.
Whitespace tokens are skipped.

Long docs run in windows of ``max_length`` tokens. The LSTM state is carried from one
window to the next, so scoring is exact whatever the window; in training the gradient
stops at window boundaries (truncated BPTT), which bounds memory for docs of any length.
All windows of a batch are accumulated into one update.

The component is also an encoder: `spacy_lm.LSTMLMListener.v1` layers in downstream
components (e.g. `textcat` with `spacy_lm.TextCatLSTM.v1`) receive its per-doc hidden states
from ``predict`` (no gradient) and ``update`` (their gradient is added to the LM's own
before each window is backpropagated), as spaCy's `tok2vec` feeds `Tok2VecListener`s.
"""
import math
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate

from .. import __version__
from ..architectures.listener import LSTMLMListener, _empty_backprop
from ..architectures.lstm_lm import encode, lm_initial_state, lm_step
from ..errors import Errors
from ..extensions import install_extensions, set_lm_annotations
from ..layers.lstm import LSTMState
from ..ops import log_softmax, softmax_cross_entropy
from ..scorers import perplexity_score
from ..vocab import ATTRS, PreparedDoc, TokenVocab
from .serialization import LMSerializationMixin

FORMAT_VERSION = 1
PREDICT_WINDOW = 512  # state is carried exactly, so at inference the window only bounds memory
OUTPUT_ROWS = 2048  # rows of (rows x vocab) logits computed at once when scoring

DEFAULT_LSTM_LM_MODEL = """
[model]
@architectures = "spacy_lm.LSTMLanguageModel.v1"
width = 200
depth = 2
embed_size = null
dropout = 0.2
tie_weights = null
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
    scorer: Optional[Callable],
) -> "LSTMLanguageModel":
    """An LSTM LM writing token surprisal, doc log-probability and perplexity.

    attr: token attribute the vocabulary is built on (ORTH, LOWER or NORM).
    min_freq / max_size: vocabulary cut-offs applied in ``initialize``.
    max_length: training window in tokens (the truncated-BPTT length).
    """
    return LSTMLanguageModel(nlp.vocab, model, name, attr=attr, min_freq=min_freq,
                             max_size=max_size, max_length=max_length, scorer=scorer)


class LSTMLanguageModel(LMSerializationMixin, TrainablePipe):
    format_version = FORMAT_VERSION

    def __init__(self, vocab: Vocab, model: Model, name: str = "lstm_lm", *, attr: str = "ORTH",
                 min_freq: int = 1, max_size: Optional[int] = 50000, max_length: int = 35,
                 scorer: Optional[Callable] = perplexity_score) -> None:
        if max_length < 1:
            raise ValueError(Errors.E009.format(setting="max_length", requirement="at least 1", value=max_length))
        install_extensions()
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.lm_vocab: Optional[TokenVocab] = None
        self.cfg: Dict[str, Any] = {"attr": attr, "min_freq": min_freq, "max_size": max_size,
                                    "max_length": max_length, "format": FORMAT_VERSION,
                                    "spacy_lm_version": __version__}
        if attr not in ATTRS:
            raise ValueError(Errors.E008.format(attr=attr, options=sorted(ATTRS)))
        self.listener_map: Dict[str, List[Model]] = {}
        self.listening_components: List[str] = []

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
        listener._upstream = self

    def remove_listener(self, listener: Model, component_name: str) -> bool:
        if component_name in self.listener_map and listener in self.listener_map[component_name]:
            self.listener_map[component_name].remove(listener)
            if not self.listener_map[component_name]:
                del self.listener_map[component_name]
                self.listening_components.remove(component_name)
            listener._upstream = None
            return True
        return False

    def find_listeners(self, component) -> None:
        names = ("*", self.name)
        if isinstance(getattr(component, "model", None), Model):
            for node in component.model.walk():
                if isinstance(node, LSTMLMListener) and node.upstream_name in names:
                    self.add_listener(node, component.name)

    @property
    def is_initialized(self) -> bool:
        return self.lm_vocab is not None

    # ------------------------------------------------------------------ data
    def _require_initialized(self) -> TokenVocab:
        if self.lm_vocab is None:
            raise ValueError(Errors.E005.format(name=self.name))
        return self.lm_vocab

    def _prepare(self, doc: Doc) -> Optional[PreparedDoc]:
        return self._require_initialized().prepare_doc(doc)

    def _windows(self, seqs: List[PreparedDoc], window: int):
        """Yield (start, k, ids, targets, weights, lengths) for sequences sorted longest first.

        Window ``start`` covers steps [start, start + window) of the first ``k`` sequences
        (those still running); arrays are time-major, padded with weight 0.
        """
        ops = self.model.ops
        longest = len(seqs[0][0])
        for start in range(0, longest, window):
            k = sum(1 for s in seqs if len(s[0]) > start)
            lengths = numpy.asarray([min(window, len(s[0]) - start) for s in seqs[:k]], dtype="int32")
            T = int(lengths.max())
            ids = numpy.zeros((T, k), dtype="int32")
            targets = numpy.zeros((T, k), dtype="int32")
            weights = numpy.zeros((T, k), dtype="float32")
            for j, (inp, tgt, _) in enumerate(seqs[:k]):
                n = lengths[j]
                ids[:n, j] = inp[start : start + n]
                targets[:n, j] = tgt[start : start + n]
                weights[:n, j] = 1.0
            yield (start, k, ops.asarray(ids), ops.asarray(targets.reshape(-1)),
                   ops.asarray(weights.reshape(-1)), ops.asarray(lengths))

    @staticmethod
    def _carry(state, k: int):
        if state is None:
            return None
        h, c = state
        return h[:, :k].copy(), c[:, :k].copy()

    # ------------------------------------------------------------------ hidden states per doc
    @staticmethod
    def _row_map(positions):
        """(step, token) index pairs: token ``positions[s - 1]`` gets the hidden state of step ``s``
        (the state after reading it); steps whose input is not a doc token are left out."""
        n = len(positions)
        tokens = positions[: n - 1]
        keep = tokens >= 0
        steps = numpy.arange(1, n, dtype="int32")[keep]
        return steps, tokens[keep].astype("int32")

    def _gather_rows(self, docs: List[Doc], prepared, order: List[int], windows) -> List[Any]:
        """Per-doc ``(len(doc), width)`` rows from window hidden states ``(k, lengths, hidden)``."""
        ops = self.model.ops
        xp = ops.xp
        width = self.model.get_dim("nO")
        outputs: List[Any] = [None] * len(docs)
        for j, i in enumerate(order):
            parts = [hidden[: lengths[j], j] for k, lengths, hidden in windows if j < k]
            steps = xp.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
            step_idx, tok_idx = self._row_map(prepared[i][2])
            rows = ops.alloc2f(len(docs[i]), width, dtype=steps.dtype)
            if len(tok_idx):
                rows[ops.asarray1i(tok_idx)] = steps[ops.asarray1i(step_idx)]
            outputs[i] = rows
        for i, doc in enumerate(docs):
            if outputs[i] is None:
                outputs[i] = ops.alloc2f(len(doc), width)
        return outputs

    def _scatter_rows(self, d_outputs, prepared, order: List[int], windows, d_hiddens) -> None:
        """Add per-doc row gradients into the windows' ``d_hiddens`` (inverse of _gather_rows)."""
        ops = self.model.ops
        xp = ops.xp
        for j, i in enumerate(order):
            steps = prepared[i][0].shape[0]
            step_idx, tok_idx = self._row_map(prepared[i][2])
            if not len(tok_idx):
                continue
            d_steps = xp.zeros((steps, d_hiddens[0].shape[-1]), dtype=d_hiddens[0].dtype)
            d_steps[ops.asarray1i(step_idx)] = d_outputs[i][ops.asarray1i(tok_idx)]
            offset = 0
            for w, (k, lengths, _) in enumerate(windows):
                if j < k:
                    n = int(lengths[j])
                    d_hiddens[w][:n, j] += d_steps[offset : offset + n]
                    offset += n

    def _order(self, prepared) -> List[int]:
        return sorted((i for i, s in enumerate(prepared) if s is not None), key=lambda i: -len(prepared[i][0]))

    def encode_docs(self, docs: Iterable[Doc]) -> List[Any]:
        """The LM's hidden states for each doc, ``(len(doc), width)`` (see LSTMLMListener)."""
        docs = list(docs)
        prepared = [self._prepare(doc) for doc in docs]
        order = self._order(prepared)
        windows = []
        if order:
            seqs = [prepared[i] for i in order]
            state = None
            for start, k, ids, targets, weights, lengths in self._windows(seqs, PREDICT_WINDOW):
                (hidden, state), _ = encode(self.model, (ids, lengths, self._carry(state, k)), False)
                windows.append((k, self.model.ops.to_numpy(lengths), hidden))
        return self._gather_rows(docs, prepared, order, windows)

    def _feed_listeners(self, docs: List[Doc], outputs: List[Any], backprop: Callable,
                        accumulate: Optional[Callable] = None) -> None:
        batch_id = LSTMLMListener.get_batch_id(docs)
        for listener in self.listeners[:-1]:
            listener.receive(batch_id, outputs, accumulate or backprop)
        if self.listeners:
            self.listeners[-1].receive(batch_id, outputs, backprop)

    # ------------------------------------------------------------------ inference
    def predict(self, docs: Iterable[Doc]) -> List[Optional[Dict[str, Any]]]:
        """Per doc: NLL (nats) of each target, whether it was the argmax, and its token index."""
        docs = list(docs)
        prepared = [self._prepare(doc) for doc in docs]
        order = self._order(prepared)
        results: List[Optional[Dict[str, Any]]] = [None] * len(docs)
        listening = bool(self.listeners)
        windows = []
        if not order:
            if listening:
                self._feed_listeners(docs, self._gather_rows(docs, prepared, order, windows), _empty_backprop)
            return results
        seqs = [prepared[i] for i in order]
        nll_out = [numpy.zeros(len(s[0]), dtype="float32") for s in seqs]
        correct_out = [numpy.zeros(len(s[0]), dtype="bool") for s in seqs]
        ops = self.model.ops
        output = self.model.get_ref("output")
        state = None
        for start, k, ids, targets, weights, lengths in self._windows(seqs, PREDICT_WINDOW):
            (hidden, state), _ = encode(self.model, (ids, lengths, self._carry(state, k)), False)
            if listening:
                windows.append((k, ops.to_numpy(lengths), hidden))
            T = hidden.shape[0]
            # Only real (unpadded) positions go through the vocabulary projection: a batch of
            # docs is padded to its longest, and the projection is most of the work.
            real = ops.xp.nonzero(weights > 0)[0]
            real_hidden = hidden.reshape(T * k, -1)[real]
            real_targets = targets[real]
            real_nll = numpy.zeros(real.shape[0], dtype="float32")
            real_correct = numpy.zeros(real.shape[0], dtype="bool")
            for row in range(0, real.shape[0], OUTPUT_ROWS):
                rows = slice(row, row + OUTPUT_ROWS)
                logits, _ = output(real_hidden[rows], False)
                real_correct[rows] = ops.to_numpy(logits.argmax(axis=1) == real_targets[rows])
                chunk_nll, _ = softmax_cross_entropy(ops, logits, real_targets[rows], overwrite=True)
                real_nll[rows] = ops.to_numpy(chunk_nll)
            real_host = ops.to_numpy(real)
            nll = numpy.zeros(T * k, dtype="float32")
            correct = numpy.zeros(T * k, dtype="bool")
            nll[real_host] = real_nll
            correct[real_host] = real_correct
            nll = nll.reshape(T, k)
            correct = correct.reshape(T, k)
            lengths_host = ops.to_numpy(lengths)
            for j in range(k):
                n = lengths_host[j]
                nll_out[j][start : start + n] = nll[:n, j]
                correct_out[j][start : start + n] = correct[:n, j]
        for j, i in enumerate(order):
            if not numpy.all(numpy.isfinite(nll_out[j])):
                raise ValueError(Errors.E004.format(name=self.name, loss="NaN or infinite when scoring"))
            results[i] = {"nll": nll_out[j], "correct": correct_out[j], "positions": seqs[j][2]}
        if listening:
            # No gradient flows back from predict: a frozen, annotating lstm_lm stays fixed.
            self._feed_listeners(docs, self._gather_rows(docs, prepared, order, windows), _empty_backprop)
        return results

    def set_annotations(self, docs: Iterable[Doc], scores: List[Optional[Dict[str, Any]]]) -> None:
        for doc, result in zip(docs, scores):
            set_lm_annotations(doc, result)

    # ------------------------------------------------------------------ training
    def _window_loss(self, hidden, targets, weights, n_total: int) -> Tuple[float, Any]:
        """Summed NLL of a window's real positions and d(mean NLL over the batch)/d hidden.
        Padded positions skip the vocabulary projection altogether."""
        ops = self.model.ops
        T, k, width = hidden.shape
        real = ops.xp.nonzero(weights > 0)[0]
        logits, bp_output = self.model.get_ref("output")(hidden.reshape(T * k, width)[real], True)
        nll, d_logits = softmax_cross_entropy(ops, logits, targets[real], grad_scale=1.0 / n_total,
                                              overwrite=True)
        window_nll = float(nll.sum())
        if not math.isfinite(window_nll):
            raise ValueError(Errors.E004.format(name=self.name, loss=window_nll))
        d_hidden = ops.alloc2f(T * k, width, dtype=hidden.dtype)
        d_hidden[real] = bp_output(d_logits)
        return window_nll, d_hidden.reshape(T, k, width)

    def update(self, examples: Iterable[Example], *, drop: float = 0.0, sgd: Optional[Optimizer] = None,
               losses: Optional[Dict[str, float]] = None) -> Dict[str, float]:
        """One optimizer step over a batch: mean token cross-entropy (nats) over all its windows."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "LSTMLanguageModel.update")
        self._require_initialized()
        if self.listeners:
            return self._update_with_listeners(examples, drop=drop, sgd=sgd, losses=losses)
        seqs = [s for s in (self._prepare(eg.reference) for eg in examples) if s is not None]
        if not seqs:
            return losses
        seqs.sort(key=lambda s: -len(s[0]))
        n_total = sum(len(s[0]) for s in seqs)
        set_dropout_rate(self.model, drop)
        total_nll = 0.0
        state = None
        for start, k, ids, targets, weights, lengths in self._windows(seqs, self.cfg["max_length"]):
            (hidden, state), bp_encode = encode(self.model, (ids, lengths, self._carry(state, k)), True)
            window_nll, d_hidden = self._window_loss(hidden, targets, weights, n_total)
            total_nll += window_nll
            bp_encode((d_hidden, None))
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += total_nll / n_total
        return losses

    def _update_with_listeners(self, examples: List[Example], *, drop: float, sgd: Optional[Optimizer],
                               losses: Dict[str, float]) -> Dict[str, float]:
        """``update`` when downstream listeners read the hidden states: the LM loss gradient of
        every window is kept until the last listener's backprop adds its gradient to the
        windows' hidden states; then each window is backpropagated (state gradient still cut
        at window boundaries) and, if ``sgd`` is given, the update is applied."""
        docs = [eg.predicted for eg in examples]
        prepared = [self._prepare(doc) for doc in docs]
        order = self._order(prepared)
        seqs = [prepared[i] for i in order]
        set_dropout_rate(self.model, drop)
        ops = self.model.ops
        n_total = sum(len(s[0]) for s in seqs)
        total_nll = 0.0
        windows = []
        window_grads = []
        state = None
        if seqs:
            for start, k, ids, targets, weights, lengths in self._windows(seqs, self.cfg["max_length"]):
                (hidden, state), bp_encode = encode(self.model, (ids, lengths, self._carry(state, k)), True)
                window_nll, d_hidden = self._window_loss(hidden, targets, weights, n_total)
                total_nll += window_nll
                windows.append((k, ops.to_numpy(lengths), hidden))
                window_grads.append((d_hidden, bp_encode))
            losses[self.name] += total_nll / n_total
        outputs = self._gather_rows(docs, prepared, order, windows)
        d_outputs = [ops.alloc2f(*rows.shape, dtype=rows.dtype) for rows in outputs]

        def accumulate_gradient(one_d_outputs):
            for i in range(len(one_d_outputs)):
                d_outputs[i] += one_d_outputs[i]
            return [ops.alloc2f(*rows.shape, dtype=rows.dtype) for rows in outputs]

        def backprop(one_d_outputs):
            accumulate_gradient(one_d_outputs)
            d_hiddens = [d for d, _ in window_grads]
            self._scatter_rows(d_outputs, prepared, order, windows, d_hiddens)
            for d_hidden, bp_encode in window_grads:
                bp_encode((d_hidden, None))
            if sgd is not None:
                self.finish_update(sgd)
            return []

        self._feed_listeners(docs, outputs, backprop, accumulate_gradient)
        return losses

    def get_loss(self, examples: Iterable[Example], scores: List[Optional[Dict[str, Any]]]) -> Tuple[float, None]:
        """Mean NLL per predicted token (nats) of ``predict`` output; the gradient is
        produced window by window inside ``update``, so none is returned here."""
        validate_examples(examples, "LSTMLanguageModel.get_loss")
        values = [r["nll"] for r in scores if r is not None]
        if not values:
            return 0.0, None
        joined = numpy.concatenate(values)
        return float(joined.mean()), None

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None,
                   vocab_size: Optional[int] = None) -> None:
        """Build the token vocabulary from the training corpus and initialize the model."""
        validate_get_examples(get_examples, "LSTMLanguageModel.initialize")
        attr = self.cfg["attr"]
        counts = TokenVocab.count((eg.reference for eg in get_examples()), attr=attr)
        if not counts:
            raise ValueError(Errors.E003.format(name=self.name))
        max_size = vocab_size if vocab_size is not None else self.cfg["max_size"]
        self.lm_vocab = TokenVocab.from_counts(counts, attr=attr, min_freq=self.cfg["min_freq"],
                                               max_size=max_size)
        self._init_model()
        self.model.initialize()

    def _init_model(self) -> None:
        n_vocab = len(self.lm_vocab)
        if self.model.has_dim("nV") and self.model.get_dim("nV") != n_vocab:
            raise ValueError(f"Model vocabulary size {self.model.get_dim('nV')} != {n_vocab} of '{self.name}'")
        self.model.set_dim("nV", n_vocab)

    # ------------------------------------------------------------------ language-model protocol
    # (spacy_lm.types.LanguageModel): decoding reads the model only through these methods.
    @property
    def ops(self):
        return self.model.ops

    def initial_state(self, batch_size: int) -> LSTMState:
        self._require_initialized()
        return lm_initial_state(self.model, batch_size)

    def prime(self, prompts: Sequence[Sequence[int]]) -> Tuple[Any, LSTMState]:
        """One padded forward pass over ``<eos>`` + each prompt: the LSTM's masking makes the
        final state exactly the state after each prompt's last token."""
        vocab = self._require_initialized()
        if not prompts:
            raise ValueError("prime needs at least one prompt")
        ops = self.model.ops
        lengths = numpy.asarray([len(p) + 1 for p in prompts], dtype="int32")
        ids = numpy.zeros((int(lengths.max()), len(prompts)), dtype="int32")
        for j, prompt in enumerate(prompts):
            ids[: lengths[j], j] = [vocab.eos_id, *prompt]
        (hidden, state), _ = encode(self.model, (ops.asarray(ids), ops.asarray(lengths), None), False)
        last = hidden[ops.asarray(lengths - 1), ops.xp.arange(len(prompts))]
        logits, _ = self.model.get_ref("output")(last, False)
        return log_softmax(ops, logits, inplace=True), state

    def step(self, state: LSTMState, token_ids) -> Tuple[Any, LSTMState]:
        """Log-probabilities of the next token after ``token_ids`` (B,), and the new state."""
        self._require_initialized()
        logits, state = lm_step(self.model, self.model.ops.asarray(token_ids, dtype="int32"), state)
        return log_softmax(self.model.ops, logits, inplace=True), state

    def select_state(self, state: LSTMState, indices) -> LSTMState:
        index = self.model.ops.asarray(indices, dtype="int32")
        return state[0][:, index], state[1][:, index]

    # ------------------------------------------------------------------ serialization
    def _payload(self) -> Dict[str, bytes]:
        vocab = self._require_initialized()
        return {"lm_vocab": vocab.to_bytes(), "model": self.model.to_bytes()}

    def _restore(self, cfg: Dict[str, Any], read: Callable[[str], bytes]) -> None:
        try:
            self.lm_vocab = TokenVocab.from_bytes(read("lm_vocab"))
            self.cfg.update(cfg)
            self._init_model()
            self.model.from_bytes(read("model"))
        except Exception:
            self.lm_vocab = None
            raise
