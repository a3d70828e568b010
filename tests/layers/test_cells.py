"""The cell contract (layers/recurrent.py), one test for every cell of layers/cells.py: values
(padded steps, batched == one by one, carried state), finite-difference gradients, a one-token
step == the full forward, running rows only (packed) == the masked loop, and state rows that
can be selected and joined back without knowing the state's layout."""
import numpy
import pytest
from thinc.api import NumpyOps, Ops, fix_random_seed

from spacy_lm.layers import cells, recurrent

from ..gradcheck import assert_grads_close, numeric_grad, to_float64

OPS_CLASSES = [NumpyOps, Ops]
SHAPES = [(1, False), (2, False), (1, True), (2, True)]  # (depth, bidirectional)
STATE_PARTS = {"lstm": 2, "gru": 1}  # (h, c) and h
PARAMS_PER_DIRECTION = {"lstm": 3, "gru": 4}  # W, U, b (+ the GRU's recurrent bias bh)
TOL = dict(rtol=1e-5, atol=1e-6)


def make_cell(cell, ops, nO=3, nI=2, depth=1, bidirectional=False, dropout=0.0):
    fix_random_seed(0)
    model = cells.build_cell(cell, nO, nI, depth=depth, bidirectional=bidirectional, dropout=dropout)
    for node in model.walk():
        node.ops = ops
    model.initialize()
    return model


def as_state(cell, parts):
    """A cell's state from its parts: an LSTM's ``(h, c)``, a GRU's ``h``."""
    return tuple(parts) if cell == "lstm" else parts[0]


def parts_of(state):
    """The arrays of a state, whatever its layout (a tuple or one array)."""
    return list(state) if isinstance(state, tuple) else [state]


def random_inputs(cell, T, B, nI, lengths, n_states, nO, seed=1, dtype=None):
    """``X``, lengths and a random initial state (parts ~ N(0, 0.25))."""
    rng = numpy.random.default_rng(seed)
    X = rng.normal(size=(T, B, nI))
    parts = [rng.normal(size=(n_states, B, nO)) * 0.5 for _ in range(STATE_PARTS[cell])]
    if dtype is not None:
        X, parts = X.astype(dtype), [p.astype(dtype) for p in parts]
    return X, numpy.asarray(lengths, dtype="int32"), as_state(cell, parts)


def assert_states_close(a, b, **tolerance):
    for x, y in zip(parts_of(a), parts_of(b)):
        numpy.testing.assert_allclose(x, y, **(tolerance or TOL))


@pytest.mark.parametrize("cell", cells.CELLS)
@pytest.mark.parametrize("ops_class", OPS_CLASSES)
@pytest.mark.parametrize("depth,bidirectional", SHAPES)
def test_gradients_match_finite_differences(cell, ops_class, depth, bidirectional):
    nO, nI, T, B = 3, 2, 4, 3
    model = make_cell(cell, ops_class(), nO, nI, depth, bidirectional)
    to_float64(model)
    dirs = 2 if bidirectional else 1
    X, lengths, state0 = random_inputs(cell, T, B, nI, [4, 2, 3], depth * dirs, nO)
    rng = numpy.random.default_rng(7)
    (Y, stateT), backprop = model((X, lengths, state0), is_train=True)
    wY = rng.normal(size=Y.shape)
    w_state = [rng.normal(size=part.shape) for part in parts_of(stateT)]

    def loss() -> float:
        """Touches outputs and final state, so every gradient path is exercised."""
        (Y, stateT), _ = model((X, lengths, state0), is_train=False)
        return float((Y * wY).sum() + sum((part * w).sum() for part, w in zip(parts_of(stateT), w_state)))

    dX, d_state0 = backprop((wY, as_state(cell, w_state)))
    # Padded steps produce zero output, so only real steps carry gradient.
    assert_grads_close(dX, numeric_grad(loss, X))
    for d_part, part in zip(parts_of(d_state0), parts_of(state0)):
        assert_grads_close(d_part, numeric_grad(loss, part))
    assert len(model.param_names) == PARAMS_PER_DIRECTION[cell] * depth * dirs
    for name in model.param_names:
        assert_grads_close(model.get_grad(name), numeric_grad(loss, model.get_param(name)))


