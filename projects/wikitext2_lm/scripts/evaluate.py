"""Perplexity table: every language model on the test split (and the valid split if given).

Scores are pooled over all predicted tokens (one <eos> per line, each line read from a fresh
state), as `spacy lm perplexity` computes them. Writes JSON and a Markdown table, and prints it.
"""
import json
import time
from pathlib import Path
from typing import List

import spacy
import typer
from spacy_lm.corpus import corpus_perplexity, read_corpus_docs


def main(
    models: List[Path] = typer.Argument(..., help="Pipelines to score, each with an LM component"),
    valid: Path = typer.Option(None, "--valid", exists=True, dir_okay=False),
    test: Path = typer.Option(..., "--test", exists=True, dir_okay=False),
    output: Path = typer.Option(..., "--output", help="JSON file; a .md table is written beside it"),
    gpu_id: int = typer.Option(-1, "--gpu-id"),
) -> None:
    """Score MODELS on the valid and test files and write a table."""
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    results = []
    for path in models:
        nlp = spacy.load(path)
        row = {"model": str(path)}
        for split, data in (("valid", valid), ("test", test)):
            if data is None:
                continue
            start = time.perf_counter()
            scores = corpus_perplexity(nlp, read_corpus_docs(nlp, data))
            seconds = time.perf_counter() - start
            row["component"] = scores["component"]
            row[split] = {"perplexity": scores["lm_perplexity"], "accuracy": scores["lm_accuracy"],
                          "tokens": scores["lm_n_predicted"], "seconds": round(seconds, 1)}
        results.append(row)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    with_valid = valid is not None
    lines = ["| model |" + (" valid ppl |" if with_valid else "") + " test ppl | test next-token acc. | test tokens | test s |",
             "|---|" + ("---:|" if with_valid else "") + "---:|---:|---:|---:|"]
    for row in results:
        t = row["test"]
        cells = [row["component"]] + ([f"{row['valid']['perplexity']:.2f}"] if with_valid else [])
        cells += [f"{t['perplexity']:.2f}", f"{t['accuracy']:.1%}", f"{t['tokens']:,}", str(t["seconds"])]
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    output.with_suffix(".md").write_text(table, encoding="utf-8")
    typer.echo(table)


if __name__ == "__main__":
    typer.run(main)
