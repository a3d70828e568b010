"""The reader's SQuAD v1.1 dev and XQuAD-en scores (official v1.1 EM / F1, 0-100), beside the
non-neural baselines of benchmarks/qa_baselines.py when its results file is there.

Each paragraph is one doc (``nlp.make_doc(context)``, its questions in ``doc._.questions``) run
through the pipeline, which writes ``doc._.answers``; the answers are scored with
``spacy_lm.metrics.qa.squad_scores`` (max over the reference answers, a question without an answer
counts 0). The held-out score (the last train articles, which picked model-best) comes from
the pipeline's meta. Writes the JSON and a Markdown table beside it.
"""
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import spacy
import typer

SPLITS = (("dev", "dev"), ("xquad", "XQuAD-en"))


def score_file(nlp, path: Path, batch_size: int) -> Dict[str, Any]:
    """Official EM / F1 of the pipeline's answers on one SQuAD JSON file."""
    from spacy_lm.corpora.squad import read_squad
    from spacy_lm.extensions import install_qa_extensions
    from spacy_lm.metrics.qa import predicted_answers, squad_scores

    install_qa_extensions()
    records = list(read_squad(path))
    references = {qa["id"]: [a["text"] for a in qa["answers"]] for r in records for qa in r["qas"]}
    docs = []
    for record in records:
        doc = nlp.make_doc(record["context"])
        doc._.questions = [{"id": qa["id"], "text": qa["question"].strip()} for qa in record["qas"]]
        docs.append(doc)
    start = time.perf_counter()
    predictions: Dict[str, str] = {}
    for doc in nlp.pipe(docs, batch_size=batch_size):
        predictions.update(predicted_answers(doc))
    seconds = time.perf_counter() - start
    return {**squad_scores(predictions, references), "paragraphs": len(records), "seconds": round(seconds, 1)}


def baseline_rows(path: Optional[Path]) -> List[Dict[str, Any]]:
    """Rows of benchmarks/qa_baselines.py's results (random, sliding window, word overlap), if any."""
    if path is None or not path.exists():
        return []
    results = json.loads(path.read_text(encoding="utf-8")).get("results", {})
    names = [name for name, value in results.get("dev", {}).items() if isinstance(value, dict)]
    rows = []
    for name in names:
        row = {"name": f"{name} (baseline)", "model": str(path)}
        for split, _ in SPLITS:
            found = results.get(split, {}).get(name)
            row[split] = {"exact_match": found["exact_match"], "f1": found["f1"]} if isinstance(found, dict) else None
        rows.append(row)
    return rows


def heldout_scores(meta: Dict[str, Any]) -> Dict[str, Optional[float]]:
    """model-best's score on the held-out articles, from the scorer's qa_em / qa_f1 (0-1) in its meta."""
    performance = meta.get("performance") or {}
    return {key: None if performance.get(name) is None else 100.0 * performance[name]
            for key, name in (("exact_match", "qa_em"), ("f1", "qa_f1"))}


def fmt(scores: Optional[Dict[str, Any]], key: str) -> str:
    return "-" if not scores or scores.get(key) is None else f"{scores[key]:.2f}"


def main(
    model: Path = typer.Argument(..., exists=True, file_okay=False, help="The trained qa pipeline"),
    dev: Path = typer.Option(..., "--dev", exists=True, dir_okay=False, help="SQuAD v1.1 dev file"),
    xquad: Optional[Path] = typer.Option(None, "--xquad", help="XQuAD-en file (skipped when missing)"),
    baselines: Optional[Path] = typer.Option(None, "--baselines", help="benchmarks/qa_baselines.py's results JSON "
                                             "(skipped when missing)"),
    output: Path = typer.Option(..., "--output", help="JSON file; a .md table is written beside it"),
    batch_size: int = typer.Option(64, "--batch-size", help="Paragraphs per batch"),
    gpu_id: int = typer.Option(-1, "--gpu-id"),
) -> None:
    """Score the reader on dev and XQuAD-en and write the results table."""
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    row: Dict[str, Any] = {"name": "qa", "model": str(model), "heldout": heldout_scores(nlp.meta)}
    files = {"dev": dev, "xquad": xquad if xquad is not None and xquad.exists() else None}
    for split, label in SPLITS:
        row[split] = score_file(nlp, files[split], batch_size) if files[split] is not None else None
        if row[split] is not None:
            typer.echo(f"qa {label}: EM {row[split]['exact_match']:.2f} F1 {row[split]['f1']:.2f} "
                       f"({row[split]['total']:,} questions, {row[split]['seconds']} s)")
        else:
            typer.echo(f"qa {label}: no file, skipped")
    rows = [row] + baseline_rows(baselines)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    lines = ["| system | dev EM | dev F1 | XQuAD-en EM | XQuAD-en F1 | held-out EM | held-out F1 |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['name']} | {fmt(r['dev'], 'exact_match')} | {fmt(r['dev'], 'f1')} | "
                     f"{fmt(r['xquad'], 'exact_match')} | {fmt(r['xquad'], 'f1')} | "
                     f"{fmt(r.get('heldout'), 'exact_match')} | {fmt(r.get('heldout'), 'f1')} |")
    counts = ", ".join(f"{label} {row[split]['total']:,} questions" for split, label in SPLITS if row[split])
    lines += ["", f"Official SQuAD v1.1 EM / F1 (0-100); {counts}. Held-out: the last train articles, which "
              "picked model-best. Baselines: benchmarks/qa_baselines.py (non-neural, the SQuAD paper's)."]
    table = "\n".join(lines) + "\n"
    output.with_suffix(".md").write_text(table, encoding="utf-8")
    typer.echo(table)


if __name__ == "__main__":
    typer.run(main)
