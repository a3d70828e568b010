"""`spacy_lm.ProgressLogger.v1`: spaCy's ``ConsoleLogger.v3`` that is never silent for long.

``ConsoleLogger.v3`` shows progress between evaluations only as a tqdm bar, which tqdm turns
off when stderr is not a terminal (nohup, CI, a pipe): a long run then printed nothing for 8-14
minutes between evaluations. Its ``output_file`` is written without a flush, so the JSON lines
of finished evaluations were still in the buffer (0 bytes on disk) when a run was killed.

This logger takes the same settings, prints the same table, and adds:

* a progress line every ``progress_seconds`` (and/or every ``progress_steps`` steps) when
  stdout or stderr is not a terminal (``progress_lines = null``; true / false force it):
  the step (of ``training.max_steps``), words per second since the last line or evaluation
  (evaluation time excluded), the mean loss per update since the last evaluation, the time
  elapsed and an ETA to ``max_steps`` (at the run's own pace, evaluations included);
* the ``output_file`` JSON line of each evaluation flushed to disk as soon as it is logged.

spaCy calls the logger with the scores only at evaluations (``None`` on the other steps), so
the words and losses between evaluations are read from ``nlp.update``, which the logger wraps
for the run (restored by ``finalize``).
"""
import sys
import time
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Optional, Tuple, Union

import srsly
from spacy import util
from spacy.training.loggers import console_logger_v3
from spacy.util import registry
from wasabi import Printer

from ..checks import check_setting

LogStep = Callable[[Optional[Dict[str, Any]]], None]
_clock = time.monotonic  # read at call time: tests replace it


@registry.loggers("spacy_lm.ProgressLogger.v1")
def progress_logger(
    progress_bar: Optional[str] = None,
    console_output: bool = True,
    output_file: Optional[Union[str, Path]] = None,
    progress_seconds: float = 30.0,
    progress_steps: int = 0,
    progress_lines: Optional[bool] = None,
):
    """ConsoleLogger.v3's ``progress_bar``, ``console_output`` and ``output_file`` (its JSON
    lines flushed at every evaluation), plus progress lines every ``progress_seconds`` seconds
    and/or ``progress_steps`` steps (0: not by that measure) when not on a terminal."""
    seconds_ok = isinstance(progress_seconds, (int, float)) and not isinstance(progress_seconds, bool)
    check_setting(seconds_ok and progress_seconds >= 0, "progress_seconds", "a number of seconds >= 0 (0: off)",
                  progress_seconds)
    steps_ok = isinstance(progress_steps, int) and not isinstance(progress_steps, bool) and progress_steps >= 0
    check_setting(steps_ok, "progress_steps", "an integer >= 0 (0: off)", progress_steps)
    console = console_logger_v3(progress_bar=progress_bar, console_output=console_output, output_file=None)
    log_path = util.ensure_path(output_file) if output_file else None
    log_existed = bool(log_path and log_path.exists())  # ConsoleLogger.v3 then saves nothing, as here
    if log_path is not None and not log_path.parent.exists():
        log_path.parent.mkdir(parents=True)

    def setup_printer(nlp, stdout: IO = sys.stdout, stderr: IO = sys.stderr) -> Tuple[LogStep, Callable[[], None]]:
        write = lambda text: print(text, file=stdout, flush=True)  # noqa: E731
        msg = Printer(no_print=True)
        log_file = None
        if log_existed:
            write(msg.warn(f"Saving logs is disabled because {log_path} already exists."))
        elif log_path is not None:
            write(msg.info(f"Saving results to {log_path}"))
            log_file = open(log_path, "w", encoding="utf-8")
        console_step, console_finalize = console(nlp, stdout, stderr)
        lines = progress_lines if progress_lines is not None else not (_isatty(stdout) and _isatty(stderr))
        progress = _Progress(nlp, write, progress_seconds if lines else 0, progress_steps if lines else 0)

        def log_step(info: Optional[Dict[str, Any]]) -> None:
            console_step(info)
            if info is not None and log_file is not None:
                log_file.write(srsly.json_dumps(_log_data(info, progress.logged_pipes, progress.score_cols)) + "\n")
                log_file.flush()  # on disk now: a killed run keeps every evaluation so far
            progress.step(info)

        def finalize() -> None:
            progress.close()
            console_finalize()
            if log_file is not None:
                log_file.close()

        return log_step, finalize

    return setup_printer


