"""Fetch SQuAD v1.1 (and XQuAD-en, when there is one) into OUTPUT_DIR as SQuAD JSON.

Writes ``train-v1.1.json.gz`` and ``dev-v1.1.json.gz`` (the official v1.1 layout:
``{"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question", "answers":
[{"text", "answer_start"}]}]}]}]}``) and, if available, ``xquad.en.json.gz`` (XQuAD's English
file: the same layout, 1,190 questions on 240 dev paragraphs; reported, never tuned on).
Sources:

* ``--data-dir DIR`` (not empty): a local copy, a folder with ``train-v1.1.json`` and
  ``dev-v1.1.json`` (``.gz`` or not) and optionally ``xquad.en.json``; copied byte for byte
  (uncompressed files are gzipped).
* no ``--data-dir`` (empty): HuggingFace ``datasets``, dataset ``rajpurkar/squad`` (splits train
  and validation, one row per question), grouped back into articles and paragraphs in order
  of first appearance (``spacy_lm.corpora.squad.dataset_articles``), and XQuAD's English
  validation split (``google/xquad``, config ``xquad.en``) when it can be had.

Every answer is checked as it is read (its text at its offset). The files are written
deterministically (gzip without a timestamp), so fetching again leaves them byte-identical
and nothing downstream reruns.
"""
import gzip
import json
import shutil
from pathlib import Path
from typing import Dict, List, Optional

import typer

SPLITS = {"train": "train-v1.1.json", "dev": "dev-v1.1.json"}
XQUAD = "xquad.en.json"
HUB_SPLITS = {"train": "train", "dev": "validation"}


def find_file(data_dir: Path, name: str) -> Optional[Path]:
    for candidate in (data_dir / f"{name}.gz", data_dir / name):
        if candidate.exists():
            return candidate
    return None


def output_name(name: str) -> str:
    return f"{name}.gz"


def write_gz(path: Path, data: bytes) -> None:
    """``data`` gzipped without a timestamp (the same bytes on every fetch)."""
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as binary:
        binary.write(data)


def squad_json(articles: List[Dict]) -> bytes:
    """Articles as the official v1.1 file has them (records carry their title; the file keeps it
    on the article)."""
    data = [{"title": article["title"],
             "paragraphs": [{"context": p["context"], "qas": p["qas"]} for p in article["paragraphs"]]}
            for article in articles]
    return json.dumps({"version": "1.1", "data": data}, ensure_ascii=False).encode("utf-8")


def hub_articles(dataset: str, name: Optional[str], split: str) -> List[Dict]:
    """A question-per-row hub dataset as checked articles; rows without a title (XQuAD's) share
    the title ""."""
    from spacy_lm.corpora.hf_datasets import load_hf_dataset
    from spacy_lm.corpora.squad import dataset_articles

    rows = load_hf_dataset(dataset, name=name, split=split)
    return dataset_articles(({"title": "", **row} for row in rows), f"{dataset} ({split})")


def how_to_get_data(data_dir: Path) -> str:
    return (
        f"SQuAD v1.1 is not in {data_dir} (expected train-v1.1.json(.gz) and dev-v1.1.json(.gz)).\n"
        "Get it one of two ways:\n"
        "  1. online: `spacy project run fetch [project_dir] --vars.data_dir ''` downloads it with HuggingFace\n"
        "     datasets (`pip install datasets`; dataset 'rajpurkar/squad') into assets/squad;\n"
        "  2. a local copy: `spacy project run all [project_dir] --vars.data_dir /path/to/squad-v1.1`, a folder with\n"
        "     train-v1.1.json.gz and dev-v1.1.json.gz (rajpurkar.github.io/SQuAD-explorer; uncompressed files\n"
        "     work too) and optionally xquad.en.json (github.com/google-deepmind/xquad)."
    )


