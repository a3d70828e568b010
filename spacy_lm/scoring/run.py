"""Score and filter corpora with the pipeline's language models, CCNet's recipe in spaCy terms
(Wenzek et al. 2020): every document gets its perplexity under the LM, documents are bucketed
head / middle / tail at perplexity percentiles, and a cheap n-gram prefilter can drop the worst
before the neural LM scores the rest.

The work is split so that any engine (scoring_engines.py: local processes, Ray Data) only has to
map ``TextScorer.score`` over chunks of texts, in order:

* the driver reads the input shards lazily (web_readers.py), decides the rejects that need no
  model (undecodable, empty, over ``max_length`` characters), sends the texts of the rest to the
  engine as one stream of chunks across shards (so workers stay busy at shard boundaries), and
  writes each shard's rows itself, atomically, as soon as its last chunk is back, then records
  the shard in the manifest (counts and SHA-256 of the files written);
* workers hold one ``TextScorer`` each (the pipeline loaded once) and return small score dicts,
  never documents.

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
import hashlib
import json
import logging
import math
import os
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy

from ..errors import Errors
from .runs import input_digest, model_digests, stop_on_signals, unique_sources
from ..corpora.web import check_source, iter_records

logger = logging.getLogger("spacy")  # spaCy's logger, as ngram.py

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
OUTPUT_FORMATS = ("parquet", "jsonl")
BUCKETS = ("head", "middle", "tail")
SCORE_FIELDS = ("perplexity", "logprob", "n_tokens", "n_predicted", "prefilter_perplexity")
ROW_FIELDS = ("id", "url", "bucket") + SCORE_FIELDS
# Settings that change the rows: a resumed run must use the same ones (batch size, workers and
# engine do not change a score, so they may differ between runs).
ROW_SETTINGS = ("model", "component", "prefilter", "max_ppl", "bucket", "cutoffs", "keep", "max_length",
                "text_field", "id_field", "format", "output_format", "code")

Record = Dict[str, Any]
Scores = Dict[str, Any]


@dataclass(frozen=True)
class ScoreSettings:
    """What a scoring run does; JSON-able, so it can travel to workers and into the manifest."""

    model: str
    component: Optional[str] = None
    prefilter: Optional[str] = None  # an n-gram pipeline (path or name) or an ARPA file
    max_ppl: Optional[float] = None  # prefilter perplexity above which a doc is rejected
    bucket: Optional[Tuple[float, float]] = None  # percentiles, e.g. (30, 60)
    cutoffs: Optional[Tuple[float, float]] = None  # perplexity cutoffs, given or computed
    bucket_sample: int = 2000  # docs scored to compute the cutoffs from ``bucket``
    keep: Tuple[str, ...] = ()  # buckets written to the output (empty: all)
    max_length: int = 1_000_000  # characters (spaCy's nlp.max_length)
    batch_size: int = 64
    chunk_size: int = 256  # texts per engine task
    text_field: str = "text"
    id_field: Optional[str] = None
    format: Optional[str] = None  # input format (web_readers.FORMATS), None: from the name
    output_format: str = "parquet"
    gpu_id: int = -1
    code: Optional[str] = None  # a Python file with custom components, imported in every worker

    def __post_init__(self) -> None:
        check = _check_setting
        check("output_format", self.output_format in OUTPUT_FORMATS, f"one of {OUTPUT_FORMATS}", self.output_format)
        for name in ("batch_size", "chunk_size", "max_length"):
            value = getattr(self, name)
            check(name, _is_int(value) and value >= 1, "an integer >= 1", value)
        check("bucket_sample", _is_int(self.bucket_sample) and self.bucket_sample >= 1, "an integer >= 1",
              self.bucket_sample)
        if (self.prefilter is None) != (self.max_ppl is None):
            check("max_ppl", False, "given together with prefilter (both or neither)", self.max_ppl)
        if self.max_ppl is not None:
            check("max_ppl", _is_positive(self.max_ppl), "a finite number > 0", self.max_ppl)
        if self.bucket is not None:
            check("bucket", _is_pair(self.bucket) and 0 < self.bucket[0] < self.bucket[1] < 100,
                  "two percentiles 0 < low < high < 100 (e.g. 30,60)", self.bucket)
        if self.cutoffs is not None:
            check("cutoffs", _is_pair(self.cutoffs) and all(_is_positive(c) for c in self.cutoffs)
                  and self.cutoffs[0] <= self.cutoffs[1], "two perplexities 0 < low <= high", self.cutoffs)
        unknown = [name for name in self.keep if name not in BUCKETS]
        check("keep", not unknown, f"bucket names from {BUCKETS}", list(self.keep))
        check("keep", not self.keep or self.bucket is not None or self.cutoffs is not None,
              "used with bucket percentiles or cutoffs (it keeps buckets)", list(self.keep))

    def with_cutoffs(self, cutoffs: Tuple[float, float]) -> "ScoreSettings":
        values = asdict(self)
        values["cutoffs"] = (float(cutoffs[0]), float(cutoffs[1]))
        return ScoreSettings(**values)

    def row_settings(self) -> Dict[str, Any]:
        values = asdict(self)
        return json.loads(json.dumps({name: values[name] for name in ROW_SETTINGS}))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _is_pair(value: Any) -> bool:
    return (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value))


def _check_setting(setting: str, ok: bool, requirement: str, value: Any) -> None:
    if not ok:
        raise ValueError(Errors.E160.format(setting=setting, requirement=requirement, value=value))


# ------------------------------------------------------------------------------ the worker side


class TextScorer:
    """The pipeline loaded once (per process or actor): texts in, score dicts out."""

    def __init__(self, settings: ScoreSettings) -> None:
        import spacy

        from ..pipeline_lookup import find_lm_component

        if settings.code:
            from spacy.util import import_file

            import_file("spacy_lm_user_code", settings.code)
        if settings.gpu_id >= 0:
            from thinc.api import require_gpu

            require_gpu(settings.gpu_id)
        self.settings = settings
        self.nlp = spacy.load(settings.model)
        self._enable_upto(self.nlp, find_lm_component(self.nlp, settings.component))
        self.prefilter = self._load_prefilter(settings.prefilter) if settings.prefilter else None

    @staticmethod
    def _enable_upto(nlp: Any, name: str) -> None:
        """Run the pipeline up to its LM only (components after it cannot change the score)."""
        names = nlp.pipe_names
        nlp.select_pipes(enable=names[: names.index(name) + 1])

    def _load_prefilter(self, path: str) -> Any:
        """An ARPA file becomes an ``ngram_lm`` over the main pipeline's tokenizer; a pipeline
        keeps its own tokenizer."""
        import spacy

        from ..pipeline_lookup import find_lm_component

        if path.endswith((".arpa", ".arpa.gz")):
            nlp = spacy.blank(self.nlp.lang, vocab=self.nlp.vocab)
            nlp.tokenizer = self.nlp.tokenizer
            nlp.add_pipe("ngram_lm", name="prefilter").load_arpa(path)
            return nlp
        nlp = spacy.load(path)
        self._enable_upto(nlp, find_lm_component(nlp))
        return nlp

    def score(self, texts: Sequence[str]) -> List[Scores]:
        """One dict per text: ``perplexity``, ``logprob`` (nats), ``n_tokens``, ``n_predicted``
        (tokens scored, the closing ``<eos>`` included), and ``prefilter_perplexity`` with a
        prefilter; a text the prefilter rejects has ``perplexity`` None."""
        settings = self.settings
        scores: List[Scores] = [{} for _ in texts]
        survivors = list(range(len(texts)))
        if self.prefilter is not None:
            docs = self.prefilter.pipe(texts, batch_size=settings.batch_size)
            for i, doc in enumerate(docs):
                scores[i]["prefilter_perplexity"] = doc._.lm_perplexity
            survivors = [i for i in survivors if _passes(scores[i]["prefilter_perplexity"], settings.max_ppl)]
        docs = self.nlp.pipe((texts[i] for i in survivors), batch_size=settings.batch_size)
        for i, doc in zip(survivors, docs):
            scores[i].update(perplexity=doc._.lm_perplexity, logprob=doc._.lm_logprob, n_tokens=len(doc),
                             n_predicted=doc._.lm_n_predicted)
        return scores


def _passes(perplexity: Optional[float], max_ppl: Optional[float]) -> bool:
    return perplexity is not None and max_ppl is not None and perplexity <= max_ppl


# ------------------------------------------------------------------------------ the driver side

# An engine maps the scorer over chunks of texts and yields the results in the chunks' order.
MapChunks = Callable[[Iterable[List[str]]], Iterator[List[Scores]]]


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


def score_shards(shards: Iterable[Tuple[int, Iterable[Record]]], map_chunks: MapChunks, settings: ScoreSettings,
                 progress: Optional["Progress"] = None) -> Iterator[Tuple[int, List[Record], List[Record], ShardResult]]:
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

    def finished() -> Iterator[Tuple[int, List[Record], List[Record], ShardResult]]:
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


def _route(record: Record, scores: Scores, settings: ScoreSettings, result: ShardResult) -> Tuple[Optional[str], Record]:
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


# ------------------------------------------------------------------------------ files and manifest


def write_rows(rows: List[Record], path: Path, output_format: str) -> None:
    """Write atomically (a temporary name, then a rename): a file there is always complete."""
    tmp = path.with_name(path.name + ".tmp")
    if output_format == "jsonl":
        with tmp.open("w", encoding="utf-8") as file_:
            for row in rows:
                file_.write(json.dumps(row, ensure_ascii=False, default=_jsonable) + "\n")
    else:
        _write_parquet(rows, tmp, path)
    os.replace(tmp, path)


def _write_parquet(rows: List[Record], tmp: Path, path: Path) -> None:
    import pyarrow
    import pyarrow.parquet

    names: Dict[str, None] = dict.fromkeys(ROW_FIELDS)
    for row in rows:
        names.update(dict.fromkeys(row))
    columns = {name: [row.get(name) for row in rows] for name in names}
    try:
        table = pyarrow.table(columns)
    except (pyarrow.ArrowInvalid, pyarrow.ArrowTypeError) as err:
        raise ValueError(Errors.E162.format(path=path, reason=" ".join(str(err).split()))) from err
    pyarrow.parquet.write_table(table, tmp)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def read_rows(path: Path) -> List[Record]:
    """Rows of a file ``write_rows`` wrote (tests, the summary, users checking a shard)."""
    path = Path(path)
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as file_:
            return [json.loads(line) for line in file_]
    import pyarrow.parquet

    return pyarrow.parquet.read_table(path).to_pylist()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file_:
        for block in iter(lambda: file_.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shard_names(sources: Sequence[str], output_format: str) -> List[Tuple[str, str]]:
    """Output and rejects file names per input, unique even when two inputs share a name."""
    names = []
    for index, source in enumerate(sources):
        stem = Path(source.split("@")[0]).name if not source.startswith("hf:") else source[3:]
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:80]
        base = f"{index:05d}-{stem}"
        names.append((f"{base}.{output_format}", f"rejects/{base}.jsonl"))
    return names


class Manifest:
    """``manifest.json`` in the output folder: the row settings and every finished shard."""

    def __init__(self, out_dir: Path, settings: ScoreSettings, digests: Optional[Dict[str, Any]] = None) -> None:
        """``digests``: the model files' digests (``model_digests``), kept with the settings."""
        self.path = out_dir / MANIFEST
        self.out_dir = out_dir
        self.data: Dict[str, Any] = {"version": MANIFEST_VERSION, "settings": None, "shards": {}}
        self.digests = dict(digests or {})
        if self.path.exists():
            try:
                self.data = json.loads(self.path.read_text(encoding="utf-8"))
            except ValueError as err:
                raise ValueError(Errors.E163.format(path=self.path, reason=err)) from err
            problem = _manifest_problem(self.data)
            if problem:
                raise ValueError(Errors.E163.format(path=self.path, reason=problem))
        self._check(settings)

    def _check(self, settings: ScoreSettings) -> None:
        """A resumed run must write the same rows: its settings (with the cutoffs) and model
        files must match."""
        old = self.data.get("settings")
        if old is None or not self.data["shards"]:
            return  # nothing written yet that new settings could mix with
        new = self._row_settings(settings)
        if old.get("cutoffs") is not None and new.get("cutoffs") is None and new.get("bucket") == old.get("bucket"):
            new["cutoffs"] = old["cutoffs"]  # computed by the first run: reused
        changed = [f"{name}: {old.get(name)!r} then, {new.get(name)!r} now" for name in new if old.get(name) != new.get(name)]
        if changed:
            raise ValueError(Errors.E164.format(path=self.out_dir, changed="; ".join(changed)))

    @property
    def cutoffs(self) -> Optional[Tuple[float, float]]:
        settings = self.data.get("settings") or {}
        cutoffs = settings.get("cutoffs")
        return tuple(cutoffs) if cutoffs else None  # type: ignore[return-value]

    def _row_settings(self, settings: ScoreSettings) -> Dict[str, Any]:
        return {**settings.row_settings(), **self.digests}

    def set_settings(self, settings: ScoreSettings) -> None:
        self.data["settings"] = self._row_settings(settings)
        self._save()

    def done(self, source: str, digest: Optional[str]) -> bool:
        """Finished before from the same input (``digest``: ``input_digest``), with files that
        are still what was written."""
        entry = self.data["shards"].get(source)
        if entry is None or entry.get("input_digest") != digest:
            return False
        for key, name in entry["files"].items():
            path = self.out_dir / name
            if not path.exists() or sha256_file(path) != entry["sha256"][key]:
                return False
        return True

    def add(self, source: str, digest: Optional[str], output: str, rejects: str, result: ShardResult) -> None:
        self.data["shards"][source] = {
            "files": {"output": output, "rejects": rejects}, "input_digest": digest,
            "sha256": {"output": sha256_file(self.out_dir / output), "rejects": sha256_file(self.out_dir / rejects)},
            **asdict(result),
        }
        self._save()

    def _save(self) -> None:
        tmp = self.path.with_name(MANIFEST + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=2), encoding="utf-8")
        os.replace(tmp, self.path)


