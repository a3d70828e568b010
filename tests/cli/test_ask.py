"""`spacy lm ask MODEL QUESTION --context TEXT|FILE` on a tiny `qa` pipeline trained here: the
table and the JSON print what ``QuestionAnswerer.answer`` returns (``ask``, the library function
under the command), the context is read from text, a file or stdin, and bad input is one coded
line on stderr with exit code 1. ``tiny_qa_pipeline`` is shared with the qa view's tests."""
import json
from typing import Dict, List, Tuple

import pytest
import spacy
from thinc.api import Adam, fix_random_seed
from typer.testing import CliRunner

from spacy_lm.cli import lm_app
from spacy_lm.cli.ask import answer_table, ask, find_qa_component, read_context

# (context, [(question, answer)]): each answer occurs once in its context.
PARAGRAPHS: List[Tuple[str, List[Tuple[str, str]]]] = [
    ("Marie Curie was born in Warsaw in 1867. She won the Nobel Prize in 1903.",
     [("Where was Marie Curie born?", "Warsaw"), ("When did she win the Nobel Prize?", "1903")]),
    ("The Eiffel Tower is in Paris. It was finished in 1889 by Gustave Eiffel.",
     [("Where is the Eiffel Tower?", "Paris"), ("Who finished the tower?", "Gustave Eiffel")]),
    ("The Nile flows north through Egypt. It is about 6650 kilometres long.",
     [("Through which country does the Nile flow?", "Egypt"), ("How long is the Nile?", "6650 kilometres")]),
]
TINY_QA = {"min_freq": 1, "max_length": 32, "stride": 16,
           "model": {"width": 16, "embed_size": 16, "depth": 1, "dropout": 0.0}}


def squad_records(paragraphs=PARAGRAPHS, prefix: str = "") -> List[Dict]:
    """SQuAD paragraph records (read_squad's layout) of ``paragraphs``."""
    return [{"title": f"{prefix}t{i}", "context": context,
             "qas": [{"id": f"{prefix}{i}-{j}", "question": question,
                      "answers": [{"text": answer, "answer_start": context.index(answer)}]}
                     for j, (question, answer) in enumerate(qas)]}
            for i, (context, qas) in enumerate(paragraphs)]


def train_tiny_qa(steps: int = 60) -> spacy.language.Language:
    """A blank English pipeline with a `qa` trained on PARAGRAPHS (a few seconds)."""
    from spacy_lm.corpora.squad import squad_examples

    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("qa", config=TINY_QA)
    examples = list(squad_examples(nlp, squad_records()))
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer)
    return nlp


@pytest.fixture(scope="session")
def tiny_qa_pipeline(tmp_path_factory):
    """(saved qa pipeline, a saved pipeline without a qa component)."""
    root = tmp_path_factory.mktemp("qa_pipeline")
    train_tiny_qa().to_disk(root / "qa")
    other = spacy.blank("en")
    other.add_pipe("sentencizer")
    other.to_disk(root / "no_qa")
    return root / "qa", root / "no_qa"


