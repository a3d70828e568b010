"""Check WikiText-2 in DATA_DIR and write the corpus files that training reads.

Counts are whitespace tokens plus one <eos> per line (blank lines too), the convention of
pytorch/examples and of `spacy_lm.PlainTextCorpus.v1` with `eos_marker = "<eos>"`:
train 2,088,628, valid 217,646, test 245,569. Files that do not match are an error, unless
`--expected any` (e.g. for your own corpus in the same format). `--max-lines` keeps the first
N lines of each split, to shrink a run.
"""
import json
from pathlib import Path

import typer
from fetch_data import find_split, how_to_get_data, open_text

SPLITS = ("train", "valid", "test")
EXPECTED = "2088628,217646,245569"


def main(
    data_dir: Path = typer.Argument(..., help="Folder with train.txt[.gz], valid.txt, test.txt"),
    output_dir: Path = typer.Argument(..., help="Where to write train.txt, valid.txt, test.txt, stats.json"),
    expected: str = typer.Option(EXPECTED, "--expected", help="Token counts train,valid,test (with <eos>), or 'any'"),
    max_lines: int = typer.Option(0, "--max-lines", help="Keep the first N lines of each split (0: all)"),
) -> None:
    """Check the WikiText-2 token counts and write the corpus files."""
    paths = {name: find_split(data_dir, name) for name in SPLITS}
    if not all(paths.values()):
        typer.echo(how_to_get_data(data_dir), err=True)
        raise typer.Exit(1)
    output_dir.mkdir(parents=True, exist_ok=True)
    stats = {}
    for name, path in paths.items():
        n_lines = n_tokens = 0
        with open_text(path) as lines, (output_dir / f"{name}.txt").open("w", encoding="utf-8") as out:
            for line in lines:
                n_lines += 1
                n_tokens += len(line.split()) + 1  # one <eos> per line
                if not max_lines or n_lines <= max_lines:
                    out.write(line.rstrip("\n") + "\n")
        stats[name] = {"source": str(path), "lines": n_lines, "tokens_with_eos": n_tokens,
                       "lines_kept": min(n_lines, max_lines) if max_lines else n_lines}
        typer.echo(f"{name:<6} {n_lines:>8,} lines {n_tokens:>10,} tokens (with <eos>)  {path}")
    if expected != "any":
        want = dict(zip(SPLITS, (int(n) for n in expected.split(","))))
        wrong = {name: (stats[name]["tokens_with_eos"], n) for name, n in want.items()
                 if stats[name]["tokens_with_eos"] != n}
        if wrong:
            details = ", ".join(f"{name}: {got:,} (expected {n:,})" for name, (got, n) in wrong.items())
            typer.echo(f"Unexpected WikiText-2 token counts in {data_dir}: {details}.\n"
                       "Is this wikitext-2-v1 (tokenised, with <unk>)? For another corpus in the same format "
                       "pass `--vars.expected_tokens any`.", err=True)
            raise typer.Exit(1)
        typer.echo("Token counts match WikiText-2 (wikitext-2-v1).")
    (output_dir / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    typer.run(main)
