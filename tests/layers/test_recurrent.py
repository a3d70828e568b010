"""The cell contract (layers/recurrent.py) holds for every cell: state rows can be selected
and joined back without knowing the state's layout."""
import numpy
import pytest
from thinc.api import NumpyOps

from spacy_lm.layers import cells, recurrent


@pytest.mark.parametrize("cell", cells.CELLS)
def test_concat_states_undoes_select_state(cell):
    model = cells.build_cell(cell, 4, 3, depth=2)
    model.initialize()
    X = NumpyOps().asarray(numpy.random.default_rng(0).normal(size=(5, 3, 3)).astype("float32"))
    (_, state), _ = model((X, None, None), False)
    parts = [recurrent.select_state(model, state, [2]), recurrent.select_state(model, state, [0, 1])]
    joined = recurrent.concat_states(model, parts)
    expected = recurrent.select_state(model, state, [2, 0, 1])
    for got, want in zip(_arrays(joined), _arrays(expected)):
        numpy.testing.assert_array_equal(got, want)
    # a joined state continues exactly like the original rows
    x = X[0]
    y_joined, _ = recurrent.step(model, x[[2, 0, 1]], joined)
    y_expected, _ = recurrent.step(model, x[[2, 0, 1]], expected)
    numpy.testing.assert_array_equal(y_joined, y_expected)


def _arrays(state):
    """The arrays of a state, whatever its layout (a tuple or one array)."""
    return list(state) if isinstance(state, tuple) else [state]


def test_concat_states_refuses_nothing():
    model = cells.build_cell("lstm", 4, 3)
    model.initialize()
    with pytest.raises(ValueError, match="E033"):
        recurrent.concat_states(model, [])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_training_on_running_rows_only_equals_the_masked_loop(cell, bidirectional):
    """A batch sorted longest first steps only its running rows (packed sequences); the same
    batch unsorted runs every row under a mask. Outputs, states and gradients agree."""
    from spacy_lm.layers.cells import build_cell

    rng = numpy.random.default_rng(0)
    model = build_cell(cell, 4, 3, depth=2, bidirectional=bidirectional)
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
