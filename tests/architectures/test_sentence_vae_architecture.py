"""spacy_lm.SentenceVAE.v1: gradients of the VAE contract (posterior, decode, start state),
checked against finite differences for each cell, conditioning and encoder direction."""
import numpy
import pytest
from thinc.api import Ops

from spacy_lm.architectures.sentence_vae import build_sentence_vae
from tests.gradcheck import assert_param_grads_match, to_float64

CASES = [("gru", "init", False, 1), ("lstm", "concat", True, 1), ("gru", "both", True, 2), ("lstm", "init", False, 2)]


def _model(cell, condition, bidirectional, depth, nV=7):
    model = build_sentence_vae(cell=cell, embed_size=3, width=4, latent_size=2, depth=depth,
                               bidirectional=bidirectional, condition=condition, dropout=0.0)
    model.set_dim("nV", nV)
    model.initialize()
    to_float64(model)
    for node in model.walk():  # Thinc's Linear calls BLIS gemm (float32 only) through NumpyOps
        node.ops = Ops()
    return model


@pytest.mark.parametrize("cell,condition,bidirectional,depth", CASES)
def test_vae_contract_gradients_match_finite_differences(cell, condition, bidirectional, depth):
    model = _model(cell, condition, bidirectional, depth)
    rng = numpy.random.default_rng(0)
    T, B = 4, 3
    ids = rng.integers(0, 7, (T, B)).astype("int32")
    lengths = numpy.asarray([4, 3, 1], dtype="int32")
    eps = rng.standard_normal((B, 2))
    w_hidden = rng.standard_normal((T, B, 4)) * (numpy.arange(T).reshape(T, 1, 1) < lengths.reshape(1, B, 1))
    w_mean, w_logvar = rng.standard_normal((B, 2)), rng.standard_normal((B, 2))

    def objective(backward: bool = False) -> float:
        (mean, logvar), bp_posterior = model.posterior(ids, lengths, True)
        std = numpy.exp(0.5 * logvar)
        z = mean + std * eps
        (hidden, _), bp_decode = model.decode(ids, lengths, z, True)
        if backward:
            dz = bp_decode(w_hidden)
            bp_posterior(w_mean + dz, w_logvar + dz * eps * 0.5 * std)
        return float((hidden * w_hidden).sum() + (mean * w_mean).sum() + (logvar * w_logvar).sum())

    checked = assert_param_grads_match(model, objective)
    # every layer took part: embedding, encoder, mean/logvar, decoder (and z -> hidden)
    assert checked >= (9 if condition != "concat" else 7)


@pytest.mark.parametrize("cell,condition,bidirectional,depth", CASES)
def test_step_equals_teacher_forced_decode(cell, condition, bidirectional, depth):
    model = _model(cell, condition, bidirectional, depth)
    rng = numpy.random.default_rng(1)
    ids = rng.integers(0, 7, (5, 2)).astype("int32")
    z = rng.standard_normal((2, 2))
    (hidden, final), _ = model.decode(ids, numpy.asarray([5, 5], dtype="int32"), z, False)
    state = model.start_state(z)
    for t in range(5):
        log_probs, state = model.step(ids[t], state)
        numpy.testing.assert_allclose(log_probs, model.log_probs(hidden[t]), rtol=1e-7, atol=1e-9)
    numpy.testing.assert_allclose(state[1], z)


def test_latent_state_select_and_concat_keep_z_with_its_row():
    model = _model("lstm", "both", False, 1)
    z = numpy.asarray([[1.0, 2.0], [3.0, 4.0]])
    state = model.start_state(z)
    picked = model.select_state(state, numpy.asarray([1, 1, 0], dtype="int32"))
    numpy.testing.assert_array_equal(picked[1], z[[1, 1, 0]])
    numpy.testing.assert_array_equal(picked[0][0][:, 0], state[0][0][:, 1])
    joined = model.concat_states([state, picked])
    assert joined[1].shape == (5, 2) and joined[0][0].shape[1] == 5


@pytest.mark.parametrize("setting,value", [("latent_size", 0), ("condition", "attention"), ("cell", "rnn"),
                                           ("width", 0), ("dropout", 1.0)])
def test_bad_settings_are_named(setting, value):
    with pytest.raises(ValueError, match=rf"\[E009\].*{setting}"):
        build_sentence_vae(**{setting: value})


def test_bidirectional_summary_reads_backward_state_after_the_first_token():
    """A padded row's summary does not depend on what the padding holds."""
    model = _model("gru", "init", True, 1)
    lengths = numpy.asarray([4, 2], dtype="int32")
    ids = numpy.asarray([[1, 2], [3, 4], [5, 0], [6, 0]], dtype="int32")
    other = ids.copy()
    other[2:, 1] = [6, 6]
    (mean_a, _), _ = model.posterior(ids, lengths, False)
    (mean_b, _), _ = model.posterior(other, lengths, False)
    numpy.testing.assert_allclose(mean_a, mean_b)
    alone = numpy.asarray([[2], [4]], dtype="int32")
    (mean_c, _), _ = model.posterior(alone, numpy.asarray([2], dtype="int32"), False)
    numpy.testing.assert_allclose(mean_a[1], mean_c[0], rtol=1e-10)
