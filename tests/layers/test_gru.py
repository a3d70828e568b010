"""What only the GRU has: nn.GRU's exact gates, its registered name and its ``h`` state.
Everything the cell contract asks of it (values, gradients, steps, packed rows) is in
test_cells.py."""
import numpy
import pytest
from thinc.api import NumpyOps, registry

from spacy_lm.layers import cells, recurrent
from spacy_lm.layers.gru import GRU, gru_initial_state, select_gru_state

from ..gradcheck import to_float64
from .test_cells import make_cell, random_inputs


def torch_gru_from(model, torch):
    """An nn.GRU carrying our weights (same names, one to one)."""
    depth, bidirectional = model.attrs["depth"], model.attrs["bidirectional"]
    peer = torch.nn.GRU(model.get_dim("nI"), model.get_dim("nO"), depth, bidirectional=bidirectional).double()
    with torch.no_grad():
        for layer in range(depth):
            for d in range(2 if bidirectional else 1):
                suffix = f"l{layer}" + ("_reverse" if d else "")
                for ours, theirs in (("W", "weight_ih"), ("U", "weight_hh"), ("b", "bias_ih"), ("bh", "bias_hh")):
                    value = numpy.asarray(model.get_param(f"{ours}{layer}_{d}"), dtype="float64")
                    getattr(peer, f"{theirs}_{suffix}").copy_(torch.from_numpy(value))
    return peer


@pytest.mark.parametrize("depth,bidirectional", [(1, False), (2, False), (1, True), (2, True)])
def test_gru_equals_torch_nn_gru(depth, bidirectional):
    torch = pytest.importorskip("torch", reason="torch is needed to compare with nn.GRU")
    nO, nI, T = 4, 3, 6
    lengths = [6, 2, 4, 5]
    model = make_cell("gru", NumpyOps(), nO, nI, depth, bidirectional)
    to_float64(model)
    dirs = 2 if bidirectional else 1
    X, lens, h0 = random_inputs("gru", T, len(lengths), nI, lengths, depth * dirs, nO)
    (Y, hT), _ = model((X, lens, h0), is_train=True)  # unsorted lengths: the masked path
    peer = torch_gru_from(model, torch)
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.from_numpy(X), torch.tensor(lengths),
                                                     enforce_sorted=False)
    with torch.no_grad():
        out, h_peer = peer(packed, torch.from_numpy(h0))
    Y_peer, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    numpy.testing.assert_allclose(Y, Y_peer.numpy(), rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(hT, h_peer.numpy(), rtol=1e-10, atol=1e-12)


def test_gru_initial_and_selected_state():
    model = make_cell("gru", NumpyOps(), depth=2, bidirectional=True)
    state = gru_initial_state(model, 3)
    assert state.shape == (4, 3, 3) and not state.any()
    state = numpy.arange(4 * 3 * 3, dtype="float32").reshape(4, 3, 3)
    picked = select_gru_state(model, state, [2, 0, 2])
    numpy.testing.assert_array_equal(picked, state[:, [2, 0, 2]])
    numpy.testing.assert_array_equal(recurrent.select_state(model, state, [1]), state[:, [1]])


def test_an_lstm_state_is_not_a_gru_state():
    model = make_cell("gru", NumpyOps(), depth=2)
    X = numpy.zeros((3, 2, 2), dtype="float32")
    bad = numpy.zeros((1, 2, 3), dtype="float32")
    with pytest.raises(ValueError, match="state must have shape"):
        model((X, None, (bad, bad)), is_train=False)  # an LSTM's (h, c) is not a GRU state


def test_build_cell_and_registry_give_the_gru():
    assert registry.layers.get("spacy_lm.GRU.v1") is GRU
    cell = cells.build_cell("gru", 3, 2, depth=2)
    assert cell.name == "gru" and cell.attrs["depth"] == 2
