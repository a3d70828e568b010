import json
import math

import pytest
import spacy
from spacy.tokens import DocBin

from ..conftest import train_tiny_lm


@pytest.fixture(scope="module")
def nlp_with_generator():
    nlp, _ = train_tiny_lm(n_steps=40)
    nlp.add_pipe("text_generator", config={"generation": {"max_new_tokens": 6}})
    return nlp


def test_pipeline_writes_plain_continuations(nlp_with_generator, tmp_path):
    nlp = nlp_with_generator
    doc = nlp("the cat")
    (generation,) = doc._.generations
    assert 1 <= len(generation["tokens"]) <= 6
    assert len(generation["logprobs"]) == len(generation["tokens"])
    assert generation["finish_reason"] in {"eos", "length"}
    docs = list(nlp.pipe(["the cat", "a dog", "the"], batch_size=2))
    # greedy: batching changes nothing but float rounding
    assert docs[0]._.generations[0]["tokens"] == generation["tokens"]
    assert docs[0]._.generations[0]["logprobs"] == pytest.approx(generation["logprobs"], rel=1e-4)
    DocBin(store_user_data=True, docs=docs).to_disk(tmp_path / "g.spacy")
    restored = list(DocBin().from_disk(tmp_path / "g.spacy").get_docs(nlp.vocab))
    # DocBin's msgpack gives tuples back for lists; the values are unchanged
    assert json.loads(json.dumps([d._.generations for d in restored])) == [d._.generations for d in docs]


def test_generate_returns_docs_with_overrides_and_stream_matches(nlp_with_generator):
    generator = nlp_with_generator.get_pipe("text_generator")
    (beams,) = generator.generate(["the dog"], num_beams=3, num_return_sequences=2, max_new_tokens=5)
    assert len(beams) == 2
    assert beams[0]._.generation["score"] >= beams[1]._.generation["score"]
    samples = generator.generate(["a", ""], do_sample=True, seed=3, max_new_tokens=5)
    assert len(samples) == 2
    first = generator.generate(["the cat"], do_sample=True, seed=7)[0][0]
    streamed = "".join(generator.stream("the cat", do_sample=True, seed=7))
    assert streamed == first.text


def test_continuation_docs_are_detokenised():
    nlp = spacy.blank("en")
    lm = nlp.add_pipe("lstm_lm", config={"model": {"width": 8, "depth": 1}})
    from spacy.training import Example

    texts = ["hello , world !"] * 10
    nlp.initialize(lambda: [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in texts])
    from thinc.api import Adam

    opt = Adam(0.05)
    for _ in range(60):
        nlp.update([Example(nlp.make_doc(t), nlp.make_doc(t)) for t in texts], sgd=opt)
    generator = nlp.add_pipe("text_generator", config={"generation": {"max_new_tokens": 4}})
    (doc,) = generator.generate([""])[0:1][0]
    assert doc.text == "hello, world!"
    assert [t.whitespace_ for t in doc] == ["", " ", "", ""]
    assert lm.lm_vocab is not None


def test_bad_settings_and_missing_lm_raise_clear_errors(nlp_with_generator):
    nlp = nlp_with_generator
    generator = nlp.get_pipe("text_generator")
    with pytest.raises(ValueError, match="top_p"):
        generator.generate(["the"], top_p=1.5)
    with pytest.raises(ValueError, match="temperature"):
        generator.generate(["the"], do_sample=True, temperature=0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generator.generate(["the"], max_new_tokens=-1)
    with pytest.raises(TypeError, match="str or a Doc"):
        generator.generate([42])
    blank = spacy.blank("en")
    orphan = blank.add_pipe("text_generator", config={"lm": "missing_lm"})
    with pytest.raises(ValueError, match="missing_lm"):
        orphan("hello")
    with pytest.raises(ValueError, match="top_k"):
        spacy.blank("en").add_pipe("text_generator", config={"generation": {"top_k": -1}})


def test_generator_survives_save_and_load(nlp_with_generator, tmp_path):
    nlp = nlp_with_generator
    nlp.to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p")
    assert loaded("the cat")._.generations == nlp("the cat")._.generations


def test_long_docs_are_primed_in_windows_with_the_same_result(nlp_with_generator, monkeypatch):
    """nlp(long_doc) with a generator: the LM scores the doc, the generator primes on it, both
    in windows with the state carried (memory bounded by the window), and the generations are
    those of one huge window."""
    from spacy_lm.pipeline import lstm_lm as lstm_lm_module

    from ..conftest import TINY_TEXTS

    nlp = nlp_with_generator
    texts = [" ".join(TINY_TEXTS), "the cat"]
    monkeypatch.setattr(lstm_lm_module, "PREDICT_WINDOW", 10**6)
    reference = [doc._.generations for doc in nlp.pipe(texts)]
    model = nlp.get_pipe("lstm_lm").model
    shapes = []
    encode = model.encode
    monkeypatch.setattr(model, "encode", lambda ids, *args: shapes.append(ids.shape) or encode(ids, *args))
    monkeypatch.setattr(lstm_lm_module, "PREDICT_WINDOW", 4)
    windowed = [doc._.generations for doc in nlp.pipe(texts)]
    n_steps = len(nlp.make_doc(texts[0])) + 1  # <eos> first
    assert max(shape[0] for shape in shapes) == 4  # the LM's scoring, then the generator's priming:
    assert len(shapes) >= 2 * math.ceil(n_steps / 4)
    for ref, got in zip(reference, windowed):
        assert [g["tokens"] for g in got] == [g["tokens"] for g in ref]
        assert [g["logprobs"] for g in got] == [pytest.approx(g["logprobs"], rel=1e-4, abs=1e-5) for g in ref]


@pytest.fixture(scope="module")
def nan_pipeline(tmp_path_factory):
    """A saved lstm_lm pipeline with one NaN weight in its recurrent cell."""
    import numpy

    nlp, _ = train_tiny_lm(n_steps=1)
    rnn = nlp.get_pipe("lstm_lm").model.get_ref("rnn")
    W = rnn.get_param("W0_0").copy()
    W[0, 0] = numpy.nan
    rnn.set_param("W0_0", W)
    path = tmp_path_factory.mktemp("nan") / "pipeline"
    nlp.to_disk(path)
    return nlp, path


def test_nan_weights_raise_e079_from_the_generator(nan_pipeline):
    nlp, _ = nan_pipeline
    generator = nlp.add_pipe("text_generator", name="nan_generator")
    try:
        for settings in ({}, {"do_sample": True, "seed": 0}, {"num_beams": 3}):
            with pytest.raises(ValueError, match=r"\[E079\] 'lstm_lm' computed log-probabilities that are not"):
                generator.generate("the cat", **settings)
        with pytest.raises(ValueError, match=r"\[E079\] 'lstm_lm'"):
            list(generator.stream("the cat"))
    finally:
        nlp.remove_pipe("nan_generator")


@pytest.mark.parametrize("options", [[], ["--sample", "--seed", "1"], ["--num-beams", "3"], ["--stream"]])
def test_generate_cli_with_nan_weights_fails_with_e079(nan_pipeline, options):
    from typer.testing import CliRunner

    from spacy_lm.cli import lm_app

    _, path = nan_pipeline
    result = CliRunner().invoke(lm_app, ["generate", str(path), "the cat", "-n", "3", *options])
    assert result.exit_code == 1, result.output
    assert "[E079] 'lstm_lm' computed log-probabilities that are not finite" in result.output
    assert "<unk>" not in result.stdout
