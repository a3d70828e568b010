import json

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
