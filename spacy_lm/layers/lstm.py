"""`spacy_lm.LSTM.v1`: a multi-layer, optionally bidirectional LSTM with explicit state.

Thinc 8.3's own LSTM fails finite-difference checks on CPU and computes only the
longest sequence on its generic `Ops` path, so every recurrent model here uses this
layer instead. It is written against `ops.xp` alone, so NumpyOps and CupyOps run the
same code.

Data layout is time-major: ``X`` has shape ``(T, B, nI)``. Sequences shorter than
``T`` are given by ``lengths``; padded steps leave the state untouched and output
zeros, which makes the final state the state after each sequence's last real token
(for the backward direction too, which simply walks the time axis from the end).

Input:  ``(X, lengths, state)`` where ``state`` is ``None`` (zeros) or ``(h0, c0)``,
        each of shape ``(depth * dirs, B, nO)``.
Output: ``(Y, (hT, cT))`` with ``Y`` of shape ``(T, B, nO * dirs)``.
Backprop takes ``(dY, d_state)`` (``d_state`` may be ``None``) and returns
``(dX, (dh0, dc0))``.

Gate order is PyTorch's (input, forget, cell, output).

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

LSTMState = Tuple[Floats3d, Floats3d]
LSTMInput = Tuple[Floats3d, Optional[Ints1d], Optional[LSTMState]]
LSTMOutput = Tuple[Floats3d, LSTMState]


@registry.layers("spacy_lm.LSTM.v1")
def LSTM(
    nO: Optional[int] = None,
    nI: Optional[int] = None,
    *,
    depth: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
) -> Model[LSTMInput, LSTMOutput]:
    """A stateful LSTM stack; ``dropout`` is applied between layers while training."""
    check_cell_dims("spacy_lm.LSTM.v1", nO, nI)
    attrs = make_cell_attrs(depth=depth, bidirectional=bidirectional, dropout=dropout,
                            initial_state=initial_state, step=lstm_step, select_state=select_lstm_state,
                            concat_states=concat_lstm_states, state_from_hidden=lstm_state_from_hidden,
                            hidden_grad=lstm_hidden_grad)
    return Model("lstm", forward, init=init, dims={"nO": nO, "nI": nI}, attrs=attrs)


def init(model: Model, X: Optional[LSTMInput] = None, Y: Optional[LSTMOutput] = None) -> None:
    if X is not None and model.has_dim("nI") is None:
        model.set_dim("nI", X[0].shape[-1])
    init_uniform_params(model, 4)


@single_threaded_blas
def forward(model: Model, inputs: LSTMInput, is_train: bool) -> Tuple[LSTMOutput, Callable]:
    X, lengths, state = inputs
    mask, active = batch_layout(model.ops, X, lengths)
    if state is None:
        state = initial_state(model, X.shape[1], dtype=X.dtype)
    else:
        h0, c0 = state
        _check_state(h0, c0, model.attrs["depth"] * n_directions(model), X.shape[1], model.get_dim("nO"))
    Y, final, backprop_stack = run_stack(model, X, mask, active, tuple(state), is_train, _run_direction)

    def backprop(d_outputs: Tuple[Floats3d, Optional[LSTMState]]) -> Tuple[Floats3d, LSTMState]:
        dY, d_state = d_outputs
        return backprop_stack(dY, None if d_state is None else tuple(d_state))

    return (Y, final), backprop


def _check_state(h0, c0, n_states: int, B: int, nO: int) -> None:
    expected = (n_states, B, nO)
    if tuple(h0.shape) != expected or tuple(c0.shape) != expected:
        raise ValueError(Errors.E100.format(cell="LSTM", expected=expected,
                                            found=f"h {tuple(h0.shape)} and c {tuple(c0.shape)}"))


def _run_direction(model, layer, direction, X, mask, state, is_train, active: Optional[List[int]] = None):
    """One layer, one direction, from ``state = (h0, c0)``. Returns (Y, (hT, cT), backprop).
    With ``active`` (a batch sorted longest first, see recurrent.active_rows) step ``t``
    computes only its ``active[t]`` running rows, forward and backward, and the input
    projections cover only rows that run (recurrent.PackedSteps; on SST-2 batches of 128 the
    masked loop computes 2.35x the real steps); otherwise every row runs and ``mask`` keeps
    padded rows' state. Padded rows keep their state and output 0."""
    ops = model.ops
    xp = ops.xp
    h0, c0 = state
    T, B, _ = X.shape
    steps = PackedSteps(ops, T, B, active)
    X_packed = steps.pack(X)
    W, U, acts = project_rows(model, layer, direction, X_packed)
    UT = xp.ascontiguousarray(U.T)
    nO = U.shape[1]
    packed = active is not None
    fused = fused_cells.use_fused(ops, X.dtype)
    gates_forward = fused_cells.lstm_forward if fused else partial(gates.lstm_forward, xp)
    Y = xp.zeros((T, B, nO), dtype=X.dtype)
    # Per packed row: the state *before* its step, and tanh of the cell after it (for backprop).
    Hprev = xp.empty((steps.n, nO), dtype=X.dtype) if is_train else None
    Cprev = xp.empty((steps.n, nO), dtype=X.dtype) if is_train else None
    tanh_C = xp.empty((steps.n, nO), dtype=X.dtype) if is_train else None
    # a copy, written row by row
    h, c = (h0.astype(X.dtype), c0.astype(X.dtype)) if packed else (h0, c0)
    for t, k, rows in steps.walk(direction):
        h_k, c_k = (h[:k], c[:k]) if packed else (h, c)
        G = acts[rows]
        G += step_matmul(ops, h_k, UT)
        _, c_new, _, h_new = gates_forward(G, c_k, tanh_C[rows] if is_train else None)
        if is_train:
            Hprev[rows] = h_k
            Cprev[rows] = c_k
        if packed:
            Y[t, :k] = h_new
            h[:k] = h_new
            c[:k] = c_new
        elif mask is None:
            Y[t] = h_new
            h, c = h_new, c_new
        else:
            m = mask[t]
            Y[t] = h_new * m
            h = h + m * (h_new - h)
            c = c + m * (c_new - c)
    if not is_train:
        return Y, (h, c), None
    gates_backward = fused_cells.lstm_backward if fused else partial(gates.lstm_backward, xp)
    W_name, U_name, b_name = param_names(layer, direction)

    def backprop(dY, d_final):
        dhT, dcT = d_final
        dacts = xp.empty_like(acts)  # every packed row is written by its step
        dh, dc = (dhT.copy(), dcT.copy()) if packed else (dhT, dcT)
        for t, k, rows in steps.walk(direction, backward=True):
            if packed:
                dh_new = dh[:k] + dY[t, :k]
                dc_new = dc[:k]
            elif mask is None:
                dh_new = dh + dY[t]
                dc_new = dc
            else:
                m = mask[t]
                dh_new = (dh + dY[t]) * m
                dc_new = dc * m
            dG = dacts[rows]
            _, dc_prev = gates_backward(dh_new, dc_new, acts[rows], tanh_C[rows], Cprev[rows], dG)
            dh_prev = step_matmul(ops, dG, U)
            if packed:
                dh[:k] = dh_prev
                dc[:k] = dc_prev
                continue
            if mask is not None:
                keep = 1 - mask[t]
                dh_prev += dh * keep
                dc_prev += dc * keep
            dh, dc = dh_prev, dc_prev
        model.inc_grad(W_name, xp.matmul(dacts.T, X_packed))
        model.inc_grad(U_name, xp.matmul(dacts.T, Hprev))
        model.inc_grad(b_name, dacts.sum(axis=0))
        return steps.unpack(xp.matmul(dacts, W)), (dh, dc)

    return Y, (h, c), backprop


