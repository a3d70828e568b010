"""`spacy_lm.GRU.v1`: a multi-layer, optionally bidirectional GRU with explicit state.

The same cell contract as `spacy_lm.LSTM.v1` (see `recurrent.py`), written against `ops.xp`
alone, so NumpyOps and CupyOps run the same code.

Data layout is time-major: ``X`` has shape ``(T, B, nI)``. Sequences shorter than
``T`` are given by ``lengths``; padded steps leave the state untouched and output
zeros, which makes the final state the state after each sequence's last real token
(for the backward direction too, which simply walks the time axis from the end).

Input:  ``(X, lengths, state)`` where ``state`` is ``None`` (zeros) or ``h0`` of shape
        ``(depth * dirs, B, nO)``.
Output: ``(Y, hT)`` with ``Y`` of shape ``(T, B, nO * dirs)``.
Backprop takes ``(dY, d_state)`` (``d_state`` may be ``None``) and returns ``(dX, dh0)``.

Gates are exactly `torch.nn.GRU`'s, ordered (r, z, n)::

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h

Parameters of layer ``l``, direction ``d``: ``W{l}_{d}`` (3nO, nI), ``U{l}_{d}`` (3nO, nO),
input bias ``b{l}_{d}`` and recurrent bias ``bh{l}_{d}`` (3nO each), one to one with
nn.GRU's ``weight_ih``, ``weight_hh``, ``bias_ih`` and ``bias_hh``.

A step's elementwise maths is `gates.py`'s (shared with the fused kernels' references); the
stack over layers and directions is `recurrent.run_stack`. On CupyOps with `fused_cells.ENABLED`
(off by default; ``SPACY_LM_FUSED_KERNELS=1``) each step's elementwise part runs as one fused
CUDA kernel forward and one backward (`fused_cells.py`); the products, the packed/masked row
handling and everything on other ops are the generic code below.
"""
from functools import partial
from typing import Callable, List, Optional, Tuple

from thinc.api import Model, registry
from thinc.types import Floats2d, Floats3d, Ints1d

from ..errors import Errors
from . import fused_cells, gates
from .recurrent import (batch_layout, check_cell_dims, init_uniform_params, make_cell_attrs, n_directions,
                        one_blas_thread, param_names, project_rows, run_stack, single_threaded_blas, step_matmul,
                        PackedSteps)

GRUState = Floats3d
GRUInput = Tuple[Floats3d, Optional[Ints1d], Optional[GRUState]]
GRUOutput = Tuple[Floats3d, GRUState]


@registry.layers("spacy_lm.GRU.v1")
def GRU(
    nO: Optional[int] = None,
    nI: Optional[int] = None,
    *,
    depth: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
) -> Model[GRUInput, GRUOutput]:
    """A stateful GRU stack; ``dropout`` is applied between layers while training."""
    check_cell_dims("spacy_lm.GRU.v1", nO, nI)
    attrs = make_cell_attrs(depth=depth, bidirectional=bidirectional, dropout=dropout,
                            initial_state=gru_initial_state, step=gru_step, select_state=select_gru_state,
                            concat_states=concat_gru_states, state_from_hidden=gru_state_from_hidden,
                            hidden_grad=gru_hidden_grad)
    return Model("gru", forward, init=init, dims={"nO": nO, "nI": nI}, attrs=attrs)


def recurrent_bias_name(layer: int, direction: int) -> str:
    return f"bh{layer}_{direction}"


def init(model: Model, X: Optional[GRUInput] = None, Y: Optional[GRUOutput] = None) -> None:
    if X is not None and model.has_dim("nI") is None:
        model.set_dim("nI", X[0].shape[-1])
    init_uniform_params(model, 3)
    nO = model.get_dim("nO")
    scale = 1.0 / (nO**0.5)
    xp = model.ops.xp
    for layer in range(model.attrs["depth"]):
        for direction in range(n_directions(model)):
            values = xp.random.uniform(-scale, scale, (3 * nO,)).astype("float32")
            model.set_param(recurrent_bias_name(layer, direction), model.ops.asarray(values))


