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


# ---------------------------------------------------------------- vocabulary growth (ULMFiT)
# The output layer as grown: "full", "adaptive" (cutoffs [3, 5]: the head, cluster [3, 5) and the
# last cluster [5, nV), which the new ids join) and "adaptive-head" (no cutoff below nV: the head
# is a full softmax over nV and grows as one).
GROWTH_OUTPUTS = {"full": {"output": "full"}, "adaptive": ADAPTIVE,
                  "adaptive-head": {**ADAPTIVE, "cutoffs": [20]}}
OLD_IDS = numpy.asarray([[1, 4], [5, 8], [7, 2], [2, 3]], dtype="int32")  # (T=4, B=2), old words only
OLD_TARGETS = numpy.asarray([5, 8, 7, 2, 2, 3, 3, 6], dtype="int32")  # the head and both clusters


def make_trained(output, tied, cell, nV=9, steps=3):
    """A small v2 model after a few Adam steps (so biases and rows are no longer their init)."""
    embed_size = None if tied else 3
    model = make_v2(nV=nV, width=4, embed_size=embed_size, tie_weights=None if tied else False, cell=cell,
                    **GROWTH_OUTPUTS[output])
    optimizer = Adam(0.05)
    for _ in range(steps):
        window_loss(model, OLD_IDS, OLD_TARGETS)
        model.finish_update(optimizer)
    return model


def hidden_rows(model, ids=OLD_IDS):
    (hidden, _), _ = model.encode(ids, None, None, is_train=False)
    return hidden.reshape(-1, hidden.shape[-1])


def logsumexp(values):
    return numpy.logaddexp.reduce(values.astype("float64"), axis=1)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("output", list(GROWTH_OUTPUTS))
def test_grown_vocabulary_keeps_the_old_words_and_starts_new_ones_at_the_mean(output, tied, cell):
    model = make_trained(output, tied, cell)
    embedding, out = model.get_ref("embedding"), model.get_ref("output")
    before = {(node.id, name): node.get_param(name).copy() for node in model.walk() for name in node.param_names}
    hidden = hidden_rows(model)
    old_lp = model.log_probs(hidden)
    old_nll, _ = model.score(hidden, OLD_TARGETS)
    model.grow_vocabulary(12)
    assert model.get_dim("nV") == embedding.get_dim("nV") == out.get_dim("nO") == 12

    # (b) every param keeps its trained values; the grown ones gain rows, each the mean of the old rows
    grown = set()
    for node in model.walk():
        for name in node.param_names:
            old, new = before[(node.id, name)], node.get_param(name)
            numpy.testing.assert_array_equal(new[: old.shape[0]], old)
            if new.shape != old.shape:
                grown.add(f"{node.name}.{name}")
                assert new.shape[0] - old.shape[0] == 3 and new.shape[1:] == old.shape[1:]
                for row in new[old.shape[0]:]:
                    numpy.testing.assert_allclose(row, old.mean(axis=0), rtol=1e-6, atol=1e-7)
    expected = {"token_embedding.E"}
    if output == "adaptive":
        expected.add("adaptive_softmax.T1")  # the last cluster's rows; the head and P1 unchanged
    elif output == "full":
        expected |= {"output_softmax.b"} | (set() if tied else {"output_softmax.W"})
    elif not tied:
        expected.add("adaptive_softmax.W")  # no head bias by default
    assert grown == expected

    # (a) the hidden states are those of before; what the old words score is as explained below
    new_hidden = hidden_rows(model)
    numpy.testing.assert_array_equal(new_hidden, hidden)
    new_lp = model.log_probs(hidden)
    assert new_lp.shape == (8, 12)
    numpy.testing.assert_allclose(numpy.exp(new_lp).sum(axis=1), 1, rtol=1e-5)
    new_nll, _ = model.score(hidden, OLD_TARGETS)
    if output == "adaptive":
        # The head (its words and one logit per cluster) is untouched: head words and the first
        # cluster keep their log-probs exactly. The last cluster keeps its probability, now shared
        # with the new words; within its old words the distribution is unchanged.
        c = 5
        numpy.testing.assert_allclose(new_lp[:, :c], old_lp[:, :c], atol=1e-6)
        numpy.testing.assert_allclose(logsumexp(new_lp[:, c:]), logsumexp(old_lp[:, c:]), atol=1e-6)
        shared = logsumexp(new_lp[:, c:9]) - logsumexp(old_lp[:, c:])
        assert (shared < -1e-3).all()  # so the old words of the last cluster did lose probability
        numpy.testing.assert_allclose(new_lp[:, c:9], old_lp[:, c:] + shared[:, None], atol=1e-5)
        in_last = OLD_TARGETS >= c
        numpy.testing.assert_allclose(new_nll[~in_last], old_nll[~in_last], atol=1e-6)
        numpy.testing.assert_allclose(new_nll[in_last], old_nll[in_last] - shared[in_last], atol=1e-5)
    else:
        # A full softmax: the old words' logits are unchanged and each new word's logit is their
        # mean (mean rows of W and b); the normaliser grows, so every old log-prob drops by one
        # per-row constant, the log of the probability left to the old words.
        old_mass = logsumexp(new_lp[:, :9])
        assert (old_mass < -1e-3).all()
        numpy.testing.assert_allclose(new_lp[:, :9], old_lp + old_mass[:, None], atol=1e-5)
        numpy.testing.assert_allclose(new_nll, old_nll - old_mass, atol=1e-5)
        centred = new_lp - new_lp[:, :9].mean(axis=1, keepdims=True)
        numpy.testing.assert_allclose(centred[:, 9:], 0, atol=1e-5)  # logit(new) = mean old logit

    # (c) tied weights stay one table: the output reads the grown embedding's array
    assert out.has_ref("embedding") is tied
    if tied:
        assert out.get_ref("embedding") is embedding
        E = embedding.get_param("E")
        assert E.shape == (12, 4)
        E[...] *= 2.0
        assert not numpy.allclose(model.log_probs(hidden)[:, :3], new_lp[:, :3])

    # new ids are trainable words: steps on text that uses them lower their loss
    ids = numpy.asarray([[9, 10], [10, 11], [11, 9], [1, 10]], dtype="int32")
    targets = numpy.asarray([10, 11, 11, 9, 1, 10, 9, 11], dtype="int32")
    optimizer = Adam(0.05)
    losses = []
    for _ in range(15):
        losses.append(float(window_loss(model, ids, targets).mean()))
        model.finish_update(optimizer)
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize("output,tied,cell", [("full", True, "lstm"), ("adaptive", True, "gru"),
                                              ("adaptive", False, "lstm"), ("adaptive-head", True, "lstm")])
