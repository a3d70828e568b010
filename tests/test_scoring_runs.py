"""Stopping and resuming `spacy lm score` (scoring/digests.py, stopping.py, the local engine's workers): a driver
killed with kill -9 leaves no worker or resource tracker behind, SIGTERM stops the pool and leaves
a manifest that resumes to the uninterrupted output, and resuming trusts bytes, not names (a
replaced model is refused, an edited input scored again, an input named twice scored once).

The stop tests run the real CLI with two workers whose pipeline holds a component that sleeps on
a marker word, so the workers are busy (or blocked) when the driver is stopped. They read /proc."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import spacy
from spacy.util import import_file

from spacy_lm.scoring import ScoreSettings, read_rows, score_corpus
from spacy_lm.scoring.digests import input_digest, path_digest, unique_sources
from spacy_lm.scoring.manifest import MANIFEST

from .conftest import TINY_TEXTS, make_examples

REPO = Path(__file__).resolve().parent.parent
HANG_VARIABLE = "SPACY_LM_TEST_HANG_DIR"
HANG_CODE = f'''
import os, time
from pathlib import Path
from spacy.language import Language

@Language.component("scoring_runs_hang")
def scoring_runs_hang(doc):
    """With ${HANG_VARIABLE} set, a doc holding "hang" writes a flag named by the pid and sleeps."""
    folder = os.environ.get("{HANG_VARIABLE}")
    if folder and "hang" in doc.text:
        (Path(folder) / str(os.getpid())).touch()
        time.sleep(120)
    return doc
'''
needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds child processes in /proc")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """An n-gram pipeline with the hanging component, another n-gram pipeline, and inputs."""
    root = tmp_path_factory.mktemp("scoring_runs")
    (root / "hang_code.py").write_text(HANG_CODE)
    import_file("spacy_lm_test_scoring_runs_hang", str(root / "hang_code.py"))
    for name, order in (("ngram", 2), ("ngram3", 3)):
        nlp = spacy.blank("en")
        nlp.add_pipe("ngram_lm", config={"order": order})
        nlp.initialize(lambda: make_examples(nlp, TINY_TEXTS))
        if name == "ngram":
            nlp.add_pipe("scoring_runs_hang", first=True)
        nlp.to_disk(root / name)
    write_jsonl(root / "a.jsonl", TINY_TEXTS[:4])
    write_jsonl(root / "b.jsonl", [f"the cat hang {i}" for i in range(4)])
    write_jsonl(root / "c.jsonl", TINY_TEXTS[4:8])
    return root


def write_jsonl(path: Path, texts) -> None:
    path.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts))


def cli(files, *args: str):
    return [sys.executable, "-m", "spacy_lm", "score", str(files / "ngram"), *args, "--code",
            str(files / "hang_code.py")]


def outputs(out_dir: Path):
    manifest = json.loads((out_dir / MANIFEST).read_text())
    return {Path(source).name: tuple(read_rows(out_dir / entry["files"][key]) for key in ("output", "rejects"))
            for source, entry in manifest["shards"].items()}


def alive(pid: int) -> bool:
    """Running (a zombie left unreaped by a container's init counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children(pid: int):
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def wait_until(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def start_hanging_run(files, tmp_path, inputs):
    """A driver whose two workers are both asleep in the hanging component; its children."""
    flags = tmp_path / "flags"
    flags.mkdir()
    with (tmp_path / "stderr").open("w") as stderr:  # not a pipe: workers left alive would hold it open
        driver = subprocess.Popen(cli(files, *inputs, "-o", str(tmp_path / "out"), "--workers", "2", "--chunk-size",
                                      "1"), cwd=REPO, env={**os.environ, HANG_VARIABLE: str(flags)},
                                  stdout=subprocess.DEVNULL, stderr=stderr)
    if not wait_until(lambda: len(list(flags.iterdir())) >= 2 or driver.poll() is not None, timeout=120):
        driver.kill()
    assert driver.poll() is None, (tmp_path / "stderr").read_text()
    return driver, children(driver.pid)


def kill_all(pids) -> None:
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@needs_proc
def test_workers_and_the_resource_tracker_exit_when_the_driver_is_killed(files, tmp_path):
    driver, kids = start_hanging_run(files, tmp_path, [str(files / "b.jsonl")])
    try:
        assert len(kids) >= 3  # two workers and multiprocessing's resource tracker
        driver.kill()
        driver.wait(timeout=30)
        assert wait_until(lambda: not any(alive(pid) for pid in kids), timeout=10), [p for p in kids if alive(p)]
    finally:
        kill_all(kids)


@needs_proc
def test_sigterm_stops_the_pool_and_the_run_resumes_to_the_uninterrupted_output(files, tmp_path):
    inputs = [str(files / name) for name in ("a.jsonl", "b.jsonl", "c.jsonl")]
    driver, kids = start_hanging_run(files, tmp_path, inputs)
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
    resumed = subprocess.run(cli(files, *inputs, "-o", str(tmp_path / "out"), "--workers", "2", "--json"),
                             cwd=REPO, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["shards_skipped"] == 1
    score_corpus(inputs, tmp_path / "clean", ScoreSettings(model=str(files / "ngram")))
    assert outputs(tmp_path / "out") == outputs(tmp_path / "clean")


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


def test_a_replaced_model_is_refused_on_resume(files, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(files / "ngram3", model)
    score_corpus([str(files / "a.jsonl")], tmp_path / "out", ScoreSettings(model=str(model)))
    shutil.rmtree(model)
    nlp = spacy.blank("en")
    nlp.add_pipe("ngram_lm", config={"order": 2})
    nlp.initialize(lambda: make_examples(nlp, TINY_TEXTS[:3]))
    nlp.to_disk(model)
    with pytest.raises(ValueError, match=r"\[E164\].*model_digest"):
        score_corpus([str(files / "a.jsonl"), str(files / "c.jsonl")], tmp_path / "out",
                     ScoreSettings(model=str(model)))


def test_an_input_edited_in_place_at_the_same_size_is_scored_again(files, tmp_path):
    source = tmp_path / "in.jsonl"
    write_jsonl(source, ["the cat sat", "a dog log"])
    settings = ScoreSettings(model=str(files / "ngram3"), output_format="jsonl")
    score_corpus([str(source)], tmp_path / "out", settings)
    size = source.stat().st_size
    write_jsonl(source, ["the dog sat", "a cat log"])
    assert source.stat().st_size == size
    summary = score_corpus([str(source)], tmp_path / "out", settings)
    assert summary["shards_skipped"] == 0
    assert [row["text"] for row in outputs(tmp_path / "out")["in.jsonl"][0]] == ["the dog sat", "a cat log"]
    assert score_corpus([str(source)], tmp_path / "out", settings)["shards_skipped"] == 1


def test_an_input_named_twice_is_scored_once(files, tmp_path):
    copy = tmp_path / "copy.jsonl"
    shutil.copy(files / "a.jsonl", copy)
    a = str(files / "a.jsonl")
    inputs = [a, str(files / "c.jsonl"), a, str(files / ".." / files.name / "a.jsonl"), str(copy)]
    lines = []
    summary = score_corpus(inputs, tmp_path / "out", ScoreSettings(model=str(files / "ngram3")), progress=lines.append)
    assert summary["shards"] == 2 and summary["n_in"] == 8 and len(summary["duplicates"]) == 3
    assert set(summary["duplicates"].values()) == {a}
    assert sum("scored once" in line for line in lines) == 3
    assert sorted(outputs(tmp_path / "out")) == ["a.jsonl", "c.jsonl"]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.parquet")) == ["00000-a.jsonl.parquet",
                                                                           "00001-c.jsonl.parquet"]


def test_digests_follow_bytes_not_names(tmp_path):
    (tmp_path / "x.txt").write_text("abc")
    (tmp_path / "y.txt").write_text("abd")
    assert input_digest(str(tmp_path / "x.txt")) != input_digest(str(tmp_path / "y.txt"))
    assert input_digest("hf:wikitext") is None
    before = path_digest(tmp_path)
    (tmp_path / "y.txt").write_text("abc")
    assert path_digest(tmp_path) != before
    sources, duplicates = unique_sources(["hf:a", "hf:a", "hf:b"], {"hf:a": None, "hf:b": None})
    assert sources == ["hf:a", "hf:b"] and duplicates == {"hf:a": "hf:a"}
