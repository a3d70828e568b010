"""From input records to output rows, shard by shard, on the driver: the rejects that need no
model (undecodable, empty, over ``max_length`` characters), the texts of the rest streamed to the
engine as one run of chunks across shards (so workers stay busy at shard boundaries), and each
shard's rows, rejects and counts as soon as its last chunk is back. Every record of a shard ends
in exactly one of its rows or its rejects, in input order."""
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Deque, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy

from ..errors import Errors
from .settings import SCORE_FIELDS, MapChunks, Record, Scores, ScoreSettings

ScoredShard = Tuple[int, List[Record], List[Record], "ShardResult"]  # index, rows, rejects, counts


def reject_reason(record: Record, max_length: int) -> Optional[str]:
    """Why a record cannot be scored at all, or None."""
    if record.get("error"):
        return str(record["error"])
    text = record.get("text")
    if not isinstance(text, str):
        return f"no text ({type(text).__name__})"
    if not text.strip():
        return "empty"
    if len(text) > max_length:
        return f"too long: {len(text)} characters > max_length {max_length}"
    return None


def bucket_of(perplexity: float, cutoffs: Tuple[float, float]) -> str:
    """CCNet's buckets: head up to the low cutoff, middle up to the high one, tail above."""
    if perplexity <= cutoffs[0]:
        return "head"
    return "middle" if perplexity <= cutoffs[1] else "tail"


def percentile_cutoffs(perplexities: Sequence[float], bucket: Tuple[float, float]) -> Tuple[float, float]:
    if not perplexities:
        raise ValueError(Errors.E161.format(bucket=list(bucket)))
    low, high = numpy.percentile(numpy.asarray(perplexities, dtype="float64"), list(bucket))
    return float(low), float(high)


def make_row(record: Record, scores: Scores, bucket: Optional[str]) -> Record:
    """Our fields first (id, url, bucket, scores), then the record's own fields; an own field
    whose name we use is kept as ``input_<name>``."""
    row: Record = {"id": record.get("id"), "url": record.get("url"), "bucket": bucket}
    for name in SCORE_FIELDS:
        row[name] = scores.get(name)
    for name, value in record.items():
        if name in ("id", "url", "error"):
            continue
        row[f"input_{name}" if name in row else name] = value
    return row


def make_reject(record: Record, reason: str, scores: Optional[Scores] = None) -> Record:
    row = make_row(record, scores or {}, None)
    row["reason"] = reason
    return row


@dataclass
class ShardResult:
    """What one shard gave: counts for the manifest and the summary."""

    n_in: int = 0
    n_out: int = 0
    n_rejected: int = 0
    n_tokens: int = 0
    rejects: Dict[str, int] = field(default_factory=dict)
    buckets: Dict[str, int] = field(default_factory=dict)  # scored docs per bucket (before keep)
    kept: Dict[str, int] = field(default_factory=dict)  # written docs per bucket
    seconds: float = 0.0

    def count_reject(self, reason: str) -> None:
        kind = reason.split(":", 1)[0]
        self.rejects[kind] = self.rejects.get(kind, 0) + 1


@dataclass
class ShardWork:
    """One input shard between reading and writing: its records, the rejects that need no model,
    the chunks of scorable record indices sent to the engine, and the scores back so far."""

    index: int
    records: List[Record]
    reasons: List[Optional[str]]
    chunks: List[List[int]]
    scores: List[Optional[Scores]]
    n_back: int = 0  # chunks whose scores are back
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.n_back == len(self.chunks)


def prepare_shard(index: int, records: Iterable[Record], settings: ScoreSettings) -> ShardWork:
    records = list(records)
    reasons = [reject_reason(record, settings.max_length) for record in records]
    live = [i for i, reason in enumerate(reasons) if reason is None]
    chunks = [live[start : start + settings.chunk_size] for start in range(0, len(live), settings.chunk_size)]
    return ShardWork(index, records, reasons, chunks, [None] * len(records))


