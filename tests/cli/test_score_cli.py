"""`spacy lm score` on a tiny n-gram pipeline: the summary table and --json report what the
output folder holds, JSONL output, and bad input as one coded line on stderr with exit code 1."""
import json
import sys

import pytest
import spacy
from typer.testing import CliRunner

from spacy_lm.cli import lm_app
from spacy_lm.cli.score import parse_pair
from spacy_lm.scoring.output import read_rows

from ..conftest import TINY_TEXTS, make_examples

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("score_cli")
    nlp = spacy.blank("en")
    nlp.add_pipe("ngram_lm", config={"order": 2})
    nlp.initialize(lambda: make_examples(nlp, TINY_TEXTS))
    nlp.to_disk(root / "ngram")
    spacy.blank("en").to_disk(root / "no_lm")
    (root / "docs.txt").write_text("\n".join(TINY_TEXTS[:5] + ["   ", "a cat and a dog sat on the log"]) + "\n")
    return root


def invoke(*args):
    return runner.invoke(lm_app, ["score", *map(str, args)])


def test_the_summary_table_counts_what_was_written(files, tmp_path):
    result = invoke(files / "ngram", files / "docs.txt", "-o", tmp_path, "--cutoffs", "5,9", "--keep", "head,middle")
    assert result.exit_code == 0, result.output
    rows = read_rows(tmp_path / "00000-docs.txt.parquet")
    rejects = read_rows(tmp_path / "rejects" / "00000-docs.txt.jsonl")
    assert len(rows) + len(rejects) == 7 and {row["bucket"] for row in rows} <= {"head", "middle"}
    assert f"{'in':<22}{7:>12,}" in result.stdout
    assert f"{'written':<22}{len(rows):>12,}" in result.stdout
    assert "buckets (perplexity cutoffs 5.00, 9.00): in / written" in result.stdout
    assert "docs/s" in result.stderr  # progress


