"""The `sentence_vae` component: training, annotations, generation through the one decoder,
save/load, and clear errors. Tiny models trained here (well under a second each)."""
import math

import numpy
import pytest
import spacy
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

from spacy_lm import decoding
from spacy_lm.types import is_language_model

TEXTS = ["a dog runs in the park", "the cat sleeps on a mat", "a man rides a red bike", "two girls play in the sand",
         "the dog eats red food", "a woman reads a book", "the man sleeps in the sand", "a cat plays with a dog"]
CONFIG = {"model": {"width": 24, "embed_size": 12, "latent_size": 4, "dropout": 0.0}, "word_dropout": 0.0,
          "nll_samples": 3, "kl_annealing": {"@schedules": "constant.v1", "rate": 0.1}}


def make_vae(config=None, texts=TEXTS):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    vae = nlp.add_pipe("sentence_vae", config={**CONFIG, **(config or {})})
    examples = [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in texts]
    nlp.initialize(lambda: examples)
    return nlp, vae, examples


def train(nlp, examples, steps=80, learn_rate=0.02):
    optimizer = Adam(learn_rate, use_averages=False)
    history = []
    for _ in range(steps):
        history.append(nlp.update(examples, sgd=optimizer, losses={}))
    return history


@pytest.fixture(scope="module")
def trained():
    nlp, vae, examples = make_vae()
    history = train(nlp, examples)
    return nlp, vae, history


def test_training_lowers_the_elbo_and_reports_its_parts(trained):
    _, _, history = trained
    first, last = history[0], history[-1]
    assert last["sentence_vae"] < 0.3 * first["sentence_vae"]
    for losses in (first, last):
        assert losses["sentence_vae"] == pytest.approx(losses["sentence_vae_rec"] + 0.1 * losses["sentence_vae_kl"],
                                                       rel=1e-5)
    assert last["sentence_vae_kl"] > 1.0  # the latent code is used: no collapse here


def test_reconstruction_uses_z(trained):
    _, vae, _ = trained
    reconstructions = vae.reconstruct(TEXTS)
    assert sum(r == t for r, t in zip(reconstructions, TEXTS)) >= 6
    # decoded from the prior mean (z = 0) every sentence would be the same
    assert len(set(reconstructions)) >= 6


def test_annotations_pipe_equals_call_and_survive_docbin(trained):
    nlp, _, _ = trained
    piped = list(nlp.pipe(TEXTS[:4], batch_size=3))
    for text, doc in zip(TEXTS[:4], piped):
        alone = nlp(text)
        assert len(doc._.vae_mean) == 4 and len(doc._.vae_logvar) == 4
        numpy.testing.assert_allclose(doc._.vae_mean, alone._.vae_mean, rtol=1e-5, atol=1e-6)
        assert doc._.vae_nll == pytest.approx(alone._.vae_nll, rel=1e-5)
        assert doc._.vae_n_tokens == len(text.split()) + 1
        assert doc._.vae_vector.shape == (4,)
    restored = list(DocBin(docs=piped, store_user_data=True).get_docs(nlp.vocab))
    assert [list(d._.vae_mean) for d in restored] == [d._.vae_mean for d in piped]
    assert [d._.vae_nll for d in restored] == [d._.vae_nll for d in piped]


def test_n_process_2_gives_the_same_annotations(trained):
    nlp, _, _ = trained
    single = [d._.vae_mean for d in nlp.pipe(TEXTS[:4])]
    multi = [d._.vae_mean for d in nlp.pipe(TEXTS[:4], n_process=2, batch_size=2)]
    numpy.testing.assert_allclose(multi, single, rtol=1e-5, atol=1e-6)


def test_empty_doc_gets_no_annotations(trained):
    nlp, _, _ = trained
    doc = nlp("   ")
    assert doc._.vae_mean is None and doc._.vae_nll is None and doc._.vae_vector is None


