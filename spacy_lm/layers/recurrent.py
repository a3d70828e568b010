"""What every recurrent layer here shares: masks, active rows, per-step products, and the
cell contract that lets an LM or an encoder use any cell without knowing its state.

Cell contract (`spacy_lm.LSTM.v1`, `spacy_lm.GRU.v1`): a Thinc model whose forward takes
``(X, lengths, state)`` (time-major ``X`` ``(T, B, nI)``, optional ``lengths`` ``(B,)``,
``state`` None for zeros) and returns ``(Y, state)``; backprop takes ``(dY, d_state)`` and
returns ``(dX, d_state0)``. The state's layout (an LSTM's ``(h, c)``, a GRU's ``h``) is the
cell's own business: callers use the functions the cell keeps in its attrs, through
:func:`initial_state`, :func:`step`, :func:`select_state`, :func:`concat_states`,
:func:`state_from_hidden` and :func:`hidden_grad` below.
"""
from contextlib import nullcontext
from functools import wraps
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import numpy
from thinc.api import Model, NumpyOps, Ops
from thinc.types import Floats2d, Floats3d, Ints1d

from ..checks import check_count
from ..errors import Errors

State = Any
CELL_FUNCTIONS = ("initial_state", "step", "select_state", "concat_states", "state_from_hidden", "hidden_grad")


def make_cell_attrs(*, depth: int, bidirectional: bool, dropout: float, initial_state: Callable,
                    step: Callable, select_state: Callable, concat_states: Callable,
                    state_from_hidden: Callable, hidden_grad: Callable) -> dict:
    """The attrs every cell layer carries (the functions are rebuilt from config, not saved)."""
    check_count("recurrent depth", depth, 1)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(Errors.E009.format(setting="recurrent dropout", requirement="in [0, 1)", value=dropout))
    return {"depth": depth, "bidirectional": bidirectional, "dropout_rate": dropout,
            "initial_state": initial_state, "step": step, "select_state": select_state,
            "concat_states": concat_states, "state_from_hidden": state_from_hidden,
            "hidden_grad": hidden_grad}


def check_cell_dims(layer: str, nO: Optional[int], nI: Optional[int]) -> None:
    """E009 for a width that is not a positive integer (None: set at initialization)."""
    check_count(f"{layer} nO (hidden width)", nO, 1, optional=True)
    check_count(f"{layer} nI (input width)", nI, 1, optional=True)


def initial_state(cell: Model, batch_size: int) -> State:
    """The zero state of ``batch_size`` sequences."""
    return cell.attrs["initial_state"](cell, batch_size)


def step(cell: Model, x: Floats2d, state: State):
    """One token per row through a unidirectional stack: ``(y (B, nO), new state)``."""
    return cell.attrs["step"](cell, x, state)


def select_state(cell: Model, state: State, index) -> State:
    """Rows ``index`` of a batch state, in that order (rows may repeat)."""
    return cell.attrs["select_state"](cell, state, index)


def concat_states(cell: Model, states: Sequence[State]) -> State:
    """One batch state from several, rows in the order given (e.g. streams carried across
    updates beside fresh ones)."""
    if not states:
        raise ValueError(Errors.E033.format(what="concat_states"))
    return cell.attrs["concat_states"](cell, list(states))


def state_from_hidden(cell: Model, hidden: Floats3d) -> State:
    """The state whose hidden part is ``hidden`` ``(depth * directions, B, nO)`` and whose
    other parts (an LSTM's cell) are zero: how a condition (a VAE's ``z``) starts a sequence."""
    return cell.attrs["state_from_hidden"](cell, hidden)


def hidden_grad(cell: Model, d_state: Optional[State]) -> Optional[Floats3d]:
    """The gradient w.r.t. ``hidden`` of :func:`state_from_hidden`, from a state gradient
    (what the cell's backprop returns for its input state)."""
    return None if d_state is None else cell.attrs["hidden_grad"](cell, d_state)


def n_directions(model: Model) -> int:
    return 2 if model.attrs["bidirectional"] else 1


def batch_layout(ops: Ops, X: Floats3d, lengths: Optional[Ints1d]) -> Tuple[Optional[Floats3d], Optional[List[int]]]:
    """The (T, B, 1) mask of real steps (None when every sequence fills the window) and, for a
    batch sorted longest first, the running rows of each step (see :func:`active_rows`)."""
    T, B, _ = X.shape
    mask = make_mask(ops, T, B, lengths, X.dtype)
    return mask, (active_rows(ops, lengths, T) if mask is not None else None)


def make_mask(ops: Ops, T: int, B: int, lengths: Optional[Ints1d], dtype) -> Optional[Floats3d]:
    """(T, B, 1) mask of real steps, or None when every sequence fills the window."""
    if lengths is None:
        return None
    xp = ops.xp
    lengths = xp.asarray(lengths)
    if lengths.shape != (B,):
        raise ValueError(Errors.E102.format(n=lengths.shape[0], B=B))
    if B and (int(lengths.max()) > T or int(lengths.min()) < 0):
        raise ValueError(Errors.E009.format(setting="recurrent layer lengths", requirement=f"in [0, {T}]", value=lengths.tolist()))
    if B and int(lengths.min()) == T:
        return None
    steps = xp.arange(T).reshape(T, 1)
    return (steps < lengths.reshape(1, B)).astype(dtype).reshape(T, B, 1)


