"""SQuAD v1.1 exact match and F1, and the `qa` scorer for `spacy train` / `spacy evaluate`.

The maths reproduces the official v1.1 evaluation script: both texts are normalised (lower-cased,
``string.punctuation`` removed, the whole words a/an/the removed, whitespace collapsed); EM is 1
when the normalised texts are equal; F1 is the F1 of the normalised token bags (a Counter
intersection), 0 when they share no token (so two empty answers score EM 1 but F1 0, as in v1.1).
A question scores the maximum over its reference answers, and the corpus score averages over every
reference question, a question without a prediction counting 0.

``squad_scores`` gives the official numbers (0..100); ``spacy_lm.qa_scorer.v1`` gives spaCy-style
fractions (0..1) read from ``doc._.answers`` of the predicted docs and the reference answers of the
reference docs (see extensions.py).
"""
import re
import string
from collections import Counter
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from ..extensions import QA_SPANS_KEY, install_qa_extensions

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """The official v1.1 normalisation: lower-case, drop punctuation, drop the articles, then
    collapse whitespace (in that order: "The." loses its "." first, then "the")."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _exact(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def _f1(prediction: str, reference: str) -> float:
    predicted, gold = normalize_answer(prediction).split(), normalize_answer(reference).split()
    n_same = sum((Counter(predicted) & Counter(gold)).values())
    if n_same == 0:
        return 0.0
    precision, recall = n_same / len(predicted), n_same / len(gold)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, references: Sequence[str]) -> float:
    """1.0 if the normalised prediction equals a normalised reference, else 0.0 (also for none)."""
    return max((_exact(prediction, ref) for ref in references), default=0.0)


def f1(prediction: str, references: Sequence[str]) -> float:
    """The best token-overlap F1 of the prediction against any reference (0.0 for none)."""
    return max((_f1(prediction, ref) for ref in references), default=0.0)


def _pooled(pairs: Iterable[Tuple[Optional[str], Sequence[str]]]) -> Tuple[float, float, int, int]:
    """Summed EM and F1, questions and missing predictions over (prediction or None, references)."""
    total_em = total_f1 = 0.0
    n_questions = n_missing = 0
    for prediction, references in pairs:
        n_questions += 1
        if prediction is None:
            n_missing += 1
            continue
        total_em += exact_match(prediction, references)
        total_f1 += f1(prediction, references)
    return total_em, total_f1, n_questions, n_missing


def squad_scores(predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]) -> Dict[str, Any]:
    """The official v1.1 corpus scores: ``exact_match`` and ``f1`` in 0..100, averaged over every
    question of ``references`` (question id -> answer texts; a question absent from
    ``predictions`` scores 0 and is counted in ``missing``). Predictions for other ids are ignored.
    With no reference question both scores are None."""
    pairs = ((predictions.get(qid), refs) for qid, refs in references.items())
    total_em, total_f1, n_questions, n_missing = _pooled(pairs)
    if n_questions == 0:
        return {"exact_match": None, "f1": None, "total": 0, "missing": 0}
    return {"exact_match": 100.0 * total_em / n_questions, "f1": 100.0 * total_f1 / n_questions,
            "total": n_questions, "missing": n_missing}


def predicted_answers(doc: Doc) -> Dict[str, str]:
    """Question id -> answer text of ``doc._.answers`` (the `qa` component's output; {} if unset)."""
    return {str(answer["id"]): answer.get("text") or "" for answer in doc._.answers or []
            if isinstance(answer, Mapping) and "id" in answer}


def reference_answers(doc: Doc) -> Dict[str, List[str]]:
    """Question id -> official answer texts: ``doc._.reference_answers``, or when that is None the
    texts of ``doc.spans["answers"]`` grouped by their label (the question id)."""
    if doc._.reference_answers is not None:
        return {str(qid): list(texts) for qid, texts in doc._.reference_answers.items()}
    grouped: Dict[str, List[str]] = {}
    if QA_SPANS_KEY in doc.spans:
        for span in doc.spans[QA_SPANS_KEY]:
            grouped.setdefault(span.label_, []).append(span.text)
    return grouped


def score_qa(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
    """``qa_em`` and ``qa_f1`` (fractions, the official v1.1 maths) over every question with a
    reference answer, and ``qa_questions``, their number. Questions are told apart per Example,
    so ids such as "q0" may repeat across docs. Nothing to score: None scores, as spaCy gives."""
    install_qa_extensions()

    def pairs() -> Iterable[Tuple[Optional[str], List[str]]]:
        for eg in examples:
            predictions = predicted_answers(eg.predicted)
            for qid, refs in reference_answers(eg.reference).items():
                if refs:
                    yield predictions.get(qid), refs

    total_em, total_f1, n_questions, _ = _pooled(pairs())
    if n_questions == 0:
        return {"qa_em": None, "qa_f1": None, "qa_questions": 0}
    return {"qa_em": total_em / n_questions, "qa_f1": total_f1 / n_questions, "qa_questions": n_questions}


@registry.scorers("spacy_lm.qa_scorer.v1")
def make_qa_scorer() -> Callable[..., Dict[str, Any]]:
    """The scorer of the `qa` component: SQuAD v1.1 EM and F1 as fractions (see ``score_qa``)."""
    return score_qa
