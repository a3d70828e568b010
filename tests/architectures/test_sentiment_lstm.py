"""spacy_lm.SentimentLSTM.v1 and spacy_lm.LexiconSentiment.v1 as built from a config."""
import pytest
import spacy
from spacy.util import registry

from ..sentiment_fixtures import TOK2VEC, write_lexicon


def build(lexicon_path, **overrides):
    cfg = {"@architectures": "spacy_lm.SentimentLSTM.v1", "tok2vec": TOK2VEC, "width": 4, "depth": 1, "dropout": 0.0,
           "lexicon": {"@architectures": "spacy_lm.LexiconSentiment.v1", "lexicon": lexicon_path}, **overrides}
    return registry.resolve({"m": cfg})["m"]


def test_starts_as_the_lexicon_and_validates(tmp_path):
    model = build(write_lexicon(tmp_path / "l.tsv"), prior_scale=3.0)
    model.set_dim("nO", 2)
    model.attrs["label_values"] = [-1.0, 1.0]
    docs = [spacy.blank("en")(t) for t in ("I like it", "awful", "")]
    model.initialize(X=docs)
    assert model.get_param("prior").tolist() == [-3.0, 3.0]
    assert not model.get_ref("output_layer").get_param("W").any()
    logits = model.predict(docs)
    assert logits[0, 1] > logits[0, 0] and logits[1, 1] < logits[1, 0] and logits[2].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="pooling"):
        build(str(tmp_path / "l.tsv"), pooling="sum")
    with pytest.raises(ValueError, match="depth"):
        build(str(tmp_path / "l.tsv"), depth=-1)


def test_lexicon_model_keeps_its_lexicon_in_bytes(tmp_path):
    path = tmp_path / "l.tsv"
    lexicon = registry.resolve({"m": {"@architectures": "spacy_lm.LexiconSentiment.v1",
                                      "lexicon": write_lexicon(path)}})["m"]
    lexicon.initialize()
    data = lexicon.to_bytes()
    path.unlink()
    fresh = registry.resolve({"m": {"@architectures": "spacy_lm.LexiconSentiment.v1", "lexicon": str(path)}})["m"]
    fresh.from_bytes(data)
    scores = fresh.predict([spacy.blank("en")("not good")])
    assert scores[0].tolist()[1] < 0
