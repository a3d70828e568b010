"""Parallel corpora (source text, target text) for the `translator` component.

``read_parallel`` yields ``(source, target)`` string pairs with no spaCy involved (the
benchmarks and CLI use it); the registered reader ``spacy_lm.ParallelCorpus.v1`` turns them into
Examples for `spacy train`: the predicted doc is ``nlp.make_doc(source)``, the reference doc a
copy of it whose ``doc._.translation`` is the target text (spaCy's Example needs both docs to
share their text, so the target rides in the extension; see extensions.py).

Exactly one source, chosen by the arguments given:

* ``source_path`` + ``target_path``: two aligned UTF-8 text files (``.gz`` allowed), line i of
  one translating line i of the other (Multi30k's train.de / train.en). Read lazily; files of
  different lengths raise E141 when the shorter one ends (a pass stopped early by ``limit``
  reads no further, so it checks only the lines it read).
* ``path``: a TSV file (tab-separated, no quoting) or a JSONL file (one object per line),
  ``.gz`` allowed, the format given by ``format`` or the suffix (.tsv; .jsonl / .json).
* ``dataset``: a HuggingFace ``datasets`` dataset (``load_hf_dataset`` of hf_datasets.py: hub name
  such as "bentrevett/multi30k", or "json" / "csv" / "parquet" with local ``data_files``,
  which works offline with HF_DATASETS_OFFLINE=1).

Fields (``source_field`` / ``target_field``): JSONL and datasets default to "de" / "en"
(Multi30k's columns); a record without them at the top level is read from its "translation"
object (WMT style: ``{"translation": {"de": ..., "en": ...}}``). TSV defaults to columns 0 and
1 of a file without a header; integer fields are 0-based columns (no header), string fields
name columns of the header row. For two text files the fields only name the languages in
messages.

Texts are stripped of surrounding whitespace. A pair with either side empty is skipped, so are
pairs with either side longer than ``max_length`` whitespace tokens (None keeps all); ``limit``
caps the pairs yielded (0: all). Arguments are checked when the reader is made, files when it
is first read (so configs resolve before the data exist).
"""
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Optional, Tuple, Union

from spacy.training import Example
from spacy.util import ensure_path, logger, registry

from ..checks import check_setting, is_count
from ..errors import Errors
from ..extensions import install_translation_extensions
from .files import check_text_file, read_text_lines
from .hf_datasets import DataFiles, load_hf_dataset

if TYPE_CHECKING:
    from spacy.language import Language  # noqa: F401

