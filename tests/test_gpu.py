"""GPU tests: run with `pytest --gpu` on a machine with CuPy (benchmarks/gpu_check.sh does)."""
import numpy
import pytest

from .gradcheck import assert_grads_close, numeric_grad, to_float64


@pytest.mark.gpu
@pytest.mark.parametrize("depth,bidirectional", [(2, False), (1, True)])
def test_lstm_gradients_on_cupy_ops(depth, bidirectional):
    from thinc.api import CupyOps

    from spacy_lm.layers.lstm import LSTM

    ops = CupyOps()
    model = LSTM(3, 2, depth=depth, bidirectional=bidirectional)
    model.ops = ops
    model.initialize()
    to_float64(model)
    xp = ops.xp
    dirs = 2 if bidirectional else 1
    rng = numpy.random.default_rng(0)
    X = xp.asarray(rng.normal(size=(4, 2, 2)))
    lengths = xp.asarray([4, 2], dtype="int32")
    wY = xp.asarray(rng.normal(size=(4, 2, 3 * dirs)))
    (Y, _), backprop = model((X, lengths, None), is_train=True)
    dX, _ = backprop((wY, None))

    def loss() -> float:
        (Y, _), _ = model((X, lengths, None), is_train=False)
        return float((Y * wY).sum())

    X_host = ops.to_numpy(X)

    def loss_host() -> float:
        X[...] = xp.asarray(X_host)
        return loss()

    numeric = numeric_grad(loss_host, X_host)
    assert_grads_close(ops.to_numpy(dX), numeric)
    for name in model.param_names:
        param = model.get_param(name)
        host = ops.to_numpy(param)

        def loss_param() -> float:
            param[...] = xp.asarray(host)
            return loss()

        assert_grads_close(ops.to_numpy(model.get_grad(name)), numeric_grad(loss_param, host))
        param[...] = xp.asarray(host)


@pytest.mark.gpu
def test_lstm_lm_component_trains_on_gpu():
    from thinc.api import require_gpu, use_ops

    require_gpu()
    from .conftest import train_tiny_lm

    nlp, history = train_tiny_lm(n_steps=20)
    assert history[-1] < history[0]
    assert nlp("the cat sat")._.lm_perplexity is not None
    use_ops("numpy")


@pytest.mark.gpu
@pytest.mark.parametrize("layer_name", ["SequenceLSTM", "MeanMaxPool", "AttentionPool"])
def test_sequence_layers_match_numpy_on_cupy_ops(layer_name):
    """Same forward and backward on CupyOps as on NumpyOps (empty docs included)."""
    from thinc.api import CupyOps, NumpyOps

    from spacy_lm.layers import sequence

    make = getattr(sequence, layer_name)
    rng = numpy.random.default_rng(0)
    host = [rng.normal(size=(n, 4)).astype("float32") for n in (3, 0, 5)]
    results = []
    for ops in (NumpyOps(), CupyOps()):
        model = make(3, 4) if layer_name == "SequenceLSTM" else make(4)
        for node in model.walk():
            node.ops = ops
        model.initialize()
        if results:  # same parameters on both
            for node, ref in zip(model.walk(), results[0][2]):
                for name, value in ref.items():
                    node.set_param(name, ops.asarray(value))
        if layer_name == "AttentionPool" and not results:
            model.set_param("q", ops.asarray([0.5, -1.0, 0.3, 0.2], dtype="float32"))
        Xs = [ops.asarray(x) for x in host]
        Y, backprop = model(Xs, is_train=True)
        dY = [ops.xp.ones_like(y) for y in Y] if isinstance(Y, list) else ops.xp.ones_like(Y)
        dXs = backprop(dY)
        params = [{n: ops.to_numpy(node.get_param(n)) for n in node.param_names} for node in model.walk()]
        Y_host = [ops.to_numpy(y) for y in Y] if isinstance(Y, list) else [ops.to_numpy(Y)]
        results.append((Y_host, [ops.to_numpy(d) for d in dXs], params))
    (Y0, d0, _), (Y1, d1, _) = results
    for a, b in zip(Y0 + d0, Y1 + d1):
        numpy.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
def test_textcat_with_lm_listener_trains_on_gpu():
    from thinc.api import require_gpu, use_ops

    require_gpu()
    from .pipeline.test_lstm_lm_listener import test_frozen_lm_gets_no_gradient, test_overfitting_IO_joint, TRAIN

    try:
        test_overfitting_IO_joint("textcat", TRAIN, True)
        test_frozen_lm_gets_no_gradient()
    finally:
        use_ops("numpy")
