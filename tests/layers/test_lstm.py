import numpy
import pytest
from thinc.api import NumpyOps, Ops, fix_random_seed

from spacy_lm.layers.lstm import LSTM, initial_state, lstm_step

from ..gradcheck import assert_grads_close, numeric_grad, to_float64

OPS_CLASSES = [NumpyOps, Ops]


def make_lstm(ops, nO=3, nI=2, depth=1, bidirectional=False, dropout=0.0):
    fix_random_seed(0)
    model = LSTM(nO, nI, depth=depth, bidirectional=bidirectional, dropout=dropout)
    model.ops = ops
    for node in model.walk():
        node.ops = ops
    model.initialize()
    return model


def random_inputs(T, B, nI, lengths, n_states, nO, seed=1):
    rng = numpy.random.default_rng(seed)
    X = rng.normal(size=(T, B, nI))
    h0 = rng.normal(size=(n_states, B, nO)) * 0.5
    c0 = rng.normal(size=(n_states, B, nO)) * 0.5
    return X, numpy.asarray(lengths, dtype="int32"), h0, c0


def scalar_loss(Y, hT, cT, wY, wh, wc):
    """A loss touching outputs and final state, so every gradient path is exercised."""
    return float((Y * wY).sum() + (hT * wh).sum() + (cT * wc).sum())


@pytest.mark.parametrize("ops_class", OPS_CLASSES)
@pytest.mark.parametrize("depth,bidirectional", [(1, False), (2, False), (1, True), (2, True)])
def test_lstm_gradients_match_finite_differences(ops_class, depth, bidirectional):
    ops = ops_class()
    nO, nI, T, B = 3, 2, 4, 3
    model = make_lstm(ops, nO, nI, depth, bidirectional)
    to_float64(model)
    dirs = 2 if bidirectional else 1
    X, lengths, h0, c0 = random_inputs(T, B, nI, [4, 2, 3], depth * dirs, nO)
    rng = numpy.random.default_rng(7)
    (Y, (hT, cT)), backprop = model((X, lengths, (h0, c0)), is_train=True)
    wY = rng.normal(size=Y.shape)
    wh = rng.normal(size=hT.shape)
    wc = rng.normal(size=cT.shape)

    def loss() -> float:
        (Y, (hT, cT)), _ = model((X, lengths, (h0, c0)), is_train=False)
        return scalar_loss(Y, hT, cT, wY, wh, wc)

    dX, (dh0, dc0) = backprop((wY, (wh, wc)))
    # Padded steps produce zero output, so only real steps carry gradient.
    assert_grads_close(dX, numeric_grad(loss, X))
    assert_grads_close(dh0, numeric_grad(loss, h0))
    assert_grads_close(dc0, numeric_grad(loss, c0))
    for name in model.param_names:
        param = model.get_param(name)
        assert_grads_close(model.get_grad(name), numeric_grad(loss, param))


