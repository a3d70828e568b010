"""Score and filter corpora with the pipeline's language models, CCNet's recipe in spaCy terms
(Wenzek et al. 2020): every document gets its perplexity under the LM, documents are bucketed
head / middle / tail at perplexity percentiles, and a cheap n-gram prefilter can drop the worst
before the neural LM scores the rest.

``score_corpus`` ties the parts together, each a module of its own:

* settings.py: what the run does (``ScoreSettings``), checked when made;
* scorer.py: the worker side, ``TextScorer`` (the pipeline loaded once, texts in, score dicts
  out); engines.py maps it over chunks of texts, in order (local processes, Ray Data);
* shards.py: the driver reads the input shards lazily (corpora/web.py), rejects what needs no
  model (undecodable, empty, over ``max_length`` characters), streams the texts of the rest to
  the engine as one run of chunks across shards (so workers stay busy at shard boundaries), and
  gets each shard's rows back as soon as its last chunk is;
* output.py: each shard's rows and rejects written atomically by the driver;
* manifest.py, digests.py, stopping.py: what makes a run safe to stop and to resume.

Nothing is lost: every input record is in the shard's output or its rejects file (with the
reason), exactly once. A worker that dies has its chunk retried by the engine; as rows are only
written by the driver after the whole shard is scored, a retry cannot duplicate rows. A run that
is interrupted (killed, or stopped by SIGINT / SIGTERM: E210) and started again skips the shards
the manifest lists with matching checksums.

Resuming trusts contents, not names: the manifest records a digest of the model's (and the
prefilter's) files, and a run with another model under the same path is refused (E164); each
input is identified by its size and BLAKE2b digest, so an input edited since its shard was
written is scored again (its rows replaced). An input named twice (the same file, or another
file with the same bytes) is scored once, and the summary lists the duplicates. Every input
is read once more to compute its digest (``hf:`` datasets are identified by name only).
"""
import logging
import time
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ..corpora.web import check_source, iter_records
from ..errors import Errors
from .digests import input_digest, model_digests, unique_sources
from .engines import open_engine
from .manifest import Manifest
from .output import shard_names, write_rows
from .settings import BUCKETS, MapChunks, Record, ScoreSettings, check_setting
from .shards import Progress, ShardResult, percentile_cutoffs, reject_reason, score_shards
from .stopping import stop_on_signals

logger = logging.getLogger("spacy")  # spaCy's logger, as spacy_lm/ngram


def score_corpus(sources: Sequence[str], out_dir: Path, settings: ScoreSettings, *, engine: str = "local",
                 workers: int = 1, ray_address: Optional[str] = None, gpu: bool = False,
                 progress: Optional[Callable[[str], None]] = None) -> Dict[str, Any]:
    """Score every input shard into ``out_dir`` (see the module docstring); the summary."""
    check_setting("inputs", bool(sources), "at least one input", [])
    for source in sources:
        check_source(source, settings.format)
    digests = {source: input_digest(source) for source in dict.fromkeys(sources)}
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
    start = time.perf_counter()
    meter = Progress(progress) if progress is not None else None
    run = ShardResult()
    with stop_on_signals(), open_engine(engine, settings, workers=workers, ray_address=ray_address,
                                        gpu=gpu) as map_chunks:
        if settings.bucket is not None and settings.cutoffs is None and todo:
            settings = settings.with_cutoffs(_sample_cutoffs(sources, settings, map_chunks))
        manifest.set_settings(settings)
        shards = ((i, _read_shard(sources[i], settings)) for i in todo)
        for n, (i, rows, rejects, result) in enumerate(score_shards(shards, map_chunks, settings, meter)):
            if meter is not None:
                meter.label = f"[{n + 1}/{len(todo)} shards written] "
            output, rejects_name = names[i]
            _check_fields_found(sources[i], result, rejects, settings)
            write_rows(rows, out_dir / output, settings.output_format)
            write_rows(rejects, out_dir / rejects_name, "jsonl")
            manifest.add(sources[i], digests[sources[i]], output, rejects_name, result)
            run.n_in += result.n_in
            run.n_tokens += result.n_tokens
    if meter is not None and todo:
        progress(meter.line())  # type: ignore[misc]
    summary = summarize(manifest, sources, len(sources) - len(todo), time.perf_counter() - start, engine, workers)
    seconds = max(summary["seconds"], 1e-9)
    summary.update(docs_per_s=round(run.n_in / seconds, 2), tokens_per_s=round(run.n_tokens / seconds, 1),
                   duplicates=duplicates)
    return summary


def _read_shard(source: str, settings: ScoreSettings) -> Iterator[Record]:
    """An input's records, lazily; one without its text or id field is a record with an error."""
    return iter_records(source, format=settings.format, text_field=settings.text_field,
                        id_field=settings.id_field, reject_missing=True)


def _check_fields_found(source: str, result: ShardResult, rejects: List[Record], settings: ScoreSettings) -> None:
    """E212 when every record of a shard lacks its text or id field: one record without it is a reject
    row, all of them a wrong ``--text-field`` that would otherwise reject the whole corpus with exit 0."""
    missing = result.rejects.get("missing field", 0)
    if result.n_in and missing == result.n_in:
        reason = str(rejects[0].get("reason", "")) if rejects else ""
        field_name = settings.text_field if repr(settings.text_field) in reason else settings.id_field
        raise ValueError(Errors.E212.format(source=source, n=result.n_in, field=field_name, reason=reason))


def _sample_cutoffs(sources: Sequence[str], settings: ScoreSettings, map_chunks: MapChunks) -> Tuple[float, float]:
    """Cutoffs from the perplexities of the first ``bucket_sample`` scorable docs."""
    def scorable() -> Iterator[str]:
        for source in sources:
            for record in _read_shard(source, settings):
                if reject_reason(record, settings.max_length) is None:
                    yield record["text"]

    texts = list(islice(scorable(), settings.bucket_sample))
    chunks = [texts[i : i + settings.chunk_size] for i in range(0, len(texts), settings.chunk_size)]
    perplexities = [s["perplexity"] for chunk in map_chunks(chunks) for s in chunk if s.get("perplexity") is not None]
    assert settings.bucket is not None
    return percentile_cutoffs(perplexities, settings.bucket)


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
