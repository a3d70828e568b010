"""Read the seed's web-scale data as records: Common Crawl WET files, Wikipedia XML dumps,
JSONL / parquet / plain text (``.gz`` allowed) and HuggingFace ``datasets`` streams.

A record is a plain dict: ``"id"`` (str, unique within its source), ``"text"`` (str), the
fields its source carries (``url``, ``date``, ``title``, ``language``, or a JSONL/parquet row's
own fields) and, for a record whose text could not be decoded, ``"text": None`` with an
``"error"`` reason. Undecodable records are yielded rather than dropped, so a caller that
must account for every input (``spacy lm score``) can reject them with the reason; a damaged
*container* (a truncated bz2 stream, a parquet file that is not parquet) raises, naming the
file. Everything streams: memory stays bounded by one record (one row group for parquet).

``iter_records(source)`` picks the reader from the name (or ``format=``); the registered
``spacy_lm.WebCorpus.v1`` reader turns the records into Examples for ``[corpora]``.
"""
import json
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from spacy.training import Example
from spacy.util import registry

from ..errors import Errors
from .hf_datasets import load_hf_dataset
from .web_formats import (
    CONTAINER_ERRORS,
    Record,
    builder_data_files,
    damaged_container,
    decode_utf8,
    existing_source,
    open_binary,
    parse_hf_source,
    source_format,
)
from .wikipedia import iter_wikipedia_records


def check_source(source: str, format: Optional[str] = None) -> str:
    """Fail early (before any work) on an input that cannot be read: an unknown format, a
    missing file or a directory; its format."""
    kind = source_format(source, format)
    if kind == "hf":
        _require_datasets(source)
    else:
        existing_source(source)
    return kind


def _require_datasets(source: str) -> None:
    """E211 (an ImportError) now, rather than a traceback when the first hf: shard is read."""
    try:
        import datasets  # noqa: F401
    except ImportError as err:
        raise ImportError(Errors.E211.format(source=source)) from err


# ------------------------------------------------------------------------------ Common Crawl WET


def iter_wet_records(path: str) -> Iterator[Record]:
    """One record per WET ``conversion`` record (the page's extracted text), with the WARC
    record id as ``id``, ``WARC-Target-URI`` as ``url``, ``WARC-Date`` as ``date`` and the
    identified languages when Common Crawl gives them. Needs ``warcio`` (the ``warc`` extra)."""
    try:
        from warcio.archiveiterator import ArchiveIterator
    except ImportError as err:
        raise ImportError(Errors.E156) from err
    loc = existing_source(path)
    with open(loc, "rb") as stream:
        try:
            for record in ArchiveIterator(stream):
                if record.rec_type != "conversion":
                    continue
                headers = record.rec_headers
                content = record.content_stream().read()
                expected = int(headers.get_header("Content-Length") or len(content))
                if len(content) < expected:  # warcio ends quietly at a truncated gzip member
                    raise ValueError(Errors.E155.format(path=loc, error=(
                        f"record {headers.get_header('WARC-Record-ID')} ends after {len(content)} of "
                        f"its {expected} bytes: a truncated file")))
                text, error = decode_utf8(content)
                item: Record = {"id": headers.get_header("WARC-Record-ID"), "text": text,
                                "url": headers.get_header("WARC-Target-URI"),
                                "date": headers.get_header("WARC-Date")}
                language = headers.get_header("WARC-Identified-Content-Language")
                if language:
                    item["language"] = language
                if error:
                    item["error"] = error
                yield item
        except CONTAINER_ERRORS as err:
            raise damaged_container(loc, err) from err
        except Exception as err:  # warcio's ArchiveLoadFailed and parse errors
            if type(err).__name__ in ("ArchiveLoadFailed", "StatusAndHeadersParserException"):
                raise damaged_container(loc, err) from err
            raise

# ------------------------------------------------------------------------------ JSONL, parquet, text


def _record_from_row(row: Dict[str, Any], text_field: str, id_field: Optional[str], default_id: str,
                     where: str, reject_missing: bool = False) -> Record:
    """A row as a record; a row without ``text_field`` / ``id_field`` raises E157, or with
    ``reject_missing`` becomes a record with a ``missing field`` error (its other fields kept)."""
    missing = [name for name in (text_field, id_field) if name is not None and name not in row]
    if missing and not reject_missing:
        raise ValueError(Errors.E157.format(where=where, field=missing[0],
                                            available=", ".join(map(str, row)) or "(none)"))
    record = dict(row)
    text = record.pop(text_field, None)
    record_id = record.pop(id_field, None) if id_field is not None else None
    item: Record = {"id": str(record_id) if record_id is not None else default_id, "text": text}
    for name, value in record.items():
        item[name if name not in ("id", "text", "error") else f"input_{name}"] = value
    if missing:
        item["error"] = (f"missing field: no {missing[0]!r} field (the record has "
                         f"{', '.join(map(str, row)) or 'no fields'}); set --text-field / --id-field if it is named "
                         "otherwise")
    elif text is not None and not isinstance(text, str):
        item["text"] = None
        item["error"] = f"undecodable: the {text_field!r} field is {type(text).__name__}, not text"
    return item


