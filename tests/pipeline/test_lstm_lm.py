import math

import numpy
import pytest
import spacy
from spacy.tokens import Doc, DocBin
from thinc.api import Adam, fix_random_seed

from spacy_lm.layers import output as output_layer_contract
from spacy_lm.pipeline import lstm_lm as lstm_lm_module

from ..conftest import TINY_LM_CONFIG, TINY_TEXTS, make_examples, train_tiny_lm


def surprisals(doc):
    return [t._.lm_surprisal for t in doc] + [doc._.lm_end_surprisal]


def test_loss_goes_down_and_model_overfits(trained_lm):
    nlp, history = trained_lm
    assert history[-1] < 0.5 * history[0]
    fix_random_seed(0)
    fresh = spacy.blank("en")
    fresh.add_pipe("lstm_lm", config=TINY_LM_CONFIG)
    fresh.initialize(lambda: make_examples(fresh))
    text = "the cat sat on the mat"
    assert nlp(text)._.lm_perplexity < 0.5 * fresh(text)._.lm_perplexity


def test_annotations_are_consistent_and_in_stated_units(trained_lm):
    nlp, _ = trained_lm
    doc = nlp("the dog saw the cat")
    values = surprisals(doc)
    assert all(v is not None and v > 0 for v in values)
    assert doc._.lm_n_predicted == len(doc) + 1
    # surprisal in bits, log-probability in nats
    assert math.isclose(sum(values) * math.log(2), -doc._.lm_logprob, rel_tol=1e-5)
    assert math.isclose(doc._.lm_perplexity, math.exp(-doc._.lm_logprob / doc._.lm_n_predicted), rel_tol=1e-9)
    assert 0 <= doc._.lm_n_correct <= doc._.lm_n_predicted


def test_unknown_tokens_map_to_unk(trained_lm):
    nlp, _ = trained_lm
    lm = nlp.get_pipe("lstm_lm")
    assert "zebra" not in lm.lm_vocab
    assert lm.lm_vocab.ids(nlp.make_doc("zebra cat")) == [lm.lm_vocab.unk_id, lm.lm_vocab.id_of("cat")]
    doc = nlp("the zebra sat")
    assert all(math.isfinite(v) for v in surprisals(doc))


def test_eos_marker_closes_a_doc_without_an_extra_eos(trained_lm):
    nlp, _ = trained_lm
    marked = Doc(nlp.vocab, words=["the", "cat", "<eos>"])
    nlp.get_pipe("lstm_lm")(marked)
    plain = nlp("the cat")
    assert marked._.lm_n_predicted == plain._.lm_n_predicted == 3
    assert marked._.lm_end_surprisal is None
    numpy.testing.assert_allclose(surprisals(plain), [v for v in surprisals(marked) if v is not None], rtol=1e-5)


def test_pipe_equals_call_and_batch_independence(trained_lm):
    nlp, _ = trained_lm
    texts = ["the cat sat", "a dog and a cat sat on the log on the mat", "", "dog"]
    singles = [surprisals(nlp(t)) for t in texts]
    batched = [surprisals(d) for d in nlp.pipe(texts, batch_size=3)]
    for a, b in zip(singles, batched):
        assert [x is None for x in a] == [x is None for x in b]
        numpy.testing.assert_allclose([x for x in a if x is not None], [x for x in b if x is not None],
                                      rtol=1e-5, atol=1e-6)


def test_empty_and_whitespace_docs(trained_lm):
    nlp, _ = trained_lm
    for text in ["", "   ", "\n\t "]:
        doc = nlp(text)
        assert doc._.lm_perplexity is None
        assert doc._.lm_logprob is None
        assert doc._.lm_n_predicted == 0
        assert all(t._.lm_surprisal is None for t in doc)
    doc = nlp("the  cat")  # a whitespace token inside a doc is skipped, not scored
    assert [t._.lm_surprisal is None for t in doc] == [t.is_space for t in doc]
    losses = nlp.update(make_examples(nlp, ["", "  "]), sgd=Adam(0.01))
    assert losses["lstm_lm"] == 0.0


def test_to_disk_and_spacy_load_give_identical_scores(trained_lm, tmp_path):
    nlp, _ = trained_lm
    texts = ["the cat sat on the mat", "a dog saw a cat on the log"]
    before = [surprisals(d) for d in nlp.pipe(texts)]
    nlp.to_disk(tmp_path / "pipeline")
    assert not list((tmp_path / "pipeline").rglob("*.pkl"))
    loaded = spacy.load(tmp_path / "pipeline")
    after = [surprisals(d) for d in loaded.pipe(texts)]
    assert before == after
    lm_bytes = nlp.get_pipe("lstm_lm").to_bytes()
    fresh = spacy.blank("en")
    fresh.add_pipe("lstm_lm", config=TINY_LM_CONFIG).from_bytes(lm_bytes)
    assert [surprisals(d) for d in fresh.pipe(texts)] == before


def test_annotations_survive_docbin_and_multiprocessing(trained_lm, tmp_path):
    nlp, _ = trained_lm
    texts = ["the cat sat", "a dog and a cat", "the mat"] * 2
    expected = [surprisals(d) for d in nlp.pipe(texts)]
    multi = [surprisals(d) for d in nlp.pipe(texts, n_process=2, batch_size=2)]
    numpy.testing.assert_allclose(sum(multi, []), sum(expected, []), rtol=1e-6)
    docbin = DocBin(store_user_data=True, docs=nlp.pipe(texts))
    docbin.to_disk(tmp_path / "docs.spacy")
    restored = list(DocBin().from_disk(tmp_path / "docs.spacy").get_docs(nlp.vocab))
    assert [surprisals(d) for d in restored] == expected
    assert [d._.lm_perplexity for d in restored] == [d._.lm_perplexity for d in nlp.pipe(texts)]


