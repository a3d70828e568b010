"""Test scores of each translator: greedy and beam search on test_2016_flickr.

Each pipeline's direction comes from the pipeline itself (``nlp.lang`` -> the translator's
``target_lang``), so its test files are ``{split}.{source}.gz`` and ``{split}.{target}.gz`` in
DATA_DIR. Scores are `spacy_lm.metrics.translation.corpus_scores`: sacreBLEU (cased, detokenised,
13a; with its signature), BLEU on lower-cased target-language tokens (the Multi30k literature's
convention) and chrF, stored on a 0-1 scale in the JSON and shown x 100 in the table. Writes the
JSON, a Markdown table beside it, and each decoding's output (one line per test sentence) under
``--hypotheses``.
"""
import json
import time
from pathlib import Path
from typing import List

import spacy
import typer
from spacy_lm.corpora.parallel import read_parallel
from spacy_lm.metrics.translation import corpus_scores


def find_translator(nlp):
    for name, pipe in nlp.pipeline:
        if nlp.get_pipe_meta(name).factory == "translator":
            return pipe
    raise SystemExit(f"No translator component in the pipeline ({nlp.pipe_names})")


def main(
    models: List[str] = typer.Argument(..., help="NAME=PATH of each translator pipeline"),
    data_dir: Path = typer.Option(..., "--data-dir", exists=True, file_okay=False),
    split: str = typer.Option("test_2016_flickr", "--split", help="Test files: SPLIT.{lang}.gz"),
    beams: int = typer.Option(5, "--beams", help="Beam size of the beam-search row (1: greedy only)"),
    output: Path = typer.Option(..., "--output", help="JSON file; a .md table is written beside it"),
    hypotheses: Path = typer.Option(None, "--hypotheses", help="Folder for NAME.DECODING.txt outputs"),
    gpu_id: int = typer.Option(-1, "--gpu-id"),
) -> None:
    """Translate the test split with each model (greedy and beam search) and score it."""
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    decodings = [("greedy", 1)] + ([(f"beam{beams}", beams)] if beams > 1 else [])
    results = []
    for spec in models:
        name, _, path = spec.partition("=")
        nlp = spacy.load(path)
        translator = find_translator(nlp)
        source, target = nlp.lang, translator.cfg["target_lang"]
        pairs = list(read_parallel(data_dir / f"{split}.{source}.gz", data_dir / f"{split}.{target}.gz"))
        texts, references = [s for s, _ in pairs], [t for _, t in pairs]
        dev = nlp.meta.get("performance", {})
        row = {"name": name, "model": path, "direction": f"{source}-{target}", "split": split,
               "dev_bleu": dev.get("translation_bleu"), "test": {}}
        for decoding, num_beams in decodings:
            start = time.perf_counter()
            outputs = translator.translate(texts, num_beams=num_beams)
            seconds = time.perf_counter() - start
            scores = corpus_scores(outputs, references, translator.target_tokens)
            row["test"][decoding] = {**scores, "num_beams": num_beams, "seconds": round(seconds, 1)}
            if hypotheses is not None:
                hypotheses.mkdir(parents=True, exist_ok=True)
                (hypotheses / f"{name}.{decoding}.txt").write_text("".join(o + "\n" for o in outputs),
                                                                   encoding="utf-8")
            typer.echo(f"{name} {decoding}: BLEU {100 * scores['translation_bleu']:.2f} ({seconds:.1f} s)")
        results.append(row)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    lines = ["| model | direction | decoding | sacreBLEU | tok. BLEU (lower-cased) | chrF | dev sacreBLEU (greedy) "
             "| test pairs | s |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    signatures = set()
    for row in results:
        dev_bleu = f"{100 * row['dev_bleu']:.2f}" if row["dev_bleu"] is not None else "-"
        for decoding, s in row["test"].items():
            signatures.add(s["translation_bleu_signature"])
            lines.append(f"| {row['name']} | {row['direction']} | {decoding} | {100 * s['translation_bleu']:.2f} | "
                         f"{100 * s['translation_tok_bleu']:.2f} | {100 * s['translation_chrf']:.2f} | {dev_bleu} | "
                         f"{s['translation_n']:,} | {s['seconds']} |")
    lines += ["", f"Test split: {results[0]['split'] if results else split}. sacreBLEU signature: "
              + "; ".join(sorted(signatures)) + "."]
    table = "\n".join(lines) + "\n"
    output.with_suffix(".md").write_text(table, encoding="utf-8")
    typer.echo(table)


if __name__ == "__main__":
    typer.run(main)
