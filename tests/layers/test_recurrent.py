"""The cell contract (layers/recurrent.py) holds for every cell: state rows can be selected
and joined back without knowing the state's layout."""
import numpy
import pytest
from thinc.api import NumpyOps

from spacy_lm.layers import recurrent


@pytest.mark.parametrize("cell", recurrent.CELLS)
def test_concat_states_undoes_select_state(cell):
    model = recurrent.build_cell(cell, 4, 3, depth=2)
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
    model = recurrent.build_cell("lstm", 4, 3)
    model.initialize()
    with pytest.raises(ValueError, match="E033"):
        recurrent.concat_states(model, [])