def test_scoring_is_exact_whatever_the_window(trained_lm, monkeypatch):
    nlp, _ = trained_lm
    text = " ".join(TINY_TEXTS * 3)
    reference = surprisals(nlp(text))
    monkeypatch.setattr(lstm_lm_module, "PREDICT_WINDOW", 7)
    monkeypatch.setattr(output_layer_contract, "OUTPUT_ROWS", 5)
    numpy.testing.assert_allclose(surprisals(nlp(text)), reference, rtol=1e-5)


def spy_on_encode(model, monkeypatch) -> list:
    """Record the shape of every window the component hands to ``model.encode``."""
    shapes = []
    real_encode = model.encode

    def spy_encode(ids, lengths, state, is_train):
        shapes.append(ids.shape)
        return real_encode(ids, lengths, state, is_train)

    monkeypatch.setattr(model, "encode", spy_encode)
    return shapes


def test_long_doc_is_windowed_with_bounded_memory(trained_lm, monkeypatch):
    nlp, _ = trained_lm
    words = (" ".join(TINY_TEXTS)).split()
    doc = Doc(nlp.vocab, words=(words * (100_000 // len(words) + 1))[:100_000])
    lm = nlp.get_pipe("lstm_lm")
    window_shapes = spy_on_encode(lm.model, monkeypatch)
    lm(doc)
    assert doc._.lm_n_predicted == 100_001
    assert math.isfinite(doc._.lm_perplexity)
    # Memory is bounded by the window: no forward pass sees more than PREDICT_WINDOW steps.
    assert max(shape[0] for shape in window_shapes) == lstm_lm_module.PREDICT_WINDOW
    assert len(window_shapes) == math.ceil(100_001 / lstm_lm_module.PREDICT_WINDOW)
    # Training on a long doc runs window by window too.
    long_example = make_examples(nlp, [" ".join(words * 5)])
    losses = nlp.update(long_example, sgd=Adam(0.001))
    assert math.isfinite(losses["lstm_lm"])


def test_training_is_deterministic_given_a_seed():
    _, first = train_tiny_lm(n_steps=5)
    _, second = train_tiny_lm(n_steps=5)
    assert first == second


def test_vocabulary_settings_and_errors():
    nlp = spacy.blank("en")
    lm = nlp.add_pipe("lstm_lm", config={**TINY_LM_CONFIG, "max_size": 5, "attr": "LOWER"})
    nlp.initialize(lambda: make_examples(nlp, ["The the THE cat cat dog"]))
    assert lm.lm_vocab.strings == ["<unk>", "<eos>", "the", "cat", "dog"]
    assert nlp.get_pipe("lstm_lm").model.get_dim("nV") == 5

    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_lm", config={**TINY_LM_CONFIG, "min_freq": 10})
    with pytest.raises(ValueError, match="min_freq=10"):
        nlp.initialize(lambda: make_examples(nlp, ["a b c"]))

    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_lm", config={**TINY_LM_CONFIG, "max_size": 2})
    with pytest.raises(ValueError, match="max_size=2"):
        nlp.initialize(lambda: make_examples(nlp, ["a b c"]))

    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_lm", config=TINY_LM_CONFIG)
    with pytest.raises(ValueError, match="no tokens"):
        nlp.initialize(lambda: make_examples(nlp, ["", " "]))

    with pytest.raises(ValueError, match="attribute"):
        spacy.blank("en").add_pipe("lstm_lm", config={"attr": "POS"})


def test_uninitialized_and_wrong_input_raise_clear_errors():
    nlp = spacy.blank("en")
    lm = nlp.add_pipe("lstm_lm", config=TINY_LM_CONFIG)
    with pytest.raises(ValueError, match="not initialized"):
        nlp("the cat")
    nlp.initialize(lambda: make_examples(nlp))
    with pytest.raises(TypeError, match="Expected a Doc"):
        lm.predict(["the cat"])


def test_nan_loss_raises_clear_error():
    nlp, _ = train_tiny_lm(n_steps=1)
    lstm = nlp.get_pipe("lstm_lm").model.get_ref("rnn")
    W = lstm.get_param("W0_0")
    W[0, 0] = numpy.nan
    with pytest.raises(ValueError, match="not finite"):
        nlp.update(make_examples(nlp), sgd=Adam(0.01))


def test_nan_weights_at_inference_raise_e079_naming_the_component():
    nlp, _ = train_tiny_lm(n_steps=1)
    lm = nlp.get_pipe("lstm_lm")
    W = lm.model.get_ref("rnn").get_param("W0_0")
    W[...] = numpy.nan
    with pytest.raises(ValueError, match=r"\[E079\] 'lstm_lm' computed token surprisals that are not finite"):
        nlp("the cat sat")
    with pytest.raises(ValueError, match=r"\[E079\] 'lstm_lm'"):
        lm.score_stream([nlp.make_doc("the cat sat"), nlp.make_doc("a dog ran")])


def test_corrupt_or_foreign_model_directory_raises_clear_error(trained_lm, tmp_path):
    nlp, _ = trained_lm
    path = tmp_path / "pipeline"
    nlp.to_disk(path)
    model_file = path / "lstm_lm" / "model"
    model_file.write_bytes(model_file.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"\[E230\] 'lstm_lm': the file 'model' in .* is damaged"):
        spacy.load(path)

    nlp.to_disk(path)
    (path / "lstm_lm" / "lm_vocab").unlink()
    with pytest.raises(ValueError, match="missing file 'lm_vocab'"):
        spacy.load(path)

    nlp.to_disk(path)
    import srsly

    cfg = srsly.read_json(path / "lstm_lm" / "cfg")
    cfg["format"] = 99
    srsly.write_json(path / "lstm_lm" / "cfg", cfg)
    with pytest.raises(ValueError, match="format version 99"):
        spacy.load(path)


def test_language_model_protocol_step_matches_scoring(trained_lm):
    nlp, _ = trained_lm
    lm = nlp.get_pipe("lstm_lm")
    doc = nlp("the dog sat on the mat")
    ids = lm.lm_vocab.ids(doc) + [lm.lm_vocab.eos_id]
    state = lm.initial_state(1)
    previous = [lm.lm_vocab.eos_id]
    stepped = []
    for target in ids:
        log_probs, state = lm.step(state, previous)
        stepped.append(-float(log_probs[0, target]) / math.log(2))
        previous = [target]
    numpy.testing.assert_allclose(stepped, surprisals(doc), rtol=1e-4)


def test_language_model_protocol_prime_and_select_state(trained_lm):
    from spacy_lm.types import is_language_model

    nlp, _ = trained_lm
    lm = nlp.get_pipe("lstm_lm")
    assert is_language_model(lm)
    prompts = [lm.lm_vocab.ids(nlp.make_doc(t)) for t in ["the cat sat on", "a", ""]]
    log_probs, state = lm.prime(prompts)
    assert log_probs.shape == (3, len(lm.lm_vocab))
    numpy.testing.assert_allclose(numpy.exp(log_probs).sum(axis=1), 1.0, rtol=1e-5)
    for j, prompt in enumerate(prompts):  # primed in a batch == stepped one by one
        step_state = lm.initial_state(1)
        for token in [lm.lm_vocab.eos_id, *prompt]:
            step_log_probs, step_state = lm.step(step_state, [token])
        numpy.testing.assert_allclose(log_probs[j], step_log_probs[0], rtol=1e-4, atol=1e-5)
        numpy.testing.assert_allclose(state[0][:, j], step_state[0][:, 0], rtol=1e-4, atol=1e-6)
    picked = lm.select_state(state, [2, 0, 0])
    numpy.testing.assert_array_equal(picked[0][:, 1], state[0][:, 0])
    numpy.testing.assert_array_equal(picked[1][:, 0], state[1][:, 2])


def test_vocabulary_lookup_of_spacy_symbol_strings():
    """Words that are spaCy symbols ("number", "ORTH", "ADJ") have small ids on the Doc, not hashes."""
    nlp = spacy.blank("en")
    lm = nlp.add_pipe("lstm_lm", config=TINY_LM_CONFIG)
    nlp.initialize(lambda: make_examples(nlp, ["the number of ORTH and ADJ words"]))
    doc = nlp.make_doc("number ORTH ADJ the")
    assert lm.lm_vocab.ids(doc) == [lm.lm_vocab.id_of(t.text) for t in doc]
    assert lm.lm_vocab.unk_id not in lm.lm_vocab.ids(doc)


# ---------------------------------------------------------------- the model owns the contract
from pathlib import Path  # noqa: E402

from spacy.util import registry  # noqa: E402
from thinc.api import Model  # noqa: E402

from spacy_lm.layers.embedding import TokenEmbedding  # noqa: E402
from spacy_lm.layers.output_softmax import OutputSoftmax  # noqa: E402
from spacy_lm.ops import log_softmax, softmax_cross_entropy  # noqa: E402

OLD_PIPELINE = Path(__file__).resolve().parent.parent / "data" / "lstm_lm_0.1.0"


class NeuralBigramLM(Model):
    """A recurrent-LM contract with no recurrence at all: the hidden state of a step is the
    embedding of its input token, and the "state" is only a row count. Written here, outside
    the package, to show that lstm_lm calls nothing but the contract."""

    def __init__(self, width: int) -> None:
        embedding = TokenEmbedding(width)
        output = OutputSoftmax(nI=width)
        super().__init__("neural_bigram_lm", lambda model, X, is_train: (X, lambda dY: dY), init=self._init,
                         layers=[embedding, output], dims={"nV": None, "nO": width})

    @staticmethod
    def _init(model, X=None, Y=None):
        model.layers[0].set_dim("nV", model.get_dim("nV"))
        model.layers[1].set_dim("nO", model.get_dim("nV"))
        for layer in model.layers:
            layer.initialize()

    def encode(self, ids, lengths, state, is_train):
        hidden, backprop = self.layers[0](ids, is_train)
        return (hidden, self.ops.xp.zeros((ids.shape[1], 0), dtype="float32")), backprop

    def loss(self, hidden, targets, grad_scale):
        logits, backprop = self.layers[1](hidden, True)
        nll, d_logits = softmax_cross_entropy(self.ops, logits, targets, grad_scale=grad_scale)
        return nll, backprop(d_logits)

    def score(self, hidden, targets):
        logits, _ = self.layers[1](hidden, False)
        nll, _ = softmax_cross_entropy(self.ops, logits, targets)
        return nll, logits.argmax(axis=1) == targets

    def log_probs(self, hidden):
        return log_softmax(self.ops, self.layers[1](hidden, False)[0])

    def step(self, token_ids, state):
        hidden, _ = self.layers[0](self.ops.asarray1i(token_ids), False)
        return self.log_probs(hidden), state

    def initial_state(self, batch_size):
        return self.ops.xp.zeros((batch_size, 0), dtype="float32")

    def select_state(self, state, indices):
        return state[indices]

    def concat_states(self, states):
        return self.ops.xp.concatenate(states, axis=0)


@registry.architectures("test.NeuralBigramLM.v1")
def build_neural_bigram_lm(width: int) -> NeuralBigramLM:
    return NeuralBigramLM(width)


def test_an_architecture_written_elsewhere_trains_scores_and_generates_through_lstm_lm(tmp_path):
    config = {"model": {"@architectures": "test.NeuralBigramLM.v1", "width": 8}, "max_length": 4}
    nlp, history = train_tiny_lm(n_steps=30, config=config)
    assert history[-1] < 0.7 * history[0]
    doc = nlp("the cat sat on the mat")
    assert math.isfinite(doc._.lm_perplexity) and len(surprisals(doc)) == 7
    # a bigram model: the surprisal of "mat" depends on "the" alone
    assert nlp("a dog saw the mat")[-1]._.lm_surprisal == pytest.approx(doc[-1]._.lm_surprisal, rel=1e-5)
    nlp.add_pipe("text_generator", config={"generation": {"max_new_tokens": 4}})
    assert nlp("the cat")._.generations[0]["tokens"]
    nlp.to_disk(tmp_path / "bigram")
    loaded = spacy.load(tmp_path / "bigram")
    assert surprisals(loaded("the cat sat on the mat")) == pytest.approx(surprisals(doc), rel=1e-6)


def test_a_model_without_the_contract_is_refused_at_add_pipe():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match=r"E022.*lacks encode"):
        nlp.add_pipe("lstm_lm", config={"model": {"@architectures": "spacy.HashEmbedCNN.v2", "width": 8,
                                                  "depth": 1, "embed_size": 100, "window_size": 1,
                                                  "maxout_pieces": 2, "subword_features": False,
                                                  "pretrained_vectors": None}})


def test_a_pipeline_saved_by_spacy_lm_0_1_0_loads_and_scores_as_before():
    import srsly

    expected = srsly.read_json(OLD_PIPELINE / "expected.json")
    nlp = spacy.load(OLD_PIPELINE)
    doc = nlp(expected["text"])
    assert doc._.lm_logprob == pytest.approx(expected["lm_logprob"], rel=1e-5)
    assert [t._.lm_surprisal for t in doc] == pytest.approx(expected["surprisals"], rel=1e-5)


GRU_CONFIG = {"model": {"width": 16, "depth": 2, "dropout": 0.0, "cell": "gru"}, "max_length": 5}


def test_gru_language_model_overfits_saves_and_generates(tmp_path):
    nlp, history = train_tiny_lm(n_steps=40, config=GRU_CONFIG)  # a plateau, then the drop (~step 30)
    assert history[-1] < 0.5 * history[0]
    lm = nlp.get_pipe("lstm_lm")
    assert lm.model.get_ref("rnn").name == "gru"
    texts = ["the cat sat on the mat", "a dog", "the dog saw the cat on the mat"]
    direct = [surprisals(nlp(t)) for t in texts]
    assert [surprisals(d) for d in nlp.pipe(texts, batch_size=2)] == [pytest.approx(s, rel=1e-5) for s in direct]
    nlp.to_disk(tmp_path / "gru")
    loaded = spacy.load(tmp_path / "gru")
    assert [surprisals(loaded(t)) for t in texts] == direct
    loaded.add_pipe("text_generator", config={"generation": {"max_new_tokens": 5, "num_beams": 2}})
    assert loaded("the cat")._.generations[0]["tokens"]


@pytest.mark.parametrize("config", [TINY_LM_CONFIG, GRU_CONFIG])
def test_prime_reads_long_prompts_in_windows(config, monkeypatch):
    """Memory is bounded by the window whatever the prompt length, and the result is exact."""
    nlp, _ = train_tiny_lm(n_steps=2, config=config)
    lm = nlp.get_pipe("lstm_lm")
    prompts = [lm.lm_vocab.ids(nlp.make_doc(t)) for t in [" ".join(TINY_TEXTS), "the cat", ""]]
    reference, reference_state = lm.prime(prompts)
    shapes = spy_on_encode(lm.model, monkeypatch)
    monkeypatch.setattr(lstm_lm_module, "PREDICT_WINDOW", 7)
    log_probs, state = lm.prime(prompts)
    assert max(s[0] for s in shapes) == 7 and len(shapes) == math.ceil((len(prompts[0]) + 1) / 7)
    numpy.testing.assert_allclose(log_probs, reference, rtol=1e-5, atol=1e-6)
    following = [lm.lm_vocab.eos_id] * 3
    numpy.testing.assert_allclose(lm.step(state, following)[0], lm.step(reference_state, following)[0],
                                  rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- adaptive softmax output (#12)
ADAPTIVE_CONFIG = {"model": {"@architectures": "spacy_lm.LSTMLanguageModel.v2", "width": 16, "depth": 1,
                             "dropout": 0.0, "output": "adaptive", "cutoffs": [4, 8]}, "max_length": 5}


def test_adaptive_softmax_language_model_trains_scores_saves_and_generates(tmp_path, monkeypatch):
    nlp, history = train_tiny_lm(n_steps=30, config=ADAPTIVE_CONFIG)
    assert history[-1] < 0.5 * history[0]
    lm = nlp.get_pipe("lstm_lm")
    assert lm.model.get_ref("output").name == "adaptive_softmax" and len(lm.lm_vocab) > 8
    texts = ["the cat sat on the mat", "a dog", "the dog saw the cat on the mat"]
    direct = [surprisals(nlp(t)) for t in texts]
    assert all(math.isfinite(s) and s >= 0 for s in sum(direct, []))
    assert [surprisals(d) for d in nlp.pipe(texts, batch_size=2)] == [pytest.approx(s, rel=1e-5) for s in direct]
    scores = nlp.evaluate(make_examples(nlp, texts))
    assert 1 < scores["lm_perplexity"] < len(lm.lm_vocab)
    monkeypatch.setattr(output_layer_contract, "OUTPUT_ROWS", 3)
    assert [surprisals(nlp(t)) for t in texts] == [pytest.approx(s, rel=1e-5) for s in direct]
    assert nlp.evaluate(make_examples(nlp, texts))["lm_accuracy"] == pytest.approx(scores["lm_accuracy"])
    monkeypatch.undo()
    nlp.to_disk(tmp_path / "adaptive")
    loaded = spacy.load(tmp_path / "adaptive")
    assert loaded.config["components"]["lstm_lm"]["model"]["output"] == "adaptive"
    assert [surprisals(loaded(t)) for t in texts] == direct
    loaded.add_pipe("text_generator", config={"generation": {"max_new_tokens": 5, "num_beams": 2}})
    assert loaded("the cat")._.generations[0]["tokens"]
    log_probs, _ = loaded.get_pipe("lstm_lm").prime([[lm.lm_vocab.id_of("the")]])
    numpy.testing.assert_allclose(numpy.exp(log_probs).sum(axis=1), 1, rtol=1e-5)


# ---------------------------------------------------------------- stream training and evaluation (#12)
STREAM_LM_CONFIG = {"model": {"width": 8, "depth": 2, "dropout": 0.0}, "max_length": 3}
STREAM_WORDS = "the cat sat on the mat <eos> a dog saw a cat <eos> the dog sat <eos>".split()


def stream_lm(config=STREAM_LM_CONFIG):
    from spacy.training import Example

    fix_random_seed(0)
    nlp = spacy.blank("en")
    lm = nlp.add_pipe("lstm_lm", config=config)
    examples = [Example(Doc(nlp.vocab, words=STREAM_WORDS), Doc(nlp.vocab, words=STREAM_WORDS))]
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.02)
    for _ in range(30):  # away from uniform predictions, so a wrong state shows
        nlp.update(examples, sgd=optimizer)
    return nlp, lm


def chunk_example(nlp, words, stream, chunk, previous):
    from spacy.training import Example

    from spacy_lm.batching import mark_chunk

    doc = Doc(nlp.vocab, words=words)
    mark_chunk(doc, stream, chunk, previous)
    return Example(doc, doc.copy())


def nll_of(lm, doc):
    return lm.predict([doc])[0]["nll"].astype("float64")


def test_stream_chunks_in_two_updates_equal_one_long_chunk():
    """Chunk 1 of each stream starts from the state its stream had after chunk 0, whatever the
    batch order, unequal lengths or an unmarked doc beside it: the losses of two updates (no
    optimizer, so no parameter changes) equal per-position losses of each stream read at once."""
    nlp, lm = stream_lm()
    a, b = STREAM_WORDS[:9], STREAM_WORDS[3:13]  # two streams; windows of 3 inside each chunk
    long_a = nll_of(lm, chunk_example(nlp, a, 0, 0, None).reference)
    long_b = nll_of(lm, chunk_example(nlp, b, 1, 0, None).reference)
    plain = Doc(nlp.vocab, words="a dog saw the cat on the mat sat".split())
    plain_nll = nll_of(lm, plain)
    # the shorter chunk first: batch rows (longest first) are not the batch's order
    loss1 = lm.update([chunk_example(nlp, b[:4], 1, 0, None), chunk_example(nlp, a[:5], 0, 0, None)])["lstm_lm"]
    assert loss1 == pytest.approx((long_a[:5].sum() + long_b[:4].sum()) / 9, rel=1e-5)
    from spacy.training import Example

    second = [Example(plain, plain.copy()), chunk_example(nlp, b[4:], 1, 1, b[3]),
              chunk_example(nlp, a[5:], 0, 1, a[4])]
    loss2 = lm.update(second)["lstm_lm"]
    expected = (plain_nll.sum() + long_a[5:].sum() + long_b[4:].sum()) / (len(plain_nll) + 4 + 6)
    assert loss2 == pytest.approx(expected, rel=1e-5)
    # Without the carried state chunk 1 would be scored differently: the test can fail.
    fresh = nll_of(lm, chunk_example(nlp, a[5:], 0, 1, a[4]).reference)
    assert abs(fresh.mean() - long_a[5:].mean()) > 0.01


def test_stream_state_restarts_at_chunk_zero_and_after_a_gap():
    nlp, lm = stream_lm()
    first, rest = STREAM_WORDS[:6], STREAM_WORDS[6:12]
    lm.update([chunk_example(nlp, first, 0, 0, None)])
    lm.update([chunk_example(nlp, rest, 0, 1, first[-1])])
    # A new epoch: chunk 0 again starts from zeros, as in a fresh component.
    again = chunk_example(nlp, first, 0, 0, None)
    assert lm.update([again])["lstm_lm"] == pytest.approx(nll_of(lm, again.reference).mean(), rel=1e-5)
    # Chunk 2 after chunk 0 (chunk 1 missing): no carried state fits, so it starts afresh.
    gap = chunk_example(nlp, rest, 0, 2, first[-1])
    assert lm.update([gap])["lstm_lm"] == pytest.approx(nll_of(lm, gap.reference).mean(), rel=1e-5)


def test_carried_states_serve_training_only_and_are_dropped_on_load():
    nlp, lm = stream_lm()
    first, rest = STREAM_WORDS[:6], STREAM_WORDS[6:12]
    nxt = chunk_example(nlp, rest, 0, 1, first[-1])
    before = nll_of(lm, nxt.reference)
    lm.update([chunk_example(nlp, first, 0, 0, None)])
    # predict / evaluate / score_stream neither read nor change the carried state
    numpy.testing.assert_allclose(nll_of(lm, nxt.reference), before, rtol=1e-6)
    nlp.evaluate([nxt])
    lm.score_stream([nxt.reference])
    carried = lm.update([chunk_example(nlp, rest, 0, 1, first[-1])])["lstm_lm"]
    assert carried == pytest.approx(nll_of(lm, chunk_example(nlp, first + rest, 0, 0, None).reference)[6:].mean(),
                                    rel=1e-5)
    assert abs(carried - before.mean()) > 0.01
    # from_bytes (and initialize) drop them: the next chunk 2 finds nothing to continue
    lm.update([chunk_example(nlp, first, 0, 0, None)])
    lm.from_bytes(lm.to_bytes())
    assert lm.update([nxt])["lstm_lm"] == pytest.approx(before.mean(), rel=1e-5)


def test_score_stream_reads_docs_as_one_stream(monkeypatch):
    from spacy.training import Example

    nlp, lm = stream_lm()
    docs = [nlp.make_doc("the cat sat"), nlp.make_doc("   "), Doc(nlp.vocab, words=["a", "dog", "<eos>"]),
            nlp.make_doc("the mat")]
    # eos the cat sat eos a dog eos the mat eos: one chunk from the stream start
    joined = chunk_example(nlp, "the cat sat <eos> a dog <eos> the mat <eos>".split(), 0, 0, None).reference
    nll = nll_of(lm, joined)
    scores = lm.score_stream(docs)
    assert scores["lm_stream_n_predicted"] == len(nll) == 10
    assert scores["lm_stream_loss"] == pytest.approx(nll.mean(), rel=1e-5)
    assert scores["lm_stream_perplexity"] == pytest.approx(math.exp(nll.mean()), rel=1e-5)
    assert 0 <= scores["lm_stream_accuracy"] <= 1
    per_doc = nlp.evaluate([Example(d, d) for d in docs])
    assert per_doc["lm_n_predicted"] == 10 and per_doc["lm_loss"] != pytest.approx(scores["lm_stream_loss"])
    monkeypatch.setattr(lstm_lm_module, "PREDICT_WINDOW", 2)  # windows bound memory, the result is exact
    assert lm.score_stream(docs)["lm_stream_loss"] == pytest.approx(scores["lm_stream_loss"], rel=1e-5)
    # two segments side by side, each from a fresh state: targets 0..4 and 5..9
    seg1 = chunk_example(nlp, "the cat sat <eos> a".split(), 0, 0, None).reference
    seg2 = chunk_example(nlp, "dog <eos> the mat <eos>".split(), 0, 1, "a").reference
    two = lm.score_stream(docs, n_segments=2)
    assert two["lm_stream_n_predicted"] == 10
    assert two["lm_stream_loss"] == pytest.approx((nll_of(lm, seg1).sum() + nll_of(lm, seg2).sum()) / 10, rel=1e-5)
    empty = lm.score_stream([nlp.make_doc("  ")])
    assert empty["lm_stream_perplexity"] is None and empty["lm_stream_n_predicted"] == 0
    with pytest.raises(ValueError, match=r"E009.*n_segments"):
        lm.score_stream(docs, n_segments=0)


def test_stream_training_loop_lowers_the_loss(tmp_path):
    """spaCy's own training loop with the documented stream settings."""
    import io

    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train
    from thinc.api import Config

    train_file = tmp_path / "train.txt"
    train_file.write_text("\n".join(TINY_TEXTS) + "\n", encoding="utf-8")
    dev_file = tmp_path / "dev.txt"
    dev_file.write_text("\n".join(TINY_TEXTS[:5]) + "\n", encoding="utf-8")
    config = Config().from_str(f"""
[paths]
train = "{train_file}"
dev = "{dev_file}"

[nlp]
lang = "en"
pipeline = ["lstm_lm"]
tokenizer = {{"@tokenizers": "spacy_lm.WhitespaceTokenizer.v1"}}

[components]
[components.lstm_lm]
factory = "lstm_lm"
max_length = 5

[components.lstm_lm.model]
@architectures = "spacy_lm.LSTMLanguageModel.v1"
width = 16
depth = 1
dropout = 0.0

[components.lstm_lm.scorer]
@scorers = "spacy_lm.perplexity_scorer.v2"

[corpora]
[corpora.train]
@readers = "spacy_lm.PlainTextStreamCorpus.v1"
path = ${{paths.train}}
n_streams = 4
chunk_length = 5

[corpora.dev]
@readers = "spacy_lm.PlainTextCorpus.v1"
path = ${{paths.dev}}
eos_marker = "<eos>"

[training]
max_epochs = -1
max_steps = 120
eval_frequency = 60
seed = 0

[training.batcher]
@batchers = "spacy.batch_by_sequence.v1"
size = ${{corpora.train.n_streams}}

[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = 0.02
""")
    config = spacy.util.load_model_from_config(config, auto_fill=True).config
    nlp = init_nlp(config)
    dev_reader = registry.resolve(config.interpolate()["corpora"])["dev"]
    before = nlp.get_pipe("lstm_lm").score_stream([eg.reference for eg in dev_reader(nlp)])["lm_stream_loss"]
    log = io.StringIO()
    nlp, _ = train(nlp, None, stdout=log, stderr=log)
    scores = nlp.evaluate(list(dev_reader(nlp)))
    assert scores["lm_stream_loss"] < 0.6 * before
    assert scores["lm_stream_n_predicted"] == scores["lm_n_predicted"] == 31 + 5
    assert scores["lm_stream_perplexity"] == pytest.approx(math.exp(scores["lm_stream_loss"]))


def test_grad_norm_clip_bounds_the_step_by_the_global_norm():
    from thinc.api import SGD

    from spacy_lm.training.clipping import global_grad_norm

    nlp, _ = train_tiny_lm(n_steps=0, config={**TINY_LM_CONFIG, "grad_norm_clip": 0.01})
    lm = nlp.get_pipe("lstm_lm")
    lm.update(make_examples(nlp))  # gradients only
    assert global_grad_norm(lm.model) > 0.01
    before = {(node.id, name): node.get_param(name).copy() for node in lm.model.walk() for name in node.param_names}
    lm.finish_update(SGD(1.0, L2=0.0, grad_clip=0.0, use_averages=False))
    moved = sum(float(((node.get_param(name) - before[(node.id, name)]) ** 2).sum())
                for node in lm.model.walk() for name in node.param_names)
    assert math.sqrt(moved) == pytest.approx(0.01, rel=1e-3)


@pytest.mark.parametrize("bad", [0, -1.0, "1"])
def test_grad_norm_clip_must_be_positive(bad):
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match=r"E009.*grad_norm_clip"):
        nlp.add_pipe("lstm_lm", config={**TINY_LM_CONFIG, "grad_norm_clip": bad})


@pytest.mark.parametrize("count_whole_corpus", [True, False])
def test_initialize_corpus_counts_a_streamed_corpus_whole(tmp_path, count_whole_corpus):
    """With max_epochs = -1 spaCy initializes on the first 100 examples; corpus = "corpora.train"
    makes the vocabulary come from the whole corpus."""
    from spacy.training.initialize import init_nlp
    from thinc.api import Config

    train_file = tmp_path / "train.txt"
    train_file.write_text(" ".join(f"w{i}" for i in range(150)) + "\n", encoding="utf-8")
    init = '[initialize.components.lstm_lm]\ncorpus = "corpora.train"\n' if count_whole_corpus else ""
    init = "[initialize.components]\n" + init
    config = Config().from_str(f"""
[paths]
train = "{train_file}"

[nlp]
lang = "en"
pipeline = ["lstm_lm"]
tokenizer = {{"@tokenizers": "spacy_lm.WhitespaceTokenizer.v1"}}

[components]
[components.lstm_lm]
factory = "lstm_lm"
[components.lstm_lm.model]
@architectures = "spacy_lm.LSTMLanguageModel.v1"
width = 8
depth = 1

[corpora]
[corpora.train]
@readers = "spacy_lm.PlainTextStreamCorpus.v1"
path = ${{paths.train}}
n_streams = 1
chunk_length = 1
[corpora.dev]
@readers = "spacy_lm.PlainTextStreamCorpus.v1"
path = ${{paths.train}}

[training]
max_epochs = -1

[initialize]
{init}""")
    nlp = init_nlp(spacy.util.load_model_from_config(config, auto_fill=True).config)
    vocab = nlp.get_pipe("lstm_lm").lm_vocab
    assert ("w149" in vocab) is count_whole_corpus


@pytest.mark.parametrize("drop", [1.0, 1.5, -0.1, float("nan")])
def test_a_dropout_outside_0_1_is_refused_before_training(drop):
    from spacy_lm.checks import check_drop

    nlp, _ = train_tiny_lm(n_steps=0, config={"model": {"width": 8, "depth": 1, "dropout": 0.0}, "max_length": 5})
    examples = make_examples(nlp, ["the cat sat", "a dog"])
    before = nlp.get_pipe("lstm_lm").model.to_bytes()
    with pytest.raises(ValueError, match=r"\[E231\] 'lstm_lm': dropout must be a number in \[0, 1\)"):
        nlp.update(examples, drop=drop, sgd=Adam(0.1))
    assert nlp.get_pipe("lstm_lm").model.to_bytes() == before
    assert check_drop(0, "x") == 0.0 and check_drop(numpy.float32(0.5), "x") == 0.5
    with pytest.raises(ValueError, match=r"E231.*got True"):
        check_drop(True, "x")


# ---------------------------------------------------------------- the score-only path of corpus scoring (#34)
from spacy_lm.batching import prepare_doc  # noqa: E402

SCORE_ONLY_CONFIGS = {
    "forward": TINY_LM_CONFIG,
    "backward": {**TINY_LM_CONFIG, "direction": "backward"},
    "adaptive": ADAPTIVE_CONFIG,
    "gru_backward": {**GRU_CONFIG, "direction": "backward"},
}


def random_docs(nlp, n: int, seed: int):
    """Docs of random words (some unknown to the LM) and random lengths, two longer than a window."""
    rng = numpy.random.default_rng(seed)
    words = sorted({w for t in TINY_TEXTS for w in t.split()}) + ["zebra", "quark"]
    lengths = list(rng.integers(1, 25, size=n - 2)) + [40, 33]
    rng.shuffle(lengths)
    return [nlp.make_doc(" ".join(rng.choice(words, size=int(k)))) for k in lengths]


@pytest.fixture(scope="module", params=sorted(SCORE_ONLY_CONFIGS))
def score_only_lm(request):
    nlp, _ = train_tiny_lm(n_steps=5, config=SCORE_ONLY_CONFIGS[request.param])
    return nlp, nlp.get_pipe("lstm_lm")


def test_total_nll_equals_predict_doc_by_doc_in_input_order(score_only_lm, monkeypatch):
    nlp, lm = score_only_lm
    monkeypatch.setattr(lstm_lm_module, "PREDICT_WINDOW", 7)  # several windows, the state carried
    docs = random_docs(nlp, 30, seed=1)
    expected = numpy.asarray([r["nll"].sum(dtype="float64") for r in lm.predict(docs)])
    prepared = [prepare_doc(lm.lm_vocab, doc, lm.backward) for doc in docs]
    totals = lm.total_nll(prepared, batch_size=4)
    assert totals.dtype == numpy.float64 and totals.shape == (len(docs),)
    numpy.testing.assert_allclose(totals, expected, rtol=1e-6)
    assert len(set(numpy.round(expected, 4))) > 20  # distinct docs: a wrong order could not pass


def test_total_nll_does_not_depend_on_the_batch_size(score_only_lm):
    _, lm = score_only_lm
    nlp = score_only_lm[0]
    prepared = [prepare_doc(lm.lm_vocab, doc, lm.backward) for doc in random_docs(nlp, 25, seed=2)]
    one = lm.total_nll(prepared, batch_size=1)
    for batch_size in (3, 64):
        numpy.testing.assert_allclose(lm.total_nll(prepared, batch_size=batch_size), one, rtol=1e-6)
    numpy.testing.assert_allclose(lm.total_nll(prepared[::-1])[::-1], one, rtol=1e-6)


def test_total_nll_of_nothing_and_bad_batch_sizes(trained_lm):
    lm = trained_lm[0].get_pipe("lstm_lm")
    empty = lm.total_nll([])
    assert empty.shape == (0,) and empty.dtype == numpy.float64
    prepared = [prepare_doc(lm.lm_vocab, trained_lm[0].make_doc("the cat"))]
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="E009.*batch_size"):
            lm.total_nll(prepared, batch_size=bad)


def test_total_nll_of_a_model_without_nll_goes_through_score():
    """`nll` is optional in the contract: the bigram architecture written above has only `score`."""
    nlp, _ = train_tiny_lm(n_steps=3, config={"model": {"@architectures": "test.NeuralBigramLM.v1", "width": 8},
                                              "max_length": 4})
    lm = nlp.get_pipe("lstm_lm")
    assert not hasattr(lm.model, "nll")
    docs = random_docs(nlp, 10, seed=3)
    expected = [r["nll"].sum(dtype="float64") for r in lm.predict(docs)]
    prepared = [prepare_doc(lm.lm_vocab, doc) for doc in docs]
    numpy.testing.assert_allclose(lm.total_nll(prepared, batch_size=3), expected, rtol=1e-6)


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")  # the overflow nll recovers from
@pytest.mark.parametrize("config", ["forward", "adaptive"])
def test_model_nll_equals_score_even_when_a_target_is_far_below_the_best_word(config, monkeypatch):
    nlp, _ = train_tiny_lm(n_steps=3, config=SCORE_ONLY_CONFIGS[config])
    model = nlp.get_pipe("lstm_lm").model
    rng = numpy.random.default_rng(0)
    hidden = rng.normal(0, 1, (11, model.get_dim("nO"))).astype("float32")
    targets = rng.integers(0, model.get_dim("nV"), size=11).astype("int32")
    monkeypatch.setattr(output_layer_contract, "NLL_ROWS", 4)  # chunks, the last one short
    numpy.testing.assert_allclose(model.nll(hidden, targets), model.score(hidden, targets)[0], rtol=1e-5, atol=1e-6)
    output = model.get_ref("output")
    if config == "forward":  # a word 200 nats above every other: exp(logit - logit[target]) overflows
        b = output.get_param("b").copy()
        b[min(set(range(len(b))) - set(targets.tolist()))] = 200.0
        output.set_param("b", b)
        nll = model.nll(hidden, targets)
        assert numpy.isfinite(nll).all() and nll.min() > 150
        numpy.testing.assert_allclose(nll, model.score(hidden, targets)[0], rtol=1e-5)
