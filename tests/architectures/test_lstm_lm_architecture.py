import numpy
import pytest
from thinc.api import Adam, fix_random_seed

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


# ---------------------------------------------------------------- v2: the output layer as a setting
import inspect  # noqa: E402

from spacy.util import registry  # noqa: E402

from spacy_lm.architectures.lstm_lm import build_lstm_language_model_v2  # noqa: E402

ADAPTIVE = {"output": "adaptive", "cutoffs": [3, 5], "div_value": 2.0}


def make_v2(nV=9, width=4, embed_size=None, tie_weights=None, depth=1, **settings):
    fix_random_seed(0)
    model = build_lstm_language_model_v2(width=width, depth=depth, embed_size=embed_size, dropout=0.0,
                                         tie_weights=tie_weights, **{**ADAPTIVE, **settings})
    model.set_dim("nV", nV)
    model.initialize()
    return model


def window_loss(model, ids, targets, grad_scale=1.0):
    (hidden, _), backprop = model.encode(ids, None, None, is_train=True)
    T, B, width = hidden.shape
    nll, d_hidden = model.loss(hidden.reshape(T * B, width), targets, grad_scale)
    backprop(d_hidden.reshape(T, B, width))
    return nll


def test_v1_keeps_its_signature_and_builds_v2s_full_model():
    assert list(inspect.signature(build_lstm_language_model).parameters) == [
        "width", "depth", "embed_size", "dropout", "tie_weights", "cell"]
    v1, v2 = make_model(), make_v2(nV=7, output="full", depth=2)
    assert [(n.name, n.param_names) for n in v1.walk()] == [(n.name, n.param_names) for n in v2.walk()]
    assert v1.get_ref("output").name == "output_softmax"


def test_v2_resolves_from_a_config():
    config = {"model": {"@architectures": "spacy_lm.LSTMLanguageModel.v2", "width": 4, "depth": 1, **ADAPTIVE}}
    model = registry.resolve(config)["model"]
    assert model.get_ref("output").name == "adaptive_softmax"
    assert model.get_ref("output").attrs["given_cutoffs"] == [3, 5]
    with pytest.raises(ValueError, match="output"):
        build_lstm_language_model_v2(output="sampled")


@pytest.mark.parametrize("tie_weights,embed_size", [(None, None), (False, 3)])
def test_adaptive_language_model_gradients_match_finite_differences(tie_weights, embed_size):
    model = make_v2(tie_weights=tie_weights, embed_size=embed_size)
    assert model.attrs["tied"] is (tie_weights is None)
    assert model.get_ref("output").has_ref("embedding") is (tie_weights is None)
    to_float64(model)
    ids = numpy.asarray([[1, 2], [3, 6], [4, 8]], dtype="int32")
    targets = numpy.asarray([2, 6, 3, 8, 0, 5], dtype="int32")  # head words and both clusters

    def loss() -> float:
        (hidden, _), _ = model.encode(ids, None, None, is_train=False)
        nll, _ = model.loss(hidden.reshape(6, -1), targets, 1.0)
        return float(nll.sum())

    window_loss(model, ids, targets)
    grads = {(node.id, name): node.get_grad(name).copy() for node in model.walk() for name in node.param_names}
    for node in model.walk():
        for name in node.param_names:
            assert_grads_close(grads[(node.id, name)], numeric_grad(loss, node.get_param(name)), rtol=1e-4)


def test_adaptive_language_model_trains_and_round_trips_bytes():
    model = make_v2(nV=9, width=8)
    rng = numpy.random.default_rng(0)
    ids = rng.integers(0, 9, size=(6, 4)).astype("int32")
    targets = numpy.roll(ids, -1, axis=0).reshape(-1)
    optimizer = Adam(0.05)
    losses = []
    for _ in range(40):
        losses.append(float(window_loss(model, ids, targets, 1.0 / targets.size).mean()))
        model.finish_update(optimizer)
    assert losses[-1] < 0.5 * losses[0]
    (hidden, _), _ = model.encode(ids, None, None, is_train=False)
    hidden = hidden.reshape(-1, 8)
    restored = make_v2(nV=9, width=8).from_bytes(model.to_bytes())
    assert restored.get_ref("output").get_ref("embedding") is restored.get_ref("embedding")
    (restored_hidden, _), _ = restored.encode(ids, None, None, is_train=False)
    numpy.testing.assert_array_equal(restored_hidden.reshape(-1, 8), hidden)
    numpy.testing.assert_array_equal(restored.log_probs(hidden), model.log_probs(hidden))
    for got, expected in zip(restored.score(hidden, targets), model.score(hidden, targets)):
        numpy.testing.assert_array_equal(got, expected)


def test_adaptive_step_and_scores_match_the_full_log_probs():
    model = make_v2()
    ids = numpy.asarray([[1], [5], [7], [2]], dtype="int32")
    (log_probs, _), _ = model((ids, None, None), is_train=False)
    numpy.testing.assert_allclose(numpy.exp(log_probs).sum(axis=1), 1, rtol=1e-5)
    state = model.initial_state(1)
    for t in range(4):
        step_log_probs, state = model.step(ids[t], state)
        numpy.testing.assert_allclose(step_log_probs, log_probs[t : t + 1], rtol=1e-5, atol=1e-6)
    (hidden, _), _ = model.encode(ids, None, None, is_train=False)
    targets = numpy.asarray([5, 7, 2, 8], dtype="int32")
    nll, correct = model.score(hidden.reshape(4, -1), targets)
    numpy.testing.assert_allclose(nll, -log_probs[numpy.arange(4), targets], rtol=1e-5)
    numpy.testing.assert_array_equal(correct, log_probs.argmax(axis=1) == targets)


def test_adaptive_cutoffs_follow_the_vocabulary_size():
    """Cutoffs at or above nV are dropped at initialization; a small vocabulary gets the full head."""
    for nV, expected in [(9, [3, 5]), (5, [3]), (3, [])]:
        model = make_v2(nV=nV)
        assert model.get_ref("output").attrs["cutoffs"] == expected
        ids = numpy.asarray([[1, 2], [0, 1]], dtype="int32")
        (log_probs, _), _ = model((ids, None, None), is_train=False)
        assert log_probs.shape == (4, nV)
        numpy.testing.assert_allclose(numpy.exp(log_probs).sum(axis=1), 1, rtol=1e-5)
        window_loss(model, ids, numpy.asarray([1, 2, 0, 1], dtype="int32"))
    with pytest.raises(ValueError, match=r"E260.*\[5, 3\]"):
        build_lstm_language_model_v2(output="adaptive", cutoffs=[5, 3])


@pytest.mark.parametrize("setting,value", [("width", 0), ("width", -3), ("depth", 0), ("depth", 1.5),
                                           ("embed_size", 0), ("embed_size", -1), ("width", True)])
def test_sizes_must_be_positive_integers(setting, value):
    """A clear E009 naming the setting, not a ZeroDivisionError or numpy's negative dimensions."""
    with pytest.raises(ValueError, match=rf"E009.*{setting}"):
        model = build_lstm_language_model_v2(**{setting: value})
        model.set_dim("nV", 7)
        model.initialize()
