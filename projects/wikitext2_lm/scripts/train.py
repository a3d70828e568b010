"""`spacy train` with evaluations that follow the budget, and a check that training helped.

A run of ``max_steps`` updates is evaluated ``evals`` times, evenly (``eval_frequency =
max_steps // evals``, the last evaluation on the last step), so a shortened run still picks its
model-best from real evaluations. The config's logger (``spacy_lm.ProgressLogger.v1``) writes
every evaluation to ``OUTPUT/train_log.jsonl`` as soon as it is logged (a killed run keeps them)
and prints a progress line every 30 s when the output is not a terminal. If the best score was
never better than the first evaluation's, model-best is (close to) the untrained model and the
workflow stops here with a clear message instead of evaluating, sampling and packaging it. ``decay_at`` moves the learning-rate drop of the
config's ``constant_then.v1`` schedule to that fraction of the run, so it follows the budget too.

    python scripts/train.py configs/lstm_lm.cfg training/lstm_lm --max-steps 6000 --evals 6 \
        -- --paths.train corpus/train.txt --paths.dev corpus/valid.txt
"""
import subprocess
import sys
from pathlib import Path
from typing import List

import srsly
import typer

LOG_NAME = "train_log.jsonl"


def plan_evaluations(max_steps: int, evals: int) -> tuple:
    """(eval_frequency, max_steps rounded down to a multiple of it, so the last step is evaluated)."""
    if max_steps < 1 or evals < 1:
        raise typer.BadParameter(f"--max-steps and --evals must be at least 1, got {max_steps} and {evals}")
    frequency = max(1, max_steps // evals)
    return frequency, frequency * (max_steps // frequency)


def check_improved(log_path: Path) -> str:
    """A one-line summary of the evaluations; exits with an error if none beat the first."""
    if not log_path.exists():
        sys.exit(f"No training log at {log_path}: spacy train did not evaluate (is [training.logger] "
                 "spacy_lm.ProgressLogger.v1 or spacy.ConsoleLogger.v3, with output_file set?)")
    rows = list(srsly.read_jsonl(log_path))
    if not rows:
        sys.exit(f"The training log {log_path} is empty: spacy train never evaluated.")
    first, best = rows[0], max(rows, key=lambda r: r["score"])
    if len(rows) < 2 or best["score"] <= first["score"]:
        sys.exit(f"model-best never improved on the first evaluation (score {first['score']:.6f} at step "
                 f"{first['step']}, {len(rows)} evaluation(s)): it is an untrained model, so it is not "
                 "evaluated, sampled or packaged. Train longer (--vars.max_steps) or check the learning rate.")
    return (f"{len(rows)} evaluations; best score {best['score']:.6f} at step {best['step']} "
            f"(first: {first['score']:.6f} at step {first['step']})")


def main(
    config: Path = typer.Argument(..., exists=True, dir_okay=False),
    output: Path = typer.Argument(..., help="Training output directory (model-best, model-last)"),
    max_steps: int = typer.Option(..., "--max-steps"),
    evals: int = typer.Option(5, "--evals", help="How many evaluations over the run"),
    decay_at: float = typer.Option(0.75, "--decay-at", min=0.0, max=1.0,
                                   help="Fraction of the steps after which the learning rate drops (0: the config's step)"),
    overrides: List[str] = typer.Argument(None, help="More `spacy train` options, after --"),
) -> None:
    frequency, steps = plan_evaluations(max_steps, evals)
    log_path = output / LOG_NAME
    output.mkdir(parents=True, exist_ok=True)
    log_path.unlink(missing_ok=True)
    typer.echo(f"Training {steps} steps, evaluating every {frequency} steps (log: {log_path}); "
               f"learning rate drops after {int(steps * decay_at) if decay_at > 0 else 'the config step'}")
    cmd = [sys.executable, "-m", "spacy", "train", str(config), "--output", str(output),
           "--training.max_steps", str(steps), "--training.eval_frequency", str(frequency),
           "--training.logger.output_file", str(log_path), *(overrides or [])]
    if decay_at > 0:
        cmd += ["--training.optimizer.learn_rate.steps", str(max(1, int(steps * decay_at)))]
    result = subprocess.run(cmd)
    if result.returncode != 0:
        sys.exit(result.returncode)
    typer.echo(check_improved(log_path))


if __name__ == "__main__":
    typer.run(main)
