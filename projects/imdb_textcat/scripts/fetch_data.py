"""Fetch IMDB (Maas et al. 2011, 25,000 train + 25,000 test reviews) into DATA_DIR with
HuggingFace `datasets` (dataset `stanfordnlp/imdb`), as train.csv.gz and test.csv.gz with
columns text and label (1 positive, 0 negative). If DATA_DIR already has both files nothing is
downloaded: a local copy given with `--vars.data_dir /path/to/imdb` is used as it is.
"""
import csv
import gzip
from pathlib import Path

import typer

SPLITS = ("train", "test")


def find_split(data_dir: Path, name: str):
    for candidate in (data_dir / f"{name}.csv.gz", data_dir / f"{name}.csv"):
        if candidate.exists():
            return candidate
    return None


def open_text(path: Path, mode: str = "r"):
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8", newline="")
    return path.open(mode, encoding="utf-8", newline="")


def how_to_get_data(data_dir: Path) -> str:
    return (
        f"IMDB is not in {data_dir} (expected train.csv[.gz] and test.csv[.gz] with columns text, label).\n"
        "Get it one of two ways:\n"
        "  1. online: `spacy project run fetch [project_dir]` downloads it with HuggingFace datasets\n"
        "     (`pip install datasets`; dataset 'stanfordnlp/imdb') into assets/imdb;\n"
        "  2. a local copy: `spacy project run all [project_dir] --vars.data_dir /path/to/imdb`, a folder with\n"
        "     train.csv.gz and test.csv.gz (header row; columns text and label, 1 = positive, 0 = negative)."
    )


def main(
    data_dir: Path = typer.Argument(..., help="Folder for train.csv.gz and test.csv.gz"),
    hf_dataset: str = typer.Option("stanfordnlp/imdb", "--hf-dataset"),
) -> None:
    """Download IMDB with `datasets` unless DATA_DIR already has it."""
    if all(find_split(data_dir, name) for name in SPLITS):
        typer.echo(f"IMDB found in {data_dir}: nothing to fetch.")
        return
    try:
        from spacy_lm.corpora.hub import check_hub_dataset

        check_hub_dataset(hf_dataset)  # no network: one clear line at once, not after ~30 s of retries
        from datasets import load_dataset

        dataset = load_dataset(hf_dataset)
    except Exception as err:  # no network, no `datasets`, hub errors: one clear message
        typer.echo(f"Could not download IMDB with HuggingFace datasets ({type(err).__name__}: {err}).\n", err=True)
        typer.echo(how_to_get_data(data_dir), err=True)
        raise typer.Exit(1)
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        with open_text(data_dir / f"{name}.csv.gz", "w") as file_:
            writer = csv.writer(file_)
            writer.writerow(["text", "label"])
            for row in dataset[name]:
                writer.writerow([row["text"], row["label"]])
        typer.echo(f"wrote {data_dir / f'{name}.csv.gz'} ({len(dataset[name]):,} reviews)")


if __name__ == "__main__":
    typer.run(main)
