import math

import pytest
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from spacy_lm.metrics.scorers import perplexity_score


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


def test_scores_of_unscored_docs_are_none_with_a_warning(trained_lm):
    nlp, _ = trained_lm
    doc = nlp("")
    with pytest.warns(UserWarning, match=r"W010\] The language model scored no token"):
        scores = perplexity_score([Example(doc, doc)])
    assert scores["lm_perplexity"] is None and scores["lm_score"] is None and scores["lm_n_predicted"] == 0
    with pytest.warns(UserWarning, match="W010"):
        assert perplexity_score([])["lm_loss"] is None


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


# ---------------------------------------------------------------------- stream scores (v2)
STREAM_TEXTS = ["the cat sat on the mat", "a dog", "the dog saw the cat"]


def _tiny_lm(scorer=None):
    import spacy

    from thinc.api import fix_random_seed

    from .conftest import TINY_LM_CONFIG, make_examples

    fix_random_seed(0)  # the untrained weights: the assertions must not depend on earlier tests
    nlp = spacy.blank("en")
    config = dict(TINY_LM_CONFIG)
    if scorer is not None:
        config["scorer"] = scorer
    nlp.add_pipe("lstm_lm", config=config)
    nlp.initialize(lambda: make_examples(nlp))
    return nlp


def test_perplexity_scorer_v2_adds_stream_scores_of_the_corpus_in_order():
    from spacy_lm.metrics.scorers import takes_lm

    nlp = _tiny_lm({"@scorers": "spacy_lm.perplexity_scorer.v2"})
    lm = nlp.get_pipe("lstm_lm")
    assert takes_lm(lm.scorer) and not takes_lm(registry.scorers.get("spacy_lm.perplexity_scorer.v1")())
    examples = [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in STREAM_TEXTS]
    scores = nlp.evaluate(examples)
    expected = lm.score_stream([nlp.make_doc(t) for t in STREAM_TEXTS])
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value, rel=1e-6)
    assert scores["lm_stream_n_predicted"] == scores["lm_n_predicted"] == 6 + 2 + 5 + 3
    assert scores["lm_stream_loss"] != pytest.approx(scores["lm_loss"], rel=1e-4)  # the state is carried
    reordered = lm.score_stream([nlp.make_doc(t) for t in reversed(STREAM_TEXTS)])
    assert reordered["lm_stream_loss"] != pytest.approx(expected["lm_stream_loss"], rel=1e-6)  # order matters


def test_perplexity_scorer_v2_settings_and_v1_unchanged():
    nlp = _tiny_lm()
    lm = nlp.get_pipe("lstm_lm")
    docs = list(nlp.pipe(STREAM_TEXTS))
    examples = [Example(d, d) for d in docs]
    v1 = registry.scorers.get("spacy_lm.perplexity_scorer.v1")()
    v2 = registry.scorers.get("spacy_lm.perplexity_scorer.v2")
    assert not any(k.startswith("lm_stream") for k in nlp.evaluate(examples))  # v1: the factory default
    assert not any(k.startswith("lm_stream") for k in v1(examples, lm=lm))
    assert v2()(examples) == perplexity_score(examples)  # no lm given: per-doc keys only
    assert v2(stream=False)(examples, lm=lm) == perplexity_score(examples)
    two = v2(n_segments=2)(examples, lm=lm)
    assert two["lm_stream_loss"] == pytest.approx(lm.score_stream(docs, n_segments=2)["lm_stream_loss"], rel=1e-6)
    with pytest.raises(ValueError, match=r"E009.*n_segments"):
        v2(n_segments=0)


def test_ngram_stream_scores_equal_its_per_doc_scores_on_lines():
    """The n-gram context restarts at every <eos>: read as one stream, lines score as alone."""
    import spacy

    from .conftest import make_examples

    nlp = spacy.blank("en")
    nlp.add_pipe("ngram_lm", config={"order": 3, "scorer": {"@scorers": "spacy_lm.perplexity_scorer.v2"}})
    nlp.initialize(lambda: make_examples(nlp))
    scores = nlp.evaluate([Example(nlp.make_doc(t), nlp.make_doc(t)) for t in STREAM_TEXTS + ["a zebra"]])
    assert scores["lm_stream_n_predicted"] == scores["lm_n_predicted"] == 19
    assert scores["lm_stream_loss"] == pytest.approx(scores["lm_loss"], rel=1e-5)
    assert scores["lm_stream_accuracy"] == pytest.approx(scores["lm_accuracy"])


@pytest.mark.slow
def test_spacy_train_with_an_empty_dev_corpus_warns_and_finishes(tmp_path):
    """spaCy's loop drops None scores (its table and meta.json then show 0.0, as for its own
    components): training must not crash, and W010 says the dev corpus scored nothing."""
    from pathlib import Path

    import spacy
    from spacy.cli.train import train

    (tmp_path / "train.txt").write_text("the cat sat on the mat\na dog saw a cat\n" * 3, encoding="utf-8")
    (tmp_path / "dev.txt").write_text("", encoding="utf-8")
    overrides = {"paths.train": str(tmp_path / "train.txt"), "paths.dev": str(tmp_path / "dev.txt"),
                 "components.lstm_lm.model.width": 8, "components.lstm_lm.model.depth": 1,
                 "components.lstm_lm.model.output": "full", "components.lstm_lm.max_length": 5,
                 "corpora.train.n_streams": 2, "corpora.train.chunk_length": 5,
                 "training.max_steps": 2, "training.eval_frequency": 2, "training.logger.progress_bar": None}
    config = Path(__file__).resolve().parent.parent / "configs" / "lstm_lm.cfg"
    with pytest.warns(UserWarning, match="W010"):
        train(config, tmp_path / "out", overrides=overrides)
    assert spacy.load(tmp_path / "out" / "model-last").pipe_names == ["lstm_lm"]
