"""weighted_textcat: bad class_weights and unknown labels are coded errors (spaCy's default model)."""
import pytest
import spacy
from spacy.training import Example

TRAIN = [("good film", {"POS": 1.0, "NEG": 0.0}), ("bad film", {"POS": 0.0, "NEG": 1.0})]


@pytest.mark.parametrize("factory", ["weighted_textcat", "weighted_textcat_multilabel"])
@pytest.mark.parametrize("bad", ["balance", {"POS": 0.0}, {"POS": "2"}])
def test_bad_class_weights_are_coded_errors(factory, bad):
    with pytest.raises(ValueError, match=r"\[E009\] class_weights must be"):
        spacy.blank("en").add_pipe(factory, config={"class_weights": bad})


def test_unknown_labels_are_coded_errors():
    nlp = spacy.blank("en")
    nlp.add_pipe("weighted_textcat", config={"class_weights": {"MEH": 2.0}})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in TRAIN]
    with pytest.raises(ValueError, match=r"\[E076\] class_weights name label\(s\) \['MEH'\]"):
        nlp.initialize(lambda: examples)
    nlp = spacy.blank("en")
    nlp.add_pipe("weighted_textcat")
    nlp.initialize(lambda: examples)
    bad = [Example.from_dict(nlp.make_doc("x"), {"cats": {"POS": 1.0, "NEG": 0.0, "MEH": 0.0}})]
    with pytest.raises(ValueError, match=r"\[E075\] 'weighted_textcat' got gold label\(s\) \['MEH'\]"):
        nlp.update(bad)


@pytest.mark.parametrize("factory", ["weighted_textcat", "weighted_textcat_multilabel"])
@pytest.mark.parametrize("drop", [1.0, 1.5, -0.1, float("nan")])
def test_a_dropout_outside_0_1_is_refused(factory, drop):
    nlp = spacy.blank("en")
    nlp.add_pipe(factory)
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in TRAIN]
    nlp.initialize(lambda: examples)
    with pytest.raises(ValueError, match=r"^\[E231\] '" + factory + r"': dropout must be a number in \[0, 1\) .*got "
                       + repr(drop).replace(".", r"\.").replace("-", r"\-") + r"\. Set \[training\] dropout"):
        nlp.update(examples, drop=drop)
    assert factory in nlp.update(examples, drop=0.5, losses={})


@pytest.mark.parametrize("factory", ["weighted_textcat", "weighted_textcat_multilabel"])
def test_edited_threshold_and_class_weights_are_the_configs(factory, tmp_path):
    """spaCy's cfg.update let the saved threshold / class_weights win over an edited config.cfg;
    a configured "balanced" keeps the weights it was resolved to."""
    from thinc.api import Config

    nlp = spacy.blank("en")
    nlp.add_pipe(factory, config={"class_weights": "balanced", "threshold": 0.3})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in TRAIN + TRAIN[:1]]
    nlp.initialize(lambda: examples)
    resolved = nlp.get_pipe(factory).cfg["class_weights"]
    assert resolved == {"NEG": 1.5, "POS": 0.75}
    nlp.to_disk(tmp_path / "p")
    assert spacy.load(tmp_path / "p").get_pipe(factory).cfg["class_weights"] == resolved
    config = Config().from_disk(tmp_path / "p" / "config.cfg")
    config["components"][factory].update(threshold=0.7, class_weights={"POS": 3.0})
    config.to_disk(tmp_path / "p" / "config.cfg")
    pipe = spacy.load(tmp_path / "p").get_pipe(factory)
    assert (pipe.cfg["threshold"], pipe.cfg["class_weights"]) == (0.7, {"POS": 3.0})
    assert list(pipe.labels) == list(nlp.get_pipe(factory).labels)
