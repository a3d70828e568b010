"""The qa view (spacy_lm/analysis/views/qa.py) and `spacy lm explain` on a pipeline with a `qa`
component: the predicted answer highlighted, each context token shaded by its start and end
probability, the data as JSON, and the question given the spaCy way (``--question``)."""
import json
import re

import pytest
import spacy
from typer.testing import CliRunner

from spacy_lm.analysis.views.qa import (ANSWER_COLOUR, END_RGB, START_RGB, answer_token_range, qa_items,
                                        render_qa)
from spacy_lm.cli import lm_app

from ..cli.test_ask import PARAGRAPHS, tiny_qa_pipeline  # noqa: F401 (a fixture)

# a hand-made item: "Ada" <b> "Lovelace" answers, the start peak on "Ada", the end peak on "Lovelace"
ITEM = {"component": "qa", "question": "Who wrote <the> notes?", "text": "Notes by Ada Lovelace & co",
        "tokens": ["Notes", "by", "Ada", "Lovelace", "&", "co"], "whitespace": [" ", " ", " ", " ", " ", ""],
        "start_probs": [0.05, 0.1, 0.8, 0.05, 0.0, 0.0], "end_probs": [0.0, 0.0, 0.2, 0.4, 0.0, 0.4],
        "answers": [{"text": "Ada Lovelace", "start_char": 9, "end_char": 21, "score": 0.32},
                    {"text": "Ada", "start_char": 9, "end_char": 12, "score": 0.16}],
        "answer_tokens": [2, 4]}


def cells(page: str):
    """(class, colour, title, text) of every token cell, in page order."""
    return re.findall(r'<span class="(tok[^"]*)" style="background: ([^"]+)" title="([^"]*)">([^<]*)</span>', page)


def test_answer_is_highlighted_and_tokens_shaded_by_start_and_end_probability():
    page = render_qa(ITEM, jupyter=False)
    assert page.startswith("<!DOCTYPE html>") and "<title>spacy-lm question answering</title>" in page
    found = cells(page)
    n = len(ITEM["tokens"])
    assert len(found) == 3 * n  # three rows: answer, start, end
    answer, start, end = found[:n], found[n:2 * n], found[2 * n:]
    # the answer row: the answer's tokens (and only they) highlighted and outlined
    assert [c[1] == ANSWER_COLOUR for c in answer] == [False, False, True, True, False, False]
    assert [c[0] for c in answer] == ["tok", "tok", "tok ans", "tok ans", "tok", "tok"]
    # one scale per page: the largest probability shown (0.8) is the full colour, 0 is no colour
    r, g, b = START_RGB
    assert start[2][1] == f"rgba({r}, {g}, {b}, 0.850)" and start[2][2] == "Ada: P(start) = 0.8000"
    assert start[4][1] == "transparent" and start[0][1] == f"rgba({r}, {g}, {b}, {0.05 / 0.8 * 0.85:.3f})"
    r, g, b = END_RGB
    assert end[3][1] == f"rgba({r}, {g}, {b}, {0.4 / 0.8 * 0.85:.3f})" and end[3][2] == "Lovelace: P(end) = 0.4000"
    assert [c[0] for c in start] == [c[0] for c in answer] == [c[0] for c in end]  # the answer outlined in each row
    # the head: question and answer (escaped), its probability, the next best; the legend's scale
    assert "Who wrote &lt;the&gt; notes?" in page and "<the>" not in page and "&amp;" in page
    assert ">Ada Lovelace</span>" in page and "p = 0.320" in page and "next best: Ada (0.160)" in page
    assert page.count('class="label-row"') == 3 and "0 to <b>0.800</b>" in page
    fragment = render_qa([ITEM, ITEM], page=False)
    assert "<html" not in fragment and fragment.count('class="slm-lm slm-qa"') == 2


def test_an_item_without_an_answer_or_with_short_lists():
    empty = {**ITEM, "answers": [], "answer_tokens": [0, 0]}
    page = render_qa(empty, jupyter=False)
    assert "no answer" in page and "tok ans" not in page
    with pytest.raises(ValueError, match=r"\[E185\] qa item 0 .*'end_probs' has 5 values for 6 tokens"):
        render_qa({**ITEM, "end_probs": ITEM["end_probs"][:5]}, jupyter=False)


def test_answer_token_range():
    starts, ends = [0, 6, 9, 13, 22, 24], [5, 8, 12, 21, 23, 26]
    assert answer_token_range(starts, ends, 9, 21) == [2, 4]
    assert answer_token_range(starts, ends, 10, 15) == [2, 4]  # inside tokens: the tokens it touches
    assert answer_token_range(starts, ends, 5, 6) == [0, 0]  # only whitespace


