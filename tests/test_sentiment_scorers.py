"""`spacy_lm.sentiment_scorer.v1`: sign accuracy, class accuracy, macro-F1, MAE, Pearson."""
import pytest
import spacy
from spacy.training import Example
from spacy.util import registry

from spacy_lm.extensions import install_sentiment_extensions
from spacy_lm.metrics.scorers import gold_sentiment, nearest_label, sentiment_score

FIVE = {"L0": -1.0, "L1": -0.5, "L2": 0.0, "L3": 0.5, "L4": 1.0}


def example(nlp, polarity, cats, probs=None):
    install_sentiment_extensions()
    pred = nlp.make_doc("some text")
    pred._.sentiment_polarity = polarity
    pred._.sentiment_probs = probs
    ref = pred.copy()
    ref.cats = cats
    return Example(pred, ref)


def test_binary_scores_by_hand():
    nlp = spacy.blank("en")
    values = {"NEG": -1.0, "POS": 1.0}
    pos, neg = {"POS": 1.0, "NEG": 0.0}, {"POS": 0.0, "NEG": 1.0}
    examples = [example(nlp, 0.5, pos), example(nlp, 0.0, pos), example(nlp, -0.2, neg), example(nlp, 0.3, neg)]
    s = registry.scorers.get("spacy_lm.sentiment_scorer.v1")()(examples, label_values=values)
    assert s["sentiment_sign_acc"] == 0.75  # 0.0 counts as positive
    assert s["sentiment_accuracy"] == 0.75 and s["sentiment_score"] == 0.75
    # POS: tp 2, fp 1, fn 0 → 0.8; NEG: tp 1, fp 0, fn 1 → 2/3
    assert s["sentiment_macro_f"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert s["sentiment_mae"] == pytest.approx((0.5 + 1.0 + 0.8 + 1.3) / 4)
    assert s["sentiment_pearson"] == pytest.approx(0.371391, abs=1e-5) and s["sentiment_n"] == 4
    # unlabelled docs are left out
    assert sentiment_score(examples + [example(nlp, 0.9, {})], label_values=values)["sentiment_n"] == 4


def test_graded_gold_five_classes_and_probs():
    nlp = spacy.blank("en")
    one_hot = {k: 0.0 for k in FIVE}
    assert gold_sentiment({**one_hot, "L3": 1.0}, FIVE) == (0.5, "L3")
    assert gold_sentiment({"L0": 0.5, "L4": 0.5}, FIVE)[0] == 0.0
    assert gold_sentiment({"POSITIVE": 0.8}, {"POSITIVE": 1.0}, "real") == (pytest.approx(0.6), None)
    assert nearest_label(0.3, FIVE) == "L3" and nearest_label(0.25, FIVE) == "L3"
    examples = [example(nlp, 0.3, {**one_hot, "L3": 1.0}),  # nearest: L3, right
                example(nlp, 0.3, {**one_hot, "L4": 1.0}, probs={**one_hot, "L4": 0.9}),  # probs win: right
                example(nlp, -0.9, {**one_hot, "L1": 1.0})]  # nearest L0: wrong
    s = sentiment_score(examples, label_values=FIVE)
    assert s["sentiment_accuracy"] == pytest.approx(2 / 3)
    assert s["sentiment_mae"] == pytest.approx((0.2 + 0.7 + 0.4) / 3)
    assert s["sentiment_pearson"] > 0.9


def test_real_target_and_gold_from_doc_sentiment():
    nlp = spacy.blank("en")
    examples = [example(nlp, p, {"POSITIVE": g}) for p, g in ((0.5, 0.8), (-0.5, 0.1), (0.0, 0.5))]
    s = sentiment_score(examples, label_values={"POSITIVE": 1.0}, target="real")
    assert s["sentiment_score"] == s["sentiment_pearson"] > 0.99
    assert s["sentiment_accuracy"] == 1.0  # three-way labels at the neutral threshold
    ex = example(nlp, 0.4, {})
    ex.reference.sentiment = -0.6
    assert sentiment_score([ex])["sentiment_sign_acc"] == 0.0
