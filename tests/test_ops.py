import numpy
import pytest
from thinc.api import NumpyOps, Ops

from spacy_lm.ops import log_softmax, softmax_cross_entropy

from .gradcheck import assert_grads_close, numeric_grad


@pytest.mark.parametrize("ops_class", [NumpyOps, Ops])
def test_softmax_cross_entropy_matches_log_softmax_and_gradient(ops_class):
    ops = ops_class()
    rng = numpy.random.default_rng(0)
    logits = rng.normal(size=(5, 7)) * 3
    targets = numpy.asarray([0, 6, 3, 3, 1], dtype="int32")
    weights = numpy.asarray([1.0, 1.0, 0.0, 1.0, 0.5])
    nll, d_logits = softmax_cross_entropy(ops, logits, targets, weights, grad_scale=0.25)
    expected = -log_softmax(ops, logits)[numpy.arange(5), targets] * (weights > 0)
    numpy.testing.assert_allclose(nll, expected, rtol=1e-10)

    def loss() -> float:
        lp = log_softmax(ops, logits)
        return float(-(lp[numpy.arange(5), targets] * weights).sum() * 0.25)

    assert_grads_close(d_logits, numeric_grad(loss, logits))
    assert numpy.all(d_logits[2] == 0)


def test_softmax_cross_entropy_overwrite_reuses_buffer_and_checks_shapes():
    ops = NumpyOps()
    logits = numpy.zeros((2, 4), dtype="float32")
    nll, grad = softmax_cross_entropy(ops, logits, numpy.asarray([1, 2]), overwrite=True)
    assert grad is logits
    numpy.testing.assert_allclose(nll, numpy.log(4.0), rtol=1e-6)
    with pytest.raises(ValueError, match="targets"):
        softmax_cross_entropy(ops, logits, numpy.asarray([1]))
