"""Input ranges: the unit of work of `spacy lm score`. Each worker reads its own ranges from disk,
so the driver never parses input text.

* An uncompressed JSONL or text file is cut into byte ranges of ``range_bytes``. A range owns
  the lines whose first byte lies in it (Hadoop's rule): its reader seeks to the byte before
  its start, skips to the next newline (unless the range starts the file) and reads lines while
  they start before its end; a line cut by the range's end is read to its end. The driver gives
  each range the number of newlines before it (counted in the pass that computes the input's
  digest: digests.scan_input), so records keep their default ids (``<file>:<line>``). Inputs
  too few and small to give every worker work are cut finer (``range_sizes``), but not so
  fine that a range holds less than one chunk of lines on average (``coarsen``). A shard of
  one range is written without a merge (parts.py), hence ranges as large as ``range_bytes``.
* A parquet file with several row groups is cut into row groups (ids ``<file>:<row>``; the
  driver reads only the file's footer).
* Anything else (.gz, .bz2, WET, Wikipedia XML, ``hf:`` datasets, one-group parquet) is one
  range, read by the ordinary reader (``iter_records``).

The records a range yields are exactly those ``iter_records`` yields for that part of the whole
input (same ids, fields and errors for bad lines), so that a shard scored as many ranges gives
the rows of a shard scored as one (tests/scoring/test_ranges.py checks this).
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from ..corpora.web import _record_from_row, jsonl_record, open_parquet, text_record
from ..corpora.web_formats import HF_PREFIX, damaged_container, existing_source, source_format
from .settings import Record, ScoreSettings

BYTES, ROW_GROUP, WHOLE = "bytes", "row_group", "whole"
SPLIT_FORMATS = ("jsonl", "text")
# An input's records, read whole (run._read_shard: iter_records with the run's settings).
ReadWhole = Callable[[str, ScoreSettings], Iterator[Record]]


@dataclass(frozen=True)
class RangeTask:
    """One range of one input shard; JSON-able (it travels to processes and Ray actors).

    ``kind`` BYTES: bytes ``[start, end)``, ``first`` the newlines before ``start``; ROW_GROUP:
    row group ``start``, ``first`` the rows before it; WHOLE: the whole input. ``part``: where
    the worker writes the range's rows and rejects (parts.py), a name fixed by (shard, index)."""

    shard: int
    index: int
    n_ranges: int
    source: str
    format: str
    kind: str
    start: int = 0
    end: int = 0
    first: int = 0
    part: str = ""

    def describe(self) -> str:
        if self.kind == BYTES:
            return f"{self.source}, bytes {self.start}-{self.end}"
        if self.kind == ROW_GROUP:
            return f"{self.source}, row group {self.start}"
        return self.source


def splits_by_bytes(source: str, format: Optional[str]) -> bool:
    """An uncompressed JSONL or text file: cut into byte ranges."""
    if source.startswith(HF_PREFIX) or source.lower().endswith((".gz", ".bz2")):
        return False
    return source_format(source, format) in SPLIT_FORMATS


