"""Fused LSTM/GRU step kernels (spacy_lm/layers/fused_cells.py, issue #19).

On CPU: the kernels' ``xp`` references reproduce one step of the layers' generic loop (values and
gradients); the layers' fused wiring, run with the references standing in for the kernels,
gives the generic results on every row layout; and NumpyOps never takes the fused path.
With ``--gpu``: the kernels match their references per step, and the layers on CupyOps give the
same outputs and gradients fused as generic (masked and packed batches, bidirectional, depth 2).
"""
import os
import re
import subprocess
import sys
import types

import numpy
import pytest
from thinc.api import CupyOps, NumpyOps, Ops, fix_random_seed

from spacy_lm.layers import fused_cells
from spacy_lm.layers.gru import GRU, gru_step, recurrent_bias_name
from spacy_lm.layers.lstm import LSTM, lstm_step

from .gradcheck import to_float64

# lengths per row layout: every row full, sorted longest first (packed rows), unsorted (masked).
LAYOUTS = {"full": [6, 6, 6, 6], "packed": [6, 4, 4, 1], "masked": [3, 6, 0, 5]}
SHAPES = [(1, False), (2, False), (1, True), (2, True)]  # (depth, bidirectional)
WRAPPERS = ("lstm_forward", "lstm_backward", "gru_forward", "gru_backward")
GPU_TOLERANCE = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-9, atol=1e-11)}
STEP_TOLERANCE = {"float32": dict(rtol=2e-6, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-13)}


def count_launches(monkeypatch):
    launches = []
    original = fused_cells._launch
    monkeypatch.setattr(fused_cells, "_launch", lambda name, *a: launches.append(name) or original(name, *a))
    return launches


def make_cell(cell, ops, nO=5, nI=3, depth=1, bidirectional=False, dtype="float64"):
    fix_random_seed(0)
    model = (LSTM if cell == "lstm" else GRU)(nO, nI, depth=depth, bidirectional=bidirectional)
    for node in model.walk():
        node.ops = ops
    model.initialize()
    if dtype == "float64":
        to_float64(model)
    return model


def make_batch(cell, model, T, lengths, dtype, seed=1):
    """Host arrays: inputs, lengths, a random initial state, and gradients of outputs and state."""
    rng = numpy.random.default_rng(seed)
    B = len(lengths)
    dirs = 2 if model.attrs["bidirectional"] else 1
    nO, nI = model.get_dim("nO"), model.get_dim("nI")
    shape = (model.attrs["depth"] * dirs, B, nO)

    def normal(*size, scale=1.0):
        return (rng.normal(size=size) * scale).astype(dtype)

    X = normal(T, B, nI)
    n_parts = 2 if cell == "lstm" else 1
    state = [normal(*shape, scale=0.5) for _ in range(n_parts)]
    d_state = [normal(*shape) for _ in range(n_parts)]
    dY = normal(T, B, nO * dirs)
    as_state = tuple if cell == "lstm" else (lambda parts: parts[0])
    return X, numpy.asarray(lengths, dtype="int32"), as_state(state), dY, as_state(d_state)


def run_cell(model, X, lengths, state, dY, d_state):
    """Forward and backward once; everything on the host: (Y, state, dX, d_state0, grads)."""
    ops = model.ops
    to_dev = (lambda a: ops.asarray(a)) if not isinstance(state, tuple) else (
        lambda a: tuple(ops.asarray(x) for x in a))
    for name in model.param_names:
        model.set_grad(name, ops.xp.zeros_like(model.get_param(name)))
    (Y, hT), backprop = model((ops.asarray(X), ops.asarray(lengths), to_dev(state)), is_train=True)
    dX, d0 = backprop((ops.asarray(dY), to_dev(d_state)))
    host = lambda a: [ops.to_numpy(x) for x in (a if isinstance(a, tuple) else (a,))]  # noqa: E731
    grads = {name: ops.to_numpy(model.get_grad(name)) for name in model.param_names}
    return [ops.to_numpy(Y)] + host(hT) + [ops.to_numpy(dX)] + host(d0), grads


