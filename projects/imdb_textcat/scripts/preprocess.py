"""Check IMDB in DATA_DIR, tokenise it and write the corpus files.

Reviews are tokenised with spaCy's English tokenizer (HTML line breaks `<br />` removed) and
written with single spaces between tokens: the LM corpus (`lm_train.txt`, `lm_dev.txt`, `lm_test.txt`,
one review per line, read by `spacy_lm.PlainTextCorpus.v1`) and the classifier's CSV files see the
same tokens as the pipeline's tokenizer (`spacy.Tokenizer.v1`) on raw text. A seeded shuffle of
train holds out `--dev-size` reviews as dev; test stays the official test split. Row counts are
checked (25,000 train, 25,000 test) unless `--expected any`.
"""
import csv
import json
import random
import re
import sys
from pathlib import Path

import spacy
import typer
from fetch_data import SPLITS, find_split, how_to_get_data, open_text

BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def read_rows(path: Path):
    csv.field_size_limit(sys.maxsize)
    with open_text(path) as file_:
        return [(row["text"], row["label"]) for row in csv.DictReader(file_)]


def write_split(output_dir: Path, name: str, rows) -> None:
    with (output_dir / f"{name}.csv").open("w", encoding="utf-8", newline="") as file_:
        writer = csv.writer(file_)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def main(
    data_dir: Path = typer.Argument(..., help="Folder with train.csv[.gz] and test.csv[.gz]"),
    output_dir: Path = typer.Argument(..., help="Where to write train/dev/test.csv and lm_train/dev/test.txt"),
    expected: str = typer.Option("25000,25000", "--expected", help="Rows in train,test, or 'any'"),
    dev_size: int = typer.Option(2500, "--dev-size", help="Train reviews held out as dev"),
    max_train: int = typer.Option(0, "--max-train", help="Keep at most N train reviews (0: all)"),
    max_test: int = typer.Option(0, "--max-test", help="Keep at most N dev and N test reviews (0: all)"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Check the counts, tokenise, split train/dev and write the corpus files."""
    paths = {name: find_split(data_dir, name) for name in SPLITS}
    if not all(paths.values()):
        typer.echo(how_to_get_data(data_dir), err=True)
        raise typer.Exit(1)
    rows = {name: read_rows(path) for name, path in paths.items()}
    for name, path in paths.items():
        typer.echo(f"{name:<5} {len(rows[name]):>7,} reviews  {path}")
    if expected != "any":
        want = dict(zip(SPLITS, (int(n) for n in expected.split(","))))
        wrong = {name: (len(rows[name]), n) for name, n in want.items() if len(rows[name]) != n}
        if wrong:
            details = ", ".join(f"{name}: {got:,} (expected {n:,})" for name, (got, n) in wrong.items())
            typer.echo(f"Unexpected IMDB review counts in {data_dir}: {details}. For a different corpus in the "
                       "same format pass `--vars.expected_rows any`.", err=True)
            raise typer.Exit(1)
        typer.echo("Review counts match IMDB.")
    random.Random(seed).shuffle(rows["train"])
    splits = {"dev": rows["train"][:dev_size], "train": rows["train"][dev_size:], "test": rows["test"]}
    if max_train:
        splits["train"] = splits["train"][:max_train]
    if max_test:
        splits["dev"], splits["test"] = splits["dev"][:max_test], splits["test"][:max_test]
    tokenizer = spacy.blank("en").tokenizer
    output_dir.mkdir(parents=True, exist_ok=True)
    stats = {}
    for name, pairs in splits.items():
        texts = (" ".join(BREAK.sub(" ", text).split()) for text, _ in pairs)
        tokenised = [" ".join(t.text for t in doc if not t.is_space) for doc in tokenizer.pipe(texts, batch_size=256)]
        write_split(output_dir, name, [(text, label) for text, (_, label) in zip(tokenised, pairs)])
        (output_dir / f"lm_{name}.txt").write_text("\n".join(tokenised) + "\n", encoding="utf-8")
        stats[name] = {"reviews": len(pairs), "tokens": sum(len(t.split()) for t in tokenised),
                       "positive": sum(label == "1" for _, label in pairs)}
        typer.echo(f"{name:<5} {stats[name]['reviews']:>7,} reviews {stats[name]['tokens']:>11,} tokens")
    (output_dir / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    typer.run(main)
