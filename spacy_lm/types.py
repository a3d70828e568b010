"""The language-model protocol: what decoding (and any consumer of next-token
distributions) needs from a language model, whatever its kind (LSTM, n-gram, ...).

Token ids are those of the model's ``lm_vocab`` (a :class:`spacy_lm.text.vocab.TokenVocab`,
with ``strings``, ``id_of``, ``string_of``, ``eos_id`` and ``unk_id``). Every sequence
starts after an implicit ``<eos>`` (the previous line's end), as in training.
Arrays live on ``ops.xp`` (NumPy or CuPy). A state is opaque to callers: they only pass
it back, and reorder it with ``select_state`` (beam search, several samples per prompt).

Conditional models (a sentence VAE decoding from a latent ``z``, a translator decoding from
a source sentence) implement the same protocol: the condition rides in the state, which
``initial_state`` / ``prime`` build from it (and ``select_state`` reorders with the rest of
the state). Prompts are target-side prefixes only: the decoder never validates them
against, or counts them as repetition history of, anything else.

The contracts live here, one Protocol each:

* :class:`LanguageModel`, what decoding needs from a *component* (``lstm_lm``, ``ngram_lm``, and
  the conditioned adapters of ``sentence_vae`` and ``translator``).
* What each component needs from its Thinc model: :class:`RecurrentLMModel` (``lstm_lm``),
  :class:`LatentLMModel` (``sentence_vae``), :class:`Seq2SeqLMModel` (``translator``), both of the
  latter on :class:`ConditionedDecoderModel` (a decoder whose state carries its condition), and
  :class:`SpanReaderModel` (the question-answering reader of `qa`, with its `ReaderBatch`). A component calls only these
  methods, so any architecture that provides them (another cell, another output layer) plugs in
  unchanged; it checks them once, with :func:`check_model_contract` (E022 naming what is missing).
  :class:`NLLModel` is optional (``nll``: the NLL without ``score``'s top-1 flags, corpus
  scoring's path); :func:`token_nll` falls back to ``score`` for a model without it.
"""
from typing import Any, Callable, List, NamedTuple, Optional, Protocol, Sequence, Tuple, Type, runtime_checkable

from thinc.api import Ops
from thinc.types import Floats1d, Floats2d, Floats3d, Ints1d, Ints2d, Ints3d

from .errors import Errors
from .text.vocab import TokenVocab

State = Any


@runtime_checkable
class LanguageModel(Protocol):
    @property
    def lm_vocab(self) -> TokenVocab: ...

    @property
    def ops(self) -> Ops: ...

    def initial_state(self, batch_size: int) -> State:
        """The state before any token (as after an implicit ``<eos>`` has not yet been read)."""

    def prime(self, prompts: Sequence[Sequence[int]]) -> Tuple[Floats2d, State]:
        """Read ``<eos>`` + each prompt in one pass; return log-probs (B, V) of the next token
        after each prompt (a fresh array, as in ``step``), and the state after each prompt's
        last token. Prompts come whole, of any length: the model reads them in bounded memory
        (``lstm_lm``: windows with the state carried; ``ngram_lm``: only the tokens that reach
        its state). Log-probs must be finite; the decoder raises E079 otherwise."""

    def step(self, state: State, token_ids: Ints1d) -> Tuple[Floats2d, State]:
        """Read one token per row; return next-token log-probs (B, V) and the new state.
        The input state is not modified; the returned log-probs are a fresh array that the
        caller may modify (decoding writes its bans into it)."""

    def select_state(self, state: State, indices: Ints1d) -> State:
        """Rows ``indices`` of a batch state, in that order (indices may repeat)."""


@runtime_checkable
class RecurrentLMModel(Protocol):
    """The Thinc model of a recurrent LM component (``spacy_lm.LSTMLanguageModel.v1``, ``.v2``).

    Ids are time-major ``(T, B)`` windows of the component's vocabulary; ``lengths`` (B,)
    marks real steps (a batch sorted longest first lets the cell skip finished rows). Hidden
    states are the top layer's outputs ``(T, B, nO)``, also what listeners receive. ``nO``
    (hidden width) and ``nV`` (vocabulary size, set by the component before ``initialize``)
    are dims of the model. The state is opaque: only the model reads it.
    """

    ops: Ops

    def encode(self, ids: Ints2d, lengths: Optional[Ints1d], state: Optional[State],
               is_train: bool) -> Tuple[Tuple[Floats3d, State], Callable[[Floats3d], None]]:
        """Hidden states and the state after each sequence's last real token; the callback
        takes d(hidden) and accumulates parameter gradients (the state gradient is cut)."""

    def loss(self, hidden: Floats2d, targets: Ints1d, grad_scale: float) -> Tuple[Floats1d, Floats2d]:
        """Training: NLL (nats) per row of ``targets`` given ``hidden`` rows, and
        ``grad_scale`` * d(NLL)/d(hidden); the output layer's own gradients are accumulated."""

    def score(self, hidden: Floats2d, targets: Ints1d) -> Tuple[Floats1d, Any]:
        """Inference: NLL (nats) per row and whether each target was the top-1 prediction."""

    def log_probs(self, hidden: Floats2d) -> Floats2d:
        """Inference: next-token log-probabilities ``(rows, nV)``, a fresh array."""

    def step(self, token_ids: Ints1d, state: State) -> Tuple[Floats2d, State]:
        """Read one token per row: next-token log-probs ``(B, nV)`` (fresh) and the new state."""

    def initial_state(self, batch_size: int) -> State:
        """The state before the first token."""

    def select_state(self, state: State, indices: Ints1d) -> State:
        """Rows ``indices`` of a batch state, in that order (indices may repeat)."""

    def concat_states(self, states: Sequence[State]) -> State:
        """One batch state from several (their rows side by side, in order): how stream
        training joins carried states with fresh ones."""


