"""The `ngram_lm` component: annotations, scorer, persistence, ARPA, protocol, KenLM parity."""
import math

import numpy
import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example

from spacy_lm.pipeline.ngram_lm import NGramLanguageModel
from spacy_lm.corpora.corpus import corpus_perplexity
from spacy_lm.types import is_language_model

from ..conftest import TINY_TEXTS, make_examples

HELD_OUT = ["the log sat on a cat", "a mat saw the dog and the cat", "dog the on sat"]


def build(texts=TINY_TEXTS, **config):
    nlp = spacy.blank("en")
    nlp.add_pipe("ngram_lm", config={"order": 3, **config})
    examples = make_examples(nlp, texts)
    nlp.initialize(lambda: examples)
    return nlp


@pytest.fixture(scope="module")
def nlp():
    return build()


def annotations(docs):
    return [(d._.lm_logprob, d._.lm_surprisals, d._.lm_end_surprisal, d._.lm_n_predicted, d._.lm_n_correct)
            for d in docs]


def test_annotations_and_scorer(nlp):
    doc = nlp("the cat sat on the mat")
    assert doc._.lm_n_predicted == 7  # six words and the closing <eos>
    assert all(s is not None and s > 0 for s in doc._.lm_surprisals)
    total_bits = sum(doc._.lm_surprisals) + doc._.lm_end_surprisal
    assert -doc._.lm_logprob == pytest.approx(total_bits * math.log(2), rel=1e-5)
    assert doc._.lm_perplexity == pytest.approx(math.exp(-doc._.lm_logprob / 7), rel=1e-6)
    assert 0 <= doc._.lm_n_correct <= 7
    scores = nlp.evaluate([Example(nlp.make_doc(t), nlp.make_doc(t)) for t in HELD_OUT])
    assert scores["lm_perplexity"] > 1 and scores["lm_score"] == pytest.approx(1 / scores["lm_perplexity"])
    assert nlp.get_pipe_meta("ngram_lm").default_score_weights["lm_score"] == 1.0


def test_training_text_is_less_perplexing_than_held_out(nlp):
    train = corpus_perplexity(nlp, (nlp.make_doc(t) for t in TINY_TEXTS))
    held = corpus_perplexity(nlp, (nlp.make_doc(t) for t in HELD_OUT))
    assert train["lm_perplexity"] < held["lm_perplexity"]


def test_pipe_equals_call(nlp):
    texts = HELD_OUT + ["", "cat"] + TINY_TEXTS[:5]
    piped = annotations(nlp.pipe(texts, batch_size=3))
    single = annotations([nlp(t) for t in texts])
    assert piped == single


def test_unknown_words_and_empty_docs(nlp):
    doc = nlp("the zebra sat on the qwerty")
    assert all(s is not None and math.isfinite(s) for s in doc._.lm_surprisals)
    unk = nlp(Doc(nlp.vocab, words="the <unk> sat on the <unk>".split()))  # OOV words score as <unk>
    assert doc._.lm_surprisals == pytest.approx(unk._.lm_surprisals)
    for text in ("", "   "):
        empty = nlp(text)
        assert empty._.lm_perplexity is None and empty._.lm_n_predicted == 0


def test_eos_marker_restarts_the_sentence(nlp):
    """A doc "a b <eos> c d" scores like the docs "a b" and "c d" (KenLM: each line is a sentence)."""
    joined = nlp(Doc(nlp.vocab, words="the cat sat <eos> a dog saw".split()))
    first, second = nlp("the cat sat"), nlp("a dog saw")
    assert joined._.lm_logprob == pytest.approx(first._.lm_logprob + second._.lm_logprob, rel=1e-6)


