"""`spacy lm explain MODEL "text" --html out.html`."""
import json

import pytest
from typer.testing import CliRunner

from spacy_lm.cli import lm_app

from ..sentiment_fixtures import trained_sentiment_nlp, write_lexicon


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    nlp = trained_sentiment_nlp(write_lexicon(root / "lex.tsv"), attribution_steps=0)
    nlp.to_disk(root / "pipeline")
    return root


def test_explain_writes_html_and_json(saved):
    out = saved / "out.html"
    result = CliRunner().invoke(lm_app, ["explain", str(saved / "pipeline"), "I like it. I hate it.",
                                                         "--html", str(out), "--json", "--steps", "16"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [t for t, _ in data["tokens"]] == ["I", "like", "it", ".", "I", "hate", "it", "."]
    assert all(v is not None for _, v in data["tokens"])  # forced on although attribution_steps = 0
    assert len(data["sentences"]) == 2
    assert abs(sum(v for _, v in data["tokens"]) + data["base"] - data["polarity"]) < 0.02
    assert "slm-legend" in out.read_text(encoding="utf-8")
    text = CliRunner().invoke(lm_app, ["explain", str(saved / "pipeline"), "I hate it"])
    assert text.exit_code == 0 and text.output.startswith("polarity ")


def test_explain_bad_input_is_one_line_with_exit_1(saved):
    runner = CliRunner()
    pipeline = str(saved / "pipeline")
    cases = [
        (["explain", pipeline, "I like it", "--steps", "0"], "[E085] --steps must be an integer >= 1, got 0"),
        (["explain", pipeline, "I like it", "-c", "nope"], "[E040] No component 'nope'"),
        (["explain", pipeline, "I like it", "--html", str(saved / "no-such-dir" / "out.html")],
         "No such file or directory"),
    ]
    for args, message in cases:
        result = runner.invoke(lm_app, args)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.stderr


def test_explain_stdin_that_is_not_utf8_is_one_line(saved):
    result = CliRunner().invoke(lm_app, ["explain", str(saved / "pipeline"), "-"], input=b"I like it\n\xff\xfe\n")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines == ["Error: [E250] stdin is not UTF-8 text: line 2 has byte 0xff (offset 10 of stdin). Give UTF-8 "
                     "text, one item per line (convert it first, e.g. `iconv -f latin1 -t utf-8`)."], result.stderr


def test_explain_says_why_a_long_doc_has_no_token_contributions(saved):
    import spacy

    nlp = spacy.load(saved / "pipeline", config={"components": {"sentiment_scorer": {"max_attribution_tokens": 3}}})
    nlp.to_disk(saved / "short_limit")
    runner = CliRunner()
    result = runner.invoke(lm_app, ["explain", str(saved / "short_limit"), "I like it a lot", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert all(v is None for _, v in data["tokens"]) and "max_attribution_tokens" in data["tokens_skipped"]
    text = runner.invoke(lm_app, ["explain", str(saved / "short_limit"), "I like it a lot"])
    assert "no token contributions:" in text.output and "max_attribution_tokens" in text.output
    short = json.loads(runner.invoke(lm_app, ["explain", str(saved / "short_limit"), "I hate", "--json"]).stdout)
    assert short["tokens_skipped"] is None and all(v is not None for _, v in short["tokens"])
