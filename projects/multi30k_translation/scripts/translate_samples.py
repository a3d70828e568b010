"""Translate the first N sentences of the test split with each translator, greedily and with
beam search, through `spacy lm translate MODEL - --num-beams B --json` (one source a line on
stdin, one JSON object a line out), and show them beside their references; writes JSONL and
prints them.

Each pipeline's direction comes from its config (``nlp.lang`` and its translator's
``target_lang``), its sources from ``{split}.{source}.gz`` in DATA_DIR. With a spacy-lm that has
no `spacy lm translate` yet, ``Translator.translate`` is called directly (each row's "via" says
which).
"""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import List

import typer
from spacy_lm.corpora.parallel import read_parallel

CLI = "spacy lm translate"


def has_cli() -> bool:
    return importlib.util.find_spec("spacy_lm.cli.translate") is not None


def direction(model: Path) -> tuple:
    """(source, target) language of a saved pipeline, from its config (without loading it)."""
    from spacy.util import load_config

    config = load_config(model / "config.cfg", interpolate=False)
    targets = [c["target_lang"] for c in config["components"].values() if c.get("factory") == "translator"]
    if not targets:
        sys.exit(f"No translator component in {model}")
    return config["nlp"]["lang"], targets[0]


def translate_cli(model: Path, texts: List[str], num_beams: int) -> List[str]:
    cmd = [sys.executable, "-m", "spacy", "lm", "translate", str(model), "-", "--num-beams", str(num_beams), "--json"]
    typer.echo("python " + " ".join(cmd[1:]) + f" < ({len(texts)} source lines)")
    result = subprocess.run(cmd, input="".join(t + "\n" for t in texts), capture_output=True, text=True,
                            encoding="utf-8")
    if result.returncode != 0:
        sys.exit(f"{CLI} failed ({result.returncode}): {result.stderr.strip()}")
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    if [row["source"] for row in rows] != texts:
        sys.exit(f"{CLI} returned {len(rows)} translations for {len(texts)} sources")
    return [row["translation"] for row in rows]


def translate_direct(model: Path, texts: List[str], num_beams: int) -> List[str]:
    import spacy

    nlp = spacy.load(model)
    name = next(name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory == "translator")
    return nlp.get_pipe(name).translate(texts, num_beams=num_beams)


def main(
    models: List[Path] = typer.Argument(..., help="Translator pipelines"),
    data_dir: Path = typer.Option(..., "--data-dir", exists=True, file_okay=False),
    split: str = typer.Option("test_2016_flickr", "--split"),
    n: int = typer.Option(5, "--n", help="How many test sentences"),
    beams: int = typer.Option(5, "--beams", help="Beam size of the beam-search outputs"),
    output: Path = typer.Option(..., "--output", help="JSONL file, one line per sentence and model"),
) -> None:
    """Greedy and beam-search translations of a few test sentences."""
    translate, via = (translate_cli, CLI) if has_cli() else (translate_direct, "Translator.translate")
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as file_:
        for model in models:
            source, target = direction(model)
            pairs = list(read_parallel(data_dir / f"{split}.{source}.gz", data_dir / f"{split}.{target}.gz",
                                       limit=n))
            texts = [s for s, _ in pairs]
            greedy = translate(model, texts, 1)
            beam = translate(model, texts, beams)
            typer.echo(f"== {source} -> {target} ({model}, via {via})")
            for (text, reference), g, b in zip(pairs, greedy, beam):
                typer.echo(f"  source:    {text}\n  reference: {reference}\n  greedy:    {g}\n  beam {beams}:    {b}\n")
                file_.write(json.dumps({"model": str(model), "direction": f"{source}-{target}", "source": text,
                                        "reference": reference, "greedy": g, f"beam{beams}": b, "via": via},
                                       ensure_ascii=False) + "\n")


if __name__ == "__main__":
    typer.run(main)