def _lone_surrogate(raw: bytes, row: Dict[str, Any]) -> Optional[str]:
    """A reason when a JSON line's ``\\uD800``-``\\uDFFF`` escapes leave a surrogate unpaired (a
    string no UTF-8 file can hold), else None. Only lines with such an escape are checked."""
    if b"\\ud" not in raw.lower():
        return None
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        surrogate = err.object[err.start : err.end]
        return f"undecodable: a lone surrogate {surrogate!a} in the JSON (an escape without its pair)"
    return None


def iter_jsonl_records(path: str, *, text_field: str = "text", id_field: Optional[str] = None,
                       reject_missing: bool = False) -> Iterator[Record]:
    """One record per JSON line; ``id`` from ``id_field`` or the line number (``<file>:<n>``).
    A line that is not UTF-8, not a JSON object or holds a lone surrogate (``"\\ud800"``) is
    yielded with an ``error``; blank lines are skipped; a row without ``text_field`` raises (a
    wrong ``--text-field``), or with ``reject_missing`` is yielded with an ``error`` (so that
    ``spacy lm score`` rejects that row and goes on)."""
    loc = existing_source(path)
    with open_binary(loc) as stream:
        try:
            for n, raw in enumerate(stream, start=1):
                record = jsonl_record(raw, n, loc, text_field, id_field, reject_missing)
                if record is not None:
                    yield record
        except CONTAINER_ERRORS as err:
            raise damaged_container(loc, err) from err


def jsonl_record(raw: bytes, n: int, loc: Path, text_field: str, id_field: Optional[str],
                 reject_missing: bool = False) -> Optional[Record]:
    """Line ``n`` of a JSONL file as ``iter_jsonl_records`` reads it (None for a blank line);
    corpus scoring's byte ranges (scoring/ranges.py) read lines with it too."""
    if not raw.strip():
        return None
    default_id = f"{loc.name}:{n}"
    line, error = decode_utf8(raw)
    row: Any = None
    if line is not None:
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            error = f"undecodable: not JSON ({err.msg} at column {err.colno})"
        else:
            if not isinstance(row, dict):
                error = f"undecodable: a JSON {type(row).__name__}, not an object"
            else:
                error = _lone_surrogate(raw, row)
    if error:
        return {"id": default_id, "text": None, "error": error}
    return _record_from_row(row, text_field, id_field, default_id, f"{loc}, line {n}", reject_missing)


def iter_parquet_records(path: str, *, text_field: str = "text", id_field: Optional[str] = None) -> Iterator[Record]:
    """One record per parquet row, read one row group at a time; ``id`` from ``id_field`` or
    the row number."""
    loc, parquet = open_parquet(path, text_field, id_field)
    n = 0
    for group in range(parquet.num_row_groups):
        for row in parquet.read_row_group(group).to_pylist():
            yield _record_from_row(row, text_field, id_field, f"{loc.name}:{n}", f"{loc}, row {n}")
            n += 1


def open_parquet(path: str, text_field: str, id_field: Optional[str]) -> Tuple[Path, Any]:
    """The file's path and ``pyarrow.parquet.ParquetFile``; E157 when it lacks the text or id
    column, the damaged-container error when it is not parquet."""
    import pyarrow
    import pyarrow.parquet

    loc = existing_source(path)
    try:
        parquet = pyarrow.parquet.ParquetFile(loc)
    except (pyarrow.ArrowException, OSError) as err:
        raise damaged_container(loc, err) from err
    columns = parquet.schema_arrow.names
    for name in [text_field] + ([id_field] if id_field else []):
        if name not in columns:
            raise ValueError(Errors.E157.format(where=str(loc), field=name, available=", ".join(columns)))
    return loc, parquet


def iter_text_records(path: str) -> Iterator[Record]:
    """One record per line of a plain-text file (``.gz``/``.bz2`` allowed); ``id`` is
    ``<file>:<line>``. Blank lines are records too (rejected as empty by the scorer), so line
    numbers and counts match the file; a line that is not UTF-8 is yielded with an ``error``."""
    loc = existing_source(path)
    with open_binary(loc) as stream:
        try:
            for n, raw in enumerate(stream, start=1):
                yield text_record(raw, n, loc.name)
        except CONTAINER_ERRORS as err:
            raise damaged_container(loc, err) from err


