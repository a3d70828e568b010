"""SIGTERM stops the pool: the real CLI with two workers asleep in a component, stopped; it exits
with 128 + SIGTERM and one E210 line, leaves no worker, and the run resumes to the uninterrupted output."""
import json
import signal
import subprocess
from pathlib import Path

from spacy_lm.scoring import ScoreSettings, score_corpus
from spacy_lm.scoring.manifest import MANIFEST

from .conftest import REPO, alive, cli, kill_all, needs_proc, outputs, start_hanging_run, wait_until


@needs_proc
def test_sigterm_stops_the_pool_and_the_run_resumes_to_the_uninterrupted_output(hang_files, tmp_path):
    inputs = [str(hang_files / name) for name in ("a.jsonl", "b.jsonl", "c.jsonl")]
    driver, kids = start_hanging_run(hang_files, tmp_path, inputs)
    manifest = tmp_path / "out" / MANIFEST
    try:
        assert wait_until(lambda: manifest.exists() and json.loads(manifest.read_text())["shards"], timeout=30)
        driver.send_signal(signal.SIGTERM)
        driver.wait(timeout=60)
        stderr = (tmp_path / "stderr").read_text()
        assert driver.returncode == 128 + signal.SIGTERM, stderr
        assert "Traceback" not in stderr and stderr.strip().splitlines()[-1].startswith("Error: [E210]"), stderr
        assert wait_until(lambda: not any(alive(pid) for pid in kids), timeout=10)
    finally:
        kill_all(kids)
    assert [Path(source).name for source in json.loads(manifest.read_text())["shards"]] == ["a.jsonl"]
    resumed = subprocess.run(cli(hang_files, *inputs, "-o", str(tmp_path / "out"), "--workers", "2", "--json"),
                             cwd=REPO, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["shards_skipped"] == 1
    score_corpus(inputs, tmp_path / "clean", ScoreSettings(model=str(hang_files / "ngram")))
    assert outputs(tmp_path / "out") == outputs(tmp_path / "clean")