def finish_shard(work: ShardWork, settings: ScoreSettings) -> Tuple[List[Record], List[Record], ShardResult]:
    """Rows and rejects of a completely scored shard, in input order."""
    result = ShardResult(n_in=len(work.records))
    rows: List[Record] = []
    rejects: List[Record] = []
    for record, reason, value in zip(work.records, work.reasons, work.scores):
        if reason is None:
            assert value is not None
            reason, row = _route(record, value, settings, result)
        if reason is not None:
            result.count_reject(reason)
            rejects.append(make_reject(record, reason, value))
        else:
            rows.append(row)
    result.n_out, result.n_rejected = len(rows), len(rejects)
    return rows, rejects, result


def _route(record: Record, scores: Scores, settings: ScoreSettings,
           result: ShardResult) -> Tuple[Optional[str], Record]:
    """A scored record's reject reason (prefilter, filtered bucket) or its row; counts it."""
    result.n_tokens += scores.get("n_tokens") or 0
    if scores.get("perplexity") is None:
        return f"prefilter: perplexity {scores.get('prefilter_perplexity')} > max_ppl {settings.max_ppl}", {}
    bucket = bucket_of(scores["perplexity"], settings.cutoffs) if settings.cutoffs else None
    if bucket is not None:
        result.buckets[bucket] = result.buckets.get(bucket, 0) + 1
        if settings.keep and bucket not in settings.keep:
            return f"filtered: bucket {bucket}", {}
        result.kept[bucket] = result.kept.get(bucket, 0) + 1
    return None, make_row(record, scores, bucket)


def score_shards(shards: Iterable[Tuple[int, Iterable[Record]]], map_chunks: MapChunks, settings: ScoreSettings,
                 progress: Optional["Progress"] = None) -> Iterator[ScoredShard]:
    """Score shards as one stream of chunks, so an engine's workers stay busy (and a Ray actor
    pool stays up) across shard boundaries; each shard's rows as soon as its last chunk is back.
    Shards are read lazily, only as far ahead as the engine asks for chunks."""
    opened: Deque[ShardWork] = deque()

    def chunk_texts() -> Iterator[List[str]]:
        for index, records in shards:
            work = prepare_shard(index, records, settings)
            work.seconds = -time.perf_counter()
            opened.append(work)
            for chunk in work.chunks:
                yield [work.records[i]["text"] for i in chunk]

    def finished() -> Iterator[ScoredShard]:
        while opened and opened[0].complete:
            work = opened.popleft()
            rows, rejects, result = finish_shard(work, settings)
            result.seconds = round(work.seconds + time.perf_counter(), 3)
            yield work.index, rows, rejects, result

    for chunk_scores in map_chunks(chunk_texts()):
        yield from finished()  # shards with nothing to score (all rejects) before this chunk's
        work = opened[0]
        chunk = work.chunks[work.n_back]
        for i, value in zip(chunk, chunk_scores):
            work.scores[i] = value
        work.n_back += 1
        if progress is not None:
            progress.update(len(chunk), sum(value.get("n_tokens") or 0 for value in chunk_scores))
        yield from finished()
    yield from finished()
    assert not opened, "an engine returned fewer chunks than it was given"


class Progress:
    """docs/s and tokens/s of the scored chunks on stderr, at most every ``every`` seconds."""

    def __init__(self, write: Callable[[str], None], every: float = 2.0) -> None:
        self.write, self.every = write, every
        self.start = self.last = time.perf_counter()
        self.docs = self.tokens = 0
        self.label = ""

    def update(self, docs: int, tokens: int) -> None:
        self.docs += docs
        self.tokens += tokens
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            self.write(self.line())

    def line(self) -> str:
        seconds = max(time.perf_counter() - self.start, 1e-9)
        return (f"{self.label}{self.docs:,} docs scored, {self.docs / seconds:,.1f} docs/s, "
                f"{self.tokens / seconds:,.0f} tokens/s")
