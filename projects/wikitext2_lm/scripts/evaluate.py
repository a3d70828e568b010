"""Perplexity table: every language model on the test split (and the valid split if given).

Two numbers per model and split, as `spacy lm perplexity --stream` computes them:
* per line: each line (one <eos> at its end) read from a fresh state, scores pooled over all
  predicted tokens;
* stream: the split read in order as one token stream, the state carried from line to line (the
  number the WikiText/PTB literature reports). The n-gram model's context restarts at every <eos>,
  so for it the two are equal.
Writes JSON and a Markdown table, and prints it.
"""
import json
import time
from pathlib import Path
from typing import List

import spacy
import typer
from spacy_lm.corpora.corpus import corpus_perplexity, read_corpus_docs


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
            scores = corpus_perplexity(nlp, read_corpus_docs(nlp, data), stream=True)
            seconds = time.perf_counter() - start
            row["component"] = scores["component"]
            row[split] = {"perplexity": scores["lm_perplexity"], "accuracy": scores["lm_accuracy"],
                          "tokens": scores["lm_n_predicted"], "stream_perplexity": scores["lm_stream_perplexity"],
                          "stream_accuracy": scores["lm_stream_accuracy"], "seconds": round(seconds, 1)}
        results.append(row)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    with_valid = valid is not None
    lines = ["| model |" + (" valid ppl (stream) |" if with_valid else "")
             + " test ppl (stream) | test ppl (per line) | test next-token acc. (stream) | test tokens | test s |",
             "|---|" + ("---:|" if with_valid else "") + "---:|---:|---:|---:|---:|"]
    for row in results:
        t = row["test"]
        cells = [row["component"]] + ([f"{row['valid']['stream_perplexity']:.2f}"] if with_valid else [])
        cells += [f"{t['stream_perplexity']:.2f}", f"{t['perplexity']:.2f}", f"{t['stream_accuracy']:.1%}",
                  f"{t['tokens']:,}", str(t["seconds"])]
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    output.with_suffix(".md").write_text(table, encoding="utf-8")
    typer.echo(table)


if __name__ == "__main__":
    typer.run(main)
