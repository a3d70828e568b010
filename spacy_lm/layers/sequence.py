"""Layers between spaCy's per-doc arrays and our time-major recurrent cells, and pooling over docs.

``with_time_major(rnn)``: ``List[Floats2d]`` (one ``(len_i, nI)`` array per doc, as a spaCy
tok2vec gives) → padded time-major batch, sorted longest first, + lengths → any recurrent cell
with the contract of recurrent.py (`spacy_lm.LSTM.v1`, `spacy_lm.GRU.v1`), from the zero
state → back to ``List[Floats2d]`` of ``(len_i, nO * dirs)``. Zero-length docs give
``(0, nO * dirs)``. `spacy_lm.SequenceLSTM.v1` is ``with_time_major(LSTM(...))``.

`spacy_lm.MeanMaxPool.v1`: ``List[Floats2d]`` → ``Floats2d`` ``(B, 2 * nI)``, the mean and
the max of each doc's rows, concatenated. An empty doc pools to zeros.

`spacy_lm.ConcatPool.v1`: ``List[Floats2d]`` → ``Floats2d`` ``(B, 3 * nI)``: ULMFiT's concat
pooling, the last state beside the mean and the max. For a bidirectional encoder
(``directions=2``) "last" is each direction's own last step: the forward half at the doc's
final row, the backward half at its first row. An empty doc pools to zeros.

`spacy_lm.AttentionPool.v1`: ``List[Floats2d]`` → ``Floats2d`` ``(B, nI)``, a softmax-weighted
sum of each doc's rows; the weights come from a learned query ``q`` (scores ``X @ q``).
``q`` starts at zero, so training starts from mean pooling. An empty doc pools to zeros.

Everything uses ``model.ops`` / ``ops.xp``, so NumpyOps and CupyOps run the same code.
"""
from typing import Callable, List, Optional, Tuple

from thinc.api import Model, Ops, registry
from thinc.types import Floats2d, Ints1d

from ..errors import Errors
from ..ops import softmax
from .lstm import LSTM


def with_time_major(rnn: Model) -> Model[List[Floats2d], List[Floats2d]]:
    """Run the recurrent cell ``rnn`` over a list of per-doc arrays. The wrapper is named
    ``sequence_<cell>`` with the cell as its one layer and ref ``<cell>`` (so an LSTM gives the
    node tree `spacy_lm.SequenceLSTM.v1` always had); its ``nO`` is the cell's times its directions."""
    for missing, ok in (("'bidirectional' attr", "bidirectional" in rnn.attrs),
                        ("'nO' dim", rnn.has_dim("nO") is not False), ("'nI' dim", rnn.has_dim("nI") is not False)):
        if not ok:
            raise ValueError(Errors.E046.format(name=rnn.name, missing=missing))
    dirs = 2 if rnn.attrs["bidirectional"] else 1
    nO = rnn.maybe_get_dim("nO")
    return Model(
        f"sequence_{rnn.name}",
        _time_major_forward,
        init=_time_major_init,
        layers=[rnn],
        refs={rnn.name: rnn},
        dims={"nO": None if nO is None else nO * dirs, "nI": rnn.maybe_get_dim("nI")},
    )


@registry.layers("spacy_lm.SequenceLSTM.v1")
def SequenceLSTM(
    nO: Optional[int] = None,
    nI: Optional[int] = None,
    *,
    depth: int = 1,
    bidirectional: bool = True,
    dropout: float = 0.0,
) -> Model[List[Floats2d], List[Floats2d]]:
    """Run `spacy_lm.LSTM.v1` over a list of per-doc arrays; ``nO`` is the width of one direction."""
    return with_time_major(LSTM(nO, nI, depth=depth, bidirectional=bidirectional, dropout=dropout))


def _time_major_init(model: Model, X: Optional[List[Floats2d]] = None, Y=None) -> None:
    rnn = model.layers[0]
    if not model.has_dim("nI"):
        if X:
            model.set_dim("nI", X[0].shape[1])
        elif rnn.has_dim("nI"):
            model.set_dim("nI", rnn.get_dim("nI"))
    if model.has_dim("nI") and not rnn.has_dim("nI"):
        rnn.set_dim("nI", model.get_dim("nI"))
    rnn.initialize()


