"""Optional: pre-train the LSTM LM whose states the reader can read as features (`lm_features`).

With ``--enabled false`` (the default of the project) this writes only OUTPUT/README.md saying
so, and `train` trains the reader without LM features. With ``--enabled true`` it writes the LM's
text and trains configs/lstm_lm.cfg on it (``attr LOWER``), the model in OUTPUT/model-best:

* ``CORPUS/lm_train.txt``: the contexts of the reader's training articles (all of train but its
  last ``--heldout-articles``), tokenised with ``spacy.blank("en")`` (the reader's tokenizer)
  and joined by spaces, one paragraph per line, then WikiText-2's train split if
  ``--wikitext-dir`` is given (train.txt or train.txt.gz, as it is);
* ``CORPUS/lm_dev.txt``: the held-out articles' contexts (what the LM is selected on).

Never SQuAD dev: dev and XQuAD (a subset of dev) are what the reader is reported on.

    python scripts/pretrain_lm.py assets/squad/train-v1.1.json.gz training/lm --enabled true \
        -- --training.max_steps 2000
"""
import gzip
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Iterator, List

import spacy
import typer


def context_lines(nlp, contexts: Iterable[str]) -> Iterator[str]:
    """Each context as its tokens (whitespace tokens dropped) joined by single spaces."""
    for doc in nlp.pipe(contexts, batch_size=256):
        line = " ".join(token.text for token in doc if not token.is_space)
        if line:
            yield line


def wikitext_lines(wikitext_dir: Path) -> Iterator[str]:
    for path in (wikitext_dir / "train.txt", wikitext_dir / "train.txt.gz"):
        if path.exists():
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as file_:
                yield from (line.strip() for line in file_ if line.strip())
            return
    sys.exit(f"No train.txt or train.txt.gz in {wikitext_dir} (--vars.wikitext_dir: WikiText-2's folder, or '' "
             "for none).")


def is_true(value: str) -> bool:
    """A project var as written on the command line ("true", "False", "1", ...)."""
    if value.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
        sys.exit(f"Expected true or false, got {value!r} (--vars.lm_features)")
    return value.strip().lower() in ("true", "1", "yes")


def write_lines(path: Path, lines: Iterable[str]) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as file_:
        for line in lines:
            file_.write(line + "\n")
            n += 1
    return n


def main(
    train_json: Path = typer.Argument(..., exists=True, dir_okay=False, help="SQuAD train file"),
    output: Path = typer.Argument(..., help="Training output directory of the LM (model-best)"),
    enabled: str = typer.Option("false", "--enabled", help="true or false (false: skip; the reader trains "
                                "without LM features)"),
    corpus: Path = typer.Option(Path("corpus"), "--corpus", help="Folder for lm_train.txt and lm_dev.txt"),
    heldout_articles: int = typer.Option(20, "--heldout-articles", help="The last N train articles: LM dev"),
    wikitext_dir: str = typer.Option("", "--wikitext-dir", help="WikiText-2's folder: its train split is added"),
    config: Path = typer.Option(Path("configs/lstm_lm.cfg"), "--config"),
    overrides: List[str] = typer.Argument(None, help="More `spacy train` options, after --"),
) -> None:
    """Write the LM text and train the LSTM LM on it, or skip (--enabled false)."""
    from spacy_lm.corpora.squad import read_squad

    output.mkdir(parents=True, exist_ok=True)
    note = output / "README.md"
    if not is_true(enabled):
        note.write_text("lm_features is false: no LM was pre-trained and the reader has no LM features.\n",
                        encoding="utf-8")
        typer.echo("lm_features is false: skipping LM pre-training (--vars.lm_features true to run it).")
        return
    note.unlink(missing_ok=True)
    nlp = spacy.blank("en")
    corpus.mkdir(parents=True, exist_ok=True)
    train = (r["context"] for r in read_squad(train_json, take_articles=-heldout_articles))
    lines = context_lines(nlp, train)
    n_train = write_lines(corpus / "lm_train.txt", lines if not wikitext_dir.strip() else
                          (line for source in (lines, wikitext_lines(Path(wikitext_dir))) for line in source))
    dev = (r["context"] for r in read_squad(train_json, skip_articles=-heldout_articles))
    n_dev = write_lines(corpus / "lm_dev.txt", context_lines(nlp, dev))
    typer.echo(f"LM text: {n_train:,} train lines ({'+ WikiText-2 train' if wikitext_dir.strip() else 'SQuAD only'}), "
               f"{n_dev:,} dev lines (the last {heldout_articles} train articles)")
    cmd = [sys.executable, "-m", "spacy", "train", str(config), "--output", str(output),
           "--paths.train", str(corpus / "lm_train.txt"), "--paths.dev", str(corpus / "lm_dev.txt"),
           "--components.lstm_lm.attr", "LOWER", *(overrides or [])]
    result = subprocess.run(cmd)
    if result.returncode != 0:
        sys.exit(result.returncode)


if __name__ == "__main__":
    typer.run(main)