@pytest.mark.parametrize("ops_class", OPS_CLASSES)
def test_lstm_padded_steps_output_zero_and_keep_state(ops_class):
    model = make_lstm(ops_class(), depth=2)
    X, lengths, h0, c0 = random_inputs(5, 2, 2, [5, 2], 2, 3)
    X = X.astype("float32")
    (Y, (hT, cT)), _ = model((X, lengths, None), is_train=False)
    assert Y.shape == (5, 2, 3)
    assert numpy.all(Y[2:, 1] == 0)
    assert numpy.abs(Y[:, 0]).sum() > 0
    (Y_short, (h_short, c_short)), _ = model((X[:2, 1:], None, None), is_train=False)
    numpy.testing.assert_allclose(hT[:, 1], h_short[:, 0], rtol=1e-6)
    numpy.testing.assert_allclose(cT[:, 1], c_short[:, 0], rtol=1e-6)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_batched_equals_one_by_one(bidirectional):
    model = make_lstm(NumpyOps(), depth=2, bidirectional=bidirectional)
    lengths = [5, 1, 3]
    X, lens, _, _ = random_inputs(5, 3, 2, lengths, 1, 3)
    X = X.astype("float32")
    (Y, (hT, cT)), _ = model((X, lens, None), is_train=False)
    for b, length in enumerate(lengths):
        (Yb, (hb, cb)), _ = model((X[:length, b : b + 1], None, None), is_train=False)
        numpy.testing.assert_allclose(Y[:length, b], Yb[:, 0], rtol=1e-5, atol=1e-6)
        numpy.testing.assert_allclose(hT[:, b], hb[:, 0], rtol=1e-5, atol=1e-6)
        numpy.testing.assert_allclose(cT[:, b], cb[:, 0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("ops_class", OPS_CLASSES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_inference_over_sorted_rows_equals_the_masked_loop(ops_class, bidirectional):
    """Longest-first batches step only over running rows; an unsorted batch runs every row
    under the mask. Outputs and final states must agree."""
    model = make_lstm(ops_class(), depth=2, bidirectional=bidirectional)
    n_states = 4 if bidirectional else 2
    X, lengths, h0, c0 = random_inputs(6, 4, 2, [6, 4, 4, 0], n_states, 3)
    X, h0, c0 = X.astype("float32"), h0.astype("float32"), c0.astype("float32")
    (Y_fast, (h_fast, c_fast)), _ = model((X, lengths, (h0, c0)), is_train=False)
    order = [3, 0, 2, 1]
    (Y_mask, (h_mask, c_mask)), _ = model((X[:, order], lengths[order], (h0[:, order], c0[:, order])),
                                          is_train=False)
    back = numpy.argsort(order)
    Y_mask, h_mask, c_mask = Y_mask[:, back], h_mask[:, back], c_mask[:, back]
    numpy.testing.assert_allclose(Y_fast, Y_mask, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(h_fast, h_mask, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(c_fast, c_mask, rtol=1e-5, atol=1e-6)
    assert numpy.all(Y_fast[4:, 1:] == 0) and numpy.all(Y_fast[:, 3] == 0)
    numpy.testing.assert_array_equal(h_fast[:, 3], h0[:, 3])  # an empty row keeps its state


def test_lstm_step_equals_full_forward():
    model = make_lstm(NumpyOps(), depth=2)
    X, _, _, _ = random_inputs(6, 2, 2, [6, 6], 2, 3)
    X = X.astype("float32")
    (Y, (hT, cT)), _ = model((X, None, None), is_train=False)
    state = initial_state(model, 2)
    for t in range(6):
        y, state = lstm_step(model, X[t], state)
        numpy.testing.assert_allclose(y, Y[t], rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(state[0], hT, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(state[1], cT, rtol=1e-5, atol=1e-6)


def test_lstm_step_refuses_bidirectional():
    model = make_lstm(NumpyOps(), bidirectional=True)
    with pytest.raises(ValueError, match="unidirectional"):
        lstm_step(model, numpy.zeros((1, 2), dtype="float32"), initial_state(model, 1))


def test_lstm_carried_state_equals_one_long_window():
    model = make_lstm(NumpyOps(), depth=2)
    X, _, _, _ = random_inputs(8, 2, 2, [8, 8], 2, 3)
    X = X.astype("float32")
    (Y, (hT, cT)), _ = model((X, None, None), is_train=False)
    (Y1, state1), _ = model((X[:5], None, None), is_train=False)
    (Y2, (h2, c2)), _ = model((X[5:], None, state1), is_train=False)
    numpy.testing.assert_allclose(numpy.concatenate([Y1, Y2]), Y, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(h2, hT, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(c2, cT, rtol=1e-5, atol=1e-6)


def test_lstm_dropout_only_in_training_and_seeded():
    model = make_lstm(NumpyOps(), depth=2, dropout=0.5)
    X, _, _, _ = random_inputs(4, 2, 2, [4, 4], 2, 3)
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


def test_lstm_bad_state_and_lengths_raise_clear_errors():
    model = make_lstm(NumpyOps(), depth=2)
    X = numpy.zeros((3, 2, 2), dtype="float32")
    bad = numpy.zeros((1, 2, 3), dtype="float32")
    with pytest.raises(ValueError, match="state must have shape"):
        model((X, None, (bad, bad)), is_train=False)
    with pytest.raises(ValueError, match="lengths"):
        model((X, numpy.asarray([4, 1], dtype="int32"), None), is_train=False)


def test_lstm_invalid_settings():
    with pytest.raises(ValueError, match="depth"):
        LSTM(3, 2, depth=0)
    with pytest.raises(ValueError, match="dropout"):
        LSTM(3, 2, dropout=1.0)


def test_cpu_fast_path_matches_generic_ops():
    """float32 on NumpyOps runs the recurrence through BLIS; generic Ops through xp.matmul."""
    X, lengths, h0, c0 = random_inputs(6, 3, 2, [6, 2, 4], 2, 3)
    X, h0, c0 = X.astype("float32"), h0.astype("float32"), c0.astype("float32")
    outputs = []
    for ops in (NumpyOps(), Ops()):
        model = make_lstm(ops, depth=2)
        (Y, (hT, cT)), backprop = model((X, lengths, (h0, c0)), is_train=True)
        dX, (dh0, dc0) = backprop((numpy.ones_like(Y), None))
        outputs.append([Y, hT, cT, dX, dh0, dc0] + [model.get_grad(n) for n in model.param_names])
    for fast, generic in zip(*outputs):
        numpy.testing.assert_allclose(fast, generic, rtol=1e-4, atol=1e-5)
