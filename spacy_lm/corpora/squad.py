"""SQuAD-format question answering data for the `qa` component (``spacy_lm.SquadCorpus.v1``).

``read_squad`` yields plain paragraph records with no spaCy involved (the benchmarks, the CLI and
the scorer's tools use it)::

    {"title": str, "context": str,
     "qas": [{"id": str, "question": str, "answers": [{"text": str, "answer_start": int}]}]}

from one of two sources:

* a SQuAD JSON file (``.gz`` allowed) in the official v1.1 layout, which XQuAD shares;
* a HuggingFace ``datasets`` dataset (``load_hf_dataset`` of hf_datasets.py: "rajpurkar/squad" with
  a ``split``, or "json" with local ``data_files``), one row per question with the columns id, title,
  context, question, answers {text, answer_start}; rows are grouped into paragraphs by (title,
  context) and into articles by title, in order of first appearance.

Every answer is checked when the data are read: ``context[answer_start:answer_start + len(text)]``
must be the answer text (E283), and question ids must be unique (E284).

Selection, in this order (articles counted in file order):
``skip_articles`` / ``take_articles`` slice the articles (see ``article_range``; ``take_articles =
-20`` keeps all but the last 20, ``skip_articles = -20`` only the last 20, so one config trains on
the first and tunes on the second); ``max_questions`` keeps whole paragraphs while their questions
fit under the cap (0: all); ``limit`` caps the paragraphs (0: all).

``squad_examples`` turns records into training Examples (the contract in extensions.py): the
predicted doc is ``nlp.make_doc(context)`` with ``doc._.questions``; the reference doc is a copy
with the same questions, one Span per reference answer in ``doc.spans["answers"]`` (label: the
question id) and ``doc._.reference_answers``. An answer whose characters do not fall on token
boundaries is widened to the tokens it touches (``alignment_mode="expand"``) and counted;
``alignment_report`` gives those counts for a corpus and a tokenizer.
"""
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Union

import numpy
from spacy.training import Example
from spacy.util import ensure_path, logger, registry

from ..checks import check_setting, is_count, is_int
from ..errors import Errors
from ..extensions import QA_SPANS_KEY, install_qa_extensions
from ..metrics.qa import f1 as f1_score
from ..metrics.qa import squad_scores
from .files import check_text_file, read_text_lines
from .hf_datasets import DataFiles, load_hf_dataset

if TYPE_CHECKING:
    from spacy.language import Language  # noqa: F401

READER = "spacy_lm.SquadCorpus.v1"
FILE_SUFFIXES = (".json", ".json.gz", ".gz")
Record = Dict[str, Any]
Article = Dict[str, Any]  # {"title": str, "paragraphs": List[Record]}


# ---------------------------------------------------------------------- checking records


def _layout_error(where: str, reason: str) -> ValueError:
    return ValueError(Errors.E282.format(where=where, reason=reason))


def _field(obj: Any, key: str, types: Any, where: str) -> Any:
    """``obj[key]`` of one of ``types``, else E282 naming ``where`` and what was found."""
    if not isinstance(obj, dict):
        raise _layout_error(where, f"expected an object, got {type(obj).__name__}")
    if key not in obj:
        raise _layout_error(where, f"no {key!r} field (it has {sorted(obj)})")
    value = obj[key]
    if not isinstance(value, types) or isinstance(value, bool):
        names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise _layout_error(where, f"{key!r} must be {names}, got {type(value).__name__}")
    return value


def _check_answer(context: str, qid: str, text: str, start: int, where: str) -> None:
    if start < 0 or context[start:start + len(text)] != text:
        found = context[max(start, 0):max(start, 0) + len(text)]
        raise ValueError(Errors.E283.format(where=where, qid=qid, text=text, start=start, found=found))


def _question(qa: Any, context: str, where: str, seen: Dict[str, str]) -> Record:
    """One checked question record (E282 layout, E283 offsets, E284 a repeated id)."""
    qid = str(_field(qa, "id", (str, int), where))
    where_q = f"{where}, question {qid}"
    question = _field(qa, "question", str, where_q)
    answers = []
    for answer in _field(qa, "answers", list, where_q):
        text = _field(answer, "text", str, where_q)
        start = _field(answer, "answer_start", (int, numpy.integer), where_q)
        _check_answer(context, qid, text, start, where)
        answers.append({"text": text, "answer_start": int(start)})
    if qid in seen:
        raise ValueError(Errors.E284.format(where=where, qid=qid, first=seen[qid]))
    seen[qid] = where
    return {"id": qid, "question": question, "answers": answers}


# ---------------------------------------------------------------------- articles of each source


def _load_json(loc: Path) -> Any:
    text = "".join(read_text_lines(loc))  # E062 for bad UTF-8 or damaged gzip, naming the file
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(Errors.E281.format(path=loc, reason=err)) from err