@pytest.mark.parametrize("cell", cells.CELLS)
def test_backprop_without_state_gradient(cell):
    model = make_cell(cell, NumpyOps(), depth=2)
    X, lengths, _ = random_inputs(cell, 4, 2, 2, [4, 3], 2, 3, dtype="float32")
    (Y, stateT), backprop = model((X, lengths, None), is_train=True)
    dX, d_state0 = backprop((numpy.ones_like(Y), None))
    assert dX.shape == X.shape
    assert [d.shape for d in parts_of(d_state0)] == [s.shape for s in parts_of(stateT)]


@pytest.mark.parametrize("cell", cells.CELLS)
@pytest.mark.parametrize("ops_class", OPS_CLASSES)
@pytest.mark.parametrize("is_train", [False, True])
def test_padded_steps_output_zero_and_keep_state(cell, ops_class, is_train):
    model = make_cell(cell, ops_class(), depth=2)
    X, lengths, _ = random_inputs(cell, 5, 2, 2, [5, 2], 2, 3, dtype="float32")
    (Y, stateT), _ = model((X, lengths, None), is_train=is_train)
    assert Y.shape == (5, 2, 3) and all(part.shape == (2, 2, 3) for part in parts_of(stateT))
    assert numpy.all(Y[2:, 1] == 0)
    assert numpy.abs(Y[:, 0]).sum() > 0
    (_, state_short), _ = model((X[:2, 1:], None, None), is_train=False)
    for part, short in zip(parts_of(stateT), parts_of(state_short)):
        numpy.testing.assert_allclose(part[:, 1], short[:, 0], rtol=1e-6)