READER = "spacy_lm.ParallelCorpus.v1"
PARALLEL_FORMATS = ("tsv", "jsonl")
FORMAT_SUFFIXES = {".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}
DEFAULT_FIELDS = {"tsv": (0, 1), "jsonl": ("de", "en"), "dataset": ("de", "en"), "files": ("source", "target")}
NESTED_FIELD = "translation"
Field = Union[str, int]


def _check(ok: bool, setting: str, requirement: str, value: Any) -> None:
    """A setting of the reader out of range: E145 (an alias of E009), named after the reader."""
    check_setting(ok, setting, requirement, value, where=READER, code="E145")


def _source_kind(source_path: Any, target_path: Any, path: Any, dataset: Any) -> str:
    """"files", "path" or "dataset": exactly one source must be given (E140)."""
    given = [name for name, value in (("source_path", source_path), ("target_path", target_path),
                                      ("path", path), ("dataset", dataset)) if value is not None]
    kinds = {"files" if name.endswith("_path") and name != "path" else name for name in given}
    lone_file = (source_path is None) != (target_path is None)
    if len(kinds) != 1 or lone_file:
        raise ValueError(Errors.E140.format(reader=READER, given=", ".join(given) or "none"))
    return kinds.pop()


def _path_format(path: Path, format: Optional[str]) -> str:
    if format is None:
        suffixes = [s.lower() for s in path.suffixes]
        if suffixes and suffixes[-1] == ".gz":
            suffixes.pop()
        format = FORMAT_SUFFIXES.get(suffixes[-1] if suffixes else "")
        if format is None:
            raise ValueError(Errors.E144.format(path=path, format=None, formats=PARALLEL_FORMATS))
    elif format not in PARALLEL_FORMATS:
        raise ValueError(Errors.E144.format(path=path, format=format, formats=PARALLEL_FORMATS))
    return format


def _check_fields(kind: str, source_field: Field, target_field: Field) -> None:
    fields = (("source_field", source_field), ("target_field", target_field))
    for setting, field in fields:
        ok = (kind == "tsv" and is_count(field, 0)) or (isinstance(field, str) and bool(field))
        requirement = "a header name or a 0-based column index" if kind == "tsv" else "a non-empty field name"
        _check(ok, setting, requirement, field)
    _check(kind != "tsv" or isinstance(source_field, str) == isinstance(target_field, str),
           "source_field / target_field", "both header names or both column indices of the TSV",
           (source_field, target_field))
    _check(source_field != target_field, "target_field", "different from source_field", target_field)


def _check_options(max_length: Optional[int], limit: int) -> None:
    _check(max_length is None or is_count(max_length, 1), "max_length",
           "a positive integer (whitespace tokens per side), or null to keep all", max_length)
    _check(is_count(limit, 0), "limit", "an integer >= 0 (0: all pairs)", limit)


# ---------------------------------------------------------------------- raw pairs of each source


def _aligned_lines(source: Path, target: Path, names: Tuple[Field, Field]) -> Iterator[Tuple[str, str]]:
    """Line i of ``source`` with line i of ``target``; E141 when one file ends first."""
    sources, targets = read_text_lines(source), read_text_lines(target)
    n = 0
    try:
        for source_line in sources:
            target_line = next(targets, None)
            if target_line is None:
                n_source = n + 1 + sum(1 for _ in sources)
                raise ValueError(Errors.E141.format(source=source, target=target, n_source=n_source,
                                                    n_target=n, names="{} / {}".format(*names)))
            n += 1
            yield source_line, target_line
        n_target = n + sum(1 for _ in targets)
        if n_target != n:
            raise ValueError(Errors.E141.format(source=source, target=target, n_source=n, n_target=n_target,
                                                names="{} / {}".format(*names)))
    finally:
        sources.close()
        targets.close()


def _tsv_pairs(loc: Path, source_field: Field, target_field: Field) -> Iterator[Tuple[str, str]]:
    import csv

    reader = csv.reader(read_text_lines(loc), delimiter="\t", quoting=csv.QUOTE_NONE)
    if isinstance(source_field, str):
        header = next(reader, None) or []
        for field in (source_field, target_field):
            if field not in header:
                raise ValueError(Errors.E142.format(where=f"{loc} (header row)", field=field,
                                                    available=header))
        columns = (header.index(source_field), header.index(target_field))
    else:
        columns = (int(source_field), int(target_field))
    for row in reader:
        if not row:  # a blank line
            continue
        if len(row) <= max(columns):
            raise ValueError(Errors.E143.format(where=f"{loc} line {reader.line_num}", reason=(
                f"{len(row)} tab-separated column(s), expected at least {max(columns) + 1}")))
        yield row[columns[0]], row[columns[1]]


def _jsonl_pairs(loc: Path, source_field: str, target_field: str) -> Iterator[Tuple[str, str]]:
    for n, line in enumerate(read_text_lines(loc), 1):
        if not line.strip():
            continue
        where = f"{loc} line {n}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(Errors.E143.format(where=where, reason=f"not JSON ({err})")) from err
        yield record_pair(record, source_field, target_field, where)


def record_pair(record: Any, source_field: str, target_field: str, where: str) -> Tuple[str, str]:
    """(source, target) of a JSON / HF record: its two fields, or those of its "translation"
    object when it lacks them at the top level. E142 for a missing field, E143 for a record
    that is not an object or a value that is not a str."""
    if not isinstance(record, dict):
        raise ValueError(Errors.E143.format(where=where, reason=f"expected an object, got {type(record).__name__}"))
    fields = record
    nested = record.get(NESTED_FIELD)
    if not (source_field in record and target_field in record) and isinstance(nested, dict):
        fields = nested
    values = []
    for field in (source_field, target_field):
        if field not in fields:
            available = list(record) + ([f"{NESTED_FIELD}.{key}" for key in nested]
                                        if isinstance(nested, dict) else [])
            raise ValueError(Errors.E142.format(where=where, field=field, available=available))
        value = fields[field]
        if not isinstance(value, str):
            raise ValueError(Errors.E143.format(where=where, reason=(
                f"field {field!r} must be a str, got {type(value).__name__}")))
        values.append(value)
    return values[0], values[1]


def filter_pairs(pairs: Iterable[Tuple[str, str]], *, max_length: Optional[int] = None,
                 limit: int = 0) -> Iterator[Tuple[str, str]]:
    """Stripped pairs, skipping those with an empty side or a side of more than ``max_length``
    whitespace tokens; at most ``limit`` of them (0: all)."""
    n_yielded = n_empty = n_long = 0
    for source, target in pairs:
        source, target = source.strip(), target.strip()
        if not source or not target:
            n_empty += 1
            continue
        if max_length is not None and max(len(source.split()), len(target.split())) > max_length:
            n_long += 1
            continue
        yield source, target
        n_yielded += 1
        if limit and n_yielded >= limit:
            break
    logger.debug("Parallel corpus: %d pairs, skipped %d with an empty side and %d longer than max_length=%s",
                 n_yielded, n_empty, n_long, max_length)


# ---------------------------------------------------------------------- the corpus


class ParallelCorpus:
    """(source, target) pairs of one parallel source and, called with ``nlp``, their Examples;
    see the module docstring and ``create_parallel_reader``. A HuggingFace dataset is loaded on
    the first read and kept for later epochs."""

    def __init__(
        self,
        source_path: Optional[Union[str, Path]] = None,
        target_path: Optional[Union[str, Path]] = None,
        *,
        path: Optional[Union[str, Path]] = None,
        format: Optional[str] = None,
        dataset: Optional[str] = None,
        name: Optional[str] = None,
        split: str = "train",
        data_files: Optional[DataFiles] = None,
        cache_dir: Optional[str] = None,
        source_field: Optional[Field] = None,
        target_field: Optional[Field] = None,
        max_length: Optional[int] = None,
        limit: int = 0,
    ) -> None:
        kind = _source_kind(source_path, target_path, path, dataset)
        self.source_path = ensure_path(source_path) if source_path is not None else None
        self.target_path = ensure_path(target_path) if target_path is not None else None
        self.path = ensure_path(path) if path is not None else None
        if kind == "path":
            kind = _path_format(self.path, format)
        defaults = DEFAULT_FIELDS[kind]
        self.source_field = defaults[0] if source_field is None else source_field
        self.target_field = defaults[1] if target_field is None else target_field
        _check_fields(kind, self.source_field, self.target_field)
        _check_options(max_length, limit)
        self.kind = kind
        self.dataset_path = dataset
        self.name = name
        self.split = split
        self.data_files = data_files
        self.cache_dir = cache_dir
        self.max_length = max_length
        self.limit = limit
        self._dataset: Any = None

    def check_files(self) -> None:
        """E062 now for a missing or unreadable-as-file input (datasets are checked by loading)."""
        for loc in (self.source_path, self.target_path, self.path):
            if loc is not None:
                check_text_file(loc)

    @property
    def dataset(self) -> Any:
        if self._dataset is None:
            self._dataset = load_hf_dataset(self.dataset_path, name=self.name, split=self.split,
                                            data_files=self.data_files, cache_dir=self.cache_dir)
        return self._dataset

    def _raw_pairs(self) -> Iterator[Tuple[str, str]]:
        self.check_files()
        if self.kind == "files":
            return _aligned_lines(self.source_path, self.target_path, (self.source_field, self.target_field))
        if self.kind == "tsv":
            return _tsv_pairs(self.path, self.source_field, self.target_field)
        if self.kind == "jsonl":
            return _jsonl_pairs(self.path, self.source_field, self.target_field)
        where = f"{self.dataset_path} ({self.split})"
        return (record_pair(record, self.source_field, self.target_field, f"{where} record {i}")
                for i, record in enumerate(self.dataset))

    def pairs(self) -> Iterator[Tuple[str, str]]:
        """The filtered (source, target) pairs, read afresh on every call."""
        yield from filter_pairs(self._raw_pairs(), max_length=self.max_length, limit=self.limit)

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        install_translation_extensions()
        for source, target in self.pairs():
            predicted = nlp.make_doc(source)
            reference = predicted.copy()
            reference._.translation = target
            yield Example(predicted, reference)


def read_parallel(
    source_path: Optional[Union[str, Path]] = None,
    target_path: Optional[Union[str, Path]] = None,
    *,
    path: Optional[Union[str, Path]] = None,
    format: Optional[str] = None,
    dataset: Optional[str] = None,
    name: Optional[str] = None,
    split: str = "train",
    data_files: Optional[DataFiles] = None,
    cache_dir: Optional[str] = None,
    source_field: Optional[Field] = None,
    target_field: Optional[Field] = None,
    max_length: Optional[int] = None,
    limit: int = 0,
) -> Iterator[Tuple[str, str]]:
    """(source, target) text pairs of a parallel corpus, as ``spacy_lm.ParallelCorpus.v1`` reads
    them (see the module docstring). Arguments and files are checked now, not when iteration
    starts; line counts of two text files when the shorter ends."""
    corpus = ParallelCorpus(source_path, target_path, path=path, format=format, dataset=dataset, name=name,
                            split=split, data_files=data_files, cache_dir=cache_dir, source_field=source_field,
                            target_field=target_field, max_length=max_length, limit=limit)
    corpus.check_files()
    return corpus.pairs()


@registry.readers(READER)
def create_parallel_reader(
    source_path: Optional[Union[str, Path]] = None,
    target_path: Optional[Union[str, Path]] = None,
    *,
    path: Optional[Union[str, Path]] = None,
    format: Optional[str] = None,
    dataset: Optional[str] = None,
    name: Optional[str] = None,
    split: str = "train",
    data_files: Optional[DataFiles] = None,
    cache_dir: Optional[str] = None,
    source_field: Optional[Field] = None,
    target_field: Optional[Field] = None,
    max_length: Optional[int] = None,
    limit: int = 0,
) -> Callable[["Language"], Iterable[Example]]:
    """Reader of parallel data for `translator`: one Example per pair, the source tokenised by
    the pipeline's tokenizer (``nlp.make_doc``), the target text in ``reference._.translation``.

    source_path / target_path: two aligned text files (``.gz`` allowed), one sentence a line.
    path: a TSV or JSONL file (``.gz`` allowed); format: "tsv" or "jsonl" (null: from the suffix).
    dataset, name, split, data_files, cache_dir: a HuggingFace dataset (``datasets.load_dataset``).
    Give exactly one of the three sources (E140).
    source_field / target_field: JSONL / datasets: field names or language codes of a
        "translation" object (default "de" / "en"); TSV: header names or 0-based column indices
        (default 0 / 1, no header).
    max_length: skip pairs with either side over this many whitespace tokens (null: keep all).
    limit: at most this many pairs (0: all). Pairs with an empty side are always skipped.

    Multi30k from the hub, or from its raw files::

        [corpora.train]
        @readers = "spacy_lm.ParallelCorpus.v1"
        dataset = "bentrevett/multi30k"
        split = "train"

        [corpora.dev]
        @readers = "spacy_lm.ParallelCorpus.v1"
        source_path = "assets/val.de.gz"
        target_path = "assets/val.en.gz"
    """
    return ParallelCorpus(source_path, target_path, path=path, format=format, dataset=dataset, name=name,
                          split=split, data_files=data_files, cache_dir=cache_dir, source_field=source_field,
                          target_field=target_field, max_length=max_length, limit=limit)