def file_articles(path: Union[str, Path]) -> List[Article]:
    """The checked articles of a SQuAD JSON file (official v1.1 layout, XQuAD's too)."""
    loc = check_text_file(path)
    data = _field(_load_json(loc), "data", list, str(loc))
    articles, seen = [], {}  # type: List[Article], Dict[str, str]
    for i, article in enumerate(data):
        where_a = f"{loc} article {i}"
        paragraphs = _field(article, "paragraphs", list, where_a)
        title = str(article.get("title", ""))
        records = []
        for j, paragraph in enumerate(paragraphs):
            where = f"{where_a} ({title!r}) paragraph {j}"
            context = _field(paragraph, "context", str, where)
            qas = [_question(qa, context, where, seen) for qa in _field(paragraph, "qas", list, where)]
            records.append({"title": title, "context": context, "qas": qas})
        articles.append({"title": title, "paragraphs": records})
    return articles


def dataset_articles(rows: Iterable[Dict[str, Any]], where: str = "dataset") -> List[Article]:
    """Articles of a question-per-row dataset (HF squad's columns): rows grouped by title, then
    by context, in order of first appearance; each row's answers as {"text": [...],
    "answer_start": [...]} (HF) or a list of {"text", "answer_start"} dicts."""
    by_title: Dict[str, Dict[str, Record]] = {}
    seen: Dict[str, str] = {}
    for i, row in enumerate(rows):
        where_r = f"{where} row {i}"
        title = str(_field(row, "title", str, where_r))
        context = _field(row, "context", str, where_r)
        answers = _field(row, "answers", (dict, list), where_r)
        if isinstance(answers, dict):
            texts = _field(answers, "text", list, f"{where_r} answers")
            starts = _field(answers, "answer_start", list, f"{where_r} answers")
            if len(texts) != len(starts):
                raise _layout_error(where_r, f"{len(texts)} answer texts but {len(starts)} answer_start values")
            answers = [{"text": text, "answer_start": start} for text, start in zip(texts, starts)]
        paragraphs = by_title.setdefault(title, {})
        record = paragraphs.setdefault(context, {"title": title, "context": context, "qas": []})
        record["qas"].append(_question({**row, "answers": answers}, context, where_r, seen))
    return [{"title": title, "paragraphs": list(paragraphs.values())} for title, paragraphs in by_title.items()]


# ---------------------------------------------------------------------- selection


def article_range(n_articles: int, skip_articles: int = 0, take_articles: int = 0) -> range:
    """Indices of the articles kept. ``skip_articles`` >= 0 skips that many from the start, < 0
    starts that many from the end; ``take_articles`` > 0 keeps that many after the start, 0 all
    the rest, < 0 all the rest but that many at the end. E.g. of 442: (0, -20) is 0..421 and
    (-20, 0) is 422..441."""
    n = n_articles
    start = min(n, skip_articles if skip_articles >= 0 else max(0, n + skip_articles))
    if take_articles > 0:
        stop = min(n, start + take_articles)
    else:
        stop = n + take_articles if take_articles < 0 else n
    return range(start, max(start, stop))


def select_records(articles: List[Article], *, skip_articles: int = 0, take_articles: int = 0,
                   max_questions: int = 0, limit: int = 0) -> Iterator[Record]:
    """The paragraphs of the sliced articles, whole paragraphs in order while their questions
    stay within ``max_questions`` (0: all), at most ``limit`` of them (0: all)."""
    kept = article_range(len(articles), skip_articles, take_articles)
    n_paragraphs = n_questions = 0
    for i in kept:
        for record in articles[i]["paragraphs"]:
            if (max_questions and n_questions + len(record["qas"]) > max_questions) or (
                    limit and n_paragraphs >= limit):
                logger.debug("SQuAD: %d paragraphs, %d questions (max_questions=%d, limit=%d)",
                             n_paragraphs, n_questions, max_questions, limit)
                return
            n_paragraphs += 1
            n_questions += len(record["qas"])
            yield record
    logger.debug("SQuAD: %d paragraphs, %d questions from articles %s", n_paragraphs, n_questions, kept)


# ---------------------------------------------------------------------- the corpus


def _check(ok: bool, setting: str, requirement: str, value: Any) -> None:
    check_setting(ok, setting, requirement, value, where=READER)