def active_rows(ops: Ops, lengths, T: int) -> Optional[List[int]]:
    """Rows still running at each step, if the batch is sorted longest first (else None).

    Then the running rows of step ``t`` are the first ``active[t]``, in either direction, and
    inference can skip the padded rows instead of computing and masking them."""
    host = numpy.asarray(ops.to_numpy(ops.xp.asarray(lengths)))
    if len(host) < 2 or (host[:-1] < host[1:]).any():
        return None
    return (host.reshape(1, -1) > numpy.arange(T).reshape(-1, 1)).sum(axis=1).tolist()


def single_threaded_blas(forward: Callable) -> Callable:
    """Run a cell's ``forward`` and the backprop it returns with numpy's BLAS on one thread.

    The recurrence is a chain of small products (a batch of rows times ``U``): they gain
    nothing from threads, and multi-threaded OpenBLAS collapses when the cores are busy
    (measured: 15.8 ms vs 0.6 ms per step on a loaded 2-core machine). Single-threaded OpenBLAS
    on a contiguous ``U.T`` is also 3x faster than Thinc's BLIS ``gemm`` at these shapes (47 vs
    135 µs for (128 x 64)·(64 x 256); 175 vs 558 µs at width 128). The limit costs ~5 µs per
    call (threadpoolctl's controller, made once); on CuPy it is skipped."""

    @wraps(forward)
    def limited_forward(model: Model, inputs, is_train: bool):
        with one_blas_thread(model.ops):
            outputs, backprop = forward(model, inputs, is_train)

        def limited_backprop(d_outputs):
            with one_blas_thread(model.ops):
                return backprop(d_outputs)

        return outputs, limited_backprop

    return limited_forward


_BLAS_CONTROLLER = None


def one_blas_thread(ops: Ops):
    """A context in which numpy's BLAS uses one thread (nothing for other ops): cells' forward
    passes (single_threaded_blas) and one-token steps."""
    global _BLAS_CONTROLLER
    if not isinstance(ops, NumpyOps):
        return nullcontext()
    if _BLAS_CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


def step_matmul(ops: Ops, A, B, *, trans_b: bool = False):
    """``A @ B`` (or ``A @ B.T``) for the small per-step products of the recurrence, through
    ``xp.matmul`` (on CPU, numpy's BLAS, limited to one thread by the cell's forward: see
    single_threaded_blas). Pass a contiguous ``U.T`` made once per sequence rather than
    ``trans_b`` in a loop: the strided view is 10-20% slower per product."""
    return ops.xp.matmul(A, B.T if trans_b else B)


def param_names(layer: int, direction: int):
    """Weight names of one layer and direction: input ``W``, recurrent ``U``, bias ``b``."""
    return (f"W{layer}_{direction}", f"U{layer}_{direction}", f"b{layer}_{direction}")


def init_uniform_params(model: Model, n_gates: int) -> None:
    """PyTorch's default for recurrent layers: every weight and bias ~ U(-1/sqrt(nO), 1/sqrt(nO))."""
    nO = model.get_dim("nO")
    nI = model.get_dim("nI")
    check_cell_dims(model.name, nO, nI)
    dirs = n_directions(model)
    scale = 1.0 / (nO**0.5)
    xp = model.ops.xp
    for layer in range(model.attrs["depth"]):
        layer_nI = nI if layer == 0 else nO * dirs
        for direction in range(dirs):
            W, U, b = param_names(layer, direction)
            for name, shape in ((W, (n_gates * nO, layer_nI)), (U, (n_gates * nO, nO)), (b, (n_gates * nO,))):
                values = xp.random.uniform(-scale, scale, shape).astype("float32")
                model.set_param(name, model.ops.asarray(values))


