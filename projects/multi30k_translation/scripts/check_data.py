"""Check Multi30k in DATA_DIR (what `fetch` wrote) and write corpus/stats.json.

Every split must have as many German as English lines (line i of one translates line i of
the other), and the pair counts must be Multi30k's: train 29,000, val 1,014, test_2016_flickr
1,000. Files that do not match are an error, unless `--expected any` (e.g. for your own parallel
corpus in the same layout, or a shrunk copy). Also reported: whitespace tokens per side, and
pairs with an empty side (the reader skips those).
"""
import json
from pathlib import Path

import typer
from fetch_data import LANGS, SPLITS, find_files, how_to_get_data, open_text

EXPECTED = "29000,1014,1000"


def main(
    data_dir: Path = typer.Argument(..., help="Folder with {train,val,test_2016_flickr}.{de,en}.gz"),
    output: Path = typer.Argument(..., help="JSON file for the counts"),
    expected: str = typer.Option(EXPECTED, "--expected", help="Pairs in train,val,test_2016_flickr, or 'any'"),
) -> None:
    """Count the sentence pairs of each split and check them."""
    found = find_files(data_dir)
    if not all(found.values()):
        typer.echo(how_to_get_data(data_dir), err=True)
        raise typer.Exit(1)
    stats = {}
    for split in SPLITS:
        lines = {}
        for lang in LANGS:
            with open_text(found[f"{split}.{lang}"]) as file_:
                lines[lang] = [line.strip() for line in file_]
        if len(lines["de"]) != len(lines["en"]):
            typer.echo(f"{split}: {len(lines['de']):,} German lines but {len(lines['en']):,} English lines in "
                       f"{data_dir}: the files are not aligned (line i of one must translate line i of the "
                       "other).", err=True)
            raise typer.Exit(1)
        empty = sum(1 for de, en in zip(lines["de"], lines["en"]) if not de or not en)
        stats[split] = {"pairs": len(lines["de"]), "pairs_with_an_empty_side": empty,
                        **{f"{lang}_tokens": sum(len(line.split()) for line in lines[lang]) for lang in LANGS}}
        typer.echo(f"{split:<17} {len(lines['de']):>7,} pairs  de {stats[split]['de_tokens']:>8,} tokens  "
                   f"en {stats[split]['en_tokens']:>8,} tokens  ({empty} with an empty side)")
    if expected != "any":
        want = dict(zip(SPLITS, (int(n) for n in expected.split(","))))
        wrong = {split: (stats[split]["pairs"], n) for split, n in want.items() if stats[split]["pairs"] != n}
        if wrong:
            details = ", ".join(f"{split}: {got:,} (expected {n:,})" for split, (got, n) in wrong.items())
            typer.echo(f"Unexpected Multi30k pair counts in {data_dir}: {details}.\n"
                       "Is this Multi30k task 1 (train, val, test_2016_flickr)? For another parallel corpus in "
                       "the same layout pass `--vars.expected_pairs any`.", err=True)
            raise typer.Exit(1)
        typer.echo("Pair counts match Multi30k (train 29,000, val 1,014, test_2016_flickr 1,000).")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    typer.run(main)
