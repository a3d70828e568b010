"""Score and filter corpora with the pipeline's language models, CCNet's recipe in spaCy terms
(Wenzek et al. 2020): every document gets its perplexity under the LM, documents are bucketed
head / middle / tail at perplexity percentiles, and a cheap n-gram prefilter can drop the worst
before the neural LM scores the rest.

``score_corpus`` ties the parts together, each a module of its own:

* settings.py: what the run does (``ScoreSettings``), checked when made;
* ranges.py: the inputs cut into ranges (byte ranges of JSONL and text files, parquet row
  groups, anything else whole), planned by the driver from the pass that computes the inputs'
  digests (digests.py), so that the driver never parses input text;
* worker.py, scorer.py, shards.py: a worker (started once per run, the pipeline loaded once)
  reads a range itself, rejects what needs no model (undecodable, empty, over ``max_length``
  characters), scores the rest (``TextScorer``), buckets and filters them, writes the range's
  rows and rejects as part files and returns only counts; engines.py runs the workers (local
  processes, Ray Data actors) over all the run's ranges;
* parts.py, output.py: once every range of a shard is back, the driver merges its parts, in
  order, into the shard's rows and rejects files (atomically), and deletes them;
* manifest.py, digests.py, stopping.py: what makes a run safe to stop and to resume.

Nothing is lost: every input record is in the shard's output or its rejects file (with the
reason), exactly once. A worker that dies has its range retried by the engine; a range's parts
have a name fixed by (shard, range), written atomically, so a retry replaces them, and the
shard's files are written by the driver only after every range is back (E167 if one came back
twice or never). A run that is interrupted (killed, or stopped by SIGINT / SIGTERM: E210) and
started again deletes the parts it left and skips the shards the manifest lists with matching
checksums.

Resuming trusts contents, not names: the manifest records a digest of the model's (and the
prefilter's) files, and a run with another model under the same path is refused (E164); each
input is identified by its size and BLAKE2b digest, so an input edited since its shard was
written is scored again (its rows replaced). An input named twice (the same file, or another
file with the same bytes) is scored once, and the summary lists the duplicates. Every input
is read once more to compute its digest, in the same pass that counts the newlines of its byte
ranges (``hf:`` datasets are identified by name only, or by their local ``data_files``).
"""
import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ..corpora.web import check_source, iter_records
from ..corpora.web_formats import source_format
from ..errors import Errors
from .digests import input_digest, model_digests, scan_input, unique_sources
from .engines import check_engine, open_engine
from .manifest import Manifest
from .output import shard_names
from .parts import clear_parts, merge_parts, part_base, part_paths, remove_parts
from .ranges import RangeTask, byte_ranges, coarsen, range_sizes, row_group_ranges, splits_by_bytes, whole_range
from .settings import BUCKETS, Record, ScoreSettings, check_setting
from .shards import Progress, ShardResult
from .stopping import stop_on_signals
from .worker import RangeOutcome, WorkerSpec

logger = logging.getLogger("spacy")  # spaCy's logger, as spacy_lm/ngram