def test_save_load_identical(nlp, tmp_path):
    texts = HELD_OUT + ["the zebra"]
    before = annotations(nlp.pipe(texts))
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert annotations(loaded.pipe(texts)) == before
    restored = spacy.blank("en")
    restored.add_pipe("ngram_lm", config={"order": 3})
    restored.from_bytes(nlp.to_bytes())
    assert annotations(restored.pipe(texts)) == before
    pipe = NGramLanguageModel(nlp.vocab, order=3).from_bytes(nlp.get_pipe("ngram_lm").to_bytes())
    assert annotations(pipe.pipe(nlp.make_doc(t) for t in texts)) == before
    with pytest.raises(ValueError, match=r"\[E035\] 'ngram_lm': the configured component has order = 5"):
        NGramLanguageModel(nlp.vocab).from_bytes(nlp.get_pipe("ngram_lm").to_bytes())


def test_corrupt_directories_fail_clearly(nlp, tmp_path):
    path = tmp_path / "component"
    nlp.get_pipe("ngram_lm").to_disk(path)
    fresh = NGramLanguageModel(nlp.vocab, order=3)
    (path / "model").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match=r"\[E230\] 'ngram_lm': the file 'model' in .* is damaged"):
        fresh.from_disk(path)
    (path / "model").unlink()
    with pytest.raises(ValueError, match="E006.*missing file 'model'"):
        fresh.from_disk(path)
    (path / "cfg").write_text('{"format": 99}')
    with pytest.raises(ValueError, match="E007"):
        fresh.from_disk(path)
    with pytest.raises(ValueError, match="E005"):
        fresh("a cat")


def test_bad_settings():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="E009"):
        nlp.add_pipe("ngram_lm", config={"order": 0})
    with pytest.raises(ValueError, match="E013"):
        nlp.add_pipe("ngram_lm", config={"prune": [1]})


def test_arpa_export_and_import(nlp, tmp_path):
    pipe = nlp.get_pipe("ngram_lm")
    path = tmp_path / "tiny.arpa"
    pipe.to_arpa(path)
    texts = HELD_OUT + ["the zebra", ""]
    before = annotations(nlp.pipe(texts))
    standalone = NGramLanguageModel.from_arpa(path, nlp.vocab)
    assert standalone.lm_vocab.strings == pipe.lm_vocab.strings
    assert annotations(standalone.pipe(nlp.make_doc(t) for t in texts)) == before
    # Config-driven: [initialize.components.ngram_lm] arpa = ...
    other = spacy.blank("en")
    other.add_pipe("ngram_lm")
    other.config["initialize"]["components"]["ngram_lm"] = {"arpa": str(path)}
    other.initialize()
    assert other.get_pipe("ngram_lm").cfg["order"] == 3
    assert annotations(other.pipe(texts)) == before


def test_language_model_protocol_and_generation(nlp):
    pipe = nlp.get_pipe("ngram_lm")
    assert is_language_model(pipe)
    vocab = pipe.lm_vocab
    doc = nlp("the cat sat on the mat")
    ids = vocab.ids(doc)
    log_probs, state = pipe.prime([[]])
    total = float(log_probs[0, ids[0]])
    for prev, token in zip(ids, ids[1:] + [vocab.eos_id]):
        log_probs, state = pipe.step(state, numpy.asarray([prev]))
        assert numpy.exp(log_probs).sum() == pytest.approx(1.0, abs=1e-5)
        total += float(log_probs[0, token])
    assert total == pytest.approx(doc._.lm_logprob, rel=1e-5)
    primed, primed_state = pipe.prime([ids[:3], ids[:1]])
    assert primed.shape == (2, len(vocab))
    assert pipe.select_state(primed_state, numpy.asarray([1, 1, 0])).shape[0] == 3
    nlp.add_pipe("text_generator", config={"lm": "ngram_lm"})
    try:
        gen = nlp.get_pipe("text_generator")
        first = gen.generate("the cat", max_new_tokens=6, do_sample=True, seed=3, num_return_sequences=2)
        again = gen.generate("the cat", max_new_tokens=6, do_sample=True, seed=3, num_return_sequences=2)
        assert [d.text for d in first[0]] == [d.text for d in again[0]]
        assert all(t.text in vocab for d in first[0] for t in d)
        greedy = gen.generate("the cat", max_new_tokens=3, num_beams=2)
        assert len(greedy[0]) >= 1
    finally:
        nlp.remove_pipe("text_generator")


