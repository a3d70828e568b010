"""SequenceLSTM, MeanMaxPool and AttentionPool: shapes, empty docs, finite-difference gradients."""
import numpy
import pytest
from thinc.api import NumpyOps, Ops, fix_random_seed

from spacy_lm.layers.sequence import AttentionPool, MeanMaxPool, SequenceLSTM

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
