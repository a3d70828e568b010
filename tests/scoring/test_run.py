"""score_corpus on tiny pipelines made here: every input record lands exactly once in the rows or
the rejects, scores equal the pipeline's own, buckets and the prefilter cascade route as documented,
a killed run resumes to the same output, an input named twice is scored once, and no inputs is a
coded error."""
import json
import shutil
from pathlib import Path

import pytest
import spacy

from spacy_lm.scoring import ScoreSettings, score_corpus
from spacy_lm.scoring.manifest import MANIFEST
from spacy_lm.scoring.shards import bucket_of, percentile_cutoffs

from ..conftest import TINY_TEXTS
from .conftest import FAULT_CODE, fault, input_ids, outputs, run_cli, settings_for, shards


def test_every_record_is_written_once_with_the_pipelines_scores(corpus, tmp_path):
    summary = score_corpus(shards(corpus), tmp_path, settings_for(corpus))
    nlp = spacy.load(corpus / "ngram")
    seen = []
    for rows, rejects in outputs(tmp_path).values():
        seen += [row["id"] for row in rows] + [row["id"] for row in rejects]
        for row in rows:
            doc = nlp(row["text"])
            # the score-only path sums float32 log-probs (scoring/token_ids.py): equal to 1e-6
            assert row["perplexity"] == pytest.approx(doc._.lm_perplexity, rel=1e-6)
            assert row["logprob"] == pytest.approx(doc._.lm_logprob, rel=1e-6)
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


def test_an_input_named_twice_is_scored_once(hang_files, tmp_path):
    copy = tmp_path / "copy.jsonl"
    shutil.copy(hang_files / "a.jsonl", copy)
    a = str(hang_files / "a.jsonl")
    inputs = [a, str(hang_files / "c.jsonl"), a, str(hang_files / ".." / hang_files.name / "a.jsonl"), str(copy)]
    lines = []
    summary = score_corpus(inputs, tmp_path / "out", ScoreSettings(model=str(hang_files / "ngram3")), progress=lines.append)
    assert summary["shards"] == 2 and summary["n_in"] == 8 and len(summary["duplicates"]) == 3
    assert set(summary["duplicates"].values()) == {a}
    assert sum("scored once" in line for line in lines) == 3
    assert sorted(outputs(tmp_path / "out")) == ["a.jsonl", "c.jsonl"]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.parquet")) == ["00000-a.jsonl.parquet",
                                                                           "00001-c.jsonl.parquet"]


def test_no_inputs_is_a_coded_error(corpus, tmp_path):
    with pytest.raises(ValueError, match=r"\[E160\].*inputs"):
        score_corpus([], tmp_path, settings_for(corpus))


def test_the_cutoff_sample_spans_every_input(corpus, tmp_path):
    """With inputs ordered by quality (fluent text first, word salad after), the percentile
    sample comes from every range, not from the head of the first input only."""
    import random

    rng = random.Random(0)
    words = "the cat sat on mat dog log a saw and".split()
    fluent = [TINY_TEXTS[i % len(TINY_TEXTS)] for i in range(60)]
    salad = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(60)]
    for name, texts in (("fluent.jsonl", fluent), ("salad.jsonl", salad)):
        (tmp_path / name).write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    settings = ScoreSettings(model=str(corpus / "ngram"), bucket=(30, 60), bucket_sample=20)
    summary = score_corpus([str(tmp_path / "fluent.jsonl"), str(tmp_path / "salad.jsonl")], tmp_path / "out", settings)
    low, high = summary["cutoffs"]
    nlp = spacy.load(corpus / "ngram")
    fluent_max = max(nlp(t)._.lm_perplexity for t in fluent)
    assert low <= fluent_max < high  # the 60th percentile lies among the salad's perplexities
