"""`spacy train configs/qa.cfg`, with the pre-trained LM's states as features when `lm_features`.

The reader trains on all of train but its last ``--heldout-articles`` articles and keeps the
model with the best EM / F1 on those held-out articles (the reader's article slicing:
``take_articles = -N`` / ``skip_articles = -N`` of the same file); SQuAD dev is never seen.
With ``--lm-features true`` the reader reads the frozen states of the LM that `pretrain_lm`
trained: ``[paths] lm_pipeline`` is that pipeline and ``[components.qa.model.lm_features]`` is
switched on with the LM's own width, depth, embed_size and cell (read from its config, so
they cannot disagree).

    python scripts/train.py configs/qa.cfg training/qa assets/squad/train-v1.1.json.gz \
        --lm-features false -- --training.max_steps 2000
"""
import subprocess
import sys
from pathlib import Path
from typing import List

import typer
from pretrain_lm import is_true


def lm_feature_overrides(lm_pipeline: Path) -> List[str]:
    """``--components.qa.model.lm_features.*`` for the LM at ``lm_pipeline``: on, with its shape."""
    from spacy.util import load_config

    config = load_config(lm_pipeline / "config.cfg", interpolate=False)
    names = [name for name, block in config["components"].items() if block.get("factory") == "lstm_lm"]
    if not names:
        sys.exit(f"{lm_pipeline} has no lstm_lm component (components: {list(config['components'])}).")
    model = config["components"][names[0]]["model"]
    overrides = ["--components.qa.model.lm_features.enabled", "true"]
    for key in ("width", "depth", "embed_size", "cell"):
        value = model.get(key)
        overrides += [f"--components.qa.model.lm_features.{key}", "null" if value is None else str(value)]
    return overrides


def main(
    config: Path = typer.Argument(..., exists=True, dir_okay=False),
    output: Path = typer.Argument(..., help="Training output directory (model-best, model-last)"),
    train_json: Path = typer.Argument(..., exists=True, dir_okay=False, help="SQuAD train file"),
    heldout_articles: int = typer.Option(20, "--heldout-articles", help="The last N train articles: held-out"),
    max_train_questions: int = typer.Option(0, "--max-train-questions", help="Train on at most N questions (0: all)"),
    lm_features: str = typer.Option("false", "--lm-features", help="true: read the LM's states (--lm-pipeline)"),
    lm_pipeline: Path = typer.Option(Path("training/lm/model-best"), "--lm-pipeline"),
    overrides: List[str] = typer.Argument(None, help="More `spacy train` options, after --"),
) -> None:
    """Train the reader on train minus the held-out articles, selected on those."""
    cmd = [sys.executable, "-m", "spacy", "train", str(config), "--output", str(output),
           "--paths.train", str(train_json), "--paths.dev", str(train_json),
           "--corpora.train.take_articles", str(-heldout_articles), "--corpora.train.skip_articles", "0",
           "--corpora.train.max_questions", str(max_train_questions),
           "--corpora.dev.skip_articles", str(-heldout_articles), "--corpora.dev.take_articles", "0"]
    if is_true(lm_features):
        if not (lm_pipeline / "config.cfg").exists():
            sys.exit(f"--lm-features true but there is no LM pipeline in {lm_pipeline}: run `spacy project run "
                     "pretrain_lm --vars.lm_features true` first.")
        cmd += ["--paths.lm_pipeline", str(lm_pipeline), *lm_feature_overrides(lm_pipeline)]
    cmd += overrides or []
    typer.echo(" ".join(cmd[1:]))
    result = subprocess.run(cmd)
    if result.returncode != 0:
        sys.exit(result.returncode)


if __name__ == "__main__":
    typer.run(main)
