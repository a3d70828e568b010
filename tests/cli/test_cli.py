import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from spacy_lm.cli import lm_app


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
    assert bad.exit_code != 0 and "top_p" in str(bad.exception)


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
    assert bad.exit_code != 0 and "E009" in str(bad.exception)


def test_perplexity_stream_with_an_ngram_and_without_score_stream(tmp_path):
    import spacy
    from spacy.language import Language

    from spacy_lm.corpus import corpus_perplexity

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
    assert "lm_stream_loss" not in corpus_perplexity(other, [other.make_doc("a cat")])