@single_threaded_blas
def forward(model: Model, inputs: GRUInput, is_train: bool) -> Tuple[GRUOutput, Callable]:
    X, lengths, h0 = inputs
    mask, active = batch_layout(model.ops, X, lengths)
    if h0 is None:
        h0 = gru_initial_state(model, X.shape[1], dtype=X.dtype)
    else:
        _check_state(h0, model.attrs["depth"] * n_directions(model), X.shape[1], model.get_dim("nO"))
    Y, (hT,), backprop_stack = run_stack(model, X, mask, active, (h0,), is_train, _run_direction)

    def backprop(d_outputs: Tuple[Floats3d, Optional[GRUState]]) -> Tuple[Floats3d, GRUState]:
        dY, dhT = d_outputs
        dX, (dh0,) = backprop_stack(dY, None if dhT is None else (dhT,))
        return dX, dh0

    return (Y, hT), backprop


def _check_state(h0, n_states: int, B: int, nO: int) -> None:
    expected = (n_states, B, nO)
    if tuple(getattr(h0, "shape", ())) != expected:
        got = tuple(h0.shape) if hasattr(h0, "shape") else type(h0).__name__
        raise ValueError(Errors.E100.format(cell="GRU", expected=expected, found=f"h {got}"))


def _recurrent(model: Model, layer: int, direction: int, UT, h):
    """``h @ U.T + b_h`` for the three gates, given ``UT = U.T`` (made contiguous once per
    sequence in a forward pass; a one-token step passes the transposed view)."""
    HH = step_matmul(model.ops, h, UT)
    HH += model.get_param(recurrent_bias_name(layer, direction))
    return HH


def _run_direction(model, layer, direction, X, mask, state, is_train, active: Optional[List[int]] = None):
    """One layer, one direction, from ``state = (h0,)``. Returns (Y, (hT,), backprop). With
    ``active`` (a batch sorted longest first, see recurrent.active_rows) step ``t`` computes
    only its ``active[t]`` running rows, forward and backward, and the input projections cover
    only rows that run (recurrent.PackedSteps); otherwise every row runs and ``mask`` keeps
    padded rows' state. Padded rows keep their state and output 0."""
    ops = model.ops
    xp = ops.xp
    (h0,) = state
    T, B, _ = X.shape
    steps = PackedSteps(ops, T, B, active)
    X_packed = steps.pack(X)
    W, U, acts = project_rows(model, layer, direction, X_packed)
    UT = xp.ascontiguousarray(U.T)
    nO = U.shape[1]
    Y = xp.zeros((T, B, nO), dtype=X.dtype)
    # Per packed row: the state *before* its step and W_hn h + b_hn there (for backprop).
    Hprev = xp.empty((steps.n, nO), dtype=X.dtype) if is_train else None
    Hn = xp.empty((steps.n, nO), dtype=X.dtype) if is_train else None
    h = h0.astype(X.dtype) if active is not None else h0  # a copy, written row by row
    fused = fused_cells.use_fused(ops, X.dtype)
    gates_forward = fused_cells.gru_forward if fused else partial(gates.gru_forward, xp)
    for t, k, rows in steps.walk(direction):
        h_k = h if active is None else h[:k]
        HH = _recurrent(model, layer, direction, UT, h_k)
        _, h_new, _ = gates_forward(acts[rows], HH, h_k, Hn[rows] if is_train else None)
        if is_train:
            Hprev[rows] = h_k
        if active is not None:
            Y[t, :k] = h_new
            h[:k] = h_new
        elif mask is None:
            Y[t] = h_new
            h = h_new
        else:
            Y[t] = h_new * mask[t]
            h = h + mask[t] * (h_new - h)
    if not is_train:
        return Y, (h,), None
    return Y, (h,), _direction_backprop(model, layer, direction, X_packed, steps, mask, acts, Hprev, Hn, fused)


