"""Fetch WikiText-2 (word level, with <unk>) into DATA_DIR with HuggingFace `datasets`.

Writes train.txt, valid.txt and test.txt, one dataset row per line: the same lines and tokens
as wiki.*.tokens in wikitext-2-v1.zip (and pytorch/examples' copy), which `preprocess` checks.
If DATA_DIR already holds the three splits nothing is downloaded: a local copy given with
`--vars.data_dir /path/to/wikitext-2` is used as it is.
"""
import gzip
from pathlib import Path

import typer

SPLITS = {"train": "train", "valid": "validation", "test": "test"}


def find_split(data_dir: Path, name: str):
    for candidate in (data_dir / f"{name}.txt", data_dir / f"{name}.txt.gz", data_dir / f"wiki.{name}.tokens"):
        if candidate.exists():
            return candidate
    return None


def open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


def how_to_get_data(data_dir: Path, command: str = "fetch", var: str = "data_dir") -> str:
    return (
        f"WikiText-2 is not in {data_dir} (expected train.txt[.gz], valid.txt, test.txt).\n"
        "Get it one of two ways:\n"
        f"  1. online: `spacy project run {command} [project_dir]` downloads it with HuggingFace datasets\n"
        "     (`pip install datasets`; dataset 'Salesforce/wikitext', config 'wikitext-2-v1') into assets/wikitext-2;\n"
        f"  2. a local copy: `spacy project run all [project_dir] --vars.{var} /path/to/wikitext-2`, a folder with\n"
        "     train.txt (or train.txt.gz), valid.txt and test.txt (wiki.*.tokens of wikitext-2-v1.zip, renamed)."
    )


def main(
    data_dir: Path = typer.Argument(..., help="Folder for train.txt, valid.txt, test.txt"),
    hf_dataset: str = typer.Option("Salesforce/wikitext", "--hf-dataset", help="Dataset on the HuggingFace hub"),
    hf_name: str = typer.Option("wikitext-2-v1", "--hf-name", help="Its config: wikitext-2-v1 (with <unk>)"),
    command: str = typer.Option("fetch", "--command", help="This project command (named in the help on failure)"),
    var: str = typer.Option("data_dir", "--var", help="The project variable naming the folder (likewise)"),
) -> None:
    """Download WikiText-2 with `datasets` unless DATA_DIR already has it."""
    found = {name: find_split(data_dir, name) for name in SPLITS}
    if all(found.values()):
        typer.echo(f"WikiText-2 found in {data_dir}: nothing to fetch.")
        return
    try:
        from spacy_lm.corpora.hub import check_hub_dataset

        check_hub_dataset(hf_dataset)  # no network: one clear line at once, not after ~30 s of retries
        from datasets import load_dataset

        dataset = load_dataset(hf_dataset, hf_name)
    except Exception as err:  # no network, no `datasets`, hub errors: one clear message
        typer.echo(f"Could not download WikiText-2 with HuggingFace datasets ({type(err).__name__}: {err}).\n", err=True)
        typer.echo(how_to_get_data(data_dir, command, var), err=True)
        raise typer.Exit(1)
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, split in SPLITS.items():
        with (data_dir / f"{name}.txt").open("w", encoding="utf-8") as file_:
            for row in dataset[split]:
                file_.write(row["text"].rstrip("\n") + "\n")
        typer.echo(f"wrote {data_dir / f'{name}.txt'} ({len(dataset[split])} lines)")


if __name__ == "__main__":
    typer.run(main)
