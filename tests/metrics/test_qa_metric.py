"""SQuAD v1.1 EM / F1 (the official maths) and the `qa` scorer (spacy_lm.qa_scorer.v1)."""
import pytest
import spacy
from spacy.training import Example
from spacy.util import registry

from spacy_lm.extensions import QA_SPANS_KEY, install_qa_extensions
from spacy_lm.metrics.qa import exact_match, f1, normalize_answer, score_qa, squad_scores


@pytest.mark.parametrize("text,expected", [
    ("The Denver Broncos", "denver broncos"),
    ("  an   apple,\tthe pie. ", "apple pie"),
    ("Theater anthem", "theater anthem"),  # articles only as whole words
    ("U.S.A.", "usa"),
    ("the-end", "theend"),  # punctuation goes first, so "the" is no longer a word
    ("A", ""),
    ("Don't STOP", "dont stop"),
    ("1990–2000", "1990–2000"),  # an en dash is not in string.punctuation
])
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_exact_match_normalises_both_sides():
    assert exact_match("the Eiffel Tower", ["Eiffel Tower."]) == 1.0
    assert exact_match("Eiffel", ["Eiffel Tower"]) == 0.0
    assert exact_match("anything", []) == 0.0


def test_f1_by_hand():
    # pred {quick, brown, fox} vs ref {quick, brown, dog, jumps}: P = 2/3, R = 1/2
    assert f1("The quick brown fox", ["quick brown dog jumps"]) == pytest.approx(4 / 7)
    # token bags: x x y vs x y y share one x and one y
    assert f1("x x y", ["x y y"]) == pytest.approx(2 / 3)
    assert f1("Paris", ["London"]) == 0.0


def test_empty_answers_as_in_v1_1():
    """Both normalised to nothing: equal (EM 1) but no common token (F1 0), as the v1.1 script."""
    assert exact_match("the", ["A."]) == 1.0
    assert f1("the", ["A."]) == 0.0


def test_multiple_references_take_the_max():
    refs = ["fox", "red dog", "brown fox jumps"]  # F1 2/3, 0, 0.8
    assert f1("brown fox", refs) == pytest.approx(0.8)
    assert exact_match("Fox!", refs) == 1.0


def test_squad_scores_average_over_every_reference_question():
    references = {"q1": ["Denver Broncos"], "q2": ["Santa Clara", "Santa Clara, California"], "q3": ["gold"]}
    predictions = {"q1": "the Denver Broncos", "q2": "Clara", "q4": "not asked"}
    scores = squad_scores(predictions, references)
    assert scores["total"] == 3 and scores["missing"] == 1
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert scores["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3)
    assert squad_scores({}, {}) == {"exact_match": None, "f1": None, "total": 0, "missing": 0}


def _example(nlp, context, answers, *, reference_answers=None, spans=()):
    install_qa_extensions()
    predicted = nlp.make_doc(context)
    reference = predicted.copy()
    predicted._.answers = answers
    reference._.reference_answers = reference_answers
    reference.spans[QA_SPANS_KEY] = [reference.char_span(s, e, label=qid) for qid, s, e in spans]
    return Example(predicted, reference)


def test_scorer_on_examples():
    nlp = spacy.blank("en")
    context = "Super Bowl 50 was played in Santa Clara, California."
    first = _example(nlp, context, [{"id": "q0", "text": "Santa Clara"}, {"id": "q1", "text": "Bowl"}],
                     reference_answers={"q0": ["Santa Clara", "Santa Clara, California"], "q1": ["Super Bowl 50"],
                                        "q2": []})
    # no reference_answers: the gold spans' texts, grouped by label; "q0" again, but another question
    second = _example(nlp, context, [{"id": "q0", "text": "California"}],
                      spans=[("q0", 28, 39), ("q0", 41, 51), ("q9", 0, 5)])
    scores = score_qa([first, second])
    # q0 EM 1; q1 F1 vs "super bowl 50" = 2 * (1 * 1/3) / (4/3) = 0.5; second q0 EM 1; q9 missing
    assert scores["qa_questions"] == 4
    assert scores["qa_em"] == pytest.approx(2 / 4)
    assert scores["qa_f1"] == pytest.approx((1 + 0.5 + 1 + 0) / 4)


def test_scorer_without_examples_gives_none():
    assert score_qa([]) == {"qa_em": None, "qa_f1": None, "qa_questions": 0}
    nlp = spacy.blank("en")
    unlabelled = _example(nlp, "No gold here.", None)
    assert score_qa([unlabelled])["qa_f1"] is None


def test_scorer_from_the_registry():
    scorer = registry.resolve({"scorer": {"@scorers": "spacy_lm.qa_scorer.v1"}})["scorer"]
    assert scorer is score_qa
