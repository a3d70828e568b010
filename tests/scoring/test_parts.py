"""Shards scored as many ranges: the workers' part files merge into the rows and rejects one range
would give (in order, Parquet and JSONL), parts never outlive a run, parts a killed run left do not
leak into the output, and parquet inputs are read by row group."""
import json

import pytest

from spacy_lm.corpora.web import iter_records
from spacy_lm.scoring import score_corpus
from spacy_lm.scoring.parts import PARTS, part_base, part_paths, write_part
from spacy_lm.scoring.run import _plan, _scan_inputs

from .conftest import outputs, settings_for, shards


def n_ranges(sources, settings, workers):
    _, newlines = _scan_inputs(sources, settings, workers)
    return [len(_plan(i, source, newlines.get(source), settings)) for i, source in enumerate(sources)]


@pytest.mark.parametrize("output_format", ["parquet", "jsonl"])
def test_many_ranges_give_the_rows_of_one(corpus, tmp_path, output_format):
    one = settings_for(corpus, chunk_size=1000, bucket=(30, 60), output_format=output_format)
    many = settings_for(corpus, chunk_size=1, range_bytes=64, bucket=(30, 60), output_format=output_format)
    assert n_ranges(shards(corpus), one, 2) == [1, 1, 1]
    assert min(n_ranges(shards(corpus), many, 2)) > 20  # 64-byte ranges: most lines are cut
    first = score_corpus(shards(corpus), tmp_path / "one", one, workers=2)
    second = score_corpus(shards(corpus), tmp_path / "many", many, workers=2)
    assert outputs(tmp_path / "many") == outputs(tmp_path / "one")
    assert first["cutoffs"] == second["cutoffs"] and first["rejects"] == second["rejects"]
    for key in ("n_in", "n_out", "n_rejected", "n_tokens", "buckets"):
        assert first[key] == second[key], key
    assert not (tmp_path / "many" / PARTS).exists() and not (tmp_path / "one" / PARTS).exists()


def test_parts_a_killed_run_left_do_not_leak_into_the_output(corpus, tmp_path):
    settings = settings_for(corpus, chunk_size=4)
    score_corpus(shards(corpus), tmp_path / "clean", settings)
    out = tmp_path / "resumed"
    (out / PARTS).mkdir(parents=True)
    bogus = [{"id": "stale", "text": "a row of a run that died"}]
    for index in (0, 1, 99):  # parts of ranges this run has too, and of one it does not
        rows, rejects = part_paths(part_base(out, "00001-b.jsonl.parquet", index), "parquet")
        write_part(bogus, rows, "parquet")
        write_part(bogus, rejects, "jsonl")
    score_corpus(shards(corpus), out, settings)
    assert outputs(out) == outputs(tmp_path / "clean")
    assert not (out / PARTS).exists()


def test_parquet_inputs_are_read_by_row_group(corpus, tmp_path):
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet

    lines = (corpus / "a.jsonl").read_text().splitlines()[:-1]
    table = pyarrow.Table.from_pylist([json.loads(line) for line in lines])
    pyarrow.parquet.write_table(table, tmp_path / "groups.parquet", row_group_size=6)
    pyarrow.parquet.write_table(table, tmp_path / "whole.parquet")
    settings = settings_for(corpus)
    assert n_ranges([str(tmp_path / "groups.parquet"), str(tmp_path / "whole.parquet")], settings, 2) == [7, 1]
    score_corpus([str(tmp_path / "groups.parquet")], tmp_path / "groups", settings, workers=2)
    score_corpus([str(tmp_path / "whole.parquet")], tmp_path / "whole", settings)
    rows, rejects = outputs(tmp_path / "groups")["groups.parquet"]
    whole_rows, whole_rejects = outputs(tmp_path / "whole")["whole.parquet"]
    assert [row["id"] for row in rows + rejects] == [row["id"] for row in whole_rows + whole_rejects] != []
    assert sorted(row["id"] for row in rows + rejects) == sorted(
        record["id"] for record in iter_records(str(tmp_path / "groups.parquet"), id_field="doc_id"))
    assert [row["perplexity"] for row in rows] == [row["perplexity"] for row in whole_rows]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_coded_error_in_a_worker_reaches_the_driver_as_it_is(corpus, tmp_path, workers):
    """The cutoff sample is scored by the workers: with nothing scorable it is E161, as before."""
    blank = tmp_path / "blank.jsonl"
    blank.write_text('{"doc_id": "x", "text": " "}\n' * 5)
    with pytest.raises(ValueError, match=r"\[E161\]"):
        score_corpus([str(blank)], tmp_path / "out", settings_for(corpus, bucket=(30, 60)), workers=workers)


def test_a_field_none_throughout_a_shard_is_typed_like_other_shards(tmp_path):
    """Parts keep Arrow's null type; the merged shard has string, as a shard with values would."""
    import pyarrow.parquet

    from spacy_lm.scoring.parts import merge_parts, write_part

    rows = [{"id": "a", "perplexity": 2.0, "title": None}, {"id": "b", "perplexity": 3.0, "title": None}]
    for n_parts in (1, 2):
        paths = []
        for i in range(n_parts):
            paths.append(tmp_path / f"p{n_parts}.{i}.parquet")
            write_part(rows[i::n_parts], paths[-1], "parquet")
        merge_parts(paths, tmp_path / f"shard{n_parts}.parquet", "parquet")
        schema = pyarrow.parquet.read_schema(tmp_path / f"shard{n_parts}.parquet")
        assert str(schema.field("title").type) == "string"
        assert [r["id"] for r in pyarrow.parquet.read_table(tmp_path / f"shard{n_parts}.parquet").to_pylist()] == \
            [r["id"] for r in (rows if n_parts == 1 else rows[0::2] + rows[1::2])]
