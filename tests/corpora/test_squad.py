"""spacy_lm.SquadCorpus.v1, read_squad and squad_examples: SQuAD JSON files, HF rows, token spans,
article slicing, caps and coded errors for bad files."""
import gzip
import json
from collections import Counter

import pytest
import spacy
from spacy.util import registry

from spacy_lm.corpora.squad import (alignment_report, article_range, create_squad_reader, dataset_articles,
                                    read_squad, squad_examples)
from spacy_lm.extensions import QA_SPANS_KEY

CONTEXTS = [
    "Super Bowl 50 was played at Levi's Stadium in Santa Clara, California.",
    "The Broncos beat the Panthers 24-10.",
    "Warsaw is the capital of Poland.",
    "Normandy is a region in France.",
    "Nikola Tesla was born in 1856.",
]
# (title, [(context index, [(question, [answer texts])])])
ARTICLES = [
    ("Super_Bowl_50", [(0, [("Where was it played?", ["Levi's Stadium", "Santa Clara"]),
                            ("Which Super Bowl?", ["5"])]),  # "5" lies inside the token "50": widened
                       (1, [("Who won?", ["Broncos"]), ("Who lost?", ["Panthers"]), ("Score?", ["24-10"])])]),
    ("Warsaw", [(2, [("Capital of?", ["Poland"])])]),
    ("Normans", [(3, [("Where is Normandy?", ["France"]), ("What is it?", ["region"])])]),
    ("Nikola_Tesla", [(4, [("Born when?", ["1856"])])]),
]


def squad_json(articles=ARTICLES):
    data = []
    for title, paragraphs in articles:
        paras = []
        for c, qas in paragraphs:
            context = CONTEXTS[c]
            paras.append({"context": context, "qas": [
                {"id": f"{title}-{c}-{k}", "question": question,
                 "answers": [{"text": text, "answer_start": context.index(text)} for text in texts]}
                for k, (question, texts) in enumerate(qas)]})
        data.append({"title": title, "paragraphs": paras})
    return {"data": data, "version": "1.1"}


def write(path, obj):
    text = obj if isinstance(obj, str) else json.dumps(obj)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def squad_file(tmp_path):
    return write(tmp_path / "train.json", squad_json())


def titles(records):
    return [record["title"] for record in records]


def test_read_squad_records(squad_file, tmp_path):
    records = list(read_squad(squad_file))
    assert titles(records) == ["Super_Bowl_50", "Super_Bowl_50", "Warsaw", "Normans", "Nikola_Tesla"]
    assert records[0]["context"] == CONTEXTS[0]
    assert records[0]["qas"][0] == {"id": "Super_Bowl_50-0-0", "question": "Where was it played?", "answers": [
        {"text": "Levi's Stadium", "answer_start": 28}, {"text": "Santa Clara", "answer_start": 46}]}
    gz = write(tmp_path / "train.json.gz", squad_json())
    assert list(read_squad(gz)) == records
    assert list(read_squad(str(squad_file))) == records


def test_examples_carry_questions_spans_and_reference_answers(squad_file):
    nlp = spacy.blank("en")
    stats = Counter()
    examples = list(squad_examples(nlp, read_squad(squad_file), stats=stats))
    eg = examples[1]
    assert eg.predicted.text == eg.reference.text == CONTEXTS[1]
    assert [t.text for t in eg.predicted] == [t.text for t in eg.reference]
    ids = ["Super_Bowl_50-1-0", "Super_Bowl_50-1-1", "Super_Bowl_50-1-2"]
    assert eg.predicted._.questions == [{"id": i, "text": q} for i, q in zip(ids, ["Who won?", "Who lost?", "Score?"])]
    assert eg.reference._.questions == eg.predicted._.questions
    assert QA_SPANS_KEY not in eg.predicted.spans and eg.predicted._.reference_answers is None
    spans = eg.reference.spans[QA_SPANS_KEY]
    assert [(s.label_, s.text) for s in spans] == list(zip(ids, ["Broncos", "Panthers", "24-10"]))
    for span in spans:  # exactly the answer's characters
        answer = eg.reference._.reference_answers[span.label_][0]
        assert CONTEXTS[1][span.start_char:span.end_char] == answer
    assert eg.reference._.reference_answers == {ids[0]: ["Broncos"], ids[1]: ["Panthers"], ids[2]: ["24-10"]}
    # one span per reference answer, even two for one question
    first = examples[0].reference.spans[QA_SPANS_KEY]
    assert [(s.label_, s.text) for s in first] == [
        ("Super_Bowl_50-0-0", "Levi's Stadium"), ("Super_Bowl_50-0-0", "Santa Clara"), ("Super_Bowl_50-0-1", "50")]
    assert stats["answers"] == 10 and stats["answers_widened"] == 1
    assert stats["answers_on_token_boundaries"] == 9 and stats["questions"] == 9 and stats["paragraphs"] == 5


