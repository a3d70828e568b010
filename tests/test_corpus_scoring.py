"""Corpus scoring (spacy_lm/scoring: run, shards, engines) on tiny pipelines made here: every input
record lands exactly once in the rows or the rejects, scores equal the pipeline's own, buckets and
the prefilter cascade route as documented, a killed run resumes to the same output, a dying worker
is retried without loss or duplicates, and bad settings are coded errors. The Ray tests start a
local Ray runtime (slow)."""
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.util import import_file

from spacy_lm.scoring.engines import open_engine
from spacy_lm.scoring.manifest import MANIFEST
from spacy_lm.scoring.output import read_rows
from spacy_lm.scoring.run import score_corpus
from spacy_lm.scoring.settings import ScoreSettings
from spacy_lm.scoring.shards import bucket_of, percentile_cutoffs

from .conftest import TINY_TEXTS, make_examples, train_tiny_lm

REPO = Path(__file__).resolve().parent.parent
FAULT_CODE = str(Path(__file__).with_name("fault_component.py"))
fault = import_file("spacy_lm_test_fault_component", FAULT_CODE)
WORDS = "the cat sat on mat dog log a saw and".split()


def write_docs(path: Path, n: int, seed: int, marker_at: int = -1) -> None:
    """``n`` JSONL docs of random in-vocabulary words (a few empty), the fault marker in doc
    ``marker_at``, then one undecodable line."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as file_:
        for i in range(n):
            words = [rng.choice(WORDS) for _ in range(rng.randint(0, 9))]
            if i == marker_at:
                words.append(fault.KILL_MARKER)
            file_.write(json.dumps({"doc_id": f"{path.stem}-{i}", "text": " ".join(words), "n": i}) + "\n")
        file_.write("{not json\n")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Saved pipelines (lstm, ngram, each with a fault-injecting twin), an ARPA file and shards."""
    root = tmp_path_factory.mktemp("scoring")
    lstm, _ = train_tiny_lm()
    lstm.to_disk(root / "lstm")
    ngram = spacy.blank("en")
    ngram.add_pipe("ngram_lm", config={"order": 3})
    ngram.initialize(lambda: make_examples(ngram, TINY_TEXTS))
    ngram.to_disk(root / "ngram")
    ngram.get_pipe("ngram_lm").to_arpa(root / "tiny.arpa")
    for name, nlp in (("lstm", lstm), ("ngram", ngram)):
        nlp.add_pipe("fault_injector", first=True)
        nlp.to_disk(root / f"{name}_fault")
    write_docs(root / "a.jsonl", 40, seed=1)
    write_docs(root / "b.jsonl", 40, seed=2, marker_at=25)
    write_docs(root / "c.jsonl", 40, seed=3)
    return root


def shards(corpus):
    return [str(corpus / name) for name in ("a.jsonl", "b.jsonl", "c.jsonl")]


def settings_for(corpus, model="ngram", **kwargs):
    values = dict(model=str(corpus / model), id_field="doc_id", chunk_size=16, code=FAULT_CODE)
    values.update(kwargs)
    return ScoreSettings(**values)


def outputs(out_dir: Path):
    """All rows and rejects of a run, shard by shard, with the manifest's counts."""
    manifest = json.loads((out_dir / MANIFEST).read_text())
    result = {}
    for source, entry in sorted(manifest["shards"].items()):
        result[Path(source).name] = tuple(read_rows(out_dir / entry["files"][key]) for key in ("output", "rejects"))
    return result


def input_ids(corpus):
    ids = []
    for source in shards(corpus):
        lines = Path(source).read_text().splitlines()
        ids += [json.loads(line)["doc_id"] for line in lines[:-1]]
        ids.append(f"{Path(source).name}:{len(lines)}")  # the undecodable line: file and line number
    return ids


