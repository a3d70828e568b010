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

Two contracts live here:

* :class:`LanguageModel`, what decoding needs from a *component* (``lstm_lm``, ``ngram_lm``).
* :class:`RecurrentLMModel`, what a recurrent LM *component* needs from its Thinc model
  (``[components.lstm_lm.model]``): the component calls only these methods, so any
  architecture that provides them (another cell, another output layer) plugs in unchanged.
"""
from typing import Any, Callable, List, Optional, Protocol, Sequence, Tuple, runtime_checkable

from thinc.api import Ops
from thinc.types import Floats1d, Floats2d, Floats3d, Ints1d, Ints2d

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


def is_language_model(obj: Any) -> bool:
    return isinstance(obj, LanguageModel)


TokenIds = List[int]
