import math

import pytest
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from spacy_lm.scorers import perplexity_score


def test_perplexity_is_pooled_over_tokens_not_averaged_over_docs(trained_lm):
    nlp, _ = trained_lm
    docs = list(nlp.pipe(["the cat sat on the mat", "dog", ""]))
    scores = registry.scorers.get("spacy_lm.perplexity_scorer.v1")()([Example(d, d) for d in docs])
    nll = -(docs[0]._.lm_logprob + docs[1]._.lm_logprob)
    n = docs[0]._.lm_n_predicted + docs[1]._.lm_n_predicted
    assert scores["lm_n_predicted"] == n == 9
    assert math.isclose(scores["lm_perplexity"], math.exp(nll / n))
    assert math.isclose(scores["lm_score"], 1 / scores["lm_perplexity"])
    assert math.isclose(scores["lm_loss"], nll / n)
    assert scores["lm_perplexity"] != pytest.approx((docs[0]._.lm_perplexity + docs[1]._.lm_perplexity) / 2)


def test_scores_of_unscored_docs_are_none(trained_lm):
    nlp, _ = trained_lm
    doc = nlp("")
    assert perplexity_score([Example(doc, doc)])["lm_perplexity"] is None


def test_nlp_evaluate_reports_lm_scores(trained_lm):
    nlp, _ = trained_lm
    scores = nlp.evaluate([Example(nlp.make_doc(t), nlp.make_doc(t)) for t in ["the cat sat", "a dog"]])
    assert scores["lm_perplexity"] > 1.0
    assert 0.0 <= scores["lm_accuracy"] <= 1.0


# ---------------------------------------------------------------------- textcat scorer
def _cats_example(gold, pred):
    from spacy.vocab import Vocab

    ref = Doc(Vocab(), words=["x"])
    ref.cats = gold
    prd = Doc(ref.vocab, words=["x"])
    prd.cats = pred
    return Example(prd, ref)


def test_textcat_scorer_exclusive_extras():
    from spacy.scorer import Scorer

    examples = [
        _cats_example({"A": 1.0, "B": 0.0}, {"A": 0.9, "B": 0.1}),
        _cats_example({"A": 1.0, "B": 0.0}, {"A": 0.3, "B": 0.7}),
        _cats_example({"A": 0.0, "B": 1.0}, {"A": 0.2, "B": 0.8}),
        _cats_example({"A": 0.0, "B": 1.0}, {"A": 0.15, "B": 0.85}),
    ]
    scorer = registry.scorers.get("spacy_lm.textcat_scorer.v1")(multi_label=False)
    scores = scorer(examples, labels=["A", "B"], threshold=0.0, positive_label=None)
    spacy_scores = Scorer.score_cats(examples, "cats", labels=["A", "B"], multi_label=False)
    for key, value in spacy_scores.items():
        assert scores[key] == value
    assert scores["cats_accuracy"] == 0.75
    assert scores["cats_confusion_matrix"] == {"A": {"A": 1, "B": 1}, "B": {"A": 0, "B": 2}}
    assert set(scores["cats_f_per_type"]["A"]) == {"p", "r", "f"}
    # bins: 0.9 (hit), 0.7 (miss), 0.8 and 0.85 (hits): |1-.9|/4 + |0-.7|/4 + |1-.825|*2/4
    assert scores["cats_ece"] == pytest.approx(0.1 / 4 + 0.7 / 4 + 0.175 * 2 / 4)
    import json

    json.dumps(scores)
    # Inferred setting: exclusive here.
    assert registry.scorers.get("spacy_lm.textcat_scorer.v1")()(examples, labels=["A", "B"]) == scores


def test_textcat_scorer_multilabel_extras():
    examples = [
        _cats_example({"A": 1.0, "B": 1.0}, {"A": 0.9, "B": 0.6}),
        _cats_example({"A": 0.0, "B": 1.0}, {"A": 0.6, "B": 0.8}),
    ]
    scores = registry.scorers.get("spacy_lm.textcat_scorer.v1")(multi_label=True)(examples, labels=["A", "B"])
    assert scores["cats_accuracy"] == 0.5
    assert scores["cats_confusion_matrix"]["A"] == {"1": {"1": 1, "0": 0}, "0": {"1": 1, "0": 0}}
    assert scores["cats_confusion_matrix"]["B"] == {"1": {"1": 2, "0": 0}, "0": {"1": 0, "0": 0}}
    ece_a = 0.5 * abs(1 - 0.9) + 0.5 * abs(0 - 0.6)
    ece_b = 0.5 * abs(1 - 0.6) + 0.5 * abs(1 - 0.8)
    assert scores["cats_ece"] == pytest.approx((ece_a + ece_b) / 2)
    assert "cats_macro_auc" in scores


def test_textcat_scorer_rejects_unknown_gold_labels():
    examples = [_cats_example({"A": 1.0, "C": 0.0}, {"A": 1.0, "B": 0.0})]
    with pytest.raises(ValueError, match="C"):
        registry.scorers.get("spacy_lm.textcat_scorer.v1")()(examples, labels=["A", "B"])
