"""From input records to output rows, in the worker that reads them (worker.py): the rejects that
need no model (undecodable, empty, over ``max_length`` characters), the texts of the rest scored
in chunks, routed (prefilter, buckets, ``keep``) and made rows; a range's counts (``ShardResult``,
added up per shard by the driver). Every record ends in exactly one row or reject, in input
order. Also the driver's progress line."""
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy

from ..errors import Errors
from .settings import SCORE_FIELDS, Record, Scores, ScoreSettings


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

    def add(self, other: "ShardResult") -> None:
        """Count ``other`` (another range of the same shard) in this one."""
        for name in ("n_in", "n_out", "n_rejected", "n_tokens", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.rejects, other.rejects), (self.buckets, other.buckets), (self.kept, other.kept)):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n


def score_records(records: Iterable[Record], score: Callable[[List[str]], List[Scores]], settings: ScoreSettings,
                  result: ShardResult) -> Tuple[List[Record], List[Record], Optional[str]]:
    """Rows and rejects of some records, each record in exactly one, in input order; the texts
    are scored ``settings.chunk_size`` at a time (``score``: TextScorer.score) and counted in
    ``result``. Also the reason of the first reject (E212 quotes it)."""
    rows: List[Record] = []
    rejects: List[Record] = []
    pending: List[Tuple[Record, Optional[str]]] = []
    n_live = 0

    def flush() -> None:
        texts = [record["text"] for record, reason in pending if reason is None]
        scored = iter(score(texts) if texts else [])
        for record, reason in pending:
            value = next(scored) if reason is None else None
            if value is not None:
                reason, row = _route(record, value, settings, result)
            if reason is not None:
                result.count_reject(reason)
                rejects.append(make_reject(record, reason, value))
            else:
                rows.append(row)
        pending.clear()

    for record in records:
        reason = reject_reason(record, settings.max_length)
        pending.append((record, reason))
        result.n_in += 1
        n_live += reason is None
        if n_live == settings.chunk_size:
            flush()
            n_live = 0
    flush()
    result.n_out += len(rows)
    result.n_rejected += len(rejects)
    return rows, rejects, (str(rejects[0]["reason"]) if rejects else None)


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
