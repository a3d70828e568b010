"""The pooled encoder both classifiers share (`spacy_lm.TextCatLSTM.v1`, `spacy_lm.SentimentLSTM.v1`):

    per-token vectors (List[Floats2d]) → with_time_major(cell) (bidirectional, ``depth`` layers;
    skipped for ``depth=0``) → pooling (``mean_max``, ``concat`` or ``attention``) → [LayerNorm]
    → dropout → Floats2d

``concat`` is ULMFiT's concat pooling (last state, mean, max; `spacy_lm.ConcatPool.v1`).
``normalize`` adds a LayerNorm over the pooled vector: an LM's states vary little from doc to
doc (std 0.06 measured on an SST-2 LM), which a zero-initialised head learns from slowly;
ULMFiT's head normalises (BatchNorm) for the same reason.

``cell`` names the recurrent stack (`spacy_lm.layers.cells.build_cell`: "lstm" or "gru").
The pieces come back as a list for the caller to put in its own ``chain`` (not one nested
model), so a model built with ``cell="lstm"`` has exactly the node tree it had before this
function existed and pipelines saved then still load.
"""
from typing import List, NamedTuple, Optional

from thinc.api import Dropout, LayerNorm, Model

from ..checks import check_setting, is_count
from ..layers.cells import CELLS, build_cell
from ..layers.sequence import AttentionPool, ConcatPool, MeanMaxPool, with_time_major

POOLINGS = ("mean_max", "concat", "attention")


class PooledEncoder(NamedTuple):
    layers: List[Model]  # [sequence encoder (depth > 0)], pooling, dropout: chain them
    nO: Optional[int]  # width of the pooled vector (None while the input width is unknown)


def check_encoder_settings(architecture: str, *, width: int, depth: int, dropout: float, pooling: str,
                           cell: str, nI: Optional[int] = None) -> None:
    """Raise E043 (naming the architecture and the value) for a setting out of range."""
    checks = (("pooling", f"one of {POOLINGS}", pooling, pooling in POOLINGS),
              ("depth", "an integer >= 0", depth, is_count(depth, 0)),
              ("width", "an integer >= 1", width, is_count(width, 1)),
              ("dropout", "in [0, 1)", dropout, isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0),
              ("cell", f"one of {CELLS}", cell, cell in CELLS),
              ("tok2vec width (nO)", "an integer >= 1", nI, nI is None or is_count(nI, 1)))
    for setting, requirement, value, ok in checks:
        check_setting(ok, setting, requirement, value, where=architecture, code="E043")


def build_pooled_encoder(nI: Optional[int], width: int, depth: int, dropout: float, pooling: str = "mean_max",
                         cell: str = "lstm", *, architecture: str = "pooled encoder",
                         normalize: bool = False) -> PooledEncoder:
    """nI: width of the input vectors (None: inferred at initialization). width: hidden size of
    each direction (the recurrent output is ``2 * width``). depth: recurrent layers (0: pool the
    inputs directly). dropout: between recurrent layers and after pooling. pooling: "mean_max"
    (mean and max concatenated), "concat" (last, mean, max) or "attention" (learned query).
    cell: "lstm" or "gru". normalize: a LayerNorm after pooling."""
    check_encoder_settings(architecture, width=width, depth=depth, dropout=dropout, pooling=pooling, cell=cell,
                           nI=nI)
    layers: List[Model] = []
    if depth > 0:
        rnn = build_cell(cell, width, nI, depth=depth, bidirectional=True, dropout=dropout)
        layers.append(with_time_major(rnn))
        seq_width: Optional[int] = 2 * width
    else:
        seq_width = nI
    pool = _pool(pooling, seq_width, directions=2 if depth > 0 else 1)
    nO = None if seq_width is None else seq_width * pool.attrs["factor"]
    layers.append(pool)
    if normalize:
        layers.append(LayerNorm(nO))
    layers.append(Dropout(dropout))
    return PooledEncoder(layers, nO)


def _pool(pooling: str, width: Optional[int], directions: int) -> Model:
    if pooling == "concat":
        return ConcatPool(width, directions=directions)
    return MeanMaxPool(width) if pooling == "mean_max" else AttentionPool(width)