class NLLModel(Protocol):
    """Optional beside :class:`RecurrentLMModel` (not required when a component is built): the NLL
    of ``score`` without its top-1 flags, which corpus scoring does not need (a full softmax
    then skips the argmax pass over its logits, an adaptive one every tail whose targets are
    absent). Every model of this package has it (:class:`spacy_lm.layers.output.OutputContractMethods`);
    a caller falls back to ``score`` for a model without it, see :func:`token_nll`."""

    def nll(self, hidden: Floats2d, targets: Ints1d) -> Floats1d:
        """Inference: NLL (nats) per row, the values of ``score``."""


def token_nll(model: Any, hidden: Floats2d, targets: Ints1d) -> Floats1d:
    """NLL per row through the model's ``nll`` (:class:`NLLModel`), else its ``score``."""
    nll = getattr(model, "nll", None)
    return nll(hidden, targets) if callable(nll) else model.score(hidden, targets)[0]


class OutputContract(Protocol):
    """The output layer's three calls, as every model of this package exposes them
    (:mod:`spacy_lm.layers.output`)."""

    def loss(self, hidden: Floats2d, targets: Ints1d, grad_scale: float) -> Tuple[Floats1d, Floats2d]:
        """Training: NLL (nats) per row and ``grad_scale`` * d(NLL)/d(hidden)."""

    def score(self, hidden: Floats2d, targets: Ints1d) -> Tuple[Floats1d, Any]:
        """Inference: NLL (nats) per row and whether each target was the top-1 prediction."""

    def log_probs(self, hidden: Floats2d) -> Floats2d:
        """Inference: next-token log-probabilities ``(rows, nV)``, a fresh array."""


class ConditionedDecoderModel(Protocol):
    """A decoder whose state carries its condition (a latent ``z``, an encoded source): what
    :class:`spacy_lm.pipeline.conditioned_lm.ConditionedLM` needs to serve the LanguageModel
    protocol from a batch of start states. Target ids are time-major ``(T, B)``."""

    def teacher_force(self, ids: Ints2d, start: State) -> Tuple[Floats3d, State]:
        """Inference: hidden states ``(T, B, nO)`` of reading ``ids`` (rows of one length) from
        the start states, and the state after the last step."""

    def log_probs(self, hidden: Floats2d) -> Floats2d:
        """Next-token log-probabilities ``(rows, nV)`` of hidden rows, a fresh array."""

    def step(self, token_ids: Ints1d, state: State) -> Tuple[Floats2d, State]:
        """Read one token per row: next-token log-probs ``(B, nV)`` (fresh) and the new state."""

    def select_state(self, state: State, indices: Ints1d) -> State:
        """Rows ``indices`` of a batch state (the condition's rows with them)."""

    def concat_states(self, states: Sequence[State]) -> State:
        """One batch state from several, their rows side by side."""


class LatentLMModel(ConditionedDecoderModel, OutputContract, Protocol):
    """The Thinc model of ``sentence_vae`` (``spacy_lm.SentenceVAE.v1``): an encoder giving
    q(z|x) and a decoder conditioned on z. ``nZ`` (latent size), ``nO`` and ``nV`` are dims."""

    def posterior(self, ids: Ints2d, lengths: Ints1d, is_train: bool
                  ) -> Tuple[Tuple[Floats2d, Floats2d], Callable[[Floats2d, Floats2d], None]]:
        """Mean and log-variance ``(B, nZ)`` of q(z|x) for ids ``(T, B)`` (tokens + ``<eos>``);
        the callback takes their gradients and accumulates the parameter gradients."""

    def decode(self, ids: Ints2d, lengths: Ints1d, z: Floats2d, is_train: bool
               ) -> Tuple[Tuple[Floats3d, State], Callable[[Floats3d], Floats2d]]:
        """Teacher-forced decoder given ``z`` ``(B, nZ)``: hidden states ``(T, B, nO)`` and the
        state after each row's last real input; the callback takes d(hidden) and returns d(z)."""

    def start_state(self, z: Floats2d) -> State:
        """The decoder's state before the first token (``<eos>``) for latent codes ``z``."""