class PackedSteps:
    """Which rows each time step runs, and the packed layout of the rows that run (as PyTorch's
    packed sequences): step ``t`` runs rows ``[0, rows[t])`` and they are the packed rows
    ``[start[t], start[t] + rows[t])``. Without ``active`` (an unsorted batch, or one without
    padding) every step runs all ``B`` rows and the packed layout is ``X.reshape(T * B, nI)``.
    Input projections and weight gradients are computed over the packed rows only."""

    def __init__(self, ops: Ops, T: int, B: int, active: Optional[List[int]]) -> None:
        self.ops = ops
        self.T, self.B = T, B
        self.rows = [B] * T if active is None else [int(k) for k in active]
        self.start = numpy.concatenate([[0], numpy.cumsum(self.rows)]).astype("int64").tolist()
        self.n = self.start[-1]
        self.index = None
        if active is not None:
            flat = numpy.flatnonzero(numpy.arange(B).reshape(1, B) < numpy.asarray(self.rows).reshape(T, 1))
            self.index = ops.asarray(flat.astype("int32"))

    def pack(self, X: Floats3d) -> Floats2d:
        """``(T, B, n)`` → the running rows, ``(self.n, n)``."""
        X2d = X.reshape(self.T * self.B, X.shape[-1])
        return X2d if self.index is None else X2d[self.index]

    def unpack(self, packed: Floats2d) -> Floats3d:
        """The inverse of ``pack`` (rows that do not run are zero)."""
        if self.index is None:
            return packed.reshape(self.T, self.B, packed.shape[-1])
        full = self.ops.xp.zeros((self.T * self.B, packed.shape[-1]), dtype=packed.dtype)
        full[self.index] = packed
        return full.reshape(self.T, self.B, packed.shape[-1])

    def at(self, t: int) -> slice:
        return slice(self.start[t], self.start[t] + self.rows[t])

    def walk(self, direction: int, *, backward: bool = False) -> Iterator[Tuple[int, int, slice]]:
        """``(t, k, packed rows)`` of every step that runs a row, in the order of ``direction``
        (0: left to right), or against it for backprop."""
        forward_in_time = (direction == 0) != backward
        for t in range(self.T) if forward_in_time else range(self.T - 1, -1, -1):
            if self.rows[t]:
                yield t, self.rows[t], self.at(t)


def project_rows(model: Model, layer: int, direction: int, X2d: Floats2d):
    """The parameters of one layer and direction, and the input projection of the given rows
    at once (one matrix product, bias added): ``(W, U, acts)``, acts ``(rows, n_gates * nO)``."""
    W_name, U_name, b_name = param_names(layer, direction)
    W = model.get_param(W_name)
    acts = model.ops.xp.matmul(X2d, W.T)
    acts += model.get_param(b_name)
    return W, model.get_param(U_name), acts


# A cell's one layer and direction: (model, layer, direction, X, mask, state parts, is_train,
# active) -> (Y, final state parts, backprop or None); backprop(dY, d final parts) -> (dX, d parts).
DirectionRun = Callable[..., Tuple[Floats3d, Tuple[Floats2d, ...], Optional[Callable]]]


def run_stack(model: Model, X: Floats3d, mask: Optional[Floats3d], active: Optional[List[int]],
              state: Tuple[Floats3d, ...], is_train: bool, run_direction: DirectionRun):
    """Every layer and direction of a cell stack, with dropout between layers while training.

    ``state`` is the cell's state as a tuple of ``(depth * dirs, B, nO)`` parts (an LSTM's
    ``(h, c)``, a GRU's ``(h,)``). Returns ``(Y, final parts, backprop)``; ``backprop(dY,
    d_parts)`` (``d_parts`` None for zeros) returns ``(dX, d_parts0)``."""
    xp = model.ops.xp
    nO = model.get_dim("nO")
    dirs = n_directions(model)
    drop_rate = model.attrs["dropout_rate"] if is_train else 0.0
    final = tuple(xp.empty_like(part) for part in state)
    layer_input = X
    backprops: List[Tuple[List[Callable], Optional[Floats3d]]] = []
    for layer in range(model.attrs["depth"]):
        drop_mask = None
        if layer > 0 and drop_rate > 0:
            drop_mask = model.ops.get_dropout_mask(layer_input.shape, drop_rate).astype(X.dtype)
            layer_input = layer_input * drop_mask
        outputs, dir_backprops = [], []
        for direction in range(dirs):
            k = layer * dirs + direction
            Yd, parts, backprop = run_direction(model, layer, direction, layer_input, mask,
                                                tuple(part[k] for part in state), is_train, active)
            for out, part in zip(final, parts):
                out[k] = part
            outputs.append(Yd)
            dir_backprops.append(backprop)
        layer_input = outputs[0] if dirs == 1 else xp.concatenate(outputs, axis=-1)
        backprops.append((dir_backprops, drop_mask))

    def backprop_stack(dY: Floats3d, d_final: Optional[Tuple[Floats3d, ...]]):
        if d_final is None:
            d_final = tuple(xp.zeros_like(part) for part in state)
        d_state = tuple(xp.empty_like(part) for part in state)
        d_layer_output = dY
        for layer in range(model.attrs["depth"] - 1, -1, -1):
            dir_backprops, drop_mask = backprops[layer]
            d_input = None
            for direction in range(dirs):
                k = layer * dirs + direction
                dYd = d_layer_output[..., direction * nO : (direction + 1) * nO]
                dXd, d_parts = dir_backprops[direction](dYd, tuple(d[k] for d in d_final))
                for out, part in zip(d_state, d_parts):
                    out[k] = part
                d_input = dXd if d_input is None else d_input + dXd
            if drop_mask is not None:
                d_input *= drop_mask
            d_layer_output = d_input
        return d_layer_output, d_state

    return layer_input, final, backprop_stack