def assert_runs_match(a, b, **tolerance):
    (arrays_a, grads_a), (arrays_b, grads_b) = a, b
    assert grads_a.keys() == grads_b.keys()
    for x, y in zip(arrays_a + [grads_a[k] for k in sorted(grads_a)], arrays_b + [grads_b[k] for k in sorted(grads_b)]):
        if tolerance:
            numpy.testing.assert_allclose(x, y, **tolerance)
        else:
            numpy.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------- CPU: references vs the generic loop
def test_lstm_reference_step_matches_generic_loop():
    ops = NumpyOps()
    model = make_cell("lstm", ops)
    X, lengths, (h0, c0), dY, (dhT, dcT) = make_batch("lstm", model, 1, [1, 1, 1, 1], "float64")
    (Y, (hT, cT)), backprop = model((X, None, (h0, c0)), is_train=True)
    dX, (dh0, dc0) = backprop((dY, (dhT, dcT)))
    W, U, b = (model.get_param(n) for n in ("W0_0", "U0_0", "b0_0"))
    x, h, c = X[0], h0[0], c0[0]
    G = x @ W.T + b + h @ U.T
    G, c_new, tc, h_new = fused_cells.lstm_forward_reference(numpy, G, c)
    numpy.testing.assert_allclose(Y[0], h_new, rtol=1e-12, atol=1e-14)
    numpy.testing.assert_allclose(hT[0], h_new, rtol=1e-12, atol=1e-14)
    numpy.testing.assert_allclose(cT[0], c_new, rtol=1e-12, atol=1e-14)
    numpy.testing.assert_allclose(tc, numpy.tanh(c_new), rtol=1e-12)
    dG, dc_prev = fused_cells.lstm_backward_reference(numpy, dY[0] + dhT[0], dcT[0], G, tc, c)
    expected = {"W0_0": dG.T @ x, "U0_0": dG.T @ h, "b0_0": dG.sum(axis=0)}
    for name, value in expected.items():
        numpy.testing.assert_allclose(model.get_grad(name), value, rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(dX[0], dG @ W, rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(dh0[0], dG @ U, rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(dc0[0], dc_prev, rtol=1e-10, atol=1e-12)


def test_gru_reference_step_matches_generic_loop():
    ops = NumpyOps()
    model = make_cell("gru", ops)
    X, lengths, h0, dY, dhT = make_batch("gru", model, 1, [1, 1, 1, 1], "float64")
    (Y, hT), backprop = model((X, None, h0), is_train=True)
    dX, dh0 = backprop((dY, dhT))
    W, U, b, bh = (model.get_param(n) for n in ("W0_0", "U0_0", "b0_0", recurrent_bias_name(0, 0)))
    x, h = X[0], h0[0]
    nO = h.shape[1]
    G, HH = x @ W.T + b, h @ U.T + bh
    G, h_new, hn = fused_cells.gru_forward_reference(numpy, G, HH, h)
    numpy.testing.assert_allclose(Y[0], h_new, rtol=1e-12, atol=1e-14)
    numpy.testing.assert_allclose(hT[0], h_new, rtol=1e-12, atol=1e-14)
    numpy.testing.assert_array_equal(hn, HH[:, 2 * nO :])
    dA = numpy.full_like(G, numpy.nan)
    dHH, dh_z = fused_cells.gru_backward_reference(numpy, dY[0] + dhT[0], G, h, hn, dA)
    dA[:, : 2 * nO] = dHH[:, : 2 * nO]
    expected = {"W0_0": dA.T @ x, "U0_0": dHH.T @ h, "b0_0": dA.sum(axis=0),
                recurrent_bias_name(0, 0): dHH.sum(axis=0)}
    for name, value in expected.items():
        numpy.testing.assert_allclose(model.get_grad(name), value, rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(dX[0], dA @ W, rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(dh0[0], dHH @ U + dh_z, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_wrappers_fall_back_to_references_off_the_device(cell):
    """Host arrays (and unsupported dtypes) go to the references, outputs given or not."""
    rng = numpy.random.default_rng(0)
    k, nO = 3, 4
    n_gates = 4 if cell == "lstm" else 3
    for dtype in ("float32", "float64", "float16"):
        G = rng.normal(size=(k, n_gates * nO)).astype(dtype)
        h = rng.normal(size=(k, nO)).astype(dtype)
        dh = rng.normal(size=(k, nO)).astype(dtype)
        if cell == "lstm":
            out = fused_cells.lstm_forward(G.copy(), h, numpy.empty_like(h))
            ref = fused_cells.lstm_forward_reference(numpy, G.copy(), h)
            back = fused_cells.lstm_backward(dh, dh * 0.5, ref[0], ref[2], h, numpy.empty_like(G))
            back_ref = fused_cells.lstm_backward_reference(numpy, dh, dh * 0.5, ref[0], ref[2], h)
        else:
            HH = rng.normal(size=G.shape).astype(dtype)
            out = fused_cells.gru_forward(G.copy(), HH, h, numpy.empty_like(h))
            ref = fused_cells.gru_forward_reference(numpy, G.copy(), HH, h)
            dA, dA_ref = numpy.zeros_like(G), numpy.zeros_like(G)
            back = fused_cells.gru_backward(dh, ref[0], h, ref[2], dA) + (dA,)
            back_ref = fused_cells.gru_backward_reference(numpy, dh, ref[0], h, ref[2], dA_ref) + (dA_ref,)
        for a, b in zip(list(out) + list(back), list(ref) + list(back_ref)):
            numpy.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("depth,bidirectional", SHAPES)
def test_fused_wiring_with_references_matches_generic(cell, layout, depth, bidirectional, monkeypatch):
    """The layers' fused branches (row handling, saved arrays, gradient routing), run on NumpyOps
    with the references in place of the kernels, give exactly the generic results."""
    ops = NumpyOps()
    model = make_cell(cell, ops, depth=depth, bidirectional=bidirectional)
    batch = make_batch(cell, model, 6, LAYOUTS[layout], "float64")
    generic = run_cell(model, *batch)
    calls = []
    for name in WRAPPERS:
        original = getattr(fused_cells, name)
        monkeypatch.setattr(fused_cells, name, lambda *a, _f=original, _n=name, **k: calls.append(_n) or _f(*a, **k))
    monkeypatch.setattr(fused_cells, "use_fused", lambda ops, dtype: True)
    fused = run_cell(model, *batch)
    assert {f"{cell}_forward", f"{cell}_backward"} <= set(calls)
    assert_runs_match(generic, fused)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fused_one_token_step_with_references_matches_generic(cell, monkeypatch):
    ops = NumpyOps()
    model = make_cell(cell, ops, depth=2)
    step = lstm_step if cell == "lstm" else gru_step
    rng = numpy.random.default_rng(3)
    x = rng.normal(size=(4, 3))
    state = model.attrs["initial_state"](model, 4, dtype="float64")
    noisy = lambda s: s + rng.normal(size=s.shape)  # noqa: E731
    state = tuple(noisy(s) for s in state) if cell == "lstm" else noisy(state)
    generic = step(model, x, state)
    monkeypatch.setattr(fused_cells, "use_fused", lambda ops, dtype: True)
    fused = step(model, x, state)
    flat = lambda out: [out[0]] + list(out[1] if cell == "lstm" else [out[1]])  # noqa: E731
    for a, b in zip(flat(generic), flat(fused)):
        numpy.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("layout", ["packed", "masked"])
def test_enabled_changes_nothing_on_numpy_ops(cell, layout, monkeypatch):
    """ENABLED on NumpyOps: the kernels' wrappers are never called and results are identical."""
    model = make_cell(cell, NumpyOps(), depth=2, bidirectional=True, dtype="float32")
    batch = make_batch(cell, model, 6, LAYOUTS[layout], "float32")
    monkeypatch.setattr(fused_cells, "ENABLED", False)
    before = run_cell(model, *batch)
    monkeypatch.setattr(fused_cells, "ENABLED", True)
    for name in WRAPPERS:
        monkeypatch.setattr(fused_cells, name, lambda *a, **k: pytest.fail("fused path taken on NumpyOps"))
    assert_runs_match(before, run_cell(model, *batch))


def test_use_fused_needs_enabled_cupy_ops_and_a_float_dtype(monkeypatch):
    cupy_ops = CupyOps.__new__(CupyOps)  # no __init__: isinstance is all use_fused asks, and no CuPy here
    monkeypatch.setattr(fused_cells, "ENABLED", False)
    assert not fused_cells.use_fused(cupy_ops, "float32")
    monkeypatch.setattr(fused_cells, "ENABLED", True)
    assert fused_cells.use_fused(cupy_ops, "float32") and fused_cells.use_fused(cupy_ops, numpy.dtype("float64"))
    assert not fused_cells.use_fused(cupy_ops, "float16")
    assert not fused_cells.use_fused(NumpyOps(), "float32")
    assert not fused_cells.use_fused(Ops(), "float32")


@pytest.mark.parametrize("value,expected", [("1", True), ("0", False), ("", False)])
def test_environment_switch(value, expected):
    env = {**os.environ, "SPACY_LM_FUSED_KERNELS": value}
    code = "from spacy_lm.layers import fused_cells; print(fused_cells.ENABLED)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(expected)


def test_disabled_by_default_without_the_environment_variable():
    if os.environ.get("SPACY_LM_FUSED_KERNELS"):
        pytest.skip("SPACY_LM_FUSED_KERNELS is set in this environment")
    assert fused_cells.ENABLED is False


# ---------------------------------------------------------------- CPU: the kernel sources, interpreted
class _InterpretedKernel:
    """Runs an ElementwiseKernel body over every ``i`` at once with numpy: the C statements
    (``const T x = ...;``, ``a[idx] = ...;``) read as Python once ``const T``/``;`` are dropped,
    ``/`` on indices is integer division and raw arrays are their flat views. It checks what a
    GPU would: index arithmetic, parameter order, formulas, contiguous raw buffers."""

    def __init__(self, in_params, out_params, body, name=None):
        self.names = [p.split()[-1] for p in (in_params + ", " + out_params).split(",")]
        self.raw = ["raw" in p.split() for p in (in_params + ", " + out_params).split(",")]
        lines = []
        for line in body.strip().splitlines():
            line = line.strip().rstrip(";").replace("const ptrdiff_t ", "").replace("const T ", "")
            lines.extend(re.split(r",\s*(?=\w+ = )", line.replace(" / ", " // ")))
        self.code = compile("\n".join(lines), name or "kernel", "exec")

    def __call__(self, *args, size):
        assert len(args) == len(self.names)
        scope = {"tanh": numpy.tanh, "i": numpy.arange(size)}
        for name, raw, value in zip(self.names, self.raw, args):
            if raw:
                assert value.flags.c_contiguous, f"raw argument {name} is not contiguous"
            scope[name] = value.reshape(-1) if raw else value
        exec(self.code, scope)


@pytest.fixture
def interpreted_kernels(monkeypatch):
    """The wrappers' device branch on host arrays, with the kernels interpreted (see above)."""
    fake = types.SimpleNamespace(ElementwiseKernel=_InterpretedKernel, ascontiguousarray=numpy.ascontiguousarray,
                                 empty_like=numpy.empty_like,
                                 cuda=types.SimpleNamespace(Device=lambda: types.SimpleNamespace(id=0)))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(fused_cells, "_KERNELS", {})
    monkeypatch.setattr(fused_cells, "_on_device", lambda *arrays: True)
    return fused_cells._KERNELS


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("strided", [False, True])
def test_interpreted_kernel_sources_match_references(dtype, strided, interpreted_kernels):
    rng = numpy.random.default_rng(0)
    k, nO = 7, 5
    tol = STEP_TOLERANCE[dtype]

    def normal(*shape):
        """A fresh array, or (``strided``) a non-contiguous view holding the same values."""
        values = (rng.normal(size=shape) * 2).astype(dtype)
        if not strided:
            return values
        wide = numpy.zeros(shape[:-1] + (2 * shape[-1],), dtype=dtype)
        wide[..., ::2] = values
        return wide[..., ::2]

    G, c, dh, dc = normal(k, 4 * nO), normal(k, nO), normal(k, nO), normal(k, nO)
    tc_out, dG_out = normal(k, nO), normal(k, 4 * nO)
    got = fused_cells.lstm_forward(G.copy(), c, tc_out)
    ref = fused_cells.lstm_forward_reference(numpy, G.copy(), c)
    assert got[2] is tc_out
    for a, b in zip(got, ref):
        numpy.testing.assert_allclose(a, b, **tol)
    got = fused_cells.lstm_backward(dh, dc, ref[0], ref[2], c, dG_out)
    assert got[0] is dG_out
    for a, b in zip(got, fused_cells.lstm_backward_reference(numpy, dh, dc, ref[0], ref[2], c)):
        numpy.testing.assert_allclose(a, b, **tol)
    G, HH, h, hn_out = normal(k, 3 * nO), normal(k, 3 * nO), normal(k, nO), normal(k, nO)
    got = fused_cells.gru_forward(G.copy(), HH, h, hn_out)
    ref = fused_cells.gru_forward_reference(numpy, G.copy(), HH, h)
    for a, b in zip(got, ref):
        numpy.testing.assert_allclose(a, b, **tol)
    dA, dA_ref, dHH_out = normal(k, 3 * nO), numpy.zeros((k, 3 * nO), dtype=dtype), normal(k, 3 * nO)
    dA_ref[...] = dA
    got = fused_cells.gru_backward(dh, ref[0], h, ref[2], dA, dHH_out)
    want = fused_cells.gru_backward_reference(numpy, dh, ref[0], h, ref[2], dA_ref)
    for a, b in zip(list(got) + [dA], list(want) + [dA_ref]):
        numpy.testing.assert_allclose(a, b, **tol)
    assert sorted(interpreted_kernels) == [(name, 0, dtype) for name in sorted(WRAPPERS)]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("depth,bidirectional", [(2, True)])
def test_fused_layers_with_interpreted_kernels_match_generic(cell, layout, depth, bidirectional,
                                                            interpreted_kernels, monkeypatch):
    model = make_cell(cell, NumpyOps(), depth=depth, bidirectional=bidirectional)
    batch = make_batch(cell, model, 6, LAYOUTS[layout], "float64")
    generic = run_cell(model, *batch)
    monkeypatch.setattr(fused_cells, "use_fused", lambda ops, dtype: True)
    launches = count_launches(monkeypatch)
    fused = run_cell(model, *batch)
    assert {f"{cell}_forward", f"{cell}_backward"} == set(launches)
    assert_runs_match(generic, fused, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- GPU: kernels vs references, fused vs generic
@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("strided_out", [False, True])
def test_lstm_kernels_match_reference_per_step(dtype, strided_out, monkeypatch):
    import cupy

    launches = count_launches(monkeypatch)
    rng = numpy.random.default_rng(0)
    k, nO = 37, 19  # neither a multiple of a warp
    G = cupy.asarray(rng.normal(size=(k, 4 * nO)) * 2, dtype=dtype)
    c = cupy.asarray(rng.normal(size=(k, nO)), dtype=dtype)
    dh = cupy.asarray(rng.normal(size=(k, nO)), dtype=dtype)
    dc = cupy.asarray(rng.normal(size=(k, nO)), dtype=dtype)
    tc_out = cupy.zeros((k, 2 * nO), dtype=dtype)[:, ::2] if strided_out else None
    got = fused_cells.lstm_forward(G.copy(), c, tc_out)
    ref = fused_cells.lstm_forward_reference(cupy, G.copy(), c)
    for a, b in zip(got, ref):
        numpy.testing.assert_allclose(cupy.asnumpy(a), cupy.asnumpy(b), **STEP_TOLERANCE[dtype])
    if strided_out:
        assert got[2] is tc_out
    dG_out = cupy.zeros((k, 8 * nO), dtype=dtype)[:, ::2] if strided_out else None
    dc_in = cupy.zeros((k, 2 * nO), dtype=dtype)[:, ::2] if strided_out else dc.copy()
    dc_in[...] = dc
    got = fused_cells.lstm_backward(dh, dc_in, ref[0], ref[2], c, dG_out)
    want = fused_cells.lstm_backward_reference(cupy, dh, dc, ref[0], ref[2], c)
    for a, b in zip(got, want):
        numpy.testing.assert_allclose(cupy.asnumpy(a), cupy.asnumpy(b), **STEP_TOLERANCE[dtype])
    assert launches == ["lstm_forward", "lstm_backward"]
    assert ("lstm_forward", cupy.cuda.Device().id, dtype) in fused_cells._KERNELS


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gru_kernels_match_reference_per_step(dtype, monkeypatch):
    import cupy

    launches = count_launches(monkeypatch)
    rng = numpy.random.default_rng(0)
    k, nO = 37, 19
    G = cupy.asarray(rng.normal(size=(k, 3 * nO)) * 2, dtype=dtype)
    HH = cupy.asarray(rng.normal(size=(k, 3 * nO)) * 2, dtype=dtype)
    h = cupy.asarray(rng.normal(size=(k, nO)), dtype=dtype)
    dh = cupy.asarray(rng.normal(size=(k, nO)), dtype=dtype)
    got = fused_cells.gru_forward(G.copy(), HH, h)
    ref = fused_cells.gru_forward_reference(cupy, G.copy(), HH, h)
    for a, b in zip(got, ref):
        numpy.testing.assert_allclose(cupy.asnumpy(a), cupy.asnumpy(b), **STEP_TOLERANCE[dtype])
    dA, dA_ref = cupy.zeros_like(G), cupy.zeros_like(G)
    got = fused_cells.gru_backward(dh, ref[0], h, ref[2], dA)
    want = fused_cells.gru_backward_reference(cupy, dh, ref[0], h, ref[2], dA_ref)
    for a, b in zip(list(got) + [dA], list(want) + [dA_ref]):
        numpy.testing.assert_allclose(cupy.asnumpy(a), cupy.asnumpy(b), **STEP_TOLERANCE[dtype])
    assert launches == ["gru_forward", "gru_backward"]


@pytest.mark.gpu
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("depth,bidirectional", [(1, False), (2, True), (2, False)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_matches_generic_on_cupy_ops(cell, layout, depth, bidirectional, dtype, monkeypatch):
    """Outputs, final state, dX, d_state0 and every parameter gradient, fused vs generic."""
    launches = count_launches(monkeypatch)
    model = make_cell(cell, CupyOps(), nO=32, nI=24, depth=depth, bidirectional=bidirectional, dtype=dtype)
    lengths = [n * 2 for n in LAYOUTS[layout]]  # T = 12
    batch = make_batch(cell, model, 12, lengths, dtype)
    monkeypatch.setattr(fused_cells, "ENABLED", False)
    generic = run_cell(model, *batch)
    assert not launches
    monkeypatch.setattr(fused_cells, "ENABLED", True)
    fused = run_cell(model, *batch)
    assert {f"{cell}_forward", f"{cell}_backward"} <= set(launches)
    assert_runs_match(generic, fused, **GPU_TOLERANCE[dtype])


@pytest.mark.gpu
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fused_one_token_step_matches_generic_on_cupy_ops(cell, monkeypatch):
    launches = count_launches(monkeypatch)
    ops = CupyOps()
    model = make_cell(cell, ops, nO=32, nI=24, depth=2, dtype="float32")
    step = lstm_step if cell == "lstm" else gru_step
    rng = numpy.random.default_rng(3)
    x = ops.asarray(rng.normal(size=(5, 24)).astype("float32"))
    state = model.attrs["initial_state"](model, 5)
    results = []
    for enabled in (False, True):
        monkeypatch.setattr(fused_cells, "ENABLED", enabled)
        y, new_state = step(model, x, state)
        parts = list(new_state) if cell == "lstm" else [new_state]
        results.append([ops.to_numpy(a) for a in [y] + parts])
    assert launches == [f"{cell}_forward"] * 2
    for a, b in zip(*results):
        numpy.testing.assert_allclose(a, b, **GPU_TOLERANCE["float32"])
