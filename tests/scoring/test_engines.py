"""The engines: a dying local worker is retried without loss or duplicates (and given up on
after MAX_RETRIES), a bad model in the workers reaches the driver as one coded line, workers never
outlive a driver killed with kill -9, and Ray Data gives the local scores. The Ray test starts a
local Ray runtime (slow); the process tests read /proc."""
import subprocess
import sys
from pathlib import Path

import pytest

import spacy_lm.scoring.engines as engines
from spacy_lm.scoring import score_corpus
from spacy_lm.scoring.engines import open_engine

from .conftest import (
    REPO,
    alive,
    fault,
    input_ids,
    kill_all,
    needs_proc,
    outputs,
    run_cli,
    settings_for,
    shards,
    start_hanging_run,
    wait_until,
)


def test_a_dying_local_worker_is_retried_without_loss_or_duplicates(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv(fault.FLAG_VARIABLE, str(tmp_path / "flag"))
    settings = settings_for(corpus, model="ngram_fault")
    score_corpus(shards(corpus), tmp_path / "two", settings, workers=2)
    assert (tmp_path / "flag").exists()  # a worker did die
    score_corpus(shards(corpus), tmp_path / "one", settings)  # the flag is there: no worker dies
    assert outputs(tmp_path / "two") == outputs(tmp_path / "one")


def test_the_local_pool_gives_up_on_a_range_that_always_kills(corpus, tmp_path, monkeypatch):
    """The unit of retry is a range (the workers read their own input): one holding a document
    that kills every time is given up on after MAX_RETRIES, naming the range."""
    monkeypatch.setenv(fault.FLAG_VARIABLE, str(tmp_path / "flag"))
    monkeypatch.setattr(engines, "MAX_RETRIES", 1)
    poison = tmp_path / "poison.txt"
    poison.write_text(f"the cat\nthe {fault.ALWAYS_KILL_MARKER}\n")
    with pytest.raises(RuntimeError, match=r"\[E165\] A scoring worker died 2 times.*poison.txt, bytes"):
        score_corpus([str(poison)], tmp_path / "out", settings_for(corpus, model="ngram_fault"), workers=2)


@pytest.mark.parametrize("engine,workers", [("spark", 1), ("local", 0), ("local", True)])
def test_bad_engines_are_coded_errors(corpus, engine, workers):
    with pytest.raises(ValueError, match=r"\[E160\]"):
        with open_engine(engine, settings_for(corpus), workers=workers):
            pass


def test_a_bad_model_in_local_workers_is_one_coded_line(corpus, tmp_path):
    """The workers load the pipeline (the driver does not): their error reaches the driver."""
    result = run_cli([str(corpus / "lstm"), *shards(corpus), "-o", str(tmp_path), "--workers", "2",
                      "--component", "missing_lm"])
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: [") and "missing_lm" in lines[0], result.stderr


@needs_proc
def test_workers_and_the_resource_tracker_exit_when_the_driver_is_killed(hang_files, tmp_path):
    driver, kids = start_hanging_run(hang_files, tmp_path, [str(hang_files / "b.jsonl")])
    try:
        assert len(kids) >= 2  # two workers (and multiprocessing's resource tracker where they are spawned)
        driver.kill()
        driver.wait(timeout=30)
        assert wait_until(lambda: not any(alive(pid) for pid in kids), timeout=10), [p for p in kids if alive(p)]
    finally:
        kill_all(kids)


def test_the_watchdog_exits_a_process_whose_parent_died():
    """The portable fallback alone (no parent pipe, no prctl): a process re-parented exits."""
    watched = (f"import sys; sys.path.insert(0, {str(REPO)!r}); from spacy_lm.scoring.engines import watch_parent; "
               "watch_parent(int(sys.argv[1]), 0.05)")
    shell = subprocess.run(["sh", "-c", f'"$0" -c "$1" $$ & echo $!; sleep 1', sys.executable, watched],
                           capture_output=True, text=True, timeout=60)
    pid = int(shell.stdout.split()[0])
    if not Path("/proc").exists():
        pytest.skip("finds the process in /proc")
    assert wait_until(lambda: not alive(pid), timeout=30)


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
    faulty = settings_for(corpus, model="ngram_fault", bucket=(30, 60))
    summary = score_corpus(shards(corpus), tmp_path / "ray", faulty, engine="ray", workers=2)
    assert ray_flag.exists()  # an actor did die
    score_corpus(shards(corpus), tmp_path / "local", faulty)  # the flag is there: nothing dies
    assert summary["engine"] == "ray" and summary["n_in"] == len(input_ids(corpus))
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local")
