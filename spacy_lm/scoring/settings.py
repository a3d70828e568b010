"""What a `spacy lm score` run does (``ScoreSettings``, checked once when made) and the few types
every part of a run passes around: records in, score dicts back from the scorer, rows out.

The settings are a frozen, JSON-able dataclass, so the same object travels to spawned workers and
Ray actors (as ``asdict``) and into the manifest (``row_settings``: the ones a resumed run must
keep, because they change the rows)."""
import json
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional, Tuple

from .. import checks
from ..checks import is_int, is_number  # noqa: F401 (is_int: engines imports it from here)

OUTPUT_FORMATS = ("parquet", "jsonl")
BUCKETS = ("head", "middle", "tail")
NGRAM_BACKENDS = ("numpy", "kenlm")
SCORE_FIELDS = ("perplexity", "logprob", "n_tokens", "n_predicted", "prefilter_perplexity")
ROW_FIELDS = ("id", "url", "bucket") + SCORE_FIELDS
# Settings that change the rows: a resumed run must use the same ones (batch size, workers and
# engine do not change a score, so they may differ between runs).
ROW_SETTINGS = ("model", "component", "prefilter", "max_ppl", "bucket", "cutoffs", "keep", "max_length",
                "text_field", "id_field", "format", "output_format", "code", "data_files")

Record = Dict[str, Any]  # an input record (corpora.web.iter_records) or an output row
Scores = Dict[str, Any]  # what TextScorer.score gives per text


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
    format: Optional[str] = None  # input format (corpora.web.FORMATS), None: from the name
    output_format: str = "parquet"
    gpu_id: int = -1
    code: Optional[str] = None  # a Python file with custom components, imported in every worker
    data_files: Tuple[str, ...] = ()  # hf: inputs: paths or globs for datasets.load_dataset(data_files=...)
    range_bytes: int = 32 << 20  # JSONL / text inputs are read by the workers in byte ranges of at most this size
    ngram_backend: str = "numpy"  # n-gram queries: our probing tables, or kenlm over the model's ARPA

    def __post_init__(self) -> None:
        check = check_setting
        check("output_format", self.output_format in OUTPUT_FORMATS, f"one of {OUTPUT_FORMATS}", self.output_format)
        check("ngram_backend", self.ngram_backend in NGRAM_BACKENDS, f"one of {NGRAM_BACKENDS}", self.ngram_backend)
        for name in ("batch_size", "chunk_size", "max_length", "range_bytes"):
            value = getattr(self, name)
            check(name, is_int(value) and value >= 1, "an integer >= 1", value)
        check("bucket_sample", is_int(self.bucket_sample) and self.bucket_sample >= 1, "an integer >= 1",
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
        check("data_files", isinstance(self.data_files, (tuple, list))
              and all(isinstance(name, str) and name for name in self.data_files),
              "a list of file paths or globs", self.data_files)

    def with_cutoffs(self, cutoffs: Tuple[float, float]) -> "ScoreSettings":
        values = asdict(self)
        values["cutoffs"] = (float(cutoffs[0]), float(cutoffs[1]))
        return ScoreSettings(**values)

    def row_settings(self) -> Dict[str, Any]:
        """The ROW_SETTINGS as JSON; no ``data_files`` when there are none, so that an output
        folder written before that setting existed resumes."""
        values = asdict(self)
        names = [name for name in ROW_SETTINGS if name != "data_files" or self.data_files]
        return json.loads(json.dumps({name: values[name] for name in names}))


def _is_positive(value: Any) -> bool:
    return is_number(value) and value > 0


def _is_pair(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 2 and all(is_number(v) for v in value)


def check_setting(setting: str, ok: bool, requirement: str, value: Any) -> None:
    """E160 (an alias of E009) naming the setting, what it must be and what it was."""
    checks.check_setting(ok, setting, requirement, value, where="spacy lm score", code="E160")
