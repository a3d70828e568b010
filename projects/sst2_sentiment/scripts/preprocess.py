"""Check SST-2 in DATA_DIR and write the corpus files.

The classifier reads `<label> <sentence>` lines (train.txt, dev.txt, test.txt); the language
model reads the same sentences without labels (lm_train.txt, lm_dev.txt, lm_test.txt). SST is
lower-cased and tokenised already, so the pipelines split on whitespace. Sentence counts are
checked (6,920 / 872 / 1,821) unless `--expected any`.
"""
import json
from pathlib import Path

import typer
from fetch_data import SPLITS, find_split, how_to_get_data


def main(
    data_dir: Path = typer.Argument(..., help="Folder with stsa.binary.{train,dev,test}"),
    output_dir: Path = typer.Argument(..., help="Where to write the corpus files"),
    expected: str = typer.Option("6920,872,1821", "--expected", help="Sentences in train,dev,test, or 'any'"),
    max_train: int = typer.Option(0, "--max-train", help="Keep at most N train sentences (0: all)"),
    max_test: int = typer.Option(0, "--max-test", help="Keep at most N dev and N test sentences (0: all)"),
) -> None:
    """Check the counts and write the classifier and LM files."""
    paths = {name: find_split(data_dir, name) for name in SPLITS}
    if not all(paths.values()):
        typer.echo(how_to_get_data(data_dir), err=True)
        raise typer.Exit(1)
    rows = {}
    for name, path in paths.items():
        lines = [line.split(None, 1) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows[name] = [(label, text) for label, text in lines]
        typer.echo(f"{name:<5} {len(rows[name]):>6,} sentences  {path}")
    if expected != "any":
        want = dict(zip(SPLITS, (int(n) for n in expected.split(","))))
        wrong = {name: (len(rows[name]), n) for name, n in want.items() if len(rows[name]) != n}
        if wrong:
            details = ", ".join(f"{name}: {got:,} (expected {n:,})" for name, (got, n) in wrong.items())
            typer.echo(f"Unexpected SST-2 sentence counts in {data_dir}: {details}. Is this the sentence-level "
                       "split (not GLUE's phrases)? For another corpus in the same format pass "
                       "`--vars.expected_rows any`.", err=True)
            raise typer.Exit(1)
        typer.echo("Sentence counts match SST-2 (sentence level).")
    limits = {"train": max_train, "dev": max_test, "test": max_test}
    output_dir.mkdir(parents=True, exist_ok=True)
    stats = {}
    for name, pairs in rows.items():
        pairs = pairs[: limits[name]] if limits[name] else pairs
        (output_dir / f"{name}.txt").write_text("".join(f"{label} {text}\n" for label, text in pairs), encoding="utf-8")
        (output_dir / f"lm_{name}.txt").write_text("".join(f"{text}\n" for _, text in pairs), encoding="utf-8")
        stats[name] = {"sentences": len(pairs), "tokens": sum(len(text.split()) for _, text in pairs),
                       "positive": sum(label == "1" for label, _ in pairs)}
    (output_dir / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    typer.run(main)