def text_record(raw: bytes, n: int, name: str) -> Record:
    """Line ``n`` of the text file ``name`` as ``iter_text_records`` reads it."""
    text, error = decode_utf8(raw.rstrip(b"\r\n"))
    item: Record = {"id": f"{name}:{n}", "text": text}
    if error:
        item["error"] = error
    return item


# ------------------------------------------------------------------------------ datasets


def iter_hf_records(source: str, *, text_field: str = "text", id_field: Optional[str] = None,
                    data_files: Any = None, reject_missing: bool = False) -> Iterator[Record]:
    """A HuggingFace dataset read with ``streaming=True`` (nothing downloaded up front), e.g.
    ``hf:wikimedia/wikipedia:20231101.en@train``, or local files through a packaged builder,
    offline: ``hf:json`` (or parquet, csv, text) with ``data_files``, a path, a glob or a list
    of them, checked and expanded first (``builder_data_files``: E320, E321)."""
    name, config, split = parse_hf_source(source)
    data_files = builder_data_files(source, data_files) or data_files or None
    dataset = load_hf_dataset(name, name=config, split=split, data_files=data_files, streaming=True)
    for n, row in enumerate(dataset):
        yield _record_from_row(dict(row), text_field, id_field, f"{name}:{n}", f"{source}, record {n}",
                               reject_missing)


# ------------------------------------------------------------------------------ dispatch


def iter_records(source: str, *, format: Optional[str] = None, text_field: str = "text",
                 id_field: Optional[str] = None, data_files: Any = None,
                 reject_missing: bool = False) -> Iterator[Record]:
    """The records of one input shard, whatever its format (see the module docstring).
    ``reject_missing``: a JSONL or dataset row without ``text_field`` / ``id_field`` is a record
    with an ``error`` rather than E157 (a parquet file lacking the column still raises)."""
    kind = source_format(source, format)
    if kind == "wet":
        return iter_wet_records(source)
    if kind == "wikipedia":
        return iter_wikipedia_records(source)
    if kind == "jsonl":
        return iter_jsonl_records(source, text_field=text_field, id_field=id_field, reject_missing=reject_missing)
    if kind == "parquet":
        return iter_parquet_records(source, text_field=text_field, id_field=id_field)
    if kind == "text":
        return iter_text_records(source)
    return iter_hf_records(source, text_field=text_field, id_field=id_field, data_files=data_files,
                           reject_missing=reject_missing)


class WebCorpus:
    """Examples from web-format records; undecodable and blank records are skipped (training
    has no rejects file: use ``spacy lm score`` to account for them)."""

    def __init__(self, paths: List[str], *, format: Optional[str], text_field: str, id_field: Optional[str],
                 limit: int, data_files: Any) -> None:
        self.paths = paths
        self.format = format
        self.text_field = text_field
        self.id_field = id_field
        self.limit = limit
        self.data_files = data_files

    def __call__(self, nlp: Any) -> Iterator[Example]:
        n = 0
        for path in self.paths:
            for record in iter_records(path, format=self.format, text_field=self.text_field,
                                       id_field=self.id_field, data_files=self.data_files):
                text = record.get("text")
                if not isinstance(text, str) or not text.strip():
                    continue
                doc = nlp.make_doc(text)
                yield Example(doc, doc.copy())
                n += 1
                if self.limit and n >= self.limit:
                    return


@registry.readers("spacy_lm.WebCorpus.v1")
def create_web_reader(path: Any, format: Optional[str] = None, text_field: str = "text",
                      id_field: Optional[str] = None, limit: int = 0,
                      data_files: Any = None) -> Callable[[Any], Iterable[Example]]:
    """``[corpora]`` reader over WET / Wikipedia / JSONL / parquet / text files or ``hf:NAME``
    (a path or a list of them; the format from the names unless ``format`` is set)::

        [corpora.train]
        @readers = "spacy_lm.WebCorpus.v1"
        path = "corpus/enwiki-latest-pages-articles1.xml.bz2"
    """
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths or not all(isinstance(p, (str, Path)) for p in paths):
        raise ValueError(Errors.E158.format(value=path))
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise ValueError(Errors.E159.format(value=limit))
    for p in paths:
        source_format(str(p), format)
    return WebCorpus([str(p) for p in paths], format=format, text_field=text_field, id_field=id_field,
                     limit=limit, data_files=data_files)