def test_save_load_identical(trained, tmp_path):
    nlp, vae, _ = trained
    nlp.to_disk(tmp_path / "vae")
    loaded = spacy.load(tmp_path / "vae")
    other = loaded.get_pipe("sentence_vae")
    assert loaded(TEXTS[0])._.vae_mean == nlp(TEXTS[0])._.vae_mean
    assert other.sample(3, seed=2) == vae.sample(3, seed=2)
    assert other.evaluate_docs(TEXTS, iw_samples=4) == vae.evaluate_docs(TEXTS, iw_samples=4)
    restored = nlp.get_pipe("sentence_vae").from_bytes(vae.to_bytes())
    assert restored.reconstruct(TEXTS[:2]) == vae.reconstruct(TEXTS[:2])


def test_evaluate_docs_scores(trained):
    _, vae, _ = trained
    scores = vae.evaluate_docs(TEXTS + ["  "], iw_samples=20)
    assert scores["vae_n_sentences"] == len(TEXTS)
    assert scores["vae_n_tokens"] == sum(len(t.split()) + 1 for t in TEXTS)
    assert scores["vae_elbo"] == pytest.approx(-(scores["vae_rec_nll"] + scores["vae_kl"]))
    # the importance-weighted bound is tighter than the ELBO (here by a wide margin)
    assert scores["vae_iw_nll"] < -scores["vae_elbo"]
    total = scores["vae_iw_nll"] * scores["vae_n_sentences"]
    assert scores["vae_perplexity"] == pytest.approx(math.exp(total / scores["vae_n_tokens"]))
    assert scores["vae_active_units"] >= 2 and scores["vae_mi"] > 0.5
    assert vae.evaluate_docs(["  "])["vae_iw_nll"] is None


def test_scorer_in_training_loop(trained):
    nlp, _, _ = trained
    scores = nlp.evaluate([Example(nlp.make_doc(t), nlp.make_doc(t)) for t in TEXTS])
    assert math.isfinite(scores["vae_iw_nll"]) and scores["vae_score"] == pytest.approx(1 / scores["vae_perplexity"])


def test_latent_decoder_is_a_language_model_for_the_one_decoder(trained):
    _, vae, _ = trained
    means, _ = vae.encode(TEXTS[:2])
    lm = vae.decoder(means)
    assert is_language_model(lm)
    config = decoding.GenerationConfig(max_new_tokens=12)
    greedy = decoding.generate(lm, [[], []], config)
    # greedy by hand: prime, then argmax steps
    log_probs, state = lm.prime([[], []])
    tokens = [[], []]
    running = [0, 1]
    for _ in range(12):
        best = numpy.asarray(log_probs).argmax(axis=1)
        keep = [j for j, b in enumerate(best) if b != lm.lm_vocab.eos_id]
        for j, b in enumerate(best):
            if b != lm.lm_vocab.eos_id:
                tokens[running[j]].append(int(b))
        if not keep:
            break
        running = [running[j] for j in keep]
        state = lm.select_state(state, numpy.asarray(keep, dtype="int32"))
        log_probs, state = lm.step(state, numpy.asarray(best[keep], dtype="int32"))
    assert [g[0].token_ids for g in greedy] == tokens
    beams = decoding.generate(lm, [[], []], config.replace(num_beams=3, num_return_sequences=2))
    assert [len(b) for b in beams] == [2, 2]
    streamed = [t.token for t in decoding.stream(vae.decoder(means[:1]), [], config)]
    assert streamed == greedy[0][0].tokens


def test_prime_with_a_prompt_equals_stepping(trained):
    _, vae, _ = trained
    means, _ = vae.encode(TEXTS[:1])
    lm = vae.decoder(means)
    prompt = lm.lm_vocab.ids(spacy.blank("en").make_doc("a dog"))
    primed, _ = lm.prime([prompt])
    log_probs, state = lm.prime([[]])
    for token in prompt:
        log_probs, state = lm.step(state, numpy.asarray([token], dtype="int32"))
    numpy.testing.assert_allclose(primed, log_probs, rtol=1e-5, atol=1e-6)


def test_sample_and_interpolate(trained):
    _, vae, _ = trained
    assert vae.sample(4, seed=0) == vae.sample(4, seed=0)
    assert vae.sample(4, seed=0) != vae.sample(4, seed=1)
    assert len(vae.sample(3, seed=0, do_sample=True)) == 3
    points = vae.interpolate(TEXTS[0], TEXTS[1], n_steps=5)
    assert [t for t, _ in points] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert points[0][1] == vae.reconstruct([TEXTS[0]])[0] and points[-1][1] == vae.reconstruct([TEXTS[1]])[0]