def lstm_step(model: Model, x: Floats2d, state: LSTMState) -> Tuple[Floats2d, LSTMState]:
    """Advance a unidirectional stack by one token: O(1) work per generated token.

    ``x`` has shape ``(B, nI)``; the result equals one step of the full forward pass.
    """
    if model.attrs["bidirectional"]:
        raise ValueError(Errors.E025.format(what="lstm_step"))
    h0, c0 = state
    _check_state(h0, c0, model.attrs["depth"], x.shape[0], model.get_dim("nO"))
    with one_blas_thread(model.ops):
        return _lstm_step(model, x, h0, c0)


def _lstm_step(model: Model, x: Floats2d, h0: Floats3d, c0: Floats3d) -> Tuple[Floats2d, LSTMState]:
    xp = model.ops.xp
    fused = fused_cells.use_fused(model.ops, x.dtype)
    gates_forward = fused_cells.lstm_forward if fused else partial(gates.lstm_forward, xp)
    h_out = xp.empty_like(h0)
    c_out = xp.empty_like(c0)
    layer_input = x
    for layer in range(model.attrs["depth"]):
        W_name, U_name, b_name = param_names(layer, 0)
        G = step_matmul(model.ops, layer_input, model.get_param(W_name), trans_b=True)
        G += model.get_param(b_name)
        G += step_matmul(model.ops, h0[layer], model.get_param(U_name), trans_b=True)
        _, c, _, h = gates_forward(G, c0[layer])
        h_out[layer] = h
        c_out[layer] = c
        layer_input = h
    return layer_input, (h_out, c_out)


def initial_state(model: Model, batch_size: int, dtype="float32") -> LSTMState:
    """Zero state for ``batch_size`` sequences."""
    n = model.attrs["depth"] * n_directions(model)
    shape = (n, batch_size, model.get_dim("nO"))
    xp = model.ops.xp
    return xp.zeros(shape, dtype=dtype), xp.zeros(shape, dtype=dtype)


def concat_lstm_states(model: Model, states: List[LSTMState]) -> LSTMState:
    """``(h, c)`` states side by side on the batch axis."""
    xp = model.ops.xp
    return xp.concatenate([h for h, _ in states], axis=1), xp.concatenate([c for _, c in states], axis=1)


def lstm_state_from_hidden(model: Model, hidden: Floats3d) -> LSTMState:
    """``(hidden, zeros)``: the hidden part given, the memory cell empty."""
    return hidden, model.ops.xp.zeros_like(hidden)


def lstm_hidden_grad(model: Model, d_state: LSTMState) -> Floats3d:
    return d_state[0]


def select_lstm_state(model: Model, state: LSTMState, index) -> LSTMState:
    """Rows ``index`` (batch axis) of an ``(h, c)`` state."""
    index = model.ops.asarray(index, dtype="int32")
    return state[0][:, index], state[1][:, index]