def test_widened_answer_keeps_the_official_text(squad_file):
    nlp = spacy.blank("en")
    eg = next(iter(squad_examples(nlp, read_squad(squad_file))))
    assert eg.reference._.reference_answers["Super_Bowl_50-0-1"] == ["5"]
    report = alignment_report(nlp, read_squad(squad_file))
    assert report["answers_widened"] == 1 and report["answers_on_token_boundaries"] == 9
    assert report["questions"] == 9 and report["context_tokens_max"] == len(nlp.make_doc(CONTEXTS[0]))
    # the widened span "50" scores EM 0 and F1 0 against "5": 8 of 9 questions
    assert report["oracle_exact_match"] == pytest.approx(100 * 8 / 9)


def test_max_context_tokens_skips_long_paragraphs(squad_file):
    stats = Counter()
    examples = list(squad_examples(spacy.blank("en"), read_squad(squad_file), max_context_tokens=9, stats=stats))
    assert [eg.predicted.text for eg in examples] == CONTEXTS[1:]
    assert stats["paragraphs_skipped_long"] == 1


@pytest.mark.parametrize("skip,take,expected", [
    (0, 0, [0, 1, 2, 3]), (1, 2, [1, 2]), (0, -1, [0, 1, 2]), (-1, 0, [3]), (-3, 2, [1, 2]),
    (2, -1, [2]), (5, 0, []), (-9, 1, [0]), (3, -2, []),
])
def test_article_range(skip, take, expected):
    assert list(article_range(4, skip, take)) == expected


def test_article_slicing_holds_out_the_last_articles(squad_file):
    train = create_squad_reader(squad_file, take_articles=-1)
    tune = create_squad_reader(squad_file, skip_articles=-1)
    assert titles(train.records()) == ["Super_Bowl_50", "Super_Bowl_50", "Warsaw", "Normans"]
    assert titles(tune.records()) == ["Nikola_Tesla"]


@pytest.mark.parametrize("max_questions,limit,n_paragraphs", [(4, 0, 1), (5, 0, 2), (6, 0, 3), (7, 0, 3), (8, 0, 4),
                                                               (0, 2, 2), (6, 1, 1), (1, 0, 0)])
def test_max_questions_keeps_whole_paragraphs(squad_file, max_questions, limit, n_paragraphs):
    # questions per paragraph: 2, 3, 1, 2, 1
    records = list(read_squad(squad_file, max_questions=max_questions, limit=limit))
    assert len(records) == n_paragraphs
    assert [r["context"] for r in records] == CONTEXTS[:n_paragraphs]


def test_reader_from_a_config(squad_file):
    config = {"corpora": {"train": {"@readers": "spacy_lm.SquadCorpus.v1", "path": str(squad_file),
                                    "take_articles": -2, "max_questions": 100}}}
    reader = registry.resolve(config)["corpora"]["train"]
    examples = list(reader(spacy.blank("en")))
    assert len(examples) == 3
    assert sum(len(eg.reference.spans[QA_SPANS_KEY]) for eg in examples) == 7