def _time_major_forward(model: Model, Xs: List[Floats2d], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    ops = model.ops
    xp = ops.xp
    rnn = model.layers[0]
    nI = rnn.get_dim("nI")
    nO = model.get_dim("nO")
    lengths = [int(X.shape[0]) for X in Xs]
    B = len(Xs)
    T = max(lengths, default=0)
    dtype = Xs[0].dtype if Xs else "float32"
    if T == 0:
        Ys = [xp.zeros((0, nO), dtype=dtype) for _ in Xs]
        return Ys, lambda dYs: [xp.zeros((0, nI), dtype=dtype) for _ in dYs]
    # Longest first: at inference the cell then steps only over the rows still running.
    order = sorted(range(B), key=lambda b: -lengths[b])
    column = [0] * B
    for j, b in enumerate(order):
        column[b] = j
    X = xp.zeros((T, B, nI), dtype=dtype)
    for b, Xb in enumerate(Xs):
        X[: lengths[b], column[b]] = Xb
    lengths_arr = ops.asarray1i([lengths[b] for b in order])
    (Y, _), bp_rnn = rnn((X, lengths_arr, None), is_train)
    Ys = [Y[: lengths[b], column[b]] for b in range(B)]

    def backprop(dYs: List[Floats2d]) -> List[Floats2d]:
        dY = xp.zeros(Y.shape, dtype=Y.dtype)
        for b, dYb in enumerate(dYs):
            dY[: lengths[b], column[b]] = dYb
        dX, _ = bp_rnn((dY, None))
        return [dX[: lengths[b], column[b]] for b in range(B)]

    return Ys, backprop


@registry.layers("spacy_lm.MeanMaxPool.v1")
def MeanMaxPool(nI: Optional[int] = None) -> Model[List[Floats2d], Floats2d]:
    """Mean and max of each doc's rows, concatenated: ``(B, 2 * nI)``."""
    return Model(
        "mean_max_pool",
        _mean_max_forward,
        init=_pool_init,
        dims={"nI": nI, "nO": None if nI is None else 2 * nI},
        attrs={"factor": 2},
    )


def _pool_init(model: Model, X: Optional[List[Floats2d]] = None, Y=None) -> None:
    if not model.has_dim("nI") and X:
        model.set_dim("nI", X[0].shape[1])
    if model.has_dim("nI") and not model.has_dim("nO"):
        model.set_dim("nO", model.attrs["factor"] * model.get_dim("nI"))


def _width(model: Model, Xs: List[Floats2d]) -> int:
    if Xs:
        return Xs[0].shape[1]
    return model.get_dim("nI")


def _mean_max_forward(model: Model, Xs: List[Floats2d], is_train: bool) -> Tuple[Floats2d, Callable]:
    ops = model.ops
    xp = ops.xp
    B = len(Xs)
    nI = _width(model, Xs)
    dtype = Xs[0].dtype if Xs else "float32"
    lengths = [int(X.shape[0]) for X in Xs]
    Y = xp.zeros((B, 2 * nI), dtype=dtype)
    nonempty = [b for b in range(B) if lengths[b] > 0]
    which = None
    if nonempty:
        flat = xp.concatenate([Xs[b] for b in nonempty], axis=0)
        lens = ops.asarray1i([lengths[b] for b in nonempty])
        means = _segment_sums(ops, flat, lens) / lens.reshape(-1, 1).astype(flat.dtype)
        maxes, which = ops.reduce_max(flat, lens)
        idx = ops.asarray1i(nonempty)
        Y[idx, :nI] = means
        Y[idx, nI:] = maxes

    def backprop(dY: Floats2d) -> List[Floats2d]:
        dXs = [xp.zeros((n, nI), dtype=dY.dtype) for n in lengths]
        if not nonempty:
            return dXs
        idx = ops.asarray1i(nonempty)
        lens_host = [lengths[b] for b in nonempty]
        lens = ops.asarray1i(lens_host)
        # Written out rather than Ops.backprop_reduce_* (generic Ops gives wrong max gradients).
        d_flat = xp.repeat(dY[idx, :nI] / lens.reshape(-1, 1).astype(dY.dtype), lens_host, axis=0)
        starts = ops.asarray1i([sum(lens_host[:j]) for j in range(len(lens_host))])
        rows = starts.reshape(-1, 1) + which
        cols = xp.arange(nI).reshape(1, -1)
        d_flat[rows, cols] += dY[idx, nI:]
        start = 0
        for b in nonempty:
            dXs[b] = d_flat[start : start + lengths[b]]
            start += lengths[b]
        return dXs

    return Y, backprop


@registry.layers("spacy_lm.ConcatPool.v1")
def ConcatPool(nI: Optional[int] = None, directions: int = 1) -> Model[List[Floats2d], Floats2d]:
    """Last state, mean and max of each doc's rows, concatenated: ``(B, 3 * nI)``."""
    if directions not in (1, 2):
        raise ValueError(Errors.E009.format(setting="ConcatPool directions", requirement="1 or 2",
                                            value=directions))
    return Model(
        "concat_pool",
        _concat_forward,
        init=_pool_init,
        dims={"nI": nI, "nO": None if nI is None else 3 * nI},
        attrs={"factor": 3, "directions": directions},
    )


def _concat_forward(model: Model, Xs: List[Floats2d], is_train: bool) -> Tuple[Floats2d, Callable]:
    xp = model.ops.xp
    nI = _width(model, Xs)
    if model.attrs["directions"] == 2 and nI % 2:
        raise ValueError(Errors.E009.format(setting="ConcatPool input width with directions=2",
                                            requirement="even (forward and backward halves)", value=nI))
    half = nI // 2 if model.attrs["directions"] == 2 else nI
    mean_max, bp_mean_max = _mean_max_forward(model, Xs, is_train)
    nonempty = [b for b, X in enumerate(Xs) if X.shape[0]]
    last = xp.zeros((len(Xs), nI), dtype=mean_max.dtype)
    if nonempty:
        idx = model.ops.asarray1i(nonempty)
        last[idx, :half] = xp.stack([Xs[b][-1, :half] for b in nonempty])
        if half < nI:
            last[idx, half:] = xp.stack([Xs[b][0, half:] for b in nonempty])

    def backprop(dY: Floats2d) -> List[Floats2d]:
        dXs = bp_mean_max(dY[:, nI:])
        for b in nonempty:
            dXs[b][-1, :half] += dY[b, :half]
            if half < nI:
                dXs[b][0, half:] += dY[b, half:nI]
        return dXs

    return xp.concatenate([last, mean_max], axis=1), backprop


def _segment_sums(ops: Ops, flat: Floats2d, lens: Ints1d) -> Floats2d:
    """Row sums of consecutive segments of ``flat``. ``Ops.reduce_sum`` (a compiled loop on
    NumpyOps and CupyOps, 75x faster than a cumulative sum over (2400, 256) here) where it keeps
    the dtype; cumulative sums otherwise (generic Ops computes in float32, and float64 gradient
    checks need float64)."""
    sums = ops.reduce_sum(flat, lens)
    if sums.dtype == flat.dtype:
        return sums
    xp = ops.xp
    ends = xp.cumsum(lens)
    cs = xp.concatenate([xp.zeros((1, flat.shape[1]), dtype=flat.dtype), xp.cumsum(flat, axis=0)], axis=0)
    return cs[ends] - cs[ends - lens]


@registry.layers("spacy_lm.AttentionPool.v1")
def AttentionPool(nI: Optional[int] = None) -> Model[List[Floats2d], Floats2d]:
    """Softmax attention over each doc's rows with a learned query: ``(B, nI)``."""
    return Model(
        "attention_pool",
        _attention_forward,
        init=_attention_init,
        dims={"nI": nI, "nO": nI},
        params={"q": None},
        attrs={"factor": 1},
    )


def _attention_init(model: Model, X: Optional[List[Floats2d]] = None, Y=None) -> None:
    _pool_init(model, X, Y)
    model.set_param("q", model.ops.alloc1f(model.get_dim("nI")))


def _attention_forward(model: Model, Xs: List[Floats2d], is_train: bool) -> Tuple[Floats2d, Callable]:
    ops = model.ops
    xp = ops.xp
    q = model.get_param("q")
    nI = q.shape[0]
    B = len(Xs)
    dtype = Xs[0].dtype if Xs else q.dtype
    Y = xp.zeros((B, nI), dtype=dtype)
    weights: List[Optional[Floats2d]] = []
    for b, X in enumerate(Xs):
        if X.shape[0] == 0:
            weights.append(None)
            continue
        a = softmax(ops, X @ q)
        weights.append(a)
        Y[b] = a @ X

    def backprop(dY: Floats2d) -> List[Floats2d]:
        dXs = []
        dq = xp.zeros_like(q)
        for b, X in enumerate(Xs):
            a = weights[b]
            if a is None:
                dXs.append(xp.zeros((0, nI), dtype=dY.dtype))
                continue
            da = X @ dY[b]
            ds = a * (da - (a * da).sum())
            dXs.append(xp.outer(a, dY[b]) + xp.outer(ds, q))
            dq += ds @ X
        model.inc_grad("q", dq)
        return dXs

    return Y, backprop
