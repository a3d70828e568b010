"""What only the LSTM has: its registered name and its ``(h, c)`` state. Everything the cell
contract asks of it (values, gradients, steps, packed rows) is in test_cells.py."""
import numpy
from thinc.api import NumpyOps, registry

from spacy_lm.layers import cells, recurrent
from spacy_lm.layers.lstm import LSTM, initial_state, select_lstm_state

from .test_cells import make_cell


def test_build_cell_and_registry_give_the_lstm():
    assert registry.layers.get("spacy_lm.LSTM.v1") is LSTM
    cell = cells.build_cell("lstm", 3, 2, depth=2)
    assert cell.name == "lstm" and cell.attrs["depth"] == 2


def test_lstm_initial_and_selected_state():
    model = make_cell("lstm", NumpyOps(), depth=2, bidirectional=True)
    h, c = initial_state(model, 3)
    assert h.shape == c.shape == (4, 3, 3) and not h.any() and not c.any()
    h = numpy.arange(4 * 3 * 3, dtype="float32").reshape(4, 3, 3)
    picked = select_lstm_state(model, (h, -h), [2, 0, 2])
    numpy.testing.assert_array_equal(picked[0], h[:, [2, 0, 2]])
    numpy.testing.assert_array_equal(picked[1], -h[:, [2, 0, 2]])
    hidden, memory = recurrent.state_from_hidden(model, h)
    assert hidden is h and not memory.any()
    numpy.testing.assert_array_equal(recurrent.hidden_grad(model, (h, -h)), h)