def score_corpus(sources: Sequence[str], out_dir: Path, settings: ScoreSettings, *, engine: str = "local",
                 workers: int = 1, ray_address: Optional[str] = None, gpu: bool = False,
                 progress: Optional[Callable[[str], None]] = None) -> Dict[str, Any]:
    """Score every input shard into ``out_dir`` (see the module docstring); the summary."""
    check_setting("inputs", bool(sources), "at least one input", [])
    check_engine(engine, workers, gpu)
    for source in sources:
        check_source(source, settings.format)
    digests, newlines = _scan_inputs(list(dict.fromkeys(sources)), settings, workers)
    sources, duplicates = unique_sources(sources, digests)
    for source, first in duplicates.items():
        note = f"Input {source} repeats {first} (the same file or the same bytes): scored once."
        logger.warning(note)
        if progress is not None:
            progress(note)
    out_dir = Path(out_dir)
    (out_dir / "rejects").mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out_dir, settings, model_digests(settings.model, settings.prefilter))
    if settings.bucket is not None and settings.cutoffs is None and manifest.cutoffs is not None:
        settings = settings.with_cutoffs(manifest.cutoffs)
    names = shard_names(sources, settings.output_format)
    todo = [i for i, source in enumerate(sources) if not manifest.done(source, digests[source])]
    clear_parts(out_dir)
    tasks = [dataclasses.replace(task, part=part_base(out_dir, names[i][0], task.index))
             for i in todo for task in _plan(i, sources[i], newlines.get(sources[i]), settings)]
    start = time.perf_counter()
    meter = Progress(progress) if progress is not None else None
    writer = ShardWriter(out_dir, manifest, settings, sources, digests, names, tasks, meter)
    spec = WorkerSpec(dataclasses.asdict(settings), tuple(tasks), _read_shard)
    with stop_on_signals(), open_engine(engine, spec, workers=workers, ray_address=ray_address,
                                        gpu=gpu) as map_tasks:
        manifest.set_settings(settings)
        for outcome in map_tasks(tasks):
            writer.receive(outcome)
    writer.check_all_back()
    clear_parts(out_dir, keep=False)
    run = writer.run
    if meter is not None and todo:
        progress(meter.line())  # type: ignore[misc]
    summary = summarize(manifest, sources, len(sources) - len(todo), time.perf_counter() - start, engine, workers)
    seconds = max(summary["seconds"], 1e-9)
    summary.update(docs_per_s=round(run.n_in / seconds, 2), tokens_per_s=round(run.n_tokens / seconds, 1),
                   duplicates=duplicates)
    return summary


class ShardWriter:
    """The driver's side of a run: the ranges' outcomes in; once every range of a shard is back,
    its parts merged into its files and the shard added to the manifest (E167 for a range back
    twice, or never). The cutoffs the workers computed go into the manifest with the first."""

    def __init__(self, out_dir: Path, manifest: Manifest, settings: ScoreSettings, sources: Sequence[str],
                 digests: Dict[str, Optional[str]], names: List[Tuple[str, str]], tasks: List[RangeTask],
                 meter: Optional[Progress]) -> None:
        self.out_dir, self.manifest, self.settings, self.meter = out_dir, manifest, settings, meter
        self.sources, self.digests, self.names = sources, digests, names
        self.planned: Dict[int, List[RangeTask]] = {}
        for task in tasks:
            self.planned.setdefault(task.shard, []).append(task)
        self.back: Dict[int, Dict[int, RangeOutcome]] = {i: {} for i in self.planned}
        self.run = ShardResult()  # what this run scored (the summary's docs/s and tokens/s)

    def receive(self, outcome: RangeOutcome) -> None:
        if self.settings.cutoffs is None and outcome.cutoffs is not None:
            self.settings = self.settings.with_cutoffs(outcome.cutoffs)
            self.manifest.set_settings(self.settings)
        i = outcome.shard
        shard = self.back[i]
        if outcome.index in shard:
            raise RuntimeError(Errors.E167.format(pos=f"{self.sources[i]}, range {outcome.index}"))
        shard[outcome.index] = outcome
        if self.meter is not None:
            self.meter.update(outcome.result.n_in, outcome.result.n_tokens)
        if len(shard) == len(self.planned[i]):
            self._write(i, self.back.pop(i))

    def _write(self, i: int, outcomes: Dict[int, RangeOutcome]) -> None:
        source, (output, rejects) = self.sources[i], self.names[i]
        result = _write_shard(source, self.names[i], self.out_dir, self.planned[i], outcomes, self.settings)
        self.manifest.add(source, self.digests[source], output, rejects, result)
        self.run.n_in += result.n_in
        self.run.n_tokens += result.n_tokens
        if self.meter is not None:
            self.meter.label = f"[{len(self.planned) - len(self.back)}/{len(self.planned)} shards written] "

    def check_all_back(self) -> None:
        if self.back:
            raise RuntimeError(Errors.E167.format(pos=[self.sources[i] for i in self.back][:5]))


