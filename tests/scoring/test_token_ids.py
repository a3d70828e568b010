"""The score-only path (spacy_lm/scoring/token_ids.py): scores equal to nlp(text)'s on random
records, for the whitespace tokenizer (no Doc) and spaCy's own, ORTH and LOWER, forward and
backward LMs; and when it must not apply."""
import math
import random

import pytest
import spacy

from spacy_lm.scoring.scorer import TextScorer
from spacy_lm.scoring.settings import ScoreSettings
from spacy_lm.scoring.token_ids import score_only_path

from ..conftest import TINY_LM_CONFIG, TINY_TEXTS, make_examples

WHITESPACE = {"nlp": {"tokenizer": {"@tokenizers": "spacy_lm.WhitespaceTokenizer.v1"}}}
WORDS = "the The cat CAT sat on mat dog log a saw and <eos> zebra! Ünïcode ,".split()


def random_records(n: int, seed: int):
    """Texts of known and unknown words, <eos> markers inside and at the end, odd whitespace."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, 14))]
        texts.append(rng.choice([" ", "  ", "\t", "\n "]).join(words) + rng.choice(["", " ", "\n"]))
    return texts + ["   ", "<eos>", "cat <eos>", "zebra"]


def build(tmp_path, name, component, config, tokenizer_config=None):
    nlp = spacy.blank("en", config=tokenizer_config or {})
    nlp.add_pipe(component, config=config)
    nlp.initialize(lambda: make_examples(nlp, TINY_TEXTS + ["The CAT saw <eos> a dog ,"]))
    if component == "lstm_lm":
        from thinc.api import Adam

        optimizer = Adam(0.02)
        for _ in range(5):
            nlp.update(make_examples(nlp, TINY_TEXTS), sgd=optimizer)
    nlp.to_disk(tmp_path / name)
    return str(tmp_path / name)


CASES = {
    "ngram_whitespace": ("ngram_lm", {"order": 3}, WHITESPACE),
    "ngram_whitespace_lower": ("ngram_lm", {"order": 4, "attr": "LOWER"}, WHITESPACE),
    "ngram_spacy_tokenizer": ("ngram_lm", {"order": 3}, None),
    "lstm_whitespace": ("lstm_lm", TINY_LM_CONFIG, WHITESPACE),
    "lstm_backward_lower": ("lstm_lm", {**TINY_LM_CONFIG, "direction": "backward", "attr": "LOWER"}, WHITESPACE),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_scores_equal_nlp_on_random_records(tmp_path, case):
    component, config, tokenizer = CASES[case]
    path = build(tmp_path, case, component, config, tokenizer)
    scorer = TextScorer(ScoreSettings(model=path, batch_size=7))
    assert scorer.score_only is not None
    texts = random_records(60, seed=len(case))
    nlp = spacy.load(path)
    got = scorer.score(texts)
    for text, scores in zip(texts, got):
        doc = nlp(text)
        assert scores["n_tokens"] == len(doc)
        assert scores["n_predicted"] == doc._.lm_n_predicted
        if doc._.lm_logprob is None:
            assert scores["logprob"] is None and scores["perplexity"] is None
            continue
        assert scores["logprob"] == pytest.approx(doc._.lm_logprob, rel=1e-6, abs=1e-6)
        assert scores["perplexity"] == pytest.approx(doc._.lm_perplexity, rel=1e-6)
        assert math.isfinite(scores["perplexity"])


def test_prefilter_takes_the_score_only_path(tmp_path):
    path = build(tmp_path, "ngram", "ngram_lm", {"order": 3}, WHITESPACE)
    nlp = spacy.load(path)
    nlp.get_pipe("ngram_lm").to_arpa(tmp_path / "tiny.arpa")
    scorer = TextScorer(ScoreSettings(model=path, prefilter=str(tmp_path / "tiny.arpa"), max_ppl=1e9))
    assert scorer.prefilter_score_only is not None
    texts = random_records(20, seed=5)
    for text, scores in zip(texts, scorer.score(texts)):
        expected = nlp(text)._.lm_perplexity
        if expected is None:
            assert scores["prefilter_perplexity"] is None
        else:
            assert scores["prefilter_perplexity"] == pytest.approx(expected, rel=1e-5)


def test_a_component_before_the_lm_keeps_nlp_pipe(tmp_path):
    """A component before the LM may change what it reads: no score-only path, same scores."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("ngram_lm", config={"order": 2})
    nlp.initialize(lambda: make_examples(nlp, TINY_TEXTS))
    nlp.to_disk(tmp_path / "with_sentencizer")
    scorer = TextScorer(ScoreSettings(model=str(tmp_path / "with_sentencizer")))
    assert scorer.score_only is None
    assert scorer.score(["the cat sat"])[0]["logprob"] == pytest.approx(nlp("the cat sat")._.lm_logprob)
    assert score_only_path(nlp, "ngram_lm") is None


def test_kenlm_backend_gives_the_same_scores(tmp_path):
    pytest.importorskip("kenlm")
    path = build(tmp_path, "ngram", "ngram_lm", {"order": 3}, WHITESPACE)
    nlp = spacy.load(path)
    nlp.get_pipe("ngram_lm").to_arpa(tmp_path / "tiny.arpa")
    scorer = TextScorer(ScoreSettings(model=path, ngram_backend="kenlm", prefilter=str(tmp_path / "tiny.arpa"),
                                      max_ppl=1e9))
    texts = random_records(30, seed=9)
    for text, scores in zip(texts, scorer.score(texts)):
        doc = nlp(text)
        if doc._.lm_logprob is None:  # no tokens: the prefilter rejects it, the LM never sees it
            assert scores["prefilter_perplexity"] is None and "logprob" not in scores
            continue
        assert scores["logprob"] == pytest.approx(doc._.lm_logprob, rel=1e-5)
        assert scores["prefilter_perplexity"] == pytest.approx(doc._.lm_perplexity, rel=1e-5)


def test_an_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match=r"E160.*ngram_backend.*one of \('numpy', 'kenlm'\)"):
        ScoreSettings(model="x", ngram_backend="probing")
