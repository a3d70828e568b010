"""Fixtures for the scoring tests: saved pipelines and input shards made here, a component that
kills its worker once (tests/fault_component.py) or sleeps on a marker word, the rows a run wrote,
and the processes of a driver (read from /proc)."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import spacy
from spacy.util import import_file

from spacy_lm.scoring import ScoreSettings, read_rows
from spacy_lm.scoring.manifest import MANIFEST

from ..conftest import TINY_TEXTS, make_examples, train_tiny_lm

REPO = Path(__file__).resolve().parents[2]
FAULT_CODE = str(Path(__file__).resolve().parent.parent / "fault_component.py")
fault = import_file("spacy_lm_test_fault_component", FAULT_CODE)
WORDS = "the cat sat on mat dog log a saw and".split()
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


@pytest.fixture(scope="package")
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


def run_cli(args, env=None):
    return subprocess.run([sys.executable, "-m", "spacy_lm", "score", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=REPO)


@pytest.fixture(scope="package")
def hang_files(tmp_path_factory):
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


def cli(hang_files, *args: str):
    return [sys.executable, "-m", "spacy_lm", "score", str(hang_files / "ngram"), *args, "--code",
            str(hang_files / "hang_code.py")]


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


def start_hanging_run(hang_files, tmp_path, inputs):
    """A driver whose two workers are both asleep in the hanging component; its children."""
    flags = tmp_path / "flags"
    flags.mkdir()
    with (tmp_path / "stderr").open("w") as stderr:  # not a pipe: workers left alive would hold it open
        driver = subprocess.Popen(cli(hang_files, *inputs, "-o", str(tmp_path / "out"), "--workers", "2", "--chunk-size",
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