def _scan_inputs(sources: List[str], settings: ScoreSettings,
                 workers: int) -> Tuple[Dict[str, Optional[str]], Dict[str, Tuple[int, List[int]]]]:
    """Each input's digest and, for those read in byte ranges, their range size and the newlines
    of each range, in one pass (ranges.py)."""
    split = [source for source in sources if splits_by_bytes(source, settings.format)]
    sizes = dict(zip(split, range_sizes([os.path.getsize(source) for source in split], settings.range_bytes,
                                        workers, others=len(sources) - len(split))))
    digests: Dict[str, Optional[str]] = {}
    newlines: Dict[str, Tuple[int, List[int]]] = {}
    for source in sources:
        if source not in sizes:
            digests[source] = input_digest(source, settings.data_files)
            continue
        digests[source], counts = scan_input(source, sizes[source])
        newlines[source] = coarsen(counts, sizes[source], settings.range_bytes, settings.chunk_size)
    return digests, newlines


def _plan(shard: int, source: str, newlines: Optional[Tuple[int, List[int]]],
          settings: ScoreSettings) -> List[RangeTask]:
    """The ranges of one input (ranges.py)."""
    kind = source_format(source, settings.format)
    if newlines is not None:
        return byte_ranges(shard, source, kind, os.path.getsize(source), newlines[1], newlines[0])
    if kind == "parquet":
        return row_group_ranges(shard, source)
    return [whole_range(shard, source, kind)]


def _write_shard(source: str, names: Tuple[str, str], out_dir: Path, tasks: List[RangeTask],
                 outcomes: Dict[int, RangeOutcome], settings: ScoreSettings) -> ShardResult:
    """Merge the parts of a shard whose ranges are all back into its files; its counts."""
    result = ShardResult()
    for task in tasks:
        result.add(outcomes[task.index].result)
    result.seconds = round(result.seconds, 3)
    parts = [part_paths(task.part, settings.output_format) for task in tasks]
    try:
        first_reject = next((outcomes[t.index].first_reject for t in tasks if outcomes[t.index].first_reject), None)
        _check_fields_found(source, result, first_reject, settings)
        merge_parts([rows for rows, _ in parts], out_dir / names[0], settings.output_format)
        merge_parts([rejects for _, rejects in parts], out_dir / names[1], "jsonl")
    finally:
        remove_parts([path for pair in parts for path in pair])
    return result


def _read_shard(source: str, settings: ScoreSettings) -> Iterator[Record]:
    """An input's records, lazily; one without its text or id field is a record with an error."""
    return iter_records(source, format=settings.format, text_field=settings.text_field,
                        id_field=settings.id_field, data_files=list(settings.data_files) or None,
                        reject_missing=True)


def _check_fields_found(source: str, result: ShardResult, first_reject: Optional[str],
                        settings: ScoreSettings) -> None:
    """E212 when every record of a shard lacks its text or id field: one record without it is a reject
    row, all of them a wrong ``--text-field`` that would otherwise reject the whole corpus with exit 0."""
    missing = result.rejects.get("missing field", 0)
    if result.n_in and missing == result.n_in:
        reason = first_reject or ""
        field_name = settings.text_field if repr(settings.text_field) in reason else settings.id_field
        raise ValueError(Errors.E212.format(source=source, n=result.n_in, field=field_name, reason=reason))


def summarize(manifest: Manifest, sources: Sequence[str], skipped: int, seconds: float, engine: str,
              workers: int) -> Dict[str, Any]:
    """The run's summary from the manifest, so that shards done by an earlier run count too."""
    totals: Dict[str, Any] = {"n_in": 0, "n_out": 0, "n_rejected": 0, "n_tokens": 0}
    rejects: Dict[str, int] = {}
    buckets: Dict[str, Dict[str, int]] = {}
    for source in sources:
        entry = manifest.data["shards"][source]
        for key in totals:
            totals[key] += entry[key]
        for reason, n in entry["rejects"].items():
            rejects[reason] = rejects.get(reason, 0) + n
        for name in BUCKETS:
            if name in entry["buckets"] or name in entry["kept"]:
                counts = buckets.setdefault(name, {"in": 0, "out": 0})
                counts["in"] += entry["buckets"].get(name, 0)
                counts["out"] += entry["kept"].get(name, 0)
    return {**totals, "rejects": rejects, "buckets": buckets, "cutoffs": manifest.cutoffs,
            "shards": len(sources), "shards_skipped": skipped, "seconds": round(seconds, 3),
            "engine": engine, "workers": workers, "output": str(manifest.out_dir)}