class SquadCorpus:
    """Paragraph records of one SQuAD source and, called with ``nlp``, their Examples; see the
    module docstring and ``create_squad_reader``. Arguments are checked now, files when first
    read; a HuggingFace dataset is loaded on the first read and kept for later epochs."""

    def __init__(self, path: Optional[Union[str, Path]] = None, dataset: Any = None, *,
                 name: Optional[str] = None, split: Optional[str] = None,
                 data_files: Optional[DataFiles] = None, cache_dir: Optional[str] = None,
                 limit: int = 0, max_questions: int = 0, skip_articles: int = 0, take_articles: int = 0,
                 max_context_tokens: Optional[int] = None) -> None:
        if (path is None) == (dataset is None):
            given = [n for n, v in (("path", path), ("dataset", dataset)) if v is not None]
            raise ValueError(Errors.E280.format(given=" and ".join(given) or "neither"))
        _check(dataset is not None or split is None, "split", "null for a file (a split names part of "
               "a dataset; give the file of that split as path)", split)
        for setting, value in (("limit", limit), ("max_questions", max_questions)):
            _check(is_count(value, 0), setting, "an integer >= 0 (0: all)", value)
        for setting, value in (("skip_articles", skip_articles), ("take_articles", take_articles)):
            _check(is_int(value), setting, "an integer (negative: counted from the end)", value)
        _check(max_context_tokens is None or is_count(max_context_tokens, 1), "max_context_tokens",
               "a positive integer, or null to keep every paragraph", max_context_tokens)
        self.path = ensure_path(path) if path is not None else None
        self.dataset_path = dataset
        self.name = name
        self.split = split
        self.data_files = data_files
        self.cache_dir = cache_dir
        self.limit = limit
        self.max_questions = max_questions
        self.skip_articles = skip_articles
        self.take_articles = take_articles
        self.max_context_tokens = max_context_tokens
        self._dataset_articles: Optional[List[Article]] = None

    def articles(self) -> List[Article]:
        """All checked articles: a file read afresh, a dataset loaded and grouped once."""
        if self.path is not None:
            return file_articles(self.path)
        if self._dataset_articles is None:
            split = self.split or "train"
            dataset = self.dataset_path
            if isinstance(dataset, str):
                dataset = load_hf_dataset(dataset, name=self.name, split=split, data_files=self.data_files,
                                          cache_dir=self.cache_dir)
            label = self.dataset_path if isinstance(self.dataset_path, str) else type(self.dataset_path).__name__
            self._dataset_articles = dataset_articles(dataset, f"{label} ({split})")
        return self._dataset_articles

    def records(self) -> Iterator[Record]:
        return select_records(self.articles(), skip_articles=self.skip_articles,
                              take_articles=self.take_articles, max_questions=self.max_questions,
                              limit=self.limit)

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        return squad_examples(nlp, self.records(), max_context_tokens=self.max_context_tokens)


def _is_file(source: Any) -> bool:
    if isinstance(source, Path):
        return True
    return isinstance(source, str) and (source.lower().endswith(FILE_SUFFIXES) or Path(source).is_file())


def read_squad(path_or_dataset: Any, *, split: Optional[str] = None, limit: int = 0, max_questions: int = 0,
               skip_articles: int = 0, take_articles: int = 0, name: Optional[str] = None,
               data_files: Optional[DataFiles] = None, cache_dir: Optional[str] = None) -> Iterator[Record]:
    """Paragraph records (see the module docstring) of a SQuAD JSON file (a Path, or a str naming
    an existing file or ending in .json / .gz), a HuggingFace dataset name (``split`` default
    "train"), or rows already loaded (a ``datasets.Dataset`` or a list of row dicts). The data
    are read and checked now, so errors come at the call."""
    is_file = _is_file(path_or_dataset)
    corpus = SquadCorpus(path_or_dataset if is_file else None, None if is_file else path_or_dataset,
                         name=name, split=split, data_files=data_files, cache_dir=cache_dir, limit=limit,
                         max_questions=max_questions, skip_articles=skip_articles, take_articles=take_articles)
    articles = corpus.articles()
    return select_records(articles, skip_articles=skip_articles, take_articles=take_articles,
                          max_questions=max_questions, limit=limit)


# ---------------------------------------------------------------------- Examples


def squad_examples(nlp: "Language", records: Iterable[Record], *, max_context_tokens: Optional[int] = None,
                   stats: Optional[Counter] = None) -> Iterator[Example]:
    """One Example per paragraph record (the contract of extensions.py; questions stripped of
    surrounding whitespace). Paragraphs of more than ``max_context_tokens`` tokens are skipped.
    ``stats``, if given, counts paragraphs, questions, answers and how they align to tokens."""
    install_qa_extensions()
    stats = Counter() if stats is None else stats
    for record in records:
        predicted = nlp.make_doc(record["context"])
        if max_context_tokens is not None and len(predicted) > max_context_tokens:
            stats["paragraphs_skipped_long"] += 1
            continue
        stats["paragraphs"] += 1
        stats["context_tokens"] += len(predicted)
        stats["context_tokens_max"] = max(stats["context_tokens_max"], len(predicted))
        predicted._.questions = [{"id": qa["id"], "text": qa["question"].strip()} for qa in record["qas"]]
        reference = predicted.copy()
        reference._.questions = [dict(question) for question in predicted._.questions]
        spans, answers = [], {}
        for qa in record["qas"]:
            stats["questions"] += 1
            answers[qa["id"]] = [answer["text"] for answer in qa["answers"]]
            if not qa["answers"]:
                stats["questions_without_answers"] += 1
            for answer in qa["answers"]:
                span = _answer_span(reference, qa["id"], answer, stats)
                if span is not None:
                    spans.append(span)
        reference.spans[QA_SPANS_KEY] = spans
        reference._.reference_answers = answers
        yield Example(predicted, reference)


