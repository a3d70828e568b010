"""Check SQuAD in DATA_DIR (what `fetch` wrote) and write corpus/stats.json.

Per split (train, dev and, when fetched, XQuAD-en): articles, paragraphs, questions and reference
answers, and how the answers meet the pipeline's tokenizer (spaCy's English tokenizer, as
configs/qa.cfg has it): answers on token boundaries, widened to the tokens they touch,
unaligned, and the oracle EM / F1 of the gold token spans (the best a token-span reader can
score), from ``spacy_lm.corpora.squad.alignment_report``. The question counts must be SQuAD
v1.1's (train 87,599, dev 10,570) unless `--expected any` (a shrunk copy, or another corpus in
the same layout).
"""
import json
from pathlib import Path
from typing import Any, Dict

import spacy
import typer
from fetch_data import SPLITS, XQUAD, find_file, how_to_get_data, output_name

EXPECTED = "87599,10570"


def split_stats(path: Path, nlp) -> Dict[str, Any]:
    """Counts of one SQuAD JSON file and its alignment report under ``nlp``'s tokenizer."""
    from spacy_lm.corpora.squad import alignment_report, file_articles

    articles = file_articles(path)
    records = [record for article in articles for record in article["paragraphs"]]
    counts = {"articles": len(articles), "paragraphs": len(records),
              "questions": sum(len(r["qas"]) for r in records),
              "answers": sum(len(qa["answers"]) for r in records for qa in r["qas"])}
    return {**counts, "alignment": alignment_report(nlp, records)}


def main(
    data_dir: Path = typer.Argument(..., help="Folder with train-v1.1.json.gz, dev-v1.1.json.gz (xquad.en.json.gz)"),
    output: Path = typer.Argument(..., help="JSON file for the counts"),
    expected: str = typer.Option(EXPECTED, "--expected", help="Questions in train,dev, or 'any'"),
    lang: str = typer.Option("en", "--lang", help="The tokenizer's language (configs/qa.cfg: en)"),
) -> None:
    """Count articles, paragraphs, questions and answers per split, and report answer alignment."""
    files = {split: find_file(data_dir, output_name(name)) for split, name in SPLITS.items()}
    if not all(files.values()):
        typer.echo(how_to_get_data(data_dir), err=True)
        raise typer.Exit(1)
    xquad = find_file(data_dir, output_name(XQUAD))
    if xquad is not None:
        files["xquad"] = xquad
    nlp = spacy.blank(lang)
    stats = {}
    for split, path in files.items():
        stats[split] = s = split_stats(path, nlp)
        a = s["alignment"]
        typer.echo(f"{split:<6} {s['articles']:>5,} articles {s['paragraphs']:>7,} paragraphs "
                   f"{s['questions']:>7,} questions {s['answers']:>7,} answers")
        typer.echo(f"       answers on token boundaries {a['answers_on_token_boundaries']:,} of {a['answers']:,}, "
                   f"widened {a['answers_widened']:,}, unaligned {a['answers_unaligned']:,}; oracle EM "
                   f"{a['oracle_exact_match'] or 0:.2f} F1 {a['oracle_f1'] or 0:.2f}; context tokens mean "
                   f"{a['context_tokens_mean']:.1f}, max {a['context_tokens_max']:,}")
    if expected != "any":
        want = dict(zip(SPLITS, (int(n) for n in expected.split(","))))
        wrong = {split: (stats[split]["questions"], n) for split, n in want.items() if stats[split]["questions"] != n}
        if wrong:
            details = ", ".join(f"{split}: {got:,} (expected {n:,})" for split, (got, n) in wrong.items())
            typer.echo(f"Unexpected SQuAD v1.1 question counts in {data_dir}: {details}.\n"
                       "Is this SQuAD v1.1 (train-v1.1.json, dev-v1.1.json)? For a shrunk copy or another corpus "
                       "in the same layout pass `--vars.expected_questions any`.", err=True)
            raise typer.Exit(1)
        what = "SQuAD v1.1" if expected == EXPECTED else "the expected counts"
        typer.echo(f"Question counts match {what} (train {want['train']:,}, dev {want['dev']:,}).")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    typer.run(main)