def test_json_summary_and_jsonl_rows(files, tmp_path):
    result = invoke(files / "ngram", files / "docs.txt", "-o", tmp_path, "--format", "jsonl", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    rows = read_rows(tmp_path / "00000-docs.txt.jsonl")
    assert summary["n_out"] == len(rows) == 6 and summary["rejects"] == {"empty": 1}
    nlp = spacy.load(files / "ngram")
    assert [row["perplexity"] for row in rows] == pytest.approx([nlp(t)._.lm_perplexity for t in TINY_TEXTS[:5]]
                                                                + [nlp("a cat and a dog sat on the log")._.lm_perplexity])
    assert [row["id"] for row in rows][:2] == ["docs.txt:1", "docs.txt:2"]


@pytest.mark.parametrize("args,code,text", [
    (["--bucket", "thirty"], "E160", "--bucket"),
    (["--bucket", "60,30"], "E160", "bucket must be two percentiles"),
    (["--keep", "head"], "E160", "keep must be used with bucket"),
    (["--max-ppl", "10"], "E160", "max_ppl must be given together with prefilter"),
    (["--engine", "spark"], "E160", "engine must be one of"),
    (["--workers", "0"], "E160", "workers must be an integer >= 1"),
    (["--gpu-id", "0", "--engine", "ray"], "E160", "--gpu-id"),
    (["--input-format", "csv"], "E150", "Unknown corpus format"),
])
def test_bad_options_are_one_line_with_exit_1(files, tmp_path, args, code, text):
    result = invoke(files / "ngram", files / "docs.txt", "-o", tmp_path, *args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: [") and text in lines[0], result.stderr


def test_bad_inputs_are_one_line_with_exit_1(files, tmp_path):
    for args, text in ([[files / "ngram", files / "missing.jsonl"], "does not exist"],
                       [[files / "no_lm", files / "docs.txt"], "language-model"],
                       [[files / "ngram", files / "docs.xls"], "Cannot tell the format"]):
        result = invoke(*args, "-o", tmp_path)
        assert result.exit_code == 1, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and text in lines[0], result.stderr


def test_bad_records_are_reject_rows_and_the_run_goes_on(files, tmp_path):
    """A lone surrogate and a record without the text field: one reject row each, with its reason."""
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(['{"text": "the cat sat"}', r'{"text": "bad \ud800 half"}', '{"body": "the dog"}',
                               '{"text": "a dog"}']) + "\n")
    result = invoke(files / "ngram", path, "-o", tmp_path / "out", "--format", "jsonl", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n_in"] == 4 and summary["n_out"] == 2
    assert summary["rejects"] == {"undecodable": 1, "missing field": 1}
    rejects = read_rows(tmp_path / "out" / "rejects" / "00000-docs.jsonl.jsonl")
    assert ["lone surrogate" in row["reason"] for row in rejects] == [True, False]
    assert rejects[1]["reason"].startswith("missing field: no 'text' field") and rejects[1]["body"] == "the dog"


@pytest.mark.parametrize("content", ["[]", "5", '{"settings": null, "shards": []}',
                                     '{"settings": null, "shards": {"a.txt": {"files": 1}}}'])
def test_a_manifest_that_is_no_manifest_is_one_line(files, tmp_path, content):
    (tmp_path / "manifest.json").write_text(content)
    result = invoke(files / "ngram", files / "docs.txt", "-o", tmp_path)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: [E163]") and "manifest.json" in lines[0], result.stderr
    assert "Delete it" in lines[0]


def test_hf_input_without_datasets_is_one_line(files, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    result = invoke(files / "ngram", "hf:wikitext", "-o", tmp_path)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "[E211]" in lines[0] and 'pip install "spacy-lm[datasets]"' in lines[0], result.stderr


def test_parse_pair():
    assert parse_pair("30, 60", "--bucket", "x") == (30.0, 60.0)
    assert parse_pair(None, "--bucket", "x") is None


def test_a_shard_where_no_record_has_the_text_field_stops_the_run(files, tmp_path):
    """One record without the field is a reject row; all of them is a wrong --text-field (E212), not
    a whole corpus rejected with exit 0."""
    path = tmp_path / "docs.jsonl"
    path.write_text('{"body": "the cat sat"}\n{"body": "a dog"}\n')
    result = invoke(files / "ngram", path, "-o", tmp_path / "out", "--format", "jsonl")
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "[E212]" in lines[0] and "'text'" in lines[0] and "body" in lines[0], result.stderr
    assert not list((tmp_path / "out").glob("00000-*"))
    fixed = invoke(files / "ngram", path, "-o", tmp_path / "out", "--format", "jsonl", "--text-field", "body", "--json")
    assert fixed.exit_code == 0 and json.loads(fixed.stdout)["n_out"] == 2, fixed.output


@pytest.fixture
def offline_hf(monkeypatch, tmp_path):
    """datasets offline: local files through a packaged builder need no network."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)


def write_texts(path, texts):
    path.write_text("".join(json.dumps({"text": text, "n": i}) + "\n" for i, text in enumerate(texts)))


def test_data_files_score_local_files_through_a_builder_and_resume_by_their_bytes(files, tmp_path, offline_hf):
    data = tmp_path / "data"
    data.mkdir()
    write_texts(data / "a.jsonl", TINY_TEXTS[:3])
    write_texts(data / "b.jsonl", TINY_TEXTS[3:5])
    out = tmp_path / "out"
    args = [files / "ngram", "hf:json@train", "--data-files", data / "a.jsonl", "--data-files", data / "b.jsonl",
            "-o", out, "--format", "jsonl", "--json"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_out"] == 5
    rows = read_rows(out / "00000-json_train.jsonl")
    assert [(row["id"], row["text"]) for row in rows] == [(f"json:{i}", text) for i, text in enumerate(TINY_TEXTS[:5])]
    assert json.loads((out / "manifest.json").read_text())["settings"]["data_files"] == [str(data / "a.jsonl"),
                                                                                       str(data / "b.jsonl")]
    again = invoke(*args)
    assert again.exit_code == 0 and json.loads(again.stdout)["shards_skipped"] == 1, again.output
    write_texts(data / "b.jsonl", TINY_TEXTS[3:6])  # edited in place: scored again
    edited = invoke(*args)
    assert edited.exit_code == 0, edited.output
    assert json.loads(edited.stdout)["shards_skipped"] == 0 and json.loads(edited.stdout)["n_out"] == 6
    assert len(read_rows(out / "00000-json_train.jsonl")) == 6
    globbed = invoke(files / "ngram", "hf:json@train", "--data-files", data / "*.jsonl", "-o", out)
    assert globbed.exit_code == 1 and "[E164]" in globbed.stderr and "data_files" in globbed.stderr, globbed.output


def test_bad_data_files_are_one_line_with_exit_1(files, tmp_path, offline_hf):
    write_texts(tmp_path / "a.jsonl", TINY_TEXTS[:2])
    for args, text in ([[files / "docs.txt", "--data-files", tmp_path / "a.jsonl"], "[E160]"],
                       [["hf:json", "--data-files", tmp_path / "a.jsonl", "--data-files", tmp_path / "b.jsonl"],
                        f"[E320] data_files (--data-files): {tmp_path / 'b.jsonl'} does not exist"],
                       [["hf:json", "--data-files", tmp_path / "*.parquet"], "[E321]"]):
        result = invoke(files / "ngram", *args, "-o", tmp_path / "out")
        assert result.exit_code == 1, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and text in lines[0], result.stderr
    assert not list((tmp_path / "out").glob("0000*"))


def test_range_mib_must_be_positive(tmp_path):
    result = runner.invoke(lm_app, ["score", "model", str(tmp_path / "x.jsonl"), "-o", str(tmp_path / "o"),
                                    "--range-mib", "0"])
    assert result.exit_code != 0 and "[E085] --range-mib must be" in result.output