def test_dataset_rows_group_into_paragraphs(squad_file):
    rows = [{"id": qa["id"], "title": record["title"], "context": record["context"], "question": qa["question"],
             "answers": {"text": [a["text"] for a in qa["answers"]],
                         "answer_start": [a["answer_start"] for a in qa["answers"]]}}
            for record in read_squad(squad_file) for qa in record["qas"]]
    rows = rows[2:] + rows[:2]  # out of order: grouping keeps the order of first appearance
    articles = dataset_articles(rows)
    assert [a["title"] for a in articles] == ["Super_Bowl_50", "Warsaw", "Normans", "Nikola_Tesla"]
    assert [r["context"] for r in articles[0]["paragraphs"]] == [CONTEXTS[1], CONTEXTS[0]]
    assert list(read_squad(rows, skip_articles=1)) == list(read_squad(squad_file, skip_articles=1))


def test_hf_json_dataset_offline(squad_file, tmp_path, offline):
    path = tmp_path / "squad.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for record in read_squad(squad_file):
            for qa in record["qas"]:
                answers = {"text": [a["text"] for a in qa["answers"]],
                           "answer_start": [a["answer_start"] for a in qa["answers"]]}
                handle.write(json.dumps({"id": qa["id"], "title": record["title"], "context": record["context"],
                                         "question": qa["question"], "answers": answers}) + "\n")
    reader = create_squad_reader(dataset="json", data_files=str(path), cache_dir=offline)
    assert list(reader.records()) == list(read_squad(squad_file))
    assert len(list(reader(spacy.blank("en")))) == 5


# ---- coded errors -------------------------------------------------------------------------


def bad_answer(data):
    data["data"][1]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 3
    return data


def duplicate_id(data):
    data["data"][2]["paragraphs"][0]["qas"][1]["id"] = "Warsaw-2-0"
    return data


@pytest.mark.parametrize("content,pattern", [
    ("{not json", r"\[E281\] .*bad\.json.*not JSON"),
    ({"version": "1.1"}, r"\[E282\] .*bad\.json is not in SQuAD's layout: no 'data' field"),
    ({"data": [{"title": "x"}]}, r"\[E282\] .*bad\.json article 0 is not .*no 'paragraphs' field"),
    ({"data": [{"title": "x", "paragraphs": [{"context": "c", "qas": [{"id": "a", "question": "q",
                                                                        "answers": [{"text": "c"}]}]}]}]},
     r"\[E282\] .*question a is not .*no 'answer_start'"),
    (bad_answer(squad_json()), r"\[E283\] .*bad\.json article 1 \('Warsaw'\) paragraph 0, question Warsaw-2-0: "
                               r"answer 'Poland' does not match the context at answer_start=3"),
    (duplicate_id(squad_json()), r"\[E284\] .*question id 'Warsaw-2-0' occurs twice"),
])
def test_bad_files_are_coded_errors(tmp_path, content, pattern):
    path = write(tmp_path / "bad.json", content)
    with pytest.raises(ValueError, match=pattern) as err:
        list(read_squad(path))
    assert "\n" not in str(err.value)


def test_missing_file_fails_when_read_not_when_made(tmp_path):
    reader = create_squad_reader(tmp_path / "absent.json")
    with pytest.raises(ValueError, match=r"\[E062\] .*absent\.json: no such file"):
        list(reader(spacy.blank("en")))
    with pytest.raises(ValueError, match=r"\[E062\]"):
        read_squad(tmp_path / "absent.json")


@pytest.mark.parametrize("kwargs,pattern", [
    ({}, r"\[E280\] .*got neither"),
    ({"path": "a.json", "dataset": "squad"}, r"\[E280\] .*got path and dataset"),
    ({"path": "a.json", "limit": -1}, r"\[E009\] spacy_lm.SquadCorpus.v1: limit must be"),
    ({"path": "a.json", "max_questions": 1.5}, r"\[E009\] .*max_questions"),
    ({"path": "a.json", "take_articles": "-20"}, r"\[E009\] .*take_articles"),
    ({"path": "a.json", "max_context_tokens": 0}, r"\[E009\] .*max_context_tokens"),
    ({"path": "a.json", "split": "validation"}, r"\[E009\] .*split must be null for a file"),
])
def test_settings_checked_when_the_reader_is_made(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        create_squad_reader(**kwargs)
