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

On CupyOps with `fused_cells.ENABLED` (off by default; ``SPACY_LM_FUSED_KERNELS=1``) each
step's elementwise part runs as one fused CUDA kernel forward and one backward
(`fused_cells.py`); the products, the packed/masked row handling and everything on other ops
are the generic code below.
"""
from typing import Callable, List, Optional, Tuple

from thinc.api import Model, Ops, registry
from thinc.types import Floats2d, Floats3d, Ints1d

from ..errors import Errors
from . import fused_cells
from .recurrent import (active_rows, check_cell_dims, init_uniform_params, make_cell_attrs, make_mask,
                        n_directions, one_blas_thread, param_names, project_rows, single_threaded_blas,
                        step_matmul, PackedSteps)

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
    ops = model.ops
    xp = ops.xp
    T, B, _ = X.shape
    nO = model.get_dim("nO")
    dirs = n_directions(model)
    depth = model.attrs["depth"]
    mask = make_mask(ops, T, B, lengths, X.dtype)
    active = active_rows(ops, lengths, T) if mask is not None else None
    if state is None:
        h0 = xp.zeros((depth * dirs, B, nO), dtype=X.dtype)
        c0 = xp.zeros((depth * dirs, B, nO), dtype=X.dtype)
    else:
        h0, c0 = state
        _check_state(h0, c0, depth * dirs, B, nO)
    drop_rate = model.attrs["dropout_rate"] if is_train else 0.0
    hT = xp.empty_like(h0)
    cT = xp.empty_like(c0)
    layer_input = X
    backprops: List[Callable] = []
    for layer in range(depth):
        if layer > 0 and drop_rate > 0:
            drop_mask = ops.get_dropout_mask(layer_input.shape, drop_rate).astype(X.dtype)
            layer_input = layer_input * drop_mask
        else:
            drop_mask = None
        outputs = []
        dir_backprops = []
        for direction in range(dirs):
            k = layer * dirs + direction
            Yd, hd, cd, bp = _run_direction(model, layer, direction, layer_input, mask, h0[k], c0[k], is_train,
                                            active)
            outputs.append(Yd)
            hT[k] = hd
            cT[k] = cd
            dir_backprops.append(bp)
        layer_output = outputs[0] if dirs == 1 else xp.concatenate(outputs, axis=-1)
        backprops.append((dir_backprops, drop_mask))
        layer_input = layer_output
    Y = layer_input

    def backprop(d_outputs: Tuple[Floats3d, Optional[LSTMState]]) -> Tuple[Floats3d, LSTMState]:
        dY, d_state = d_outputs
        if d_state is None:
            dhT = xp.zeros_like(h0)
            dcT = xp.zeros_like(c0)
        else:
            dhT, dcT = d_state
        dh0 = xp.empty_like(h0)
        dc0 = xp.empty_like(c0)
        d_layer_output = dY
        for layer in range(depth - 1, -1, -1):
            dir_backprops, drop_mask = backprops[layer]
            d_input = None
            for direction in range(dirs):
                k = layer * dirs + direction
                dYd = d_layer_output[..., direction * nO : (direction + 1) * nO]
                dXd, dh0[k], dc0[k] = dir_backprops[direction](dYd, dhT[k], dcT[k])
                d_input = dXd if d_input is None else d_input + dXd
            if drop_mask is not None:
                d_input *= drop_mask
            d_layer_output = d_input
        return d_layer_output, (dh0, dc0)

    return (Y, (hT, cT)), backprop






def _check_state(h0, c0, n_states: int, B: int, nO: int) -> None:
    expected = (n_states, B, nO)
    if tuple(h0.shape) != expected or tuple(c0.shape) != expected:
        raise ValueError(Errors.E100.format(cell="LSTM", expected=expected,
                                            found=f"h {tuple(h0.shape)} and c {tuple(c0.shape)}"))




def _gates_(ops: Ops, G, nO: int):
    """Activate the stacked pre-activations in place: sigmoid on i, f, o and tanh on g."""
    xp = ops.xp
    # sigmoid(x) = 0.5 * tanh(0.5 x) + 0.5, computed in place on the whole block.
    G[:, : 2 * nO] *= 0.5
    G[:, 3 * nO :] *= 0.5
    xp.tanh(G, out=G)
    G[:, : 2 * nO] *= 0.5
    G[:, : 2 * nO] += 0.5
    G[:, 3 * nO :] *= 0.5
    G[:, 3 * nO :] += 0.5
    return G




def _run_direction(model, layer, direction, X, mask, h0, c0, is_train, active: Optional[List[int]] = None):
    """One layer, one direction. Returns (Y, hT, cT, backprop). With ``active`` (a batch
    sorted longest first, see recurrent.active_rows) step ``t`` computes only its
    ``active[t]`` running rows, forward and backward, and the input projections cover only
    rows that run (recurrent.PackedSteps; on SST-2 batches of 128 the masked loop computes
    2.35x the real steps); otherwise every row runs and ``mask`` keeps padded rows' state.
    Padded rows keep their state and output 0."""
    ops = model.ops
    xp = ops.xp
    W_name, U_name, b_name = param_names(layer, direction)
    T, B, _ = X.shape
    steps = PackedSteps(ops, T, B, active)
    X_packed = steps.pack(X)
    W, U, acts = project_rows(model, layer, direction, X_packed)
    UT = xp.ascontiguousarray(U.T)
    nO = U.shape[1]
    packed = active is not None
    fused = fused_cells.use_fused(ops, X.dtype)
    order = range(T) if direction == 0 else range(T - 1, -1, -1)
    Y = xp.zeros((T, B, nO), dtype=X.dtype)
    # Per packed row: the state *before* its step, and tanh of the cell after it (for backprop).
    Hprev = xp.empty((steps.n, nO), dtype=X.dtype) if is_train else None
    Cprev = xp.empty((steps.n, nO), dtype=X.dtype) if is_train else None
    tanh_C = xp.empty((steps.n, nO), dtype=X.dtype) if is_train else None
    # a copy, written row by row
    h, c = (h0.astype(X.dtype), c0.astype(X.dtype)) if packed else (h0, c0)
    for t in order:
        k = steps.rows[t]
        if k == 0:
            continue
        rows = steps.at(t)
        h_k, c_k = (h[:k], c[:k]) if packed else (h, c)
        G = acts[rows]
        G += step_matmul(ops, h_k, UT)
        if fused:  # tanh(c_new) goes straight into tanh_C
            _, c_new, tc, h_new = fused_cells.lstm_forward(G, c_k, tanh_C[rows] if is_train else None)
        else:
            _gates_(ops, G, nO)
            i, f, g, o = G[:, :nO], G[:, nO : 2 * nO], G[:, 2 * nO : 3 * nO], G[:, 3 * nO :]
            c_new = f * c_k
            c_new += i * g
            tc = xp.tanh(c_new)
            h_new = o * tc
        if is_train:
            Hprev[rows] = h_k
            Cprev[rows] = c_k
            if not fused:
                tanh_C[rows] = tc
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
    hT, cT = h, c
    if not is_train:
        return Y, hT, cT, None

    def backprop(dY, dhT, dcT):
        dacts = xp.empty_like(acts)  # every packed row is written by its step
        dh, dc = (dhT.copy(), dcT.copy()) if packed else (dhT, dcT)
        rev = range(T - 1, -1, -1) if direction == 0 else range(T)
        for t in rev:
            k = steps.rows[t]
            if k == 0:
                continue
            rows = steps.at(t)
            G = acts[rows]
            i, f, g, o = G[:, :nO], G[:, nO : 2 * nO], G[:, 2 * nO : 3 * nO], G[:, 3 * nO :]
            tc = tanh_C[rows]
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
            if fused:
                _, dc_prev = fused_cells.lstm_backward(dh_new, dc_new, G, tc, Cprev[rows], dG)
            else:
                dc_new = dc_new + dh_new * o * (1 - tc * tc)
                dG[:, :nO] = dc_new * g * i * (1 - i)
                dG[:, nO : 2 * nO] = dc_new * Cprev[rows] * f * (1 - f)
                dG[:, 2 * nO : 3 * nO] = dc_new * i * (1 - g * g)
                dG[:, 3 * nO :] = dh_new * tc * o * (1 - o)
                dc_prev = dc_new * f
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
        return steps.unpack(xp.matmul(dacts, W)), dh, dc

    return Y, hT, cT, backprop


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
    nO = model.get_dim("nO")
    fused = fused_cells.use_fused(model.ops, x.dtype)
    h_out = xp.empty_like(h0)
    c_out = xp.empty_like(c0)
    layer_input = x
    for layer in range(model.attrs["depth"]):
        W_name, U_name, b_name = param_names(layer, 0)
        W = model.get_param(W_name)
        U = model.get_param(U_name)
        G = step_matmul(model.ops, layer_input, W, trans_b=True)
        G += model.get_param(b_name)
        G += step_matmul(model.ops, h0[layer], U, trans_b=True)
        if fused:
            _, c, _, h = fused_cells.lstm_forward(G, c0[layer])
        else:
            _gates_(model.ops, G, nO)
            i, f, g, o = G[:, :nO], G[:, nO : 2 * nO], G[:, 2 * nO : 3 * nO], G[:, 3 * nO :]
            c = f * c0[layer] + i * g
            h = o * xp.tanh(c)
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