def _answer_span(doc: Any, qid: str, answer: Record, stats: Counter) -> Any:
    """The answer's token span, widened to the tokens it touches when its characters do not fall
    on token boundaries (counted); None (counted) for an answer of whitespace only."""
    stats["answers"] += 1
    start = answer["answer_start"]
    end = start + len(answer["text"])
    span = doc.char_span(start, end, label=qid)
    if span is not None:
        stats["answers_on_token_boundaries"] += 1
        return span
    span = doc.char_span(start, end, label=qid, alignment_mode="expand")
    stats["answers_widened" if span is not None and len(span) else "answers_unaligned"] += 1
    return span if span is not None and len(span) else None


def alignment_report(nlp: "Language", records: Iterable[Record], *,
                     max_context_tokens: Optional[int] = None) -> Dict[str, Any]:
    """How a corpus meets ``nlp``'s tokenizer: the counts of ``squad_examples`` (paragraphs,
    questions, answers on token boundaries, widened, unaligned), context tokens (mean, max), and
    the oracle EM / F1 (0..100, official maths) of the gold token spans' texts: the best any
    token-span reader can score on these references with this tokenizer."""
    stats: Counter = Counter()
    predictions: Dict[str, str] = {}
    references: Dict[str, List[str]] = {}
    for eg in squad_examples(nlp, records, max_context_tokens=max_context_tokens, stats=stats):
        refs = eg.reference._.reference_answers
        for qid, texts in refs.items():
            if texts:
                references[qid] = texts
        for span in eg.reference.spans[QA_SPANS_KEY]:
            best = predictions.get(span.label_)
            if best is None or f1_score(span.text, refs[span.label_]) > f1_score(best, refs[span.label_]):
                predictions[span.label_] = span.text
    oracle = squad_scores(predictions, references)
    report: Dict[str, Any] = {key: stats[key] for key in (
        "paragraphs", "questions", "answers", "answers_on_token_boundaries", "answers_widened",
        "answers_unaligned", "questions_without_answers", "paragraphs_skipped_long", "context_tokens_max")}
    report["context_tokens_mean"] = stats["context_tokens"] / stats["paragraphs"] if stats["paragraphs"] else 0.0
    report["oracle_exact_match"] = oracle["exact_match"]
    report["oracle_f1"] = oracle["f1"]
    return report


@registry.readers(READER)
def create_squad_reader(
    path: Optional[Union[str, Path]] = None,
    dataset: Optional[str] = None,
    *,
    name: Optional[str] = None,
    split: Optional[str] = None,
    data_files: Optional[DataFiles] = None,
    cache_dir: Optional[str] = None,
    limit: int = 0,
    max_questions: int = 0,
    skip_articles: int = 0,
    take_articles: int = 0,
    max_context_tokens: Optional[int] = None,
) -> Callable[["Language"], Iterable[Example]]:
    """Reader of SQuAD-format data for `qa`: one Example per paragraph, the context tokenised by
    the pipeline's tokenizer, its questions in ``doc._.questions``, the gold answers as token spans
    in ``reference.spans["answers"]`` and as texts in ``reference._.reference_answers``.

    path: a SQuAD JSON file (.gz allowed; official v1.1 layout, XQuAD's too).
    dataset, name, split, data_files, cache_dir: a HuggingFace dataset (``datasets.load_dataset``;
        split default "train"). Give exactly one of path and dataset (E280).
    skip_articles / take_articles: slice the articles in file order (negative: from the end).
    max_questions: whole paragraphs while their questions fit under this cap (0: all).
    limit: at most this many paragraphs (0: all).
    max_context_tokens: skip paragraphs with more tokens (null: keep all).

    All of train but its last 20 articles, and those 20 to tune on::

        [corpora.train]
        @readers = "spacy_lm.SquadCorpus.v1"
        path = ${paths.train}
        take_articles = -20

        [corpora.dev]
        @readers = "spacy_lm.SquadCorpus.v1"
        path = ${paths.train}
        skip_articles = -20
    """
    return SquadCorpus(path, dataset, name=name, split=split, data_files=data_files, cache_dir=cache_dir,
                       limit=limit, max_questions=max_questions, skip_articles=skip_articles,
                       take_articles=take_articles, max_context_tokens=max_context_tokens)