@pytest.mark.parametrize("cell", cells.CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_batched_equals_one_by_one(cell, bidirectional):
    model = make_cell(cell, NumpyOps(), depth=2, bidirectional=bidirectional)
    lengths = [5, 1, 3]
    X, lens, _ = random_inputs(cell, 5, 3, 2, lengths, 1, 3, dtype="float32")
    (Y, stateT), _ = model((X, lens, None), is_train=False)
    for b, length in enumerate(lengths):
        (Yb, state_b), _ = model((X[:length, b : b + 1], None, None), is_train=False)
        numpy.testing.assert_allclose(Y[:length, b], Yb[:, 0], **TOL)
        for part, part_b in zip(parts_of(stateT), parts_of(state_b)):
            numpy.testing.assert_allclose(part[:, b], part_b[:, 0], **TOL)


@pytest.mark.parametrize("cell", cells.CELLS)
@pytest.mark.parametrize("ops_class", OPS_CLASSES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_inference_over_sorted_rows_equals_the_masked_loop(cell, ops_class, bidirectional):
    """Longest-first batches step only over running rows; an unsorted batch runs every row
    under the mask. Outputs and final states must agree."""
    model = make_cell(cell, ops_class(), depth=2, bidirectional=bidirectional)
    n_states = 4 if bidirectional else 2
    X, lengths, state0 = random_inputs(cell, 6, 4, 2, [6, 4, 4, 0], n_states, 3, dtype="float32")
    assert recurrent.active_rows(model.ops, lengths, 6) is not None
    (Y_fast, state_fast), _ = model((X, lengths, state0), is_train=False)
    order = [3, 0, 2, 1]  # unsorted: every row runs under the mask
    reorder = lambda state, index: as_state(cell, [p[:, index] for p in parts_of(state)])  # noqa: E731
    (Y_mask, state_mask), _ = model((X[:, order], lengths[order], reorder(state0, order)), is_train=False)
    back = numpy.argsort(order)
    numpy.testing.assert_allclose(Y_fast, Y_mask[:, back], **TOL)
    assert_states_close(state_fast, reorder(state_mask, back))
    assert numpy.all(Y_fast[4:, 1:] == 0) and numpy.all(Y_fast[:, 3] == 0)
    for part, part0 in zip(parts_of(state_fast), parts_of(state0)):
        numpy.testing.assert_array_equal(part[:, 3], part0[:, 3])  # an empty row keeps its state


@pytest.mark.parametrize("cell", cells.CELLS)
@pytest.mark.parametrize("ops_class", OPS_CLASSES)
def test_step_equals_full_forward(cell, ops_class):
    model = make_cell(cell, ops_class(), depth=2)
    X, _, state0 = random_inputs(cell, 6, 2, 2, [6, 6], 2, 3, dtype="float32")
    for start in (state0, None):  # a given state, and zeros through the contract
        (Y, stateT), _ = model((X, None, start), is_train=False)
        state = recurrent.initial_state(model, 2) if start is None else start
        for t in range(6):
            y, state = recurrent.step(model, X[t], state)
            numpy.testing.assert_allclose(y, Y[t], **TOL)
        assert_states_close(state, stateT)


@pytest.mark.parametrize("cell", cells.CELLS)
def test_step_refuses_bidirectional(cell):
    model = make_cell(cell, NumpyOps(), bidirectional=True)
    with pytest.raises(ValueError, match="unidirectional"):
        recurrent.step(model, numpy.zeros((1, 2), dtype="float32"), recurrent.initial_state(model, 1))


@pytest.mark.parametrize("cell", cells.CELLS)
def test_carried_state_equals_one_long_window(cell):
    model = make_cell(cell, NumpyOps(), depth=2)
    X, _, _ = random_inputs(cell, 8, 2, 2, [8, 8], 2, 3, dtype="float32")
    (Y, stateT), _ = model((X, None, None), is_train=False)
    (Y1, state1), _ = model((X[:5], None, None), is_train=False)
    (Y2, state2), _ = model((X[5:], None, state1), is_train=False)
    numpy.testing.assert_allclose(numpy.concatenate([Y1, Y2]), Y, **TOL)
    assert_states_close(state2, stateT)


@pytest.mark.parametrize("cell", cells.CELLS)
def test_dropout_only_in_training_and_seeded(cell):
    model = make_cell(cell, NumpyOps(), depth=2, dropout=0.5)
    X, _, _ = random_inputs(cell, 4, 2, 2, [4, 4], 2, 3, dtype="float32")
    (Y_a, _), _ = model((X, None, None), is_train=False)
    (Y_b, _), _ = model((X, None, None), is_train=False)
    numpy.testing.assert_array_equal(Y_a, Y_b)
    fix_random_seed(3)
    (Y_t1, _), _ = model((X, None, None), is_train=True)
    fix_random_seed(3)
    (Y_t2, _), _ = model((X, None, None), is_train=True)
    numpy.testing.assert_array_equal(Y_t1, Y_t2)
    assert not numpy.allclose(Y_t1, Y_a)


@pytest.mark.parametrize("cell", cells.CELLS)
def test_bad_state_and_lengths_raise_clear_errors(cell):
    model = make_cell(cell, NumpyOps(), depth=2)
    X = numpy.zeros((3, 2, 2), dtype="float32")
    bad = as_state(cell, [numpy.zeros((1, 2, 3), dtype="float32")] * STATE_PARTS[cell])
    with pytest.raises(ValueError, match="state must have shape"):
        model((X, None, bad), is_train=False)
    with pytest.raises(ValueError, match="state must have shape"):
        recurrent.step(model, X[0], bad)
    with pytest.raises(ValueError, match="lengths"):
        model((X, numpy.asarray([4, 1], dtype="int32"), None), is_train=False)
    with pytest.raises(ValueError, match="lengths"):
        model((X, numpy.asarray([3, 1, 1], dtype="int32"), None), is_train=False)


@pytest.mark.parametrize("cell", cells.CELLS)
def test_invalid_settings(cell):
    with pytest.raises(ValueError, match="depth"):
        cells.build_cell(cell, 3, 2, depth=0)
    with pytest.raises(ValueError, match="dropout"):
        cells.build_cell(cell, 3, 2, dropout=1.0)
    with pytest.raises(ValueError, match="cell"):
        cells.build_cell("rnn", 3, 2)


@pytest.mark.parametrize("cell", cells.CELLS)
def test_cpu_fast_path_matches_generic_ops(cell):
    """float32 on NumpyOps and on generic Ops (xp.matmul either way) give the same results."""
    X, lengths, state0 = random_inputs(cell, 6, 3, 2, [6, 2, 4], 2, 3, dtype="float32")
    outputs = []
    for ops in (NumpyOps(), Ops()):
        model = make_cell(cell, ops, depth=2)
        (Y, stateT), backprop = model((X, lengths, state0), is_train=True)
        dX, d_state0 = backprop((numpy.ones_like(Y), None))
        grads = [model.get_grad(n) for n in model.param_names]
        outputs.append([Y, *parts_of(stateT), dX, *parts_of(d_state0), *grads])
    for fast, generic in zip(*outputs):
        numpy.testing.assert_allclose(fast, generic, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cell", cells.CELLS)
def test_concat_states_undoes_select_state(cell):
    model = cells.build_cell(cell, 4, 3, depth=2)
    model.initialize()
    X = NumpyOps().asarray(numpy.random.default_rng(0).normal(size=(5, 3, 3)).astype("float32"))
    (_, state), _ = model((X, None, None), False)
    parts = [recurrent.select_state(model, state, [2]), recurrent.select_state(model, state, [0, 1])]
    joined = recurrent.concat_states(model, parts)
    expected = recurrent.select_state(model, state, [2, 0, 1])
    for got, want in zip(parts_of(joined), parts_of(expected)):
        numpy.testing.assert_array_equal(got, want)
    # a joined state continues exactly like the original rows
    x = X[0]
    y_joined, _ = recurrent.step(model, x[[2, 0, 1]], joined)
    y_expected, _ = recurrent.step(model, x[[2, 0, 1]], expected)
    numpy.testing.assert_array_equal(y_joined, y_expected)


def test_concat_states_refuses_nothing():
    model = cells.build_cell("lstm", 4, 3)
    model.initialize()
    with pytest.raises(ValueError, match="E033"):
        recurrent.concat_states(model, [])


@pytest.mark.parametrize("cell", cells.CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_training_on_running_rows_only_equals_the_masked_loop(cell, bidirectional):
    """A batch sorted longest first steps only its running rows (packed sequences); the same
    batch unsorted runs every row under a mask. Outputs, states and gradients agree."""
    rng = numpy.random.default_rng(0)
    model = cells.build_cell(cell, 4, 3, depth=2, bidirectional=bidirectional)
    model.initialize()
    T, lengths = 5, numpy.asarray([5, 3, 3, 1], dtype="int32")
    X = rng.standard_normal((T, 4, 3)).astype("float32")
    X *= (numpy.arange(T).reshape(T, 1, 1) < lengths.reshape(1, 4, 1))
    dY = rng.standard_normal((T, 4, 4 * (2 if bidirectional else 1))).astype("float32")
    results = []
    for order in ([0, 1, 2, 3], [3, 0, 2, 1]):  # sorted: running rows; unsorted: the mask
        (Y, state), backprop = model((X[:, order], lengths[order], None), is_train=True)
        dX, _ = backprop((dY[:, order], None))
        grads = {name: numpy.array(model.get_grad(name)) for name in model.grad_names}
        for name in model.grad_names:
            model.get_grad(name).fill(0)
        inverse = numpy.argsort(order)
        h = state[0] if cell == "lstm" else state
        results.append((Y[:, inverse], h[:, inverse], dX[:, inverse], grads))
    (Y_a, h_a, dX_a, g_a), (Y_b, h_b, dX_b, g_b) = results
    numpy.testing.assert_allclose(Y_a, Y_b, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(h_a, h_b, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(dX_a, dX_b, rtol=1e-4, atol=1e-5)
    for name in g_a:
        numpy.testing.assert_allclose(g_a[name], g_b[name], rtol=1e-4, atol=1e-5, err_msg=name)
