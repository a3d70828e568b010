import numpy
import pytest
from thinc.api import NumpyOps, Ops, fix_random_seed

from spacy_lm.layers import cells, recurrent
from spacy_lm.layers.gru import GRU, gru_initial_state, gru_step, select_gru_state

from ..gradcheck import assert_grads_close, numeric_grad, to_float64

OPS_CLASSES = [NumpyOps, Ops]


def make_gru(ops, nO=3, nI=2, depth=1, bidirectional=False, dropout=0.0):
    fix_random_seed(0)
    model = GRU(nO, nI, depth=depth, bidirectional=bidirectional, dropout=dropout)
    model.ops = ops
    model.initialize()
    return model


def random_inputs(T, B, nI, lengths, n_states, nO, seed=1):
    rng = numpy.random.default_rng(seed)
    X = rng.normal(size=(T, B, nI))
    h0 = rng.normal(size=(n_states, B, nO)) * 0.5
    return X, numpy.asarray(lengths, dtype="int32"), h0


@pytest.mark.parametrize("ops_class", OPS_CLASSES)
@pytest.mark.parametrize("depth,bidirectional", [(1, False), (2, False), (1, True), (2, True)])
def test_gru_gradients_match_finite_differences(ops_class, depth, bidirectional):
    nO, nI, T, B = 3, 2, 4, 3
    model = make_gru(ops_class(), nO, nI, depth, bidirectional)
    to_float64(model)
    dirs = 2 if bidirectional else 1
    X, lengths, h0 = random_inputs(T, B, nI, [4, 2, 3], depth * dirs, nO)
    rng = numpy.random.default_rng(7)
    (Y, hT), backprop = model((X, lengths, h0), is_train=True)
    wY = rng.normal(size=Y.shape)
    wh = rng.normal(size=hT.shape)

    def loss() -> float:
        (Y, hT), _ = model((X, lengths, h0), is_train=False)
        return float((Y * wY).sum() + (hT * wh).sum())

    dX, dh0 = backprop((wY, wh))
    assert_grads_close(dX, numeric_grad(loss, X))
    assert_grads_close(dh0, numeric_grad(loss, h0))
    assert len(model.param_names) == 4 * depth * dirs
    for name in model.param_names:
        assert_grads_close(model.get_grad(name), numeric_grad(loss, model.get_param(name)))


