"""The reader from the command line, as a user meets it: `spacy lm ask` on the questions of the
first dev paragraph (its context in a file) and `spacy lm explain` on the same, as HTML.

Writes OUTPUT_DIR/sample_context.txt (the context), samples.jsonl (per question: the question,
the reference answers and `spacy lm ask --json`'s top answers) and qa_view.html (the answer
highlighted, each token shaded by its start and end probability).
"""
import json
import subprocess
import sys
from pathlib import Path

import typer


def main(
    model: Path = typer.Argument(..., exists=True, file_okay=False, help="The trained qa pipeline"),
    dev: Path = typer.Argument(..., exists=True, dir_okay=False, help="SQuAD dev file"),
    output_dir: Path = typer.Argument(..., help="Folder for sample_context.txt, samples.jsonl, qa_view.html"),
    n: int = typer.Option(3, "--n", help="Questions of the first dev paragraph to ask"),
    top_k: int = typer.Option(3, "--top-k"),
) -> None:
    """Ask the first dev paragraph's questions with `spacy lm ask` and draw `spacy lm explain`'s qa view."""
    from spacy_lm.corpora.squad import read_squad

    record = next(iter(read_squad(dev, limit=1)))
    output_dir.mkdir(parents=True, exist_ok=True)
    context_file = output_dir / "sample_context.txt"
    context_file.write_text(record["context"], encoding="utf-8")
    qas = record["qas"][:n]
    spacy_lm = [sys.executable, "-m", "spacy", "lm"]
    rows = []
    for qa in qas:
        cmd = [*spacy_lm, "ask", str(model), qa["question"], "--context", str(context_file), "--json",
               "--top-k", str(top_k)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"spacy lm ask failed: {result.stderr.strip()}")
        answers = json.loads(result.stdout)["answers"]
        rows.append({"id": qa["id"], "question": qa["question"], "references": [a["text"] for a in qa["answers"]],
                     "answers": answers})
        best = answers[0]["text"] if answers else ""
        typer.echo(f"{qa['question']} -> {best!r} (reference: {rows[-1]['references'][0]!r})")
    (output_dir / "samples.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    questions = [arg for qa in qas for arg in ("--question", qa["question"])]
    cmd = [*spacy_lm, "explain", str(model), str(context_file), "--view", "qa", *questions,
           "--html", str(output_dir / "qa_view.html")]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"spacy lm explain failed: {result.stderr.strip()}")
    typer.echo(result.stdout + result.stderr.strip())


if __name__ == "__main__":
    typer.run(main)
