import numpy
import pytest
from thinc.api import fix_random_seed

from spacy_lm.architectures.lstm_lm import build_lstm_language_model
from spacy_lm.ops import log_softmax, softmax_cross_entropy

from ..gradcheck import assert_grads_close, numeric_grad, to_float64


def make_model(tie_weights=None, embed_size=None, depth=2):
    fix_random_seed(0)
    model = build_lstm_language_model(width=4, depth=depth, embed_size=embed_size, dropout=0.0,
                                      tie_weights=tie_weights)
    model.set_dim("nV", 7)
    model.initialize()
    return model


@pytest.mark.parametrize("tie_weights,embed_size", [(None, None), (False, 3)])
def test_language_model_gradients_match_finite_differences(tie_weights, embed_size):
    model = make_model(tie_weights, embed_size)
    assert model.attrs["tied"] is (tie_weights is None)
    to_float64(model)
    ids = numpy.asarray([[1, 2], [3, 0], [4, 0]], dtype="int32")
    lengths = numpy.asarray([3, 1], dtype="int32")
    targets = numpy.asarray([2, 5, 3, 0, 6, 0], dtype="int32")
    weights = numpy.asarray([1, 1, 1, 0, 1, 0], dtype="float64")

    def loss() -> float:
        (logits, _), _ = model((ids, lengths, None), is_train=False)
        nll, _ = softmax_cross_entropy(model.ops, logits, targets, weights)
        return float(nll.sum())

    (logits, _), backprop = model((ids, lengths, None), is_train=True)
    _, d_logits = softmax_cross_entropy(model.ops, logits, targets, weights)
    backprop((d_logits, None))
    checked = 0
    for node in model.walk():
        for name in node.param_names:
            assert_grads_close(node.get_grad(name), numeric_grad(loss, node.get_param(name)), rtol=1e-4)
            checked += 1
    assert checked >= 8


def test_tied_weights_share_one_table():
    model = make_model()
    output = model.get_ref("output")
    assert not output.has_param("W")
    E = model.get_ref("embedding").get_param("E")
    (logits, _), _ = model((numpy.asarray([[1]], dtype="int32"), None, None), is_train=False)
    assert logits.shape == (1, 7)
    E[...] = 0
    (logits, _), _ = model((numpy.asarray([[1]], dtype="int32"), None, None), is_train=False)
    numpy.testing.assert_allclose(logits, 0)


def test_tie_weights_needs_matching_sizes_and_vocab_size():
    with pytest.raises(ValueError, match="embed_size == width"):
        build_lstm_language_model(width=4, embed_size=3, tie_weights=True)
    model = build_lstm_language_model(width=4)
    with pytest.raises(ValueError, match="nV"):
        model.initialize()


def test_lm_step_matches_full_forward():
    model = make_model()
    ids = numpy.asarray([[1], [2], [3], [4]], dtype="int32")
    (logits, _), _ = model((ids, None, None), is_train=False)
    state = model.initial_state(1)
    for t in range(4):
        step_log_probs, state = model.step(ids[t], state)
        numpy.testing.assert_allclose(step_log_probs, log_softmax(model.ops, logits[t : t + 1]), rtol=1e-5, atol=1e-6)