def _direction_backprop(model, layer, direction, X_packed, steps, mask, acts, Hprev, Hn, fused: bool):
    ops = model.ops
    xp = ops.xp
    W_name, U_name, b_name = param_names(layer, direction)
    W = model.get_param(W_name)
    U = model.get_param(U_name)
    nO = U.shape[1]
    packed = steps.index is not None
    gates_backward = fused_cells.gru_backward if fused else partial(gates.gru_backward, xp)

    def backprop(dY, d_final):
        (dhT,) = d_final
        # d of the input projections [d_ar, d_az, d_an] and of the recurrent ones [d_ar, d_az,
        # d_an * r], per packed row (every packed row is written by its step).
        dacts = xp.empty_like(acts)
        dHH = xp.empty_like(acts)
        dh = dhT.copy() if packed else dhT
        for t, k, rows in steps.walk(direction, backward=True):
            dh_new = (dh[:k] if packed else dh) + dY[t, :k]
            if mask is not None and not packed:
                dh_new *= mask[t]
            _, dh_z = gates_backward(dh_new, acts[rows], Hprev[rows], Hn[rows], dacts[rows], dHH[rows])
            dh_prev = step_matmul(ops, dHH[rows], U)
            dh_prev += dh_z
            if packed:
                dh[:k] = dh_prev
                continue
            if mask is not None:
                dh_prev += dh * (1 - mask[t])
            dh = dh_prev
        dacts[:, : 2 * nO] = dHH[:, : 2 * nO]
        model.inc_grad(W_name, xp.matmul(dacts.T, X_packed))
        model.inc_grad(U_name, xp.matmul(dHH.T, Hprev))
        model.inc_grad(b_name, dacts.sum(axis=0))
        model.inc_grad(recurrent_bias_name(layer, direction), dHH.sum(axis=0))
        return steps.unpack(xp.matmul(dacts, W)), (dh,)

    return backprop


def gru_step(model: Model, x: Floats2d, state: GRUState) -> Tuple[Floats2d, GRUState]:
    """Advance a unidirectional stack by one token: O(1) work per generated token.

    ``x`` has shape ``(B, nI)``; the result equals one step of the full forward pass.
    """
    if model.attrs["bidirectional"]:
        raise ValueError(Errors.E025.format(what="gru_step"))
    _check_state(state, model.attrs["depth"], x.shape[0], model.get_dim("nO"))
    with one_blas_thread(model.ops):
        return _gru_step(model, x, state)


def _gru_step(model: Model, x: Floats2d, state: GRUState) -> Tuple[Floats2d, GRUState]:
    h_out = model.ops.xp.empty_like(state)
    fused = fused_cells.use_fused(model.ops, x.dtype)
    gates_forward = fused_cells.gru_forward if fused else partial(gates.gru_forward, model.ops.xp)
    layer_input = x
    for layer in range(model.attrs["depth"]):
        W_name, U_name, b_name = param_names(layer, 0)
        G = step_matmul(model.ops, layer_input, model.get_param(W_name), trans_b=True)
        G += model.get_param(b_name)
        HH = _recurrent(model, layer, 0, model.get_param(U_name).T, state[layer])
        h_out[layer] = layer_input = gates_forward(G, HH, state[layer])[1]
    return layer_input, h_out


def gru_initial_state(model: Model, batch_size: int, dtype="float32") -> GRUState:
    """Zero state for ``batch_size`` sequences."""
    n = model.attrs["depth"] * n_directions(model)
    return model.ops.xp.zeros((n, batch_size, model.get_dim("nO")), dtype=dtype)


def concat_gru_states(model: Model, states: List[GRUState]) -> GRUState:
    """``h`` states side by side on the batch axis."""
    return model.ops.xp.concatenate(states, axis=1)


def gru_state_from_hidden(model: Model, hidden: Floats3d) -> GRUState:
    """A GRU's state is its hidden state."""
    return hidden


def gru_hidden_grad(model: Model, d_state: GRUState) -> Floats3d:
    return d_state


def select_gru_state(model: Model, state: GRUState, index) -> GRUState:
    """Rows ``index`` (batch axis) of an ``h`` state."""
    return state[:, model.ops.asarray(index, dtype="int32")]
