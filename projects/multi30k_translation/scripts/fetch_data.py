"""Fetch Multi30k (WMT16 multimodal task 1, English-German, raw text) into OUTPUT_DIR.

Writes train, val and test_2016_flickr as ``{split}.de.gz`` and ``{split}.en.gz``: one sentence
a line, line i of the German file translating line i of the English one, as the files of
github.com/multi30k/dataset (data/task1/raw/). Sources (``--source``):

* ``auto`` (the default): ``local`` when ``--data-dir`` holds the six files, else ``hub``, so a
  fresh clone gets the data without a setting;
* ``local``: a folder (``--data-dir``) with those six files, ``.gz`` or not, copied
  byte for byte (uncompressed ones are gzipped); its SOURCE.md, if any, is copied too.
* ``hub``: HuggingFace ``datasets``, dataset ``bentrevett/multi30k`` (columns "de" and "en";
  splits train, validation, test = test_2016_flickr).

The files are written deterministically (gzip without a timestamp), so fetching again leaves
them byte-identical and nothing downstream reruns.
"""
import gzip
import shutil
from pathlib import Path
from typing import Dict, Optional

import typer

SPLITS = {"train": "train", "val": "validation", "test_2016_flickr": "test"}
LANGS = ("de", "en")
SOURCES = ("auto", "local", "hub")


def find_file(data_dir: Path, split: str, lang: str) -> Optional[Path]:
    for candidate in (data_dir / f"{split}.{lang}.gz", data_dir / f"{split}.{lang}"):
        if candidate.exists():
            return candidate
    return None


def find_files(data_dir: Path) -> Dict[str, Optional[Path]]:
    return {f"{split}.{lang}": find_file(data_dir, split, lang) for split in SPLITS for lang in LANGS}


def open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


def write_gz(path: Path, lines) -> int:
    """Write ``lines`` (one sentence each) gzipped without a timestamp; the number written."""
    n = 0
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as binary:
        for line in lines:
            binary.write((line.rstrip("\n") + "\n").encode("utf-8"))
            n += 1
    return n


def how_to_get_data(data_dir: Path) -> str:
    return (
        f"Multi30k is not in {data_dir} (expected train, val and test_2016_flickr .de.gz / .en.gz).\n"
        "Get it one of two ways:\n"
        "  1. online: `spacy project run fetch [project_dir] --vars.source hub` downloads it with HuggingFace\n"
        "     datasets (`pip install datasets`; dataset 'bentrevett/multi30k') into assets/multi30k;\n"
        "  2. a local copy: `spacy project run all [project_dir] --vars.data_dir /path/to/multi30k`, a folder with\n"
        "     train.de.gz, train.en.gz, val.de.gz, val.en.gz, test_2016_flickr.de.gz, test_2016_flickr.en.gz\n"
        "     (data/task1/raw/ of github.com/multi30k/dataset; uncompressed files work too)."
    )


def fetch_local(data_dir: Path, output_dir: Path) -> None:
    found = find_files(data_dir)
    if not all(found.values()):
        missing = ", ".join(name for name, path in found.items() if path is None)
        typer.echo(f"Missing in {data_dir}: {missing}.\n", err=True)
        typer.echo(how_to_get_data(data_dir), err=True)
        raise typer.Exit(1)
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, path in found.items():
        dest = output_dir / f"{name}.gz"
        if dest.exists() and dest.resolve() == path.resolve():
            continue  # data_dir is the output folder
        if path.suffix == ".gz":
            shutil.copyfile(path, dest)
        else:
            with open_text(path) as lines:
                write_gz(dest, lines)
        typer.echo(f"copied {path} -> {dest}")
    source_md = data_dir / "SOURCE.md"
    if source_md.exists() and source_md.resolve() != (output_dir / "SOURCE.md").resolve():
        shutil.copyfile(source_md, output_dir / "SOURCE.md")


def fetch_hub(hf_dataset: str, output_dir: Path) -> None:
    try:
        from spacy_lm.corpora.hub import check_hub_dataset

        check_hub_dataset(hf_dataset)  # no network: one clear line at once, not after ~30 s of retries
        from datasets import load_dataset

        dataset = load_dataset(hf_dataset)
    except Exception as err:  # no network, no `datasets`, hub errors: one clear message
        typer.echo(f"Could not download Multi30k with HuggingFace datasets ({type(err).__name__}: {err}).\n",
                   err=True)
        typer.echo(how_to_get_data(output_dir), err=True)
        raise typer.Exit(1)
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, split in SPLITS.items():
        for lang in LANGS:
            dest = output_dir / f"{name}.{lang}.gz"
            n = write_gz(dest, (row[lang] for row in dataset[split]))
            typer.echo(f"wrote {dest} ({n:,} sentences)")


def main(
    output_dir: Path = typer.Argument(..., help="Folder for {train,val,test_2016_flickr}.{de,en}.gz"),
    source: str = typer.Option("auto", "--source", help="'auto' (local if --data-dir has the files, else hub), "
                               "'local' (copy --data-dir) or 'hub' (HuggingFace)"),
    data_dir: Path = typer.Option(None, "--data-dir", help="With --source local or auto: the folder with the files"),
    hf_dataset: str = typer.Option("bentrevett/multi30k", "--hf-dataset", help="With --source hub"),
) -> None:
    """Copy Multi30k from a local folder or download it from the HuggingFace hub."""
    if source not in SOURCES:
        typer.echo(f"--source must be one of {', '.join(SOURCES)}, got {source!r}", err=True)
        raise typer.Exit(1)
    if source == "auto":
        source = "local" if data_dir is not None and all(find_files(data_dir).values()) else "hub"
        if source == "hub":
            typer.echo(f"No local copy of Multi30k in {data_dir}: downloading it from the HuggingFace hub.")
    if source == "local":
        if data_dir is None:
            typer.echo("--source local needs --data-dir", err=True)
            raise typer.Exit(1)
        fetch_local(data_dir, output_dir)
    else:
        fetch_hub(hf_dataset, output_dir)
    typer.echo(f"Multi30k ({source}) is in {output_dir}.")


if __name__ == "__main__":
    typer.run(main)