def test_every_record_is_written_once_with_the_pipelines_scores(corpus, tmp_path):
    summary = score_corpus(shards(corpus), tmp_path, settings_for(corpus))
    nlp = spacy.load(corpus / "ngram")
    seen = []
    for rows, rejects in outputs(tmp_path).values():
        seen += [row["id"] for row in rows] + [row["id"] for row in rejects]
        for row in rows:
            doc = nlp(row["text"])
            assert row["perplexity"] == pytest.approx(doc._.lm_perplexity, rel=1e-9)
            assert row["logprob"] == pytest.approx(doc._.lm_logprob, rel=1e-9)
            assert row["n_tokens"] == len(doc) and isinstance(row["n"], int)
        assert {row["reason"].split(":")[0] for row in rejects} == {"empty", "undecodable"}
    assert sorted(seen) == sorted(input_ids(corpus))
    assert summary["n_in"] == len(seen) == summary["n_out"] + summary["n_rejected"]
    assert summary["rejects"]["empty"] >= 1 and summary["rejects"]["undecodable"] == 3 and summary["shards"] == 3


def test_buckets_follow_the_percentile_cutoffs_and_keep_filters(corpus, tmp_path):
    summary = score_corpus(shards(corpus), tmp_path / "all", settings_for(corpus, bucket=(30, 60)))
    low, high = summary["cutoffs"]
    rows = [row for rows, _ in outputs(tmp_path / "all").values() for row in rows]
    assert low < high
    assert low == pytest.approx(percentile_cutoffs([row["perplexity"] for row in rows], (30, 60))[0])
    for row in rows:
        assert row["bucket"] == bucket_of(row["perplexity"], (low, high))
    assert {row["bucket"] for row in rows} == {"head", "middle", "tail"}
    kept = score_corpus(shards(corpus), tmp_path / "head", settings_for(corpus, cutoffs=(low, high), keep=("head",)))
    head = [row for rows, _ in outputs(tmp_path / "head").values() for row in rows]
    assert head and all(row["perplexity"] <= low for row in head)
    assert kept["buckets"]["tail"]["out"] == 0 and kept["buckets"]["head"]["out"] == len(head)
    filtered = [row for _, rejects in outputs(tmp_path / "head").values() for row in rejects
                if row["reason"].startswith("filtered")]
    assert len(head) + len(filtered) == len(rows)


def test_the_prefilter_scores_everything_and_the_lm_only_survivors(corpus, tmp_path):
    arpa = str(corpus / "tiny.arpa")
    full = score_corpus(shards(corpus), tmp_path / "all", settings_for(corpus, model="ngram"))
    max_ppl = sorted(row["perplexity"] for rows, _ in outputs(tmp_path / "all").values() for row in rows)[40]
    score_corpus(shards(corpus), tmp_path / "cascade",
                 settings_for(corpus, model="lstm", prefilter=arpa, max_ppl=max_ppl))
    lstm = spacy.load(corpus / "lstm")
    rows = [row for rows, _ in outputs(tmp_path / "cascade").values() for row in rows]
    rejected = [row for _, rejects in outputs(tmp_path / "cascade").values() for row in rejects
                if row["reason"].startswith("prefilter")]
    assert len(rows) == 41 and len(rejected) == full["n_out"] - 41
    for row in rows:
        assert row["prefilter_perplexity"] <= max_ppl
        assert row["perplexity"] == pytest.approx(lstm(row["text"])._.lm_perplexity, rel=1e-6)
    assert all(row["prefilter_perplexity"] > max_ppl and row["perplexity"] is None for row in rejected)