def test_word_dropout_replaces_inputs_with_unk_but_not_the_start():
    nlp, vae, examples = make_vae({"word_dropout": 0.5})
    ids = vae.model.ops.asarray(numpy.arange(2, 42, dtype="int32").reshape(10, 4))
    dropped = vae._word_dropout(ids)
    assert (dropped[0] == ids[0]).all()
    changed = dropped != ids
    assert 0.3 < changed[1:].mean() < 0.7 and (dropped[changed] == vae.lm_vocab.unk_id).all()


def test_free_bits_below_the_floor_remove_the_kl_gradient():
    """With every dimension's KL under the floor, the gradients are those of β = 0."""
    grads = []
    for config in ({"free_bits": 50.0}, {"kl_annealing": {"@schedules": "constant.v1", "rate": 0.0}}):
        nlp, vae, examples = make_vae(config)
        losses = nlp.update(examples, losses={})
        if "free_bits" in config:
            # the objective pays the floor: rec + 0.1 * 4 dimensions * 50 nats
            assert losses["sentence_vae"] == pytest.approx(losses["sentence_vae_rec"] + 0.1 * 4 * 50.0)
        grads.append(numpy.array(vae.model.get_ref("to_mean").get_grad("W")))
    numpy.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-7)


def test_aggressive_steps_update_the_encoder_only():
    nlp, vae, examples = make_vae()
    decoder = vae.model.get_ref("decoder")
    before_decoder = {n: numpy.array(decoder.get_param(n)) for n in decoder.param_names}
    before_mean = numpy.array(vae.model.get_ref("to_mean").get_param("W"))
    batch = vae._window(vae._batch([eg.reference for eg in examples]))
    vae._elbo_step(batch, 1.0, len(examples))
    vae._encoder_only_update(Adam(0.01))
    for name, value in before_decoder.items():
        numpy.testing.assert_array_equal(decoder.get_param(name), value)
        assert not decoder.get_grad(name).any()
    assert not numpy.allclose(vae.model.get_ref("to_mean").get_param("W"), before_mean)


def test_kl_schedules():
    from spacy_lm.training.schedules import kl_cyclical, kl_linear, kl_logistic

    logistic = kl_logistic(k=0.5, x0=4)
    assert [round(next(logistic), 4) for _ in range(3)] == [round(1 / (1 + math.exp(-0.5 * (s - 4))), 4)
                                                             for s in range(3)]
    linear = kl_linear(warmup_steps=4)
    assert [next(linear) for _ in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    cyclical = kl_cyclical(total_steps=8, cycles=2, ratio=0.5)
    assert [next(cyclical) for _ in range(10)] == [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="E009.*ratio"):
        kl_cyclical(ratio=0.0)


def test_cells_and_conditions_train(subtests=None):
    for model in ({"cell": "lstm", "condition": "both", "bidirectional": True, "depth": 2},
                  {"cell": "gru", "condition": "concat"}):
        nlp, vae, examples = make_vae({"model": {**CONFIG["model"], **model}})
        history = train(nlp, examples, steps=15)
        assert history[-1]["sentence_vae"] < history[0]["sentence_vae"]


@pytest.mark.parametrize("config,match", [({"word_dropout": 1.0}, "word_dropout"), ({"free_bits": -1.0}, "free_bits"),
                                          ({"model": {**CONFIG["model"], "latent_size": 0}}, "latent_size"),
                                          ({"nll_samples": -1}, "nll_samples"), ({"max_length": 0}, "max_length")])
def test_bad_settings(config, match):
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match=rf"E009.*{match}"):
        nlp.add_pipe("sentence_vae", config={**CONFIG, **config})