def range_sizes(sizes: Sequence[int], range_bytes: int, workers: int, others: int = 0) -> List[int]:
    """The range size of each input of ``sizes`` bytes (read in byte ranges; ``others``: the
    inputs read otherwise, a range each): each cut into equal ranges of at most ``range_bytes``
    (no short last range), and, when that gives fewer than two ranges per worker (the tasks in
    flight), into at least ``workers`` ranges, so that every worker has work."""
    counts = [max(1, -(-size // range_bytes)) for size in sizes]
    if sum(counts) + others < 2 * workers:
        counts = [max(count, workers) for count in counts]
    return [max(1, -(-size // count)) for size, count in zip(sizes, counts)]


def coarsen(counts: List[int], scanned: int, range_bytes: int, chunk_size: int) -> Tuple[int, List[int]]:
    """The range size and newlines per range, from the counts per ``scanned`` bytes: ranges of
    several scanned ones where these hold fewer than ``chunk_size`` lines on average (a range
    should give its worker at least one chunk to score), never over ``range_bytes``."""
    lines = sum(counts)
    group = max(1, min(range_bytes // scanned, -(-chunk_size * len(counts) // max(1, lines))))
    grouped = [sum(counts[k : k + group]) for k in range(0, len(counts), group)]
    return scanned * group, grouped


def byte_ranges(shard: int, source: str, format: str, size: int, counts: List[int],
                range_bytes: int) -> List[RangeTask]:
    """The byte ranges of a file of ``size`` bytes; ``counts``: its newlines per range
    (digests.scan_input with the same ``range_bytes``)."""
    tasks, before = [], 0
    n_ranges = len(counts)
    for index, count in enumerate(counts):
        start = index * range_bytes
        tasks.append(RangeTask(shard, index, n_ranges, source, format, BYTES, start, min(size, start + range_bytes),
                               before))
        before += count
    return tasks


def row_group_ranges(shard: int, source: str) -> List[RangeTask]:
    """One range per row group of a parquet file (its footer only is read); one WHOLE range
    for a file with at most one row group."""
    import pyarrow
    import pyarrow.parquet

    loc = existing_source(source)
    try:
        metadata = pyarrow.parquet.ParquetFile(loc).metadata
    except (pyarrow.ArrowException, OSError) as err:
        raise damaged_container(loc, err) from err
    if metadata.num_row_groups <= 1:
        return [whole_range(shard, source, "parquet")]
    tasks, before = [], 0
    for group in range(metadata.num_row_groups):
        tasks.append(RangeTask(shard, group, metadata.num_row_groups, source, "parquet", ROW_GROUP, group, group + 1,
                               before))
        before += metadata.row_group(group).num_rows
    return tasks


def whole_range(shard: int, source: str, format: str) -> RangeTask:
    return RangeTask(shard, 0, 1, source, format, WHOLE)


def read_range(task: RangeTask, settings: ScoreSettings, read_whole: ReadWhole) -> Iterator[Record]:
    """The records of one range, as ``iter_records`` gives them for the whole input."""
    if task.kind == WHOLE:
        return read_whole(task.source, settings)
    if task.kind == ROW_GROUP:
        return _row_group_records(task, settings)
    lines = range_lines(task.source, task.start, task.end, task.first)
    if task.format == "text":
        return _text_records(Path(task.source).name, lines)
    return _jsonl_records(existing_source(task.source), lines, settings)


def range_lines(path: str, start: int, end: int, newlines_before: int) -> Iterator[Tuple[int, bytes]]:
    """(line number, raw line) of the lines whose first byte lies in ``[start, end)``;
    ``newlines_before``: the newlines in ``[0, start)``."""
    with open(path, "rb") as file_:
        number = newlines_before + 1
        position = start
        if start > 0:
            file_.seek(start - 1)
            skipped = file_.readline()  # the end of the line before, or just its newline
            number += skipped[1:].count(b"\n")
            position = start - 1 + len(skipped)
        while position < end:
            raw = file_.readline()
            if not raw:
                return
            yield number, raw
            number += 1
            position += len(raw)


def _jsonl_records(loc: Path, lines: Iterator[Tuple[int, bytes]], settings: ScoreSettings) -> Iterator[Record]:
    """corpora.web.iter_jsonl_records (with ``reject_missing``) over some of a file's lines."""
    for n, raw in lines:
        record = jsonl_record(raw, n, loc, settings.text_field, settings.id_field, True)
        if record is not None:
            yield record


def _text_records(name: str, lines: Iterator[Tuple[int, bytes]]) -> Iterator[Record]:
    """corpora.web.iter_text_records over some of a file's lines."""
    for n, raw in lines:
        yield text_record(raw, n, name)


def _row_group_records(task: RangeTask, settings: ScoreSettings) -> Iterator[Record]:
    """corpora.web.iter_parquet_records over one row group."""
    text_field, id_field = settings.text_field, settings.id_field
    loc, parquet = open_parquet(task.source, text_field, id_field)
    for n, row in enumerate(parquet.read_row_group(task.start).to_pylist(), start=task.first):
        yield _record_from_row(row, text_field, id_field, f"{loc.name}:{n}", f"{loc}, row {n}")
