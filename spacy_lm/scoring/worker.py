"""The worker of `spacy lm score` (one per process or Ray actor, started once per run): the
pipeline loaded once (``TextScorer``), then for each range task (ranges.py) it reads the range's
records from disk, scores them, builds rows and rejects (shards.py), writes them as the range's
part files (parts.py) and returns only counts (``RangeOutcome``).

Bucket cutoffs from percentiles (``--bucket`` without ``--cutoffs``) are computed by the worker
the first time it needs them, from the perplexities of about ``bucket_sample`` scorable docs,
the same number from the start of every range of the run (read in range order, so every worker
gets the same cutoffs, and the driver records them in the manifest with the first outcome)."""
import time
from dataclasses import asdict, dataclass
from itertools import islice
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .parts import part_paths, write_part
from .ranges import RangeTask, ReadWhole, read_range
from .scorer import TextScorer
from .settings import ScoreSettings
from .shards import ShardResult, percentile_cutoffs, reject_reason, score_records


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker is started with: the settings (``asdict``), the run's ranges (the cutoff
    sample is read from their starts), and the reader of a whole input (run._read_shard, a module-level function, so it
    pickles by name)."""

    settings: Dict[str, Any]
    sample_ranges: Tuple[RangeTask, ...]
    read_whole: ReadWhole


@dataclass
class RangeOutcome:
    """What a range gave: its counts, the reason of its first reject and the cutoffs it was
    bucketed with (None without buckets)."""

    shard: int
    index: int
    result: ShardResult
    first_reject: Optional[str] = None
    cutoffs: Optional[Tuple[float, float]] = None

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "RangeOutcome":
        cutoffs = data.get("cutoffs")
        return cls(data["shard"], data["index"], ShardResult(**data["result"]), data.get("first_reject"),
                   tuple(cutoffs) if cutoffs else None)  # type: ignore[arg-type]


class RangeWorker:
    """The pipeline loaded once; range tasks in, part files written, counts out."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.settings = ScoreSettings(**spec.settings)
        self.scorer = TextScorer(self.settings)
        self.scorer.warm_up()
        self._bucketing: Optional[ScoreSettings] = None  # the settings with cutoffs, once known

    def run(self, task: RangeTask) -> RangeOutcome:
        start = time.perf_counter()
        settings = self.bucketing_settings()
        result = ShardResult()
        records = read_range(task, settings, self.spec.read_whole)
        rows, rejects, first_reject = score_records(records, self.scorer.score, settings, result)
        rows_path, rejects_path = part_paths(task.part, settings.output_format)
        write_part(rows, rows_path, settings.output_format)
        write_part(rejects, rejects_path, "jsonl")
        result.seconds = round(time.perf_counter() - start, 3)
        return RangeOutcome(task.shard, task.index, result, first_reject, settings.cutoffs)

    def bucketing_settings(self) -> ScoreSettings:
        """The settings, with cutoffs computed from the sample if buckets need them."""
        settings = self.settings
        if settings.bucket is None or settings.cutoffs is not None:
            return settings
        if self._bucketing is None:
            self._bucketing = settings.with_cutoffs(self.sample_cutoffs())
        return self._bucketing

    def sample_cutoffs(self) -> Tuple[float, float]:
        """Cutoffs from the perplexities of about ``bucket_sample`` scorable docs, the same number
        from the start of every range of the run (so a corpus whose order follows its quality,
        one source after another, is sampled throughout, not only at its head)."""
        settings = self.settings
        ranges = self.spec.sample_ranges
        per_range = -(-settings.bucket_sample // max(1, len(ranges)))
        texts = [text for task in ranges for text in islice(self._scorable_texts(task), per_range)]
        perplexities: List[float] = []
        for start in range(0, len(texts), settings.chunk_size):
            scores = self.scorer.score(texts[start : start + settings.chunk_size])
            perplexities += [s["perplexity"] for s in scores if s.get("perplexity") is not None]
        assert settings.bucket is not None
        return percentile_cutoffs(perplexities, settings.bucket)

    def _scorable_texts(self, task: RangeTask) -> Iterator[str]:
        for record in read_range(task, self.settings, self.spec.read_whole):
            if reject_reason(record, self.settings.max_length) is None:
                yield record["text"]