def invoke(*args, **kwargs):
    return CliRunner().invoke(lm_app, ["ask", *map(str, args)], **kwargs)


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def one_line_error(result, code: str) -> str:
    """Exit 1, no traceback, one line on stderr starting with ``Error: [code]``."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: [{code}]"), result.stderr
    return lines[0]


def test_json_is_what_answer_returns_best_first_with_offsets_into_the_context(tiny_qa_pipeline):
    path, _ = tiny_qa_pipeline
    nlp = spacy.load(path)
    context, qas = PARAGRAPHS[0]
    for question, gold in qas:
        data = json.loads(ok(invoke(path, question, "--context", context, "--json", "--top-k", 3)))
        assert data["question"] == question and data["component"] == "qa"
        expected = nlp.get_pipe("qa").answer([question], context, top_k=3)[0]
        assert [(a["text"], a["start_char"], a["end_char"]) for a in data["answers"]] == \
            [(a["text"], a["start_char"], a["end_char"]) for a in expected]
        assert [a["rank"] for a in data["answers"]] == [1, 2, 3]
        scores = [a["score"] for a in data["answers"]]
        assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
        assert sum(scores) <= 1.0 + 1e-5  # probabilities of distinct spans
        for a in data["answers"]:
            assert context[a["start_char"]:a["end_char"]] == a["text"]
        assert data["answers"][0]["text"] == gold  # trained on it: the reader has learnt it
    assert ask(nlp, question, context, top_k=3) == data  # the library function under the command


def test_table_lists_top_k_rows_with_score_and_offsets(tiny_qa_pipeline):
    path, _ = tiny_qa_pipeline
    context, [(question, gold), _] = PARAGRAPHS[1]
    lines = ok(invoke(path, question, "--context", context, "-k", 2)).splitlines()
    assert lines[0] == f"Q: {question}"
    assert lines[1].split() == ["rank", "score", "start", "end", "answer"]
    rows = [line.split(None, 4) for line in lines[2:]]
    assert [row[0] for row in rows] == ["1", "2"]
    rank, score, start, end, text = rows[0]
    assert text == gold == context[int(start):int(end)] and 0.0 < float(score) <= 1.0
    assert float(rows[0][1]) >= float(rows[1][1])


def test_context_from_a_file_or_stdin_is_the_same_as_the_text(tiny_qa_pipeline, tmp_path):
    path, _ = tiny_qa_pipeline
    context, [(question, _), _] = PARAGRAPHS[2]
    from_text = json.loads(ok(invoke(path, question, "--context", context, "--json")))
    file_ = tmp_path / "context.txt"
    file_.write_text(context, encoding="utf-8")
    assert json.loads(ok(invoke(path, question, "--context", file_, "--json"))) == from_text
    stdin = json.loads(ok(invoke(path, question, "--context", "-", "--json", input=context.encode("utf-8"))))
    assert stdin == from_text
    # a BOM is not part of the text: the offsets stay those of the context
    file_.write_bytes(b"\xef\xbb\xbf" + context.encode("utf-8"))
    assert json.loads(ok(invoke(path, question, "--context", file_, "--json"))) == from_text


def test_read_context():
    assert read_context("Who? Me.") == "Who? Me."
    assert read_context("x" * 5000) == "x" * 5000  # too long for a file name: text
    with pytest.raises(ValueError, match=r"\[E286\]"):
        read_context(" \n\t")


def test_answer_table_shows_newlines_and_no_answer():
    result = {"question": "Q?", "component": "qa",
              "answers": [{"rank": 1, "text": "two\nlines", "start_char": 3, "end_char": 12, "score": 0.5}]}
    lines = answer_table(result)
    assert lines[2].endswith("two ⏎ lines") and "0.5000" in lines[2]
    assert "no answer" in answer_table({**result, "answers": []})[-1]


def test_bad_input_is_one_coded_line_with_exit_1(tiny_qa_pipeline, tmp_path):
    path, no_qa = tiny_qa_pipeline
    context = PARAGRAPHS[0][0]
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Café in Zürich.".encode("latin-1"))
    cases = [
        ((path, "  ", "--context", context), "E288", "The question is empty"),
        ((path, "Who?", "--context", ""), "E286", "The context (--context) is empty"),
        ((path, "Who?", "--context", empty), "E286", f"The context ({empty}) is empty"),
        ((path, "Who?", "--context", latin1), "E287", f"{latin1} is not UTF-8 text: byte 0xe9 at offset 3"),
        ((path, "Who?", "--context", context, "--top-k", 0), "E085", "--top-k must be an integer >= 1, got 0"),
        ((tmp_path / "no-such-model", "Who?", "--context", context), "E050", "Can't find model"),
        ((no_qa, "Who?", "--context", context), "E285", "the pipeline has no qa component: "),
        ((no_qa, "Who?", "--context", context, "-c", "sentencizer"), "E285",
         "component 'sentencizer' (a sentencizer) is not a qa component"),
        ((path, "Who?", "--context", context, "-c", "nope"), "E040", "No component 'nope'"),
    ]
    for args, code, message in cases:
        line = one_line_error(invoke(*args), code)
        assert message in line, line


def test_find_qa_component(tiny_qa_pipeline):
    nlp = spacy.load(tiny_qa_pipeline[0])
    nlp.add_pipe("sentencizer", first=True)
    assert find_qa_component(nlp) == "qa" == find_qa_component(nlp, "qa")
    with pytest.raises(ValueError, match=r"\[E285\].*'sentencizer'"):
        find_qa_component(nlp, "sentencizer")