def test_bad_input_errors(trained):
    nlp, vae, _ = trained
    with pytest.raises(ValueError, match="E121"):
        vae.reconstruct(["a dog", "  "])
    with pytest.raises(ValueError, match="E122"):
        vae.reconstruct(["zebra xylophone"])
    with pytest.raises(ValueError, match="E123"):
        vae.decoder(numpy.zeros((2, 3)))
    with pytest.raises(ValueError, match="E123"):
        vae.decoder(numpy.full((1, 4), numpy.nan))
    with pytest.raises(ValueError, match="E124"):
        decoding.generate(vae.decoder(numpy.zeros((2, 4))), [[]])
    with pytest.raises(ValueError, match="E009.*n_steps"):
        vae.interpolate("a dog", "a cat", n_steps=1)
    with pytest.raises(TypeError, match="E031"):
        vae.reconstruct([3])
    with pytest.raises(ValueError, match="E009.*iw_samples"):
        vae.evaluate_docs(TEXTS, iw_samples=0)
    fresh = spacy.blank("en").add_pipe("sentence_vae", config=CONFIG)
    with pytest.raises(ValueError, match="E005"):
        fresh.sample(2)
    empty = spacy.blank("en")
    empty.add_pipe("sentence_vae", config=CONFIG)
    with pytest.raises(ValueError, match="E003"):
        empty.initialize(lambda: [Example(Doc(empty.vocab), Doc(empty.vocab))])


def test_non_finite_weights_raise_e079(trained, tmp_path):
    nlp, vae, _ = trained
    nlp.to_disk(tmp_path / "vae")
    broken = spacy.load(tmp_path / "vae")
    mean = broken.get_pipe("sentence_vae").model.get_ref("to_mean")
    mean.get_param("W")[...] = numpy.nan
    with pytest.raises(ValueError, match="E079"):
        broken(TEXTS[0])


def test_training_truncates_long_sentences():
    nlp, vae, examples = make_vae({"max_length": 3})
    prepared = vae._prepare(nlp.make_doc("a b c d e f"), True)
    assert len(prepared[1]) == 4 and prepared[1][-1] == vae.lm_vocab.eos_id
    assert len(vae._prepare(nlp.make_doc("a b c d e f"), False)[1]) == 7


def test_draws_follow_the_tokens_not_the_spacing(trained):
    nlp, vae, _ = trained
    spaced = Doc(nlp.vocab, words=["a", "dog", "runs", "."], spaces=[True, True, True, False])
    tight = Doc(nlp.vocab, words=["a", "dog", "runs", "."], spaces=[True, True, False, False])
    assert vae.evaluate_docs([spaced], iw_samples=3) == vae.evaluate_docs([tight], iw_samples=3)


def edit_component(path, **settings):
    from thinc.api import Config

    config = Config().from_disk(path / "config.cfg")
    config["components"]["sentence_vae"].update(settings)
    config.to_disk(path / "config.cfg")


def test_edited_config_settings_are_the_configs_or_named(trained, tmp_path):
    """Runtime settings edited in config.cfg are used (they were overwritten by the saved cfg);
    a setting the vocabulary was built with is E035 naming it."""
    nlp, vae, _ = trained
    nlp.to_disk(tmp_path / "vae")
    edit_component(tmp_path / "vae", nll_samples=0, max_length=4, word_dropout=0.5)
    loaded = spacy.load(tmp_path / "vae")
    other = loaded.get_pipe("sentence_vae")
    assert (other.cfg["nll_samples"], other.cfg["max_length"], other.cfg["word_dropout"]) == (0, 4, 0.5)
    doc = loaded(TEXTS[0])
    assert doc._.vae_nll is None and doc._.vae_mean == nlp(TEXTS[0])._.vae_mean
    edit_component(tmp_path / "vae", min_freq=3)
    with pytest.raises(ValueError, match=r"\[E035\] 'sentence_vae': config.cfg says "
                                         r"components.sentence_vae.min_freq = 3 but the saved weights have min_freq 1"):
        spacy.load(tmp_path / "vae")


@pytest.mark.parametrize("drop", [1.0, -0.5, float("nan")])
def test_a_dropout_outside_0_1_is_refused(drop):
    nlp, vae, examples = make_vae()
    with pytest.raises(ValueError, match=r"\[E231\] 'sentence_vae': dropout must be a number in \[0, 1\)"):
        nlp.update(examples, drop=drop, sgd=Adam(0.01))
    assert vae.n_updates == 0