def test_correct_counts_top1_hits(nlp):
    pipe = nlp.get_pipe("ngram_lm")
    doc = nlp("the cat sat on the mat")
    vocab = pipe.lm_vocab
    ids = vocab.ids(doc)
    log_probs, state = pipe.prime([[]])
    hits = int(log_probs[0].argmax() == ids[0])
    for prev, token in zip(ids, ids[1:] + [vocab.eos_id]):
        log_probs, state = pipe.step(state, numpy.asarray([prev]))
        hits += int(log_probs[0].argmax() == token)
    assert doc._.lm_n_correct == hits


def test_kenlm_parity(nlp, tmp_path):
    kenlm = pytest.importorskip("kenlm", reason="kenlm is not installed (pip install kenlm): parity with "
                                                "KenLM's query cannot be checked")
    bigger = build(TINY_TEXTS + HELD_OUT * 2 + ["a cat and a dog sat on the log"] * 3, order=4)
    path = tmp_path / "parity.arpa"
    bigger.get_pipe("ngram_lm").to_arpa(path)
    model = kenlm.Model(str(path))
    for text in TINY_TEXTS[:5] + HELD_OUT + ["the zebra sat on a qwerty", "cat"]:
        ours = bigger(text)._.lm_logprob / math.log(10)
        assert ours == pytest.approx(model.score(text, bos=True, eos=True), abs=1e-4)


def test_initialize_counts_a_named_corpus(tmp_path):
    """`spacy assemble` passes no examples: [initialize.components.ngram_lm] corpus names the reader."""
    train = tmp_path / "train.txt"
    train.write_text("\n".join(TINY_TEXTS) + "\n")
    nlp = spacy.blank("en")
    nlp.add_pipe("ngram_lm", config={"order": 2})
    nlp.config["corpora"] = {"train": {"@readers": "spacy_lm.PlainTextCorpus.v1", "path": str(train),
                                       "eos_marker": "<eos>"}}
    nlp.config["initialize"]["components"]["ngram_lm"] = {"corpus": "corpora.train"}
    nlp.initialize()
    reference = build(TINY_TEXTS, order=2)
    assert nlp.get_pipe("ngram_lm").lm_vocab.strings == reference.get_pipe("ngram_lm").lm_vocab.strings
    assert nlp("the cat sat")._.lm_logprob == pytest.approx(reference("the cat sat")._.lm_logprob, rel=1e-6)


def test_prime_reads_only_what_reaches_the_state(nlp):
    """Only the last order - 1 tokens (up to an <eos>) shape the state: prime is exact however
    long the prompt, and equals reading it token by token."""
    pipe = nlp.get_pipe("ngram_lm")
    vocab = pipe.lm_vocab
    long = vocab.ids(nlp.make_doc(" ".join(TINY_TEXTS)))
    eos = vocab.eos_id
    prompts = [long, long + [eos], long + [eos, long[0]], long + [eos, long[0], long[1]], long[:1], []]
    primed, primed_state = pipe.prime(prompts)
    for j, prompt in enumerate(prompts):
        log_probs, state = pipe.prime([[]])
        for token in prompt:
            log_probs, state = pipe.step(state, numpy.asarray([token]))
        numpy.testing.assert_array_equal(primed_state[j], state[0])
        numpy.testing.assert_allclose(primed[j], log_probs[0], rtol=1e-6)