def _manifest_problem(data: Any) -> Optional[str]:
    """What is wrong with the shape of a manifest read from disk, or None."""
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}, not an object"
    if not isinstance(data.get("settings"), (dict, type(None))):
        return "its settings are not an object"
    shards = data.get("shards")
    if not isinstance(shards, dict):
        return "no object of shards"
    for source, entry in shards.items():
        if not (isinstance(entry, dict) and all(isinstance(entry.get(key), dict) for key in ("files", "sha256"))
                and all(isinstance(entry["files"].get(key), str) for key in ("output", "rejects"))):
            return f"the entry of shard {source!r} is malformed"
    return None


# ------------------------------------------------------------------------------ progress and run


class Progress:
    """docs/s and tokens/s on stderr, at most every ``every`` seconds."""

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


def score_corpus(sources: Sequence[str], out_dir: Path, settings: ScoreSettings, *, engine: str = "local",
                 workers: int = 1, ray_address: Optional[str] = None, gpu: bool = False,
                 progress: Optional[Callable[[str], None]] = None) -> Dict[str, Any]:
    """Score every input shard into ``out_dir`` (see the module docstring); the summary."""
    from .engines import open_engine

    if not sources:
        raise ValueError(Errors.E160.format(setting="inputs", requirement="at least one input", value=[]))
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
        shards = ((i, iter_records(sources[i], format=settings.format, text_field=settings.text_field,
                                   id_field=settings.id_field, reject_missing=True)) for i in todo)
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


def _check_fields_found(source: str, result: "ShardResult", rejects: List[Record], settings: ScoreSettings) -> None:
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
            for record in iter_records(source, format=settings.format, text_field=settings.text_field,
                                       id_field=settings.id_field, reject_missing=True):
                if reject_reason(record, settings.max_length) is None:
                    yield record["text"]

    texts = list(islice(scorable(), settings.bucket_sample))
    chunks = [texts[i : i + settings.chunk_size] for i in range(0, len(texts), settings.chunk_size)]
    perplexities = [s["perplexity"] for chunk in map_chunks(chunks) for s in chunk if s.get("perplexity") is not None]
    assert settings.bucket is not None
    return percentile_cutoffs(perplexities, settings.bucket)


def summarize(manifest: Manifest, sources: Sequence[str], skipped: int, seconds: float, engine: str,
              workers: int) -> Dict[str, Any]:
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
