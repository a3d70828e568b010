"""with_time_major / SequenceLSTM, MeanMaxPool, ConcatPool and AttentionPool: shapes, empty docs,
finite-difference gradients; with_time_major over an LSTM is SequenceLSTM, over any cell the
cell run doc by doc."""
import importlib.util

import numpy
import pytest
from thinc.api import Linear, NumpyOps, Ops, fix_random_seed

from spacy_lm.layers.lstm import LSTM
from spacy_lm.layers.cells import build_cell
from spacy_lm.layers.sequence import AttentionPool, ConcatPool, MeanMaxPool, SequenceLSTM, with_time_major

from ..gradcheck import assert_grads_close, numeric_grad, to_float64

OPS_CLASSES = [NumpyOps, Ops]


def _set_ops(model, ops):
    for node in model.walk():
        node.ops = ops


def _docs(lengths, nI, seed=1):
    rng = numpy.random.default_rng(seed)
    return [rng.normal(size=(n, nI)) for n in lengths]


def _check_layer(model, Xs, out_is_list):
    rng = numpy.random.default_rng(3)
    Y, backprop = model(Xs, is_train=True)
    if out_is_list:
        W = [rng.normal(size=y.shape) for y in Y]

        def loss():
            return float(sum((y * w).sum() for y, w in zip(model(Xs, is_train=False)[0], W)))
    else:
        W = rng.normal(size=Y.shape)

        def loss():
            return float((model(Xs, is_train=False)[0] * W).sum())

    dXs = backprop(W)
    for X, dX in zip(Xs, dXs):
        assert dX.shape == X.shape
        if X.size:
            assert_grads_close(dX, numeric_grad(loss, X))
    for node in model.walk():
        for name in node.param_names:
            if node.has_grad(name):
                assert_grads_close(node.get_grad(name), numeric_grad(loss, node.get_param(name)))


@pytest.mark.parametrize("ops_class", OPS_CLASSES)
def test_sequence_lstm_gradients(ops_class):
    fix_random_seed(0)
    model = SequenceLSTM(2, 3, depth=1, bidirectional=True)
    _set_ops(model, ops_class())
    model.initialize()
    to_float64(model)
    Xs = _docs([3, 0, 1], 3)
    Ys, _ = model(Xs, is_train=False)
    assert [y.shape for y in Ys] == [(3, 4), (0, 4), (1, 4)]
    _check_layer(model, Xs, out_is_list=True)


def test_sequence_lstm_batch_equals_unbatched():
    fix_random_seed(0)
    model = SequenceLSTM(4, 3, depth=2, bidirectional=True)
    model.initialize()
    Xs = [x.astype("float32") for x in _docs([5, 2, 4], 3)]
    batched, _ = model(Xs, is_train=False)
    for X, Y in zip(Xs, batched):
        alone, _ = model([X], is_train=False)
        numpy.testing.assert_allclose(alone[0], Y, rtol=1e-5, atol=1e-6)


def test_sequence_lstm_all_empty():
    model = SequenceLSTM(2, 3)
    model.initialize()
    Ys, backprop = model([numpy.zeros((0, 3), dtype="f")] * 2, is_train=True)
    assert [y.shape for y in Ys] == [(0, 4), (0, 4)]
    assert [d.shape for d in backprop(Ys)] == [(0, 3), (0, 3)]


HAS_GRU = importlib.util.find_spec("spacy_lm.layers.gru") is not None
CELLS = ["lstm", pytest.param("gru", marks=pytest.mark.skipif(not HAS_GRU, reason="spacy_lm/layers/gru.py not there yet"))]


def test_with_time_major_over_lstm_is_sequence_lstm():
    """Same node tree (so saved SequenceLSTM weights load) and, with the same weights, the same output."""
    fix_random_seed(0)
    old = SequenceLSTM(3, 4, depth=2, bidirectional=True, dropout=0.1)
    new = with_time_major(LSTM(3, 4, depth=2, bidirectional=True, dropout=0.1))
    assert [n.name for n in new.walk()] == [n.name for n in old.walk()] == ["sequence_lstm", "lstm"]
    assert new.get_ref("lstm") is new.layers[0] and new.get_dim("nO") == old.get_dim("nO") == 6
    old.initialize()
    new.initialize()
    new.from_bytes(old.to_bytes())
    Xs = [x.astype("float32") for x in _docs([5, 0, 2, 4], 4)]
    for Y_old, Y_new in zip(old(Xs, is_train=False)[0], new(Xs, is_train=False)[0]):
        numpy.testing.assert_array_equal(Y_old, Y_new)


