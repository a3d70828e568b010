import gzip
import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from spacy_lm.cli import lm_app
from spacy_lm.cli._util import TRACEBACK_ENV, dumps, report_errors
from spacy_lm.errors import Errors


@pytest.fixture(scope="module")
def saved_pipeline(trained_lm, tmp_path_factory):
    nlp, _ = trained_lm
    path = tmp_path_factory.mktemp("cli") / "pipeline"
    nlp.to_disk(path)
    data = path.parent / "dev.txt"
    data.write_text("the cat sat on the mat\na dog saw a cat\n", encoding="utf-8")
    return path, data


def test_perplexity_command_json(saved_pipeline):
    path, data = saved_pipeline
    result = CliRunner().invoke(lm_app, ["perplexity", str(path), str(data), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert scores["n_docs"] == 2
    assert scores["lm_n_predicted"] == 6 + 1 + 5 + 1
    assert scores["lm_perplexity"] > 1


def test_perplexity_command_missing_data_fails_cleanly(saved_pipeline, tmp_path):
    path, _ = saved_pipeline
    runner = CliRunner(env={"COLUMNS": "400", "TERMINAL_WIDTH": "400", "NO_COLOR": "1"})
    result = runner.invoke(lm_app, ["perplexity", str(path), str(tmp_path / "nope.txt")])
    assert result.exit_code == 2
    assert "does not exist" in " ".join(result.output.split())


def test_spacy_lm_is_part_of_spacys_cli_and_python_m(saved_pipeline):
    path, data = saved_pipeline
    for prefix in (["-m", "spacy", "lm"], ["-m", "spacy_lm"]):
        out = subprocess.run([sys.executable, *prefix, "perplexity", str(path), str(data), "--json"],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["n_docs"] == 2


def test_generate_command_plain_json_stream_and_stdin(saved_pipeline):
    path, _ = saved_pipeline
    runner = CliRunner()
    result = runner.invoke(lm_app, ["generate", str(path), "the cat", "-n", "4", "--json", "--num-beams", "2",
                                    "--num-return-sequences", "2"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["prompt"] == "the cat" and len(payload["generations"]) == 2
    assert all(len(g["tokens"]) <= 4 for g in payload["generations"])
    greedy = runner.invoke(lm_app, ["generate", str(path), "the cat", "-n", "4"])
    streamed = runner.invoke(lm_app, ["generate", str(path), "the cat", "-n", "4", "--stream"])
    assert greedy.exit_code == 0 and streamed.exit_code == 0
    assert greedy.output == streamed.output
    lines = runner.invoke(lm_app, ["generate", str(path), "-n", "3", "--sample", "--seed", "1"], input="the\na dog\n")
    assert lines.exit_code == 0, lines.output
    assert len(lines.output.strip().splitlines()) == 2
    bad = runner.invoke(lm_app, ["generate", str(path), "x", "--top-p", "1.5"])
    assert bad.exit_code == 1 and "top_p" in bad.stderr


def test_perplexity_command_stream_adds_stream_scores(saved_pipeline):
    path, data = saved_pipeline
    runner = CliRunner()
    plain = json.loads(runner.invoke(lm_app, ["perplexity", str(path), str(data), "--json"]).output)
    result = runner.invoke(lm_app, ["perplexity", str(path), str(data), "--json", "--stream"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert {k: scores[k] for k in plain} == pytest.approx(plain)  # today's keys are kept
    assert scores["lm_stream_n_predicted"] == scores["lm_n_predicted"] == 6 + 1 + 5 + 1
    assert scores["lm_stream_perplexity"] > 1 and scores["lm_stream_loss"] != pytest.approx(scores["lm_loss"])
    two = json.loads(runner.invoke(lm_app, ["perplexity", str(path), str(data), "--json", "--stream",
                                            "--segments", "2"]).output)
    assert two["lm_stream_n_predicted"] == 13 and two["lm_stream_loss"] != pytest.approx(scores["lm_stream_loss"])
    text = runner.invoke(lm_app, ["perplexity", str(path), str(data), "--stream"])
    assert text.exit_code == 0 and "lm_stream_perplexity" in text.output and "lm_perplexity" in text.output
    bad = runner.invoke(lm_app, ["perplexity", str(path), str(data), "--stream", "--segments", "0"])
    assert bad.exit_code == 1 and "E085] --segments" in bad.stderr


def test_perplexity_stream_with_an_ngram_and_without_score_stream(tmp_path):
    import spacy
    from spacy.language import Language

    from spacy_lm.corpora.corpus import corpus_perplexity

    from ..conftest import make_examples

    nlp = spacy.blank("en")
    nlp.add_pipe("ngram_lm", config={"order": 3})
    nlp.initialize(lambda: make_examples(nlp))
    nlp.to_disk(tmp_path / "ngram")
    data = tmp_path / "dev.txt"
    data.write_text("the cat sat on the mat\na dog saw a cat\n", encoding="utf-8")
    result = CliRunner().invoke(lm_app, ["perplexity", str(tmp_path / "ngram"), str(data), "--json", "--stream"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert scores["lm_stream_loss"] == pytest.approx(scores["lm_loss"], rel=1e-5)  # contexts restart at <eos>

    class NoStream:
        def __init__(self):
            self.initial_state = self.step = lambda *args: None

        def __call__(self, doc):
            return doc

    if not Language.has_factory("test_lm_without_score_stream"):
        Language.factory("test_lm_without_score_stream", func=lambda nlp, name: NoStream())
    other = spacy.blank("en")
    other.add_pipe("test_lm_without_score_stream", name="other_lm")
    with pytest.raises(ValueError, match=r"E078.*'other_lm'"):
        corpus_perplexity(other, [other.make_doc("a cat")], stream=True)
    with pytest.warns(UserWarning, match="W011"):  # NoStream annotates nothing
        assert "lm_stream_loss" not in corpus_perplexity(other, [other.make_doc("a cat")])


# ---- bad input gets one clear line (#13) ----------------------------------------------------


def one_line_error(result, code: str) -> str:
    """The command failed with exit 1 and printed one line on stderr, with ``code``."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "Aborted" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: [{code}]"), result.stderr
    return lines[0]


def test_known_errors_are_one_line_with_exit_1(saved_pipeline, tmp_path):
    path, data = saved_pipeline
    runner = CliRunner()
    cases = [
        (["perplexity", str(tmp_path / "no-such-pipeline"), str(data)], "E050", "Can't find model"),
        (["perplexity", str(data), str(data)], "E053", "Could not read"),  # a file, not a pipeline
        (["perplexity", str(path), str(data), "-c", "tagger"], "E040", "No component 'tagger'"),
        (["generate", str(path), "x", "--lm", "tagger"], "E040", "No component 'tagger'"),
        (["explain", str(path), "x", "--view", "sentiment"], "E041", "no sentiment_scorer component"),
    ]
    for args, code, text in cases:
        assert text in one_line_error(runner.invoke(lm_app, args), code)


def test_traceback_env_raises_and_unknown_errors_keep_their_traceback(saved_pipeline, tmp_path):
    path, data = saved_pipeline
    args = ["perplexity", str(tmp_path / "no-such-pipeline"), str(data)]
    result = CliRunner(env={TRACEBACK_ENV: "1"}).invoke(lm_app, args)
    assert isinstance(result.exception, OSError) and "E050" in str(result.exception)

    @report_errors
    def buggy() -> None:
        raise RuntimeError("a real bug")

    with pytest.raises(RuntimeError, match="a real bug"):
        buggy()


@pytest.mark.parametrize("args,message", [
    (["perplexity", "{path}", "{data}", "--batch-size", "0"], "E085] --batch-size must be an integer >= 1, got 0"),
    (["perplexity", "{path}", "{data}", "--batch-size", "-1"], "E085] --batch-size must be an integer >= 1"),
    (["perplexity", "{path}", "{data}", "--limit", "-1"], "E085] --limit must be an integer >= 0"),
    (["perplexity", "{path}", "{data}", "--segments", "0"], "E085] --segments must be an integer >= 1"),
    (["perplexity", "{path}", "{data}", "--gpu-id", "-2"], "E085] --gpu-id must be -1 (CPU) or a GPU id >= 0"),
    (["generate", "{path}", "x", "--temperature", "0"], "E085] --temperature must be > 0"),
    (["generate", "{path}", "x", "--temperature", "-1", "--sample"], "E085] --temperature must be > 0"),
    (["generate", "{path}", "x", "--seed", "-1"], "E085] --seed must be an integer >= 0"),
    (["generate", "{path}", "x", "--top-p", "0"], "E009] top_p must be in (0, 1]"),
    (["generate", "{path}", "x", "--top-k", "-1"], "E009] top_k must be an integer >= 0"),
    (["generate", "{path}", "x", "--num-beams", "0"], "E009] num_beams must be an integer >= 1"),
    (["generate", "{path}", "x", "-n", "-1"], "E009] max_new_tokens must be an integer >= 0"),
    (["generate", "{path}", "x", "--min-new-tokens", "-1"], "E009] min_new_tokens must be an integer >= 0"),
    (["generate", "{path}", "x", "-n", "2", "--min-new-tokens", "3"], "E009] min_new_tokens must be at most"),
    (["generate", "{path}", "x", "--num-return-sequences", "0"], "E009] num_return_sequences must be an"),
])
def test_numeric_options_out_of_range_are_one_line(saved_pipeline, args, message):
    path, data = saved_pipeline
    args = [a.format(path=path, data=data) for a in args]
    assert message in one_line_error(CliRunner().invoke(lm_app, args), message[:4])


@pytest.mark.parametrize("kind", ["empty", "blank-lines", "empty-docbin"])
def test_perplexity_of_nothing_warns_prints_null_json_or_fails_with_strict(saved_pipeline, tmp_path, kind):
    from spacy.tokens import DocBin

    path, _ = saved_pipeline
    data = tmp_path / ("data.spacy" if kind == "empty-docbin" else "data.txt")
    if kind == "empty-docbin":
        DocBin().to_disk(data)
    else:
        data.write_text("" if kind == "empty" else "\n \n\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(lm_app, ["perplexity", str(path), str(data), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["n_docs"] == 0 and scores["lm_perplexity"] is None and scores["lm_n_predicted"] == 0
    assert result.stderr.strip().startswith("[W011] Nothing was scored") and len(result.stderr.splitlines()) == 1
    strict = runner.invoke(lm_app, ["perplexity", str(path), str(data), "--json", "--strict"])
    assert "Nothing was scored" in one_line_error(strict, "E086")


def test_json_output_has_no_bare_nan():
    text = dumps({"lm_perplexity": float("nan"), "lm_loss": float("inf"), "tokens": [["a", float("-inf")]]})
    assert json.loads(text) == {"lm_perplexity": None, "lm_loss": None, "tokens": [["a", None]]}


@pytest.mark.parametrize("name,data,reason", [
    ("cut.gz", gzip.compress("".join(f"line {i} of many\n" for i in range(3000)).encode())[:2000],
     "the gzip data end early"),
    ("plain.gz", b"the cat sat\n", "its name ends in .gz but it is not gzip data"),
    ("image.txt", b"the cat\n\x89PNG\r\n", "line 2: not UTF-8 text (byte 0x89 at offset 0)"),
], ids=["truncated-gz", "not-gzip", "binary"])
def test_perplexity_of_an_unreadable_file_names_the_file_and_line(saved_pipeline, tmp_path, name, data, reason):
    path, _ = saved_pipeline
    (tmp_path / name).write_bytes(data)
    result = CliRunner().invoke(lm_app, ["perplexity", str(path), str(tmp_path / name), "--json"])
    line = one_line_error(result, "E062")
    assert name in line and reason in line


# ---- stdin that is not UTF-8 (#30) ----------------------------------------------------------

BAD_STDIN = b"ok\n\xff\xfe\n"
BAD_STDIN_TEXT = "stdin is not UTF-8 text: line 2 has byte 0xff (offset 3 of stdin)"


def test_generate_with_stdin_that_is_not_utf8_is_one_line(saved_pipeline):
    path, _ = saved_pipeline
    for args in (["generate", str(path)], ["generate", str(path), "-", "--stream"]):
        assert BAD_STDIN_TEXT in one_line_error(CliRunner().invoke(lm_app, args, input=BAD_STDIN), "E250")


def test_generate_with_stdin_that_is_not_utf8_in_a_real_process(saved_pipeline):
    path, _ = saved_pipeline
    for env in ({}, {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}):  # C locale: surrogateescape before
        out = subprocess.run([sys.executable, "-m", "spacy_lm", "generate", str(path)], input=BAD_STDIN,
                             capture_output=True, env={**os.environ, **env})
        err = out.stderr.decode("utf-8")
        assert out.returncode == 1 and out.stdout == b"" and "Traceback" not in err
        assert err.strip().splitlines() == [f"Error: {Errors.E250.format(line=2, byte=255, offset=3)}"]


def test_stdin_lines_reads_as_text_mode_does(monkeypatch):
    import io

    from spacy_lm.cli._util import stdin_lines

    data = "a\r\nb\rc\n\nnaïve\nlast".encode("utf-8")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    lines = list(stdin_lines())
    assert lines == list(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")) == [
        "a\n", "b\n", "c\n", "\n", "naïve\n", "last"]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("é\n".encode() + b"x\xc3"), encoding="utf-8"))
    with pytest.raises(ValueError, match=r"E250\] .* line 2 has byte 0xc3 \(offset 4 of stdin\)"):
        list(stdin_lines())