class Seq2SeqLMModel(ConditionedDecoderModel, OutputContract, Protocol):
    """The Thinc model of ``translator`` (``spacy_lm.Seq2SeqAttention.v1``): an encoder of the
    source and an attentional decoder. ``nV`` (target) and ``nV_src`` (source) vocabulary sizes
    are dims the component sets. The state carries the source (memory, keys, mask)."""

    def forward_train(self, src_ids: Ints2d, src_lengths: Ints1d, tgt_ids: Ints2d, is_train: bool
                      ) -> Tuple[Tuple[Floats3d, Floats3d], Callable[[Floats3d], None]]:
        """Teacher-forced decoding of target inputs ``(T, B)`` from sources ``(S, B)``: hidden
        states ``(T, B, nO)`` and attention ``(T, B, S)``; the callback takes d(hidden)."""

    def decode(self, tgt_ids: Ints2d, start: State, is_train: bool
               ) -> Tuple[Tuple[Floats3d, Floats3d, State], Callable]:
        """Teacher-forced decoder from ``start``: hidden states, attention ``(T, B, S)`` and the
        end state; the callback takes d(hidden) and returns the source's gradients."""

    def start_state(self, src_ids: Ints2d, src_lengths: Ints1d) -> State:
        """The decoding state before the first target token (``<eos>``) of each source."""

    def step_with_attention(self, token_ids: Ints1d, state: State) -> Tuple[Floats2d, State, Floats2d]:
        """``step`` that also returns this step's attention ``(B, S)``."""


class ReaderBatch(NamedTuple):
    """The arrays a span reader reads, built by the `qa` component: one row per (question,
    context window) pair, time-major, rows sorted by context length, longest first."""

    question_ids: Ints2d  # (Tq, B) ids in the component's vocabulary
    question_lengths: Ints1d  # (B,)
    context_ids: Ints2d  # (Tc, B)
    context_lengths: Ints1d  # (B,)
    context_features: Floats3d  # (Tc, B, nF): exact match (form, lower-case), term frequency
    lm_question_ids: Optional[Ints2d] = None  # the same tokens in the LM features' vocabulary
    lm_context_ids: Optional[Ints2d] = None


@runtime_checkable
class SpanReaderModel(Protocol):
    """The Thinc model of the `qa` component (`spacy_lm.SpanReader.v1`): it reads a question
    and a context window and scores each context token as the answer's start and end."""

    def span_logits(self, batch: ReaderBatch, is_train: bool
                    ) -> Tuple[Tuple[Floats2d, Floats2d], Callable[[Tuple[Floats2d, Floats2d]], None]]:
        """Start and end logits ``(B, Tc)`` (a large negative value past a row's length); the
        callback takes their gradients and accumulates the parameters'."""

    def best_spans(self, start_logits: Floats2d, end_logits: Floats2d, lengths: Ints1d,
                   max_answer_length: int, top_k: int) -> Tuple[Ints3d, Floats2d]:
        """Per row the ``top_k`` spans ``(B, k, 2)`` (start, end inclusive, end - start <
        max_answer_length) and their log-probabilities ``(B, k)``, best first."""

    def load_lm_features(self, embedding_bytes: bytes, rnn_bytes: bytes, backward: bool = False) -> None:
        """Take a trained LM's encoder weights for the LM features (its ``nV`` set beforehand);
        ``backward``: a backward LM's, for backward features (the component passes it only then)."""


def contract_methods(contract: Type[Any]) -> Tuple[str, ...]:
    """The methods a contract (a Protocol above) names, in the order written, its bases first."""
    methods: List[str] = []
    for klass in reversed(contract.__mro__):
        if klass in (object, Protocol) or not getattr(klass, "_is_protocol", False):
            continue
        methods.extend(key for key, value in vars(klass).items()
                       if callable(value) and not key.startswith("_") and key not in methods)
    return tuple(methods)


def check_model_contract(model: Any, contract: Type[Any], name: str) -> None:
    """E022 unless ``model`` has every method of ``contract``: the one check of a component's model."""
    methods = contract_methods(contract)
    missing = [method for method in methods if not callable(getattr(model, method, None))]
    if missing:
        raise ValueError(Errors.E022.format(name=name, contract=contract.__name__, methods=", ".join(methods),
                                            model=f"'{getattr(model, 'name', model)}'", missing=", ".join(missing)))


def is_language_model(obj: Any) -> bool:
    return isinstance(obj, LanguageModel)


TokenIds = List[int]