def test_grown_model_gradients_match_finite_differences(output, tied, cell):
    model = make_trained(output, tied, cell)
    model.grow_vocabulary(11)
    to_float64(model)
    ids = numpy.asarray([[1, 9], [10, 6], [4, 8]], dtype="int32")
    targets = numpy.asarray([10, 6, 9, 8, 0, 10], dtype="int32")  # old and new ids, head and clusters

    def loss() -> float:
        (hidden, _), _ = model.encode(ids, None, None, is_train=False)
        nll, _ = model.loss(hidden.reshape(6, -1), targets, 1.0)
        return float(nll.sum())

    window_loss(model, ids, targets)
    grads = {(node.id, name): node.get_grad(name).copy() for node in model.walk() for name in node.param_names}
    for node in model.walk():
        for name in node.param_names:
            assert_grads_close(grads[(node.id, name)], numeric_grad(loss, node.get_param(name)), rtol=1e-4)


@pytest.mark.parametrize("output,cutoffs", [("full", None), ("adaptive", [3, 5]), ("adaptive", [10])])
def test_grown_model_round_trips_bytes_into_a_model_sized_from_the_vocabulary(output, cutoffs):
    """As a component loads it: built from the config, nV set to the saved vocabulary's size, then
    the bytes. Cutoffs [10] are resolved to none for 9 ids and stay so when grown to 12 (a model
    initialized for 12 ids would have a cluster at 10): the saved cutoffs hold."""
    settings = GROWTH_OUTPUTS[output] if cutoffs is None else {**ADAPTIVE, "cutoffs": cutoffs}
    model = make_v2(nV=9, width=4, **settings)
    model.grow_vocabulary(12)
    window_loss(model, OLD_IDS, OLD_TARGETS + 3)
    model.finish_update(Adam(0.05))
    fix_random_seed(1)
    restored = build_lstm_language_model_v2(width=4, depth=1, dropout=0.0, **settings)
    restored.set_dim("nV", 12)
    restored.from_bytes(model.to_bytes())
    if output == "adaptive":
        assert restored.get_ref("output").attrs["cutoffs"] == model.get_ref("output").attrs["cutoffs"]
    assert restored.get_ref("output").get_ref("embedding") is restored.get_ref("embedding")
    hidden = hidden_rows(model)
    numpy.testing.assert_array_equal(hidden_rows(restored), hidden)
    numpy.testing.assert_array_equal(restored.log_probs(hidden), model.log_probs(hidden))
    restored.grow_vocabulary(13)  # and grows again
    assert restored.log_probs(hidden).shape == (8, 13)


def test_grow_vocabulary_errors():
    model = make_v2(nV=9)
    model.grow_vocabulary(9)  # the same size: nothing to do
    assert model.get_ref("embedding").get_param("E").shape[0] == 9
    with pytest.raises(ValueError, match=r"E314.*grow_vocabulary\(8\).*nV = 9.*only grows"):
        model.grow_vocabulary(8)
    with pytest.raises(ValueError, match=r"E009.*new_size"):
        model.grow_vocabulary(10.5)
    unready = build_lstm_language_model_v2(width=4, depth=1)
    with pytest.raises(ValueError, match=r"E314.*not initialized"):
        unready.grow_vocabulary(12)
    unready.set_dim("nV", 9)
    with pytest.raises(ValueError, match=r"E314.*not initialized"):
        unready.grow_vocabulary(12)


@pytest.mark.gpu
@pytest.mark.parametrize("output", list(GROWTH_OUTPUTS))
def test_grow_vocabulary_on_cupy_ops_matches_numpy_ops(output):
    from thinc.api import use_ops

    cpu = make_trained(output, True, "lstm")
    with use_ops("cupy"):
        gpu = build_lstm_language_model_v2(width=4, depth=1, dropout=0.0, **GROWTH_OUTPUTS[output])
    gpu.set_dim("nV", 9)
    gpu.from_bytes(cpu.to_bytes())
    cpu.grow_vocabulary(12)
    gpu.grow_vocabulary(12)
    assert type(gpu.get_ref("embedding").get_param("E")) is not numpy.ndarray
    numpy.testing.assert_allclose(gpu.ops.to_numpy(gpu.get_ref("embedding").get_param("E")),
                                  cpu.get_ref("embedding").get_param("E"), rtol=1e-6)
    hidden = hidden_rows(cpu)
    numpy.testing.assert_allclose(gpu.ops.to_numpy(gpu.log_probs(gpu.ops.asarray(hidden))), cpu.log_probs(hidden),
                                  rtol=1e-5, atol=1e-5)
