"""The recurrent cells an architecture can name in its ``cell`` setting, built from one place.

Every cell here keeps the cell contract of `recurrent.py` (``(X, lengths, state) → (Y, state)``,
a one-token ``step``, an opaque state), so an architecture builds any of them with
:func:`build_cell` and never imports a cell module itself. This module imports the cells; they
import only `recurrent.py`, so the two never import each other.
"""
from typing import Optional

from thinc.api import Model

from ..errors import Errors
from .gru import GRU
from .lstm import LSTM

CELLS = ("lstm", "gru")
_BUILDERS = {"lstm": LSTM, "gru": GRU}


def build_cell(cell: str, nO: Optional[int] = None, nI: Optional[int] = None, *, depth: int = 1,
               bidirectional: bool = False, dropout: float = 0.0) -> Model:
    """The recurrent stack named by an architecture's ``cell`` setting ("lstm" or "gru")."""
    if cell not in CELLS:
        raise ValueError(Errors.E009.format(setting="cell", requirement=f"one of {CELLS}", value=cell))
    return _BUILDERS[cell](nO, nI, depth=depth, bidirectional=bidirectional, dropout=dropout)