def test_items_of_a_trained_reader(tiny_qa_pipeline):  # noqa: F811
    nlp = spacy.load(tiny_qa_pipeline[0])
    qa = nlp.get_pipe("qa")
    contexts = [PARAGRAPHS[0][0], PARAGRAPHS[1][0]]
    questions = [PARAGRAPHS[0][1][0][0], PARAGRAPHS[1][1][1][0]]
    items = qa_items(qa, contexts, questions, top_k=2)
    assert [(item["text"], item["question"]) for item in items] == [(c, q) for c in contexts for q in questions]
    for item in items:
        doc = nlp.make_doc(item["text"])
        assert item["tokens"] == [t.text for t in doc] and item["whitespace"] == [t.whitespace_ for t in doc]
        assert len(item["start_probs"]) == len(item["end_probs"]) == len(doc)
        assert all(0.0 <= p <= 1.0 for key in ("start_probs", "end_probs") for p in item[key])
        alone = qa.answer([item["question"]], item["text"], top_k=2)[0]  # batched otherwise: scores may differ a little
        assert [(a["text"], a["start_char"], a["end_char"]) for a in item["answers"]] == \
            [(a["text"], a["start_char"], a["end_char"]) for a in alone]
        assert [a["score"] for a in item["answers"]] == pytest.approx([a["score"] for a in alone], abs=1e-5)
        first, end = item["answer_tokens"]
        best = item["answers"][0]
        assert doc[first:end].text == best["text"] == item["text"][best["start_char"]:best["end_char"]]
    # trained on these: the answer, and the peaks of start and end on its first and last token
    item = items[0]
    first, end = item["answer_tokens"]
    assert item["answers"][0]["text"] == "Warsaw"
    assert max(item["start_probs"]) == item["start_probs"][first]
    assert max(item["end_probs"]) == item["end_probs"][end - 1]
    json.dumps(items)  # plain data


def explain(*args, **kwargs):
    return CliRunner().invoke(lm_app, ["explain", *map(str, args)], **kwargs)


def test_explain_shows_the_qa_view(tiny_qa_pipeline, tmp_path):  # noqa: F811
    path = tiny_qa_pipeline[0]
    context, [(question, gold), (other, _)] = PARAGRAPHS[1]
    out = tmp_path / "qa.html"
    result = explain(path, context, "--question", question, "-q", other, "--json", "--html", out)
    assert result.exit_code == 0, result.output
    items = [json.loads(line) for line in result.stdout.splitlines()]
    assert [item["question"] for item in items] == [question, other]
    assert items[0]["answers"][0]["text"] == gold and len(items[0]["answers"]) == 3
    page = out.read_text(encoding="utf-8")
    assert page.count('class="slm-lm slm-qa"') == 2 and f">{gold}</span>" in page
    assert "<title>spacy-lm qa: " in page
    # the terminal summary; auto picks qa for a qa pipeline; the context may be a file
    text = explain(path, context, "-q", question)
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[0].startswith(f"qa: {question} -> {gold!r} (p ")
    assert "most likely start: " in text.stdout and "most likely end: " in text.stdout
    file_ = tmp_path / "context.txt"
    file_.write_text(context, encoding="utf-8")
    from_file = explain(path, file_, "--view", "qa", "-q", question, "--json")
    single = json.loads(from_file.stdout)  # one question, not batched with another: scores may differ a little
    assert {k: v for k, v in single.items() if k != "answers"} == {k: v for k, v in items[0].items() if k != "answers"}
    assert [a["text"] for a in single["answers"]] == [a["text"] for a in items[0]["answers"]]


def one_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ["), result.stderr
    return lines[0]


def test_explain_qa_bad_input_is_one_coded_line(tiny_qa_pipeline):  # noqa: F811
    path, no_qa = tiny_qa_pipeline
    context = PARAGRAPHS[0][0]
    assert "[E289] The qa view needs a question" in one_line(explain(path, context))
    assert "[E289]" in one_line(explain(path, context, "--view", "qa"))
    assert "[E085] --question must be used with the qa view only" in one_line(
        explain(path, context, "--view", "surprisal", "-q", "Who?"))
    assert "[E288] The question is empty" in one_line(explain(path, context, "-q", " "))
    assert "[E285]" in one_line(explain(no_qa, context, "-q", "Who?"))
