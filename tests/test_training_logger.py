"""spacy_lm.ProgressLogger.v1: ConsoleLogger.v3 plus progress lines off a terminal and a JSONL
log on disk at every evaluation."""
import io

import pytest
import srsly
from spacy.training.loggers import console_logger_v3
from spacy.util import registry

from spacy_lm.training import logger as training_logger
from spacy_lm.training.logger import progress_logger


class FakeStream(io.StringIO):
    def __init__(self, tty: bool = False) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class Trainable:
    is_trainable = True


class FakeNLP:
    """What a logger reads of a Language: config, pipeline, update (words and losses)."""

    def __init__(self, max_steps: int = 100) -> None:
        self.config = {"training": {"max_steps": max_steps, "eval_frequency": 50,
                                    "score_weights": {"lm_score": 1.0, "lm_loss": None}}}
        self.pipeline = [("lm", Trainable())]

    def update(self, examples, *, losses=None, drop=0.0):
        losses["lm"] = losses.get("lm", 0.0) + 2.0
        return losses


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def info(step: int, score: float) -> dict:
    return {"epoch": 0, "step": step, "score": score, "other_scores": {"lm_score": score, "lm_loss": 5.0},
            "losses": {"lm": 3.0}, "checkpoints": [], "seconds": 0, "words": 0}


def run_steps(log_step, nlp, clock, steps, words=100):
    """``steps`` updates of ``words`` one-word examples, one second each, each followed by
    log_step(None), with one losses dict (as spaCy's loop between evaluations)."""
    losses = {}
    for _ in range(steps):
        nlp.update(["w"] * words, losses=losses)
        clock.now += 1.0
        log_step(None)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(training_logger, "_clock", clock)
    return clock


def test_progress_lines_off_a_terminal_show_rate_loss_and_eta(clock):
    stdout, stderr = FakeStream(), FakeStream()
    nlp = FakeNLP(max_steps=100)
    log_step, finalize = progress_logger(progress_bar="train", progress_seconds=5)(nlp, stdout, stderr)
    clock.now = 1.0  # the first evaluation took a second
    log_step(info(0, 0.1))
    run_steps(log_step, nlp, clock, 10)
    finalize()
    lines = [line for line in stdout.getvalue().splitlines() if line.startswith("step ")]
    # every 5 s: 100 words a second; a loss of 2.0 per update; 6 s for 5 steps -> 95 steps in 114 s
    assert lines[0] == "step 5/100 (5%)  100 words/s  loss/update lm 2.000  elapsed 00m06s  eta 01m54s"
    assert lines[1].startswith("step 10/100 (10%)  100 words/s  loss/update lm 2.000  elapsed 00m11s  eta 01m39s")
    assert len(lines) == 2
    assert "update" not in vars(nlp)  # nlp.update is restored


@pytest.mark.parametrize("tty,forced,expected", [(True, None, 0), (True, True, 3), (False, False, 0), (False, None, 3)])
def test_progress_lines_only_when_not_on_a_terminal_unless_forced(clock, tty, forced, expected):
    stdout, stderr = FakeStream(tty), FakeStream(tty)
    nlp = FakeNLP()
    log_step, finalize = progress_logger(progress_seconds=0, progress_steps=2, progress_lines=forced)(nlp, stdout,
                                                                                                     stderr)
    log_step(info(0, 0.1))
    run_steps(log_step, nlp, clock, 6)
    finalize()
    assert sum(line.startswith("step ") for line in stdout.getvalue().splitlines()) == expected


def test_jsonl_log_holds_each_evaluation_as_soon_as_it_is_logged(tmp_path, clock):
    """ConsoleLogger.v3 left train_log.jsonl at 0 bytes until finalize (lost when a run is killed)."""
    path = tmp_path / "logs" / "train_log.jsonl"
    nlp = FakeNLP()
    log_step, finalize = progress_logger(output_file=path)(nlp, FakeStream(), FakeStream())
    log_step(info(0, 0.1))
    assert [row["step"] for row in srsly.read_jsonl(path)] == [0]
    run_steps(log_step, nlp, clock, 3)
    log_step(info(4, 0.3))
    assert [row["step"] for row in srsly.read_jsonl(path)] == [0, 4]  # before finalize
    finalize()
    reference = tmp_path / "reference.jsonl"  # the same lines as spaCy's own logger writes
    spacy_step, spacy_finalize = console_logger_v3(output_file=reference)(nlp, FakeStream(), FakeStream())
    spacy_step(info(0, 0.1))
    spacy_step(info(4, 0.3))
    spacy_finalize()
    assert path.read_text() == reference.read_text()


def test_an_existing_log_is_kept_as_consolelogger_does(tmp_path, clock):
    path = tmp_path / "train_log.jsonl"
    path.write_text("old\n")
    stdout = FakeStream()
    log_step, finalize = progress_logger(output_file=path)(FakeNLP(), stdout, FakeStream())
    log_step(info(0, 0.1))
    finalize()
    assert path.read_text() == "old\n" and "already exists" in stdout.getvalue()


@pytest.mark.parametrize("setting,value", [("progress_seconds", -1), ("progress_seconds", "30"),
                                           ("progress_steps", -2), ("progress_steps", 1.5)])
def test_bad_settings_raise_a_clear_error(setting, value):
    with pytest.raises(ValueError, match=rf"E009.*{setting}"):
        progress_logger(**{setting: value})


def test_registered_for_configs():
    assert registry.loggers.get("spacy_lm.ProgressLogger.v1") is progress_logger