def test_gru_backprop_without_state_gradient():
    model = make_gru(NumpyOps(), depth=2)
    X, lengths, _ = random_inputs(4, 2, 2, [4, 3], 2, 3)
    (Y, hT), backprop = model((X.astype("float32"), lengths, None), is_train=True)
    dX, dh0 = backprop((numpy.ones_like(Y), None))
    assert dX.shape == X.shape and dh0.shape == hT.shape


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
    model = make_gru(NumpyOps(), nO, nI, depth, bidirectional)
    to_float64(model)
    dirs = 2 if bidirectional else 1
    X, lens, h0 = random_inputs(T, len(lengths), nI, lengths, depth * dirs, nO)
    (Y, hT), _ = model((X, lens, h0), is_train=True)  # unsorted lengths: the masked path
    peer = torch_gru_from(model, torch)
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.from_numpy(X), torch.tensor(lengths),
                                                     enforce_sorted=False)
    with torch.no_grad():
        out, h_peer = peer(packed, torch.from_numpy(h0))
    Y_peer, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    numpy.testing.assert_allclose(Y, Y_peer.numpy(), rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(hT, h_peer.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ops_class", OPS_CLASSES)
def test_gru_padded_steps_output_zero_and_keep_state(ops_class):
    model = make_gru(ops_class(), depth=2)
    X, lengths, _ = random_inputs(5, 2, 2, [5, 2], 2, 3)
    X = X.astype("float32")
    (Y, hT), _ = model((X, lengths, None), is_train=True)
    assert Y.shape == (5, 2, 3) and hT.shape == (2, 2, 3)
    assert numpy.all(Y[2:, 1] == 0)
    (_, h_short), _ = model((X[:2, 1:], None, None), is_train=False)
    numpy.testing.assert_allclose(hT[:, 1], h_short[:, 0], rtol=1e-6)


@pytest.mark.parametrize("ops_class", OPS_CLASSES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_inference_over_sorted_rows_equals_the_masked_loop(ops_class, bidirectional):
    model = make_gru(ops_class(), depth=2, bidirectional=bidirectional)
    n_states = 4 if bidirectional else 2
    X, lengths, h0 = random_inputs(6, 4, 2, [6, 4, 4, 0], n_states, 3)
    X, h0 = X.astype("float32"), h0.astype("float32")
    assert recurrent.active_rows(model.ops, lengths, 6) is not None
    (Y_fast, h_fast), _ = model((X, lengths, h0), is_train=False)
    order = [3, 0, 2, 1]  # unsorted: every row runs under the mask
    (Y_mask, h_mask), _ = model((X[:, order], lengths[order], h0[:, order]), is_train=False)
    Y_mask, h_mask = Y_mask[:, numpy.argsort(order)], h_mask[:, numpy.argsort(order)]
    numpy.testing.assert_allclose(Y_fast, Y_mask, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(h_fast, h_mask, rtol=1e-5, atol=1e-6)
    assert numpy.all(Y_fast[4:, 1:] == 0) and numpy.all(Y_fast[:, 3] == 0)
    numpy.testing.assert_array_equal(h_fast[:, 3], h0[:, 3])  # an empty row keeps its state


@pytest.mark.parametrize("ops_class", OPS_CLASSES)
def test_gru_step_equals_full_forward(ops_class):
    model = make_gru(ops_class(), depth=2)
    X, _, h0 = random_inputs(6, 2, 2, [6, 6], 2, 3)
    X, h0 = X.astype("float32"), h0.astype("float32")
    (Y, hT), _ = model((X, None, h0), is_train=False)
    state = h0
    for t in range(6):
        y, state = gru_step(model, X[t], state)
        numpy.testing.assert_allclose(y, Y[t], rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(state, hT, rtol=1e-5, atol=1e-6)
    # through the cell contract, from zeros
    (Y0, _), _ = model((X[:3], None, None), is_train=False)
    state = recurrent.initial_state(model, 2)
    for t in range(3):
        y, state = recurrent.step(model, X[t], state)
    numpy.testing.assert_allclose(y, Y0[2], rtol=1e-5, atol=1e-6)


def test_gru_step_refuses_bidirectional():
    model = make_gru(NumpyOps(), bidirectional=True)
    with pytest.raises(ValueError, match="unidirectional"):
        gru_step(model, numpy.zeros((1, 2), dtype="float32"), gru_initial_state(model, 1))


def test_gru_initial_and_selected_state():
    model = make_gru(NumpyOps(), depth=2, bidirectional=True)
    state = gru_initial_state(model, 3)
    assert state.shape == (4, 3, 3) and not state.any()
    state = numpy.arange(4 * 3 * 3, dtype="float32").reshape(4, 3, 3)
    picked = select_gru_state(model, state, [2, 0, 2])
    numpy.testing.assert_array_equal(picked, state[:, [2, 0, 2]])
    numpy.testing.assert_array_equal(recurrent.select_state(model, state, [1]), state[:, [1]])


def test_gru_carried_state_equals_one_long_window():
    model = make_gru(NumpyOps(), depth=2)
    X, _, _ = random_inputs(8, 2, 2, [8, 8], 2, 3)
    X = X.astype("float32")
    (Y, hT), _ = model((X, None, None), is_train=False)
    (Y1, state1), _ = model((X[:5], None, None), is_train=False)
    (Y2, h2), _ = model((X[5:], None, state1), is_train=False)
    numpy.testing.assert_allclose(numpy.concatenate([Y1, Y2]), Y, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(h2, hT, rtol=1e-5, atol=1e-6)


def test_gru_dropout_only_in_training_and_seeded():
    model = make_gru(NumpyOps(), depth=2, dropout=0.5)
    X, _, _ = random_inputs(4, 2, 2, [4, 4], 2, 3)
    X = X.astype("float32")
    (Y_a, _), _ = model((X, None, None), is_train=False)
    (Y_b, _), _ = model((X, None, None), is_train=False)
    numpy.testing.assert_array_equal(Y_a, Y_b)
    fix_random_seed(3)
    (Y_t1, _), _ = model((X, None, None), is_train=True)
    fix_random_seed(3)
    (Y_t2, _), _ = model((X, None, None), is_train=True)
    numpy.testing.assert_array_equal(Y_t1, Y_t2)
    assert not numpy.allclose(Y_t1, Y_a)


def test_gru_bad_state_and_lengths_raise_clear_errors():
    model = make_gru(NumpyOps(), depth=2)
    X = numpy.zeros((3, 2, 2), dtype="float32")
    bad = numpy.zeros((1, 2, 3), dtype="float32")
    with pytest.raises(ValueError, match="state must have shape"):
        model((X, None, bad), is_train=False)
    with pytest.raises(ValueError, match="state must have shape"):
        model((X, None, (bad, bad)), is_train=False)  # an LSTM's (h, c) is not a GRU state
    with pytest.raises(ValueError, match="state must have shape"):
        gru_step(model, X[0], bad)
    with pytest.raises(ValueError, match="lengths"):
        model((X, numpy.asarray([4, 1], dtype="int32"), None), is_train=False)
    with pytest.raises(ValueError, match="lengths"):
        model((X, numpy.asarray([3, 1, 1], dtype="int32"), None), is_train=False)


def test_gru_invalid_settings():
    with pytest.raises(ValueError, match="depth"):
        GRU(3, 2, depth=0)
    with pytest.raises(ValueError, match="dropout"):
        GRU(3, 2, dropout=1.0)


def test_build_cell_and_registry_give_the_gru():
    from thinc.api import registry

    assert registry.layers.get("spacy_lm.GRU.v1") is GRU
    cell = cells.build_cell("gru", 3, 2, depth=2)
    assert cell.name == "gru" and cell.attrs["depth"] == 2


def test_cpu_fast_path_matches_generic_ops():
    """float32 on NumpyOps runs the recurrence through BLIS; generic Ops through xp.matmul."""
    X, lengths, h0 = random_inputs(6, 3, 2, [6, 2, 4], 2, 3)
    X, h0 = X.astype("float32"), h0.astype("float32")
    outputs = []
    for ops in (NumpyOps(), Ops()):
        model = make_gru(ops, depth=2)
        (Y, hT), backprop = model((X, lengths, h0), is_train=True)
        dX, dh0 = backprop((numpy.ones_like(Y), None))
        outputs.append([Y, hT, dX, dh0] + [model.get_grad(n) for n in model.param_names])
    for fast, generic in zip(*outputs):
        numpy.testing.assert_allclose(fast, generic, rtol=1e-4, atol=1e-5)
