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
