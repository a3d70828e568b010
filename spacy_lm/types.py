"""The language-model protocol: what decoding (and any consumer of next-token
distributions) needs from a language model, whatever its kind (LSTM, n-gram, ...).

Token ids are those of the model's ``lm_vocab`` (a :class:`spacy_lm.vocab.TokenVocab`,
with ``strings``, ``id_of``, ``string_of``, ``eos_id`` and ``unk_id``). Every sequence
starts after an implicit ``<eos>`` (the previous line's end), as in training.
Arrays live on ``ops.xp`` (NumPy or CuPy). A state is opaque to callers: they only pass
it back, and reorder it with ``select_state`` (beam search, several samples per prompt).
"""
from typing import Any, List, Protocol, Sequence, Tuple, runtime_checkable

from thinc.api import Ops
from thinc.types import Floats2d, Ints1d

from .vocab import TokenVocab

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
        last token."""

    def step(self, state: State, token_ids: Ints1d) -> Tuple[Floats2d, State]:
        """Read one token per row; return next-token log-probs (B, V) and the new state.
        The input state is not modified; the returned log-probs are a fresh array that the
        caller may modify (decoding writes its bans into it)."""

    def select_state(self, state: State, indices: Ints1d) -> State:
        """Rows ``indices`` of a batch state, in that order (indices may repeat)."""


def is_language_model(obj: Any) -> bool:
    return isinstance(obj, LanguageModel)


TokenIds = List[int]