def fetch_local(data_dir: Path, output_dir: Path) -> None:
    found = {name: find_file(data_dir, name) for name in SPLITS.values()}
    if not all(found.values()):
        missing = ", ".join(name for name, path in found.items() if path is None)
        typer.echo(f"Missing in {data_dir}: {missing}.\n", err=True)
        typer.echo(how_to_get_data(data_dir), err=True)
        raise typer.Exit(1)
    xquad = find_file(data_dir, XQUAD)
    if xquad is not None:
        found[XQUAD] = xquad
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, path in found.items():
        dest = output_dir / output_name(name)
        if dest.exists() and dest.resolve() == path.resolve():
            continue  # data_dir is the output folder
        if path.suffix == ".gz":
            shutil.copyfile(path, dest)
        else:
            write_gz(dest, path.read_bytes())
        typer.echo(f"copied {path} -> {dest}")
    if xquad is None:
        typer.echo(f"No {XQUAD} in {data_dir}: evaluate reports dev only.")


def fetch_hub(hf_dataset: str, hf_xquad: str, hf_xquad_config: str, output_dir: Path) -> None:
    try:
        articles = {split: hub_articles(hf_dataset, None, hub_split) for split, hub_split in HUB_SPLITS.items()}
    except Exception as err:  # no network, no `datasets`, hub errors: one clear message
        typer.echo(f"Could not download SQuAD with HuggingFace datasets ({type(err).__name__}: {err}).\n", err=True)
        typer.echo(how_to_get_data(output_dir), err=True)
        raise typer.Exit(1)
    output_dir.mkdir(parents=True, exist_ok=True)
    for split, name in SPLITS.items():
        dest = output_dir / output_name(name)
        write_gz(dest, squad_json(articles[split]))
        n = sum(len(p["qas"]) for a in articles[split] for p in a["paragraphs"])
        typer.echo(f"wrote {dest} ({len(articles[split]):,} articles, {n:,} questions)")
    if not hf_xquad:
        return
    try:
        xquad = hub_articles(hf_xquad, hf_xquad_config or None, "validation")
    except Exception as err:  # XQuAD is a report only: the run goes on without it
        typer.echo(f"No XQuAD-en ({hf_xquad} {hf_xquad_config}: {type(err).__name__}: {err}); evaluate reports "
                   "dev only.")
        return
    dest = output_dir / output_name(XQUAD)
    write_gz(dest, squad_json(xquad))
    typer.echo(f"wrote {dest} ({sum(len(p['qas']) for a in xquad for p in a['paragraphs']):,} questions)")


def main(
    output_dir: Path = typer.Argument(..., help="Folder for train-v1.1.json.gz, dev-v1.1.json.gz, xquad.en.json.gz"),
    data_dir: str = typer.Option("", "--data-dir", help="A local copy (empty: download from the HuggingFace hub)"),
    hf_dataset: str = typer.Option("rajpurkar/squad", "--hf-dataset", help="Without --data-dir: SQuAD's dataset"),
    hf_xquad: str = typer.Option("google/xquad", "--hf-xquad", help="Without --data-dir: XQuAD's dataset "
                                 "('' for none)"),
    hf_xquad_config: str = typer.Option("xquad.en", "--hf-xquad-config", help="XQuAD's English configuration"),
) -> None:
    """Copy SQuAD v1.1 from a local folder or download it from the HuggingFace hub."""
    if data_dir.strip():
        fetch_local(Path(data_dir), output_dir)
        typer.echo(f"SQuAD v1.1 (local copy {data_dir}) is in {output_dir}.")
    else:
        typer.echo(f"No local copy given (--vars.data_dir): downloading {hf_dataset} from the HuggingFace hub.")
        fetch_hub(hf_dataset, hf_xquad, hf_xquad_config, output_dir)
        typer.echo(f"SQuAD v1.1 ({hf_dataset}) is in {output_dir}.")


if __name__ == "__main__":
    typer.run(main)