def _isatty(stream: IO) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:  # a stream without isatty, or closed
        return False


def _log_data(info: Dict[str, Any], logged_pipes: List[str], score_cols: List[str]) -> Dict[str, Any]:
    """The JSON line ConsoleLogger.v3 writes for an evaluation (scores x 100 but speed)."""
    scores = {}
    for col in score_cols:
        score = float(info["other_scores"].get(col, 0.0))  # ConsoleLogger.v3 refused a non-number (E916)
        scores[str(col)] = score if col == "speed" else score * 100
    return {"epoch": info["epoch"], "step": info["step"],
            "losses": {name: float(info["losses"][name]) for name in logged_pipes},
            "scores": scores, "score": float(info["score"])}


class _Progress:
    """Counts steps (one ``log_step`` call each), words and losses (from ``nlp.update``) and
    prints a line when ``seconds`` or ``steps`` have passed since the last line or table row."""

    def __init__(self, nlp, write: Callable[[str], None], seconds: float, steps: int) -> None:
        self.write, self.seconds, self.steps = write, seconds, steps
        training = nlp.config.get("training", {})
        self.max_steps = int(training.get("max_steps") or 0)
        weights = training.get("score_weights") or {}
        self.score_cols = [col for col, weight in weights.items() if weight is not None]
        self.logged_pipes = [name for name, proc in nlp.pipeline if getattr(proc, "is_trainable", False)]
        self.start = self.mark_time = _clock()
        self.step_no = -1
        self.mark_step = self.eval_step = 0
        self.words = self.mark_words = 0
        self.losses: Dict[str, float] = {}
        self.nlp = nlp
        self._update = nlp.update
        if self.seconds or self.steps:
            nlp.update = self._counting_update

    def _counting_update(self, examples, *args, **kwargs):
        examples = examples if isinstance(examples, (list, tuple)) else list(examples)
        result = self._update(examples, *args, **kwargs)
        self.words += sum(len(eg) for eg in examples)
        losses = kwargs.get("losses")
        if losses is not None:
            self.losses = losses
        return result

    def step(self, info: Optional[Dict[str, Any]]) -> None:
        self.step_no = info["step"] if info is not None else self.step_no + 1
        now = _clock()
        if info is not None:  # a table row was printed; evaluation time stays out of the rate
            self.mark_time, self.mark_step, self.mark_words = now, self.step_no, self.words
            self.eval_step = self.step_no
            self.losses = {}
            return
        due_time = self.seconds and now - self.mark_time >= self.seconds
        due_steps = self.steps and self.step_no - self.mark_step >= self.steps
        if due_time or due_steps:
            self.write(self.line(now))
            self.mark_time, self.mark_step, self.mark_words = now, self.step_no, self.words

    def line(self, now: float) -> str:
        step = self.step_no
        parts = [f"step {step:,}" + (f"/{self.max_steps:,} ({100 * step / self.max_steps:.0f}%)"
                                     if self.max_steps > 0 else "")]
        span = max(now - self.mark_time, 1e-9)
        parts.append(f"{(self.words - self.mark_words) / span:,.0f} words/s")
        updates = step - self.eval_step
        losses = [f"{name} {float(self.losses[name]) / updates:.3f}" for name in self.logged_pipes
                  if name in self.losses and updates > 0]
        if losses:
            parts.append("loss/update " + " ".join(losses))
        elapsed = now - self.start
        parts.append(f"elapsed {_duration(elapsed)}")
        if self.max_steps > 0 and step > 0:
            parts.append(f"eta {_duration(elapsed / step * max(self.max_steps - step, 0))}")
        return "  ".join(parts)

    def close(self) -> None:
        if self.nlp.__dict__.get("update") == self._counting_update:
            del self.nlp.update


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return (f"{hours}h" if hours else "") + f"{rest // 60:02d}m{rest % 60:02d}s"
