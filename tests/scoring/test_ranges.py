"""Ranges give the records of the whole input: byte ranges of JSONL and text files (any size down to
one byte, cut mid-line, empty ones) and parquet row groups yield, range after range, exactly what
iter_records yields for the file: same ids (line and row numbers), fields and errors."""
import json

import pytest

from spacy_lm.corpora.web import iter_records
from spacy_lm.scoring.digests import input_digest, scan_input
from spacy_lm.scoring.ranges import (BYTES, ROW_GROUP, WHOLE, byte_ranges, coarsen, range_sizes, read_range,
                                     row_group_ranges)
from spacy_lm.scoring.run import _read_shard
from spacy_lm.scoring.settings import ScoreSettings

LINES = [
    json.dumps({"text": "the cat sat", "n": 1}),
    "",
    json.dumps({"text": "ünïcödé ☃ text, ok", "n": 2}, ensure_ascii=False),
    "{not json",
    json.dumps(["a", "list"]),
    json.dumps({"body": "no text field"}),
    json.dumps({"text": "a lone \ud800 surrogate"}),
    "   ",
    json.dumps({"text": "x" * 70, "n": 3}),
    json.dumps({"text": "dog", "id": "kept as input_id"}),
]


def jsonl_bytes(trailing_newline: bool) -> bytes:
    data = "\n".join(LINES).encode("utf-8") + b"\n" + b"\xff\xfe not utf-8\n" + json.dumps({"text": "last"}).encode()
    return data + (b"\n" if trailing_newline else b"")


def records_by_ranges(path, settings, range_bytes):
    _, counts = scan_input(str(path), range_bytes)
    tasks = byte_ranges(0, str(path), settings.format or path.suffix[1:].replace("txt", "text"),
                        path.stat().st_size, counts, range_bytes)
    assert all(task.kind == BYTES for task in tasks)
    return [record for task in tasks for record in read_range(task, settings, _read_shard)], len(tasks)


@pytest.mark.parametrize("trailing_newline", [True, False])
@pytest.mark.parametrize("range_bytes", [1, 2, 7, 33, 64, 10_000])
def test_byte_ranges_of_jsonl_give_the_files_records(tmp_path, trailing_newline, range_bytes):
    path = tmp_path / "in.jsonl"
    path.write_bytes(jsonl_bytes(trailing_newline))
    settings = ScoreSettings(model="m")
    whole = list(_read_shard(str(path), settings))
    assert any(record.get("error") for record in whole) and any("ü" in (r.get("text") or "") for r in whole)
    got, n_ranges = records_by_ranges(path, settings, range_bytes)
    assert got == whole
    assert n_ranges == -(-path.stat().st_size // range_bytes)


@pytest.mark.parametrize("range_bytes", [1, 5, 16, 1000])
def test_byte_ranges_of_text_give_the_files_records(tmp_path, range_bytes):
    path = tmp_path / "in.txt"
    path.write_bytes("one line\n\n  \ntwo ☃ lines\r\n\xff bad\n".encode("utf-8", "surrogateescape") + b"\xff\n"
                     + b"no newline at the end")
    settings = ScoreSettings(model="m", id_field="ignored")
    got, _ = records_by_ranges(path, settings, range_bytes)
    assert got == list(iter_records(str(path))) and len(got) == 7


def test_an_empty_file_is_one_empty_range(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    digest, counts = scan_input(str(path), 8)
    assert digest == input_digest(str(path)) and counts == [0]
    got, n_ranges = records_by_ranges(path, ScoreSettings(model="m"), 8)
    assert got == [] and n_ranges == 1


def test_the_scan_counts_newlines_per_range_and_keeps_the_digest(tmp_path):
    path = tmp_path / "in.jsonl"
    data = jsonl_bytes(True)
    path.write_bytes(data)
    for size in (1, 3, 100, len(data), len(data) + 1):
        digest, counts = scan_input(str(path), size)
        assert digest == input_digest(str(path))
        assert counts == [data[k:k + size].count(b"\n") for k in range(0, len(data), size)]


def test_inputs_are_cut_in_equal_ranges_and_finer_when_workers_would_wait():
    mib = 1 << 20
    assert range_sizes([100 * mib, 32 * mib], 32 * mib, 2) == [25 * mib, 32 * mib]
    assert range_sizes([32 * mib] * 4, 32 * mib, 2) == [32 * mib] * 4  # two ranges per worker: whole shards
    assert range_sizes([32 * mib] * 3, 32 * mib, 2, others=1) == [32 * mib] * 3
    assert range_sizes([108, 300], 32 * mib, 2) == [54, 150]  # fewer than two per worker: a range per worker
    assert range_sizes([0], 32 * mib, 4) == [1]


def test_ranges_hold_a_chunk_of_lines_on_average():
    assert coarsen([1, 1, 1, 1], 27, 8 << 20, chunk_size=1) == (27, [1, 1, 1, 1])
    assert coarsen([1, 1, 1, 1], 27, 8 << 20, chunk_size=2) == (54, [2, 2])
    assert coarsen([3, 0, 2], 10, 8 << 20, chunk_size=256) == (1540, [5])
    assert coarsen([3, 0, 2], 10, 20, chunk_size=256) == (20, [3, 2])  # never over range_bytes


def test_parquet_row_groups_give_the_files_records(tmp_path):
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet

    path = tmp_path / "in.parquet"
    table = pyarrow.table({"text": [f"doc {i}" if i % 4 else None for i in range(10)], "n": list(range(10))})
    pyarrow.parquet.write_table(table, path, row_group_size=3)
    settings = ScoreSettings(model="m")
    tasks = row_group_ranges(0, str(path))
    assert [task.kind for task in tasks] == [ROW_GROUP] * 4 and [task.first for task in tasks] == [0, 3, 6, 9]
    got = [record for task in tasks for record in read_range(task, settings, _read_shard)]
    assert got == list(_read_shard(str(path), settings)) and got[4]["id"] == "in.parquet:4"
    pyarrow.parquet.write_table(table, tmp_path / "one.parquet")
    assert [task.kind for task in row_group_ranges(0, str(tmp_path / "one.parquet"))] == [WHOLE]
