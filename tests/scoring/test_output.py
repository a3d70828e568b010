"""Parquet shards of one run share one schema: our fields keep their types in a shard where they
are None throughout (or that has no row), and an input field with no value is a string column."""
import pyarrow
import pyarrow.dataset
import pyarrow.parquet
import pytest

from spacy_lm.scoring.output import ARROW_TYPES, read_rows, shard_schema, write_rows
from spacy_lm.scoring.parts import merge_parts, remove_parts, write_part
from spacy_lm.scoring.settings import ROW_FIELDS


def row(i, **values):
    fields = {"id": f"doc-{i}", "url": None, "bucket": None, "perplexity": 12.5, "logprob": -30.0, "n_tokens": 9,
              "n_predicted": 10, "prefilter_perplexity": None, "text": f"doc {i}", "title": None}
    fields.update(values)
    return fields


def write_shard(rows, path):
    """A shard's file as a run writes it: its range's part, merged (then removed, as run.py does)."""
    part = path.with_name(path.name + ".part0")
    write_part(rows, part, "parquet")
    merge_parts([part], path, "parquet")
    remove_parts([part])


def test_every_field_of_ours_has_a_type():
    assert list(ARROW_TYPES) == list(ROW_FIELDS)


def test_shards_with_and_without_values_have_one_schema(tmp_path):
    """No buckets, prefilter, url or title in one shard; all of them in the other; and a shard of
    rows all rejected (no row at all)."""
    write_shard([row(0), row(1)], tmp_path / "00000-a.parquet")
    write_shard([row(2, url="https://example.com/2", bucket="head", prefilter_perplexity=40.0, title="Two")],
                tmp_path / "00001-b.parquet")
    write_shard([], tmp_path / "00002-c.parquet")
    schemas = [pyarrow.parquet.read_schema(tmp_path / f"0000{i}-{n}.parquet") for i, n in enumerate("abc")]
    assert schemas[0] == schemas[1]
    for name, alias in ARROW_TYPES.items():
        assert schemas[0].field(name).type == schemas[2].field(name).type == pyarrow.type_for_alias(alias)
    assert schemas[0].field("title").type == pyarrow.string()
    assert schemas[2].names == list(ROW_FIELDS)
    table = pyarrow.dataset.dataset(tmp_path, format="parquet").to_table()
    assert table.num_rows == 3 and sorted(table.column("id").to_pylist()) == ["doc-0", "doc-1", "doc-2"]
    assert sorted(table.column("bucket").to_pylist(), key=str) == [None, None, "head"]


def test_an_input_field_with_values_keeps_its_type(tmp_path):
    path = tmp_path / "00000-a.parquet"
    write_shard([row(0, year=2020, score=None), row(1, year=None, score=None)], path)
    schema = pyarrow.parquet.read_schema(path)
    assert schema.field("year").type == pyarrow.int64() and schema.field("score").type == pyarrow.string()
    assert [r["year"] for r in read_rows(path)] == [2020, None]


def test_parts_keep_null_columns_to_take_the_other_parts_types(tmp_path):
    """A part merged later (write_rows): our fields are typed already, an input
    field None throughout stays ``null`` so that a merge takes its type from the other parts, and
    ``shard_schema`` of the merged schema types what is still null."""
    write_rows([row(0, year=None)], tmp_path / "a.parquet", "parquet")
    write_rows([row(1, year=2020)], tmp_path / "b.parquet", "parquet")
    schemas = [pyarrow.parquet.read_schema(tmp_path / name) for name in ("a.parquet", "b.parquet")]
    assert schemas[0].field("year").type == pyarrow.null() and schemas[0].field("bucket").type == pyarrow.string()
    merged = shard_schema(pyarrow.unify_schemas(schemas, promote_options="permissive"))
    assert merged.field("year").type == pyarrow.int64() and merged.field("title").type == pyarrow.string()
    assert [merged.field(name).type for name in ARROW_TYPES] == [schemas[0].field(name).type for name in ARROW_TYPES]


def test_rows_that_do_not_fit_a_table_are_e162(tmp_path):
    with pytest.raises(ValueError, match=r"\[E162\]"):
        write_rows([row(0, extra=1), row(1, extra="one")], tmp_path / "00000-a.parquet", "parquet")