@pytest.mark.parametrize("cell", CELLS)
def test_with_time_major_equals_the_cell_doc_by_doc(cell):
    """The padded, longest-first batch gives each doc what the cell gives it alone (time-major, B=1)."""
    fix_random_seed(0)
    rnn = build_cell(cell, 3, 4, depth=2, bidirectional=True)
    model = with_time_major(rnn)
    model.initialize()
    Xs = [x.astype("float32") for x in _docs([2, 5, 0, 4], 4)]
    Ys, _ = model(Xs, is_train=False)
    for X, Y in zip(Xs, Ys):
        assert Y.shape == (X.shape[0], 6)
        if X.shape[0]:
            (alone, _), _ = rnn((X.reshape(X.shape[0], 1, 4), None, None), False)
            numpy.testing.assert_allclose(Y, alone[:, 0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", CELLS)
def test_with_time_major_gradients(cell):
    fix_random_seed(0)
    model = with_time_major(build_cell(cell, 2, 3, depth=1, bidirectional=True))
    model.initialize()
    to_float64(model)
    _check_layer(model, _docs([3, 0, 1], 3), out_is_list=True)


def test_with_time_major_needs_a_recurrent_cell():
    with pytest.raises(ValueError, match=r"E046.*'linear'.*bidirectional"):
        with_time_major(Linear(2, 3))


@pytest.mark.parametrize("ops_class", OPS_CLASSES)
def test_mean_max_pool_gradients(ops_class):
    model = MeanMaxPool(3)
    _set_ops(model, ops_class())
    model.initialize()
    Xs = _docs([4, 0, 2], 3)
    Y, _ = model(Xs, is_train=False)
    assert Y.shape == (3, 6)
    numpy.testing.assert_allclose(Y[0, :3], Xs[0].mean(axis=0))
    numpy.testing.assert_allclose(Y[0, 3:], Xs[0].max(axis=0))
    assert not Y[1].any()
    _check_layer(model, Xs, out_is_list=False)


@pytest.mark.parametrize("ops_class", OPS_CLASSES)
def test_attention_pool_gradients(ops_class):
    model = AttentionPool(3)
    _set_ops(model, ops_class())
    model.initialize()
    Xs = _docs([4, 0, 2], 3)
    Y, _ = model(Xs, is_train=False)
    # q starts at zero: uniform weights, i.e. the mean.
    numpy.testing.assert_allclose(Y[0], Xs[0].mean(axis=0))
    assert Y.shape == (3, 3) and not Y[1].any()
    model.set_param("q", numpy.asarray([0.5, -1.0, 0.3]))
    _check_layer(model, Xs, out_is_list=False)


@pytest.mark.parametrize("ops_class", OPS_CLASSES)
@pytest.mark.parametrize("directions", [1, 2])
def test_concat_pool_gradients(ops_class, directions):
    model = ConcatPool(4, directions=directions)
    _set_ops(model, ops_class())
    model.initialize()
    Xs = _docs([4, 0, 1, 3], 4)
    Y, _ = model(Xs, is_train=False)
    assert Y.shape == (4, 12) and model.get_dim("nO") == 12
    half = 2 if directions == 2 else 4
    # last: the forward half at the final row; the backward half (if any) at the first row
    numpy.testing.assert_allclose(Y[0, :half], Xs[0][-1, :half])
    numpy.testing.assert_allclose(Y[0, half:4], Xs[0][0, half:])
    numpy.testing.assert_allclose(Y[3, 4:8], Xs[3].mean(axis=0))
    numpy.testing.assert_allclose(Y[3, 8:], Xs[3].max(axis=0))
    assert not Y[1].any()
    _check_layer(model, Xs, out_is_list=False)


def test_concat_pool_rejects_bad_directions():
    with pytest.raises(ValueError, match=r"E009.*directions.*3"):
        ConcatPool(4, directions=3)
    model = ConcatPool(3, directions=2)
    model.initialize()
    with pytest.raises(ValueError, match=r"E009.*even"):
        model(_docs([2], 3), is_train=False)
