"""Results table: each text classifier on the dev and test files (accuracy, macro-F1,
calibration error), and the pre-trained language model's perplexity on the test text.
With `--lexicon`, a zero-shot row too: the `sentiment_scorer` component with its default
lexicon model (positive polarity = POS), when it and its lexicon are installed.

Writes JSON and a Markdown table beside it, and prints the table.
"""
import json
from pathlib import Path
from typing import List

import spacy
import typer
from spacy.util import registry
from spacy_lm.corpora.corpus import corpus_perplexity, read_corpus_docs
from spacy_lm.metrics.scorers import macro_f1

LABELS = {"0": "NEG", "1": "POS"}


def score(nlp, path: Path, file_format: str) -> dict:
    reader = registry.readers.get("spacy_lm.TextCatCorpus.v1")(path, format=file_format, labels=LABELS)
    examples = list(reader(nlp))
    scores = nlp.evaluate(examples)
    return {"accuracy": scores["cats_accuracy"], "macro_f": scores["cats_macro_f"], "ece": scores["cats_ece"],
            "docs": len(examples)}


def lexicon_score(nlp, path: Path, file_format: str) -> dict:
    from spacy_lm.corpora.labelled import iter_labelled_texts

    pairs = list(iter_labelled_texts(path, format=file_format))
    gold = [LABELS[label] for _, label in pairs]
    guess = ["POS" if doc._.sentiment_polarity > 0 else "NEG" for doc in nlp.pipe(text for text, _ in pairs)]
    return {"accuracy": sum(g == p for g, p in zip(gold, guess)) / len(gold),
            "macro_f": macro_f1(gold, guess, sorted(set(LABELS.values()))),
            "ece": None, "docs": len(gold)}


def load_lexicon_pipeline(lang: str):
    try:
        nlp = spacy.blank(lang)
        nlp.add_pipe("sentiment_scorer")
        nlp.initialize()
    except Exception as err:  # an older spacy-lm, or the lexicon's package is not installed
        typer.echo(f"No lexicon row: {type(err).__name__}: {err}", err=True)
        return None
    return nlp


def main(
    models: List[str] = typer.Argument(..., help="NAME=PATH of each textcat pipeline"),
    dev: Path = typer.Option(..., "--dev", exists=True, dir_okay=False),
    test: Path = typer.Option(..., "--test", exists=True, dir_okay=False),
    file_format: str = typer.Option("csv", "--format", help="label_first, csv or tsv"),
    lm: Path = typer.Option(None, "--lm", help="The pre-trained LM pipeline"),
    lm_test: Path = typer.Option(None, "--lm-test", help="Test text for the LM, one doc per line"),
    output: Path = typer.Option(..., "--output", help="JSON file; a .md table is written beside it"),
    lexicon: bool = typer.Option(False, "--lexicon", help="Add the zero-shot sentiment_scorer lexicon row"),
    gpu_id: int = typer.Option(-1, "--gpu-id"),
) -> None:
    """Score the classifiers (and the LM) and write a results table."""
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    results = {"classifiers": [], "lm": None}
    for spec in models:
        name, _, path = spec.partition("=")
        nlp = spacy.load(path)
        results["classifiers"].append({"name": name, "model": path, "dev": score(nlp, dev, file_format),
                                       "test": score(nlp, test, file_format)})
    nlp = load_lexicon_pipeline(nlp.lang) if lexicon else None
    if nlp is not None:
        results["classifiers"].append({"name": "lexicon (sentiment_scorer, zero-shot)", "model": None,
                                       "dev": lexicon_score(nlp, dev, file_format),
                                       "test": lexicon_score(nlp, test, file_format)})
    lines = ["| model | dev accuracy | test accuracy | test macro-F1 | test ECE |", "|---|---:|---:|---:|---:|"]
    for row in results["classifiers"]:
        d, t = row["dev"], row["test"]
        ece = "n/a" if t["ece"] is None else f"{t['ece']:.3f}"
        lines.append(f"| {row['name']} | {d['accuracy']:.1%} | {t['accuracy']:.1%} | {t['macro_f']:.1%} | {ece} |")
    if lm is not None and lm_test is not None:
        nlp = spacy.load(lm)
        scores = corpus_perplexity(nlp, read_corpus_docs(nlp, lm_test))
        results["lm"] = {"model": str(lm), "perplexity": scores["lm_perplexity"], "accuracy": scores["lm_accuracy"],
                         "tokens": scores["lm_n_predicted"]}
        lines.append("")
        lines.append(f"Pre-trained LM on the test text: perplexity {scores['lm_perplexity']:.2f}, "
                     f"next-token accuracy {scores['lm_accuracy']:.1%} ({scores['lm_n_predicted']:,} tokens).")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = "\n".join(lines) + "\n"
    output.with_suffix(".md").write_text(table, encoding="utf-8")
    typer.echo(table)


if __name__ == "__main__":
    typer.run(main)