def test_shards_stream_through_one_engine_call_in_order():
    """A shard with nothing to score between two that have some: every shard comes back, in
    order, with its own scores, and the engine is called once for all of them."""
    from spacy_lm.scoring.shards import score_shards

    settings = ScoreSettings(model="m", chunk_size=2)
    calls = []

    def map_chunks(chunks):
        calls.append(1)
        for chunk in chunks:
            yield [{"perplexity": float(len(text)), "logprob": -1.0, "n_tokens": len(text.split()),
                    "n_predicted": 1} for text in chunk]

    shards = [(0, [{"id": "a", "text": "x y z"}, {"id": "b", "text": "w"}, {"id": "c", "text": "uv"}]),
              (1, [{"id": "d", "text": " "}]),
              (2, [{"id": "e", "text": "abcd"}])]
    done = list(score_shards(iter(shards), map_chunks, settings))
    assert calls == [1] and [index for index, *_ in done] == [0, 1, 2]
    assert [[row["perplexity"] for row in rows] for _, rows, _, _ in done] == [[5.0, 1.0, 2.0], [], [4.0]]
    assert [row["reason"] for row in done[1][2]] == ["empty"]


def run_cli(args, env=None):
    return subprocess.run([sys.executable, "-m", "spacy_lm", "score", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=REPO)


def test_a_killed_run_resumes_to_the_same_output(corpus, tmp_path):
    """The whole run dies (os._exit) in the second shard; run again, it skips the first shard and
    the result equals one uninterrupted run, file for file."""
    args = [str(corpus / "ngram_fault"), *shards(corpus), "--id-field", "doc_id", "--bucket", "30,60",
            "--bucket-sample", "30", "--code", FAULT_CODE, "--chunk-size", "8"]  # the sample: shard a
    flag = tmp_path / "flag"
    killed = run_cli([*args, "-o", str(tmp_path / "resumed")], env={fault.FLAG_VARIABLE: str(flag)})
    assert killed.returncode == 17 and flag.exists(), killed.stderr
    manifest = json.loads((tmp_path / "resumed" / MANIFEST).read_text())
    assert [Path(source).name for source in manifest["shards"]] == ["a.jsonl"]
    resumed = run_cli([*args, "-o", str(tmp_path / "resumed"), "--json"], env={fault.FLAG_VARIABLE: str(flag)})
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["shards_skipped"] == 1
    clean = run_cli([*args, "-o", str(tmp_path / "clean")])
    assert clean.returncode == 0, clean.stderr
    assert outputs(tmp_path / "resumed") == outputs(tmp_path / "clean")
    for name in ("00000-a.jsonl.parquet", "00001-b.jsonl.parquet", "rejects/00002-c.jsonl.jsonl"):
        assert (tmp_path / "resumed" / name).read_bytes() == (tmp_path / "clean" / name).read_bytes()


def test_a_changed_output_file_is_scored_again(corpus, tmp_path):
    settings = settings_for(corpus)
    score_corpus(shards(corpus), tmp_path, settings)
    before = outputs(tmp_path)
    (tmp_path / "00001-b.jsonl.parquet").write_bytes(b"damaged")
    summary = score_corpus(shards(corpus), tmp_path, settings)
    assert summary["shards_skipped"] == 2 and outputs(tmp_path) == before


def test_a_dying_local_worker_is_retried_without_loss_or_duplicates(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv(fault.FLAG_VARIABLE, str(tmp_path / "flag"))
    settings = settings_for(corpus, model="ngram_fault")
    score_corpus(shards(corpus), tmp_path / "two", settings, workers=2)
    assert (tmp_path / "flag").exists()  # a worker did die
    score_corpus(shards(corpus), tmp_path / "one", settings_for(corpus, model="ngram"))
    assert outputs(tmp_path / "two") == outputs(tmp_path / "one")


def test_the_local_pool_gives_up_on_a_chunk_that_always_kills(corpus, tmp_path, monkeypatch):
    import spacy_lm.scoring.engines as engines

    monkeypatch.setenv(fault.FLAG_VARIABLE, str(tmp_path / "flag"))
    monkeypatch.setattr(engines, "MAX_RETRIES", 1)
    chunks = [["the cat"], [f"the {fault.ALWAYS_KILL_MARKER}"]]
    with open_engine("local", settings_for(corpus, model="ngram_fault"), workers=2) as map_chunks:
        with pytest.raises(RuntimeError, match=r"\[E165\] A scoring worker died 2 times"):
            list(map_chunks(chunks))


def test_resuming_with_other_settings_is_refused(corpus, tmp_path):
    score_corpus(shards(corpus)[:1], tmp_path, settings_for(corpus, bucket=(30, 60)))
    score_corpus(shards(corpus)[:1], tmp_path, settings_for(corpus, bucket=(30, 60), batch_size=7))  # fine
    with pytest.raises(ValueError, match=r"\[E164\].*bucket"):
        score_corpus(shards(corpus)[:1], tmp_path, settings_for(corpus, bucket=(20, 60)))
    (tmp_path / MANIFEST).write_text("{damaged")
    with pytest.raises(ValueError, match=r"\[E163\]"):
        score_corpus(shards(corpus)[:1], tmp_path, settings_for(corpus, bucket=(30, 60)))


@pytest.mark.parametrize("kwargs,setting", [
    ({"keep": ("head",)}, "keep"),
    ({"bucket": (30, 60), "keep": ("top",)}, "keep"),
    ({"bucket": (60, 30)}, "bucket"),
    ({"bucket": (0, 60)}, "bucket"),
    ({"cutoffs": (50.0, float("nan"))}, "cutoffs"),
    ({"max_ppl": 100.0}, "max_ppl"),
    ({"prefilter": "x.arpa", "max_ppl": -1.0}, "max_ppl"),
    ({"batch_size": 0}, "batch_size"),
    ({"output_format": "csv"}, "output_format"),
])
def test_bad_settings_are_coded_errors(kwargs, setting):
    with pytest.raises(ValueError, match=rf"\[E160\] spacy lm score: {setting} must be"):
        ScoreSettings(model="m", **kwargs)


@pytest.mark.parametrize("engine,workers", [("spark", 1), ("local", 0), ("local", True)])
def test_bad_engines_are_coded_errors(corpus, engine, workers):
    with pytest.raises(ValueError, match=r"\[E160\]"):
        with open_engine(engine, settings_for(corpus), workers=workers):
            pass


def test_no_inputs_is_a_coded_error(corpus, tmp_path):
    with pytest.raises(ValueError, match=r"\[E160\].*inputs"):
        score_corpus([], tmp_path, settings_for(corpus))


@pytest.fixture(scope="module")
def ray_flag(tmp_path_factory):
    """A local Ray runtime whose workers see the fault flag's variable (actors are started by the
    runtime, so they get the environment it was given, not the test's later changes)."""
    ray = pytest.importorskip("ray")
    flag = tmp_path_factory.mktemp("ray") / "flag"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {fault.FLAG_VARIABLE: str(flag)}})
    yield flag
    ray.shutdown()


@pytest.mark.slow
def test_ray_gives_the_local_scores_and_survives_a_dying_actor(corpus, tmp_path, ray_flag):
    score_corpus(shards(corpus), tmp_path / "local", settings_for(corpus, model="ngram", bucket=(30, 60)))
    faulty = settings_for(corpus, model="ngram_fault", bucket=(30, 60))
    summary = score_corpus(shards(corpus), tmp_path / "ray", faulty, engine="ray", workers=2)
    assert ray_flag.exists()  # an actor did die
    assert summary["engine"] == "ray" and summary["n_in"] == len(input_ids(corpus))
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local")


def test_a_bad_model_in_local_workers_is_one_coded_line(corpus, tmp_path):
    """The workers load the pipeline (the driver does not): their error reaches the driver."""
    result = run_cli([str(corpus / "lstm"), *shards(corpus), "-o", str(tmp_path), "--workers", "2",
                      "--component", "missing_lm"])
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: [") and "missing_lm" in lines[0], result.stderr
