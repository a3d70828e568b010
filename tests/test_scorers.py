import math

import pytest
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from spacy_lm.scorers import corpus_perplexity, find_lm_component, perplexity_score, read_corpus_docs


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


def test_corpus_perplexity_reads_text_and_docbin(trained_lm, tmp_path):
    nlp, _ = trained_lm
    text_file = tmp_path / "data.txt"
    text_file.write_text("the cat sat\n\na dog\n", encoding="utf-8")
    docs = list(read_corpus_docs(nlp, text_file))
    assert [d.text for d in docs] == ["the cat sat", "a dog"]  # default tokenizer: blank lines skipped
    scores = corpus_perplexity(nlp, docs)
    assert scores["n_docs"] == 2 and scores["lm_n_predicted"] == 7
    assert find_lm_component(nlp) == "lstm_lm"
    with pytest.raises(ValueError, match="No component 'tagger'"):
        find_lm_component(nlp, "tagger")
    from spacy.tokens import DocBin

    DocBin(docs=[Doc(nlp.vocab, words=["a", "cat"])]).to_disk(tmp_path / "d.spacy")
    assert corpus_perplexity(nlp, read_corpus_docs(nlp, tmp_path / "d.spacy"))["lm_n_predicted"] == 3