def nan_ngram_pipeline(tmp_path, source: str):
    """A pipeline whose ngram_lm has one NaN unigram log-prob ("cat"), built in memory, or
    loaded from an ARPA file or from its msgpack bytes."""
    trained = build()
    pipe = trained.get_pipe("ngram_lm")
    pipe.model.logprob[0][pipe.lm_vocab.id_of("cat")] = numpy.nan
    if source == "memory":
        return trained
    loaded = spacy.blank("en")
    loaded.add_pipe("ngram_lm", config={"order": pipe.cfg["order"]})
    if source == "arpa":
        pipe.to_arpa(tmp_path / "nan.arpa")
        loaded.get_pipe("ngram_lm").load_arpa(tmp_path / "nan.arpa")
    else:
        loaded.from_bytes(trained.to_bytes())
    return loaded


@pytest.mark.parametrize("source", ["memory", "arpa", "msgpack"])
def test_nan_tables_raise_e079_when_scoring_and_generating(tmp_path, source):
    nlp = nan_ngram_pipeline(tmp_path, source)
    assert nlp("the dog sat")._.lm_perplexity > 1  # n-grams that never back off to "cat"
    with pytest.raises(ValueError, match=r"\[E079\] 'ngram_lm' computed token surprisals that are not finite"):
        nlp("dog cat")  # (dog, cat) is unseen: backs off to the NaN unigram
    with pytest.raises(ValueError, match=r"\[E079\] 'ngram_lm'"):
        nlp.get_pipe("ngram_lm").score_stream([nlp.make_doc("the dog"), nlp.make_doc("dog cat")])
    generator = nlp.add_pipe("text_generator", config={"lm": "ngram_lm"})
    with pytest.raises(ValueError, match=r"\[E079\] 'ngram_lm' computed log-probabilities that are not finite"):
        generator.generate("dog", max_new_tokens=3)


def test_perplexity_cli_with_nan_tables_fails_with_e079_not_bare_nan(tmp_path):
    from typer.testing import CliRunner

    from spacy_lm.cli import lm_app

    nan_ngram_pipeline(tmp_path, "memory").to_disk(tmp_path / "pipeline")
    data = tmp_path / "dev.txt"
    data.write_text("the dog sat\ndog cat\n", encoding="utf-8")
    result = CliRunner().invoke(lm_app, ["perplexity", str(tmp_path / "pipeline"), str(data), "--json"])
    assert result.exit_code == 1
    assert "[E079] 'ngram_lm'" in result.output and "NaN" not in result.stdout


def test_a_discount_fallback_out_of_range_is_refused_at_build():
    with pytest.raises(ValueError, match=r"\[E009\] discount_fallback must be null or \[D1, D2, D3\+\] with "
                                         r"0 < D1 <= 1, 0 < D2 <= 2 and 0 < D3\+ <= 3 .*got \[1\.5, 1\.0, 1\.5\]"):
        spacy.blank("en").add_pipe("ngram_lm", config={"discount_fallback": [1.5, 1.0, 1.5]})
    pipe = spacy.blank("en").add_pipe("ngram_lm", config={"discount_fallback": [1, 2, 3]})
    assert pipe.cfg["discount_fallback"] == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("group_tokens", [1, 7, 1 << 16])
def test_total_nll_equals_predict_in_any_grouping(nlp, monkeypatch, group_tokens):
    """The score-only path (groups of SCORE_TOKENS tokens) sums predict's NLL per doc."""
    from spacy_lm.batching import prepare_doc
    from spacy_lm.pipeline import ngram_lm

    monkeypatch.setattr(ngram_lm, "SCORE_TOKENS", group_tokens)
    component = nlp.get_pipe("ngram_lm")
    docs = [nlp.make_doc(text) for text in ["the cat sat", "a zebra <eos> saw the dog", "the mat", "<eos>"]]
    prepared = [prepare_doc(component.lm_vocab, doc) for doc in docs]
    expected = [float(result["nll"].sum(dtype="float64")) for result in component.predict(docs)]
    numpy.testing.assert_allclose(component.total_nll(prepared), expected, rtol=1e-6)
    assert component.total_nll([]).shape == (0,)
