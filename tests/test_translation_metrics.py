"""translation_metrics.corpus_scores (sacreBLEU) and spacy_lm.translation_scorer.v1."""
import math
import sys
from importlib.metadata import entry_points

import pytest
import spacy
from spacy.training import Example
from spacy.util import registry

from spacy_lm.extensions import install_translation_extensions
from spacy_lm.metrics.scorers import make_translation_scorer
from spacy_lm.metrics.translation import corpus_scores

sacrebleu = pytest.importorskip("sacrebleu", reason='sacreBLEU is an extra: pip install -e ".[dev,translation]"')

REFS = ["Two men are standing.", "A dog runs in the snow.", "A woman reads a book."]
HYPS = ["Two men stand.", "A dog is running in snow.", "A woman reads a book."]
KEYS = {"translation_bleu", "translation_bleu_signature", "translation_tok_bleu", "translation_chrf",
        "translation_n"}


def simple_tokens(text):
    """A target tokenizer for the tests: words and the final full stop."""
    return text.replace(".", " .").split()


def test_perfect_hypotheses():
    scores = corpus_scores(REFS, REFS, simple_tokens)
    assert set(scores) == KEYS
    assert scores["translation_bleu"] == pytest.approx(1.0)
    assert scores["translation_tok_bleu"] == pytest.approx(1.0)
    assert scores["translation_chrf"] == pytest.approx(1.0)
    assert scores["translation_n"] == 3


def test_matches_sacrebleu():
    scores = corpus_scores(HYPS, REFS, simple_tokens)
    bleu = sacrebleu.BLEU()
    expected = bleu.corpus_score(HYPS, [REFS]).score / 100
    assert 0.0 < expected < 1.0
    assert scores["translation_bleu"] == pytest.approx(expected)
    assert scores["translation_bleu_signature"] == str(bleu.get_signature())
    assert "tok:13a" in scores["translation_bleu_signature"] and "case:mixed" in scores["translation_bleu_signature"]
    assert scores["translation_chrf"] == pytest.approx(sacrebleu.CHRF().corpus_score(HYPS, [REFS]).score / 100)
    lowered = [" ".join(simple_tokens(t)).lower() for t in HYPS], [" ".join(simple_tokens(t)).lower() for t in REFS]
    tok = sacrebleu.BLEU(tokenize="none").corpus_score(lowered[0], [lowered[1]]).score / 100
    assert scores["translation_tok_bleu"] == pytest.approx(tok)


def test_tok_bleu_uses_the_tokenizer():
    # Without splitting off the full stop, "standing." and "standing" differ; the tokenizer makes them match.
    hyps = ["Two men are standing ."]
    refs = ["Two men are standing."]
    assert corpus_scores(hyps, refs, simple_tokens)["translation_tok_bleu"] == pytest.approx(1.0)
    assert corpus_scores(hyps, refs, str.split)["translation_tok_bleu"] < 1.0


def test_tok_bleu_is_lower_cased_bleu_is_cased():
    hyps = [text.upper() for text in REFS]
    scores = corpus_scores(hyps, REFS, simple_tokens)
    assert scores["translation_tok_bleu"] == pytest.approx(1.0)
    assert scores["translation_bleu"] < 0.5
    assert scores["translation_chrf"] < 0.5


def test_empty_input_and_empty_hypotheses():
    scores = corpus_scores([], [], simple_tokens)
    assert scores == {**{key: None for key in KEYS}, "translation_n": 0}
    scores = corpus_scores(["", REFS[1]], REFS[:2], simple_tokens)
    assert 0.0 < scores["translation_bleu"] < 1.0
    assert scores["translation_n"] == 2
    assert corpus_scores([""], ["A dog."], simple_tokens)["translation_bleu"] == 0.0


def test_without_sacrebleu(monkeypatch):
    monkeypatch.setitem(sys.modules, "sacrebleu", None)  # import sacrebleu now raises ImportError
    with pytest.raises(ImportError, match=r'\[E146\].*pip install "spacy-lm\[translation\]"'):
        corpus_scores(HYPS, REFS, simple_tokens)
    assert corpus_scores([], [], simple_tokens)["translation_n"] == 0  # nothing to score: no import


def test_length_mismatch():
    with pytest.raises(ValueError, match=r"\[E149\].*2 hypotheses and 3 references"):
        corpus_scores(HYPS[:2], REFS, simple_tokens)


# ---- the scorer -------------------------------------------------------------------


class FakeTranslator:
    """What the scorer needs of the translator component."""

    def __init__(self, total_nll=6.0, n_tokens=4):
        self.total_nll = total_nll
        self.n_tokens = n_tokens
        self.seen = None

    def target_tokens(self, text):
        return simple_tokens(text)

    def teacher_forced_nll(self, examples):
        self.seen = list(examples)
        return self.total_nll, self.n_tokens


def make_examples(hyps, refs):
    install_translation_extensions()
    nlp = spacy.blank("de")
    examples = []
    for i, (hyp, ref) in enumerate(zip(hyps, refs)):
        predicted = nlp.make_doc(f"Quelle {i}")
        reference = predicted.copy()
        predicted._.translation = hyp
        reference._.translation = ref
        examples.append(Example(predicted, reference))
    return examples


def test_scorer_keys_and_perplexity():
    examples = make_examples(HYPS, REFS)
    lm = FakeTranslator(total_nll=6.0, n_tokens=4)
    scores = make_translation_scorer()(examples, lm=lm)
    assert set(scores) == KEYS | {"translation_perplexity"}
    assert scores["translation_perplexity"] == pytest.approx(math.exp(1.5))
    assert scores["translation_bleu"] == pytest.approx(corpus_scores(HYPS, REFS, simple_tokens)["translation_bleu"])
    assert lm.seen == examples
    lm = FakeTranslator()
    scores = make_translation_scorer(perplexity=False)(examples, lm=lm)
    assert set(scores) == KEYS and lm.seen is None
    assert make_translation_scorer().takes_lm is True


def test_scorer_missing_hypothesis_counts_as_empty():
    examples = make_examples([None, REFS[1]], REFS[:2])
    scores = make_translation_scorer(perplexity=False)(examples, lm=FakeTranslator())
    assert scores == corpus_scores(["", REFS[1]], REFS[:2], simple_tokens)


def test_scorer_no_examples_and_no_tokens():
    scores = make_translation_scorer()([], lm=FakeTranslator())
    assert scores["translation_n"] == 0 and scores["translation_perplexity"] is None
    scores = make_translation_scorer()(make_examples(HYPS, REFS), lm=FakeTranslator(0.0, 0))
    assert scores["translation_perplexity"] is None


def test_scorer_errors():
    examples = make_examples(HYPS, REFS)
    with pytest.raises(ValueError, match=r"\[E148\]"):
        make_translation_scorer()(examples)
    examples[1].reference._.translation = None
    with pytest.raises(ValueError, match=r"\[E147\] Example 1 \('Quelle 1'\)"):
        make_translation_scorer()(examples, lm=FakeTranslator())


def test_scorer_registered_and_entry_point():
    (ep,) = [ep for ep in entry_points(group="spacy_scorers") if ep.name == "spacy_lm.translation_scorer.v1"]
    assert ep.load() is registry.scorers.get("spacy_lm.translation_scorer.v1") is make_translation_scorer
    scorer = registry.resolve({"s": {"@scorers": "spacy_lm.translation_scorer.v1", "perplexity": False}})["s"]
    assert set(scorer(make_examples(HYPS, REFS), lm=FakeTranslator())) == KEYS
