"""What a web-scale source is and how to open it: its format (from ``format=`` or the name),
``hf:NAME[:CONFIG][@SPLIT]`` specs, and file helpers every record reader shares (decompression
by name, UTF-8 decoding that reports rather than raises, one error for a damaged container).
"""
import bz2
import glob
import gzip
import os
import zlib
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Tuple

from ..errors import Errors

Record = Dict[str, Any]  # "id", "text" (None when undecodable, with an "error"), the source's fields
FORMATS = ("wet", "wikipedia", "jsonl", "parquet", "text", "hf")
HF_PREFIX = "hf:"


def source_format(source: str, format: Optional[str] = None) -> str:
    """The reader for ``source``: ``format`` if given, else from the name (``hf:`` prefix for a
    ``datasets`` dataset; .warc.wet[.gz], .xml[.bz2], .jsonl/.json[.gz], .parquet, .txt[.gz])."""
    if format is not None:
        if format not in FORMATS:
            raise ValueError(Errors.E150.format(format=format, formats=", ".join(FORMATS)))
        return format
    if source.startswith(HF_PREFIX):
        return "hf"
    name = Path(source).name.lower()
    for suffix in (".gz", ".bz2"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if name.endswith((".wet", ".warc")):
        return "wet"
    if name.endswith(".xml"):
        return "wikipedia"
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".txt", ".text")):
        return "text"
    raise ValueError(Errors.E151.format(source=source, formats=", ".join(FORMATS)))


def parse_hf_source(source: str) -> Tuple[str, Optional[str], str]:
    """``hf:NAME[:CONFIG][@SPLIT]`` → (name, config, split); split defaults to train."""
    spec = source[len(HF_PREFIX):] if source.startswith(HF_PREFIX) else source
    spec, _, split = spec.partition("@")
    name, _, config = spec.partition(":")
    if not name:
        raise ValueError(Errors.E152.format(source=source))
    return name, config or None, split or "train"


def builder_data_files(source: str, data_files: Any) -> Optional[List[str]]:
    """The local files ``data_files`` names for ``hf:BUILDER``, a packaged ``datasets`` builder
    (json, parquet, csv, text, ...), in the order given, each glob expanded in name order: E320
    for a file that does not exist, E321 for a glob that matches none, E154 for a folder. None
    without data_files, for a dict of splits, or for a hub dataset or local folder (where
    data_files are paths inside the dataset, given to ``datasets`` as they are)."""
    if not data_files or not isinstance(data_files, (str, list, tuple)):
        return None
    if parse_hf_source(source)[0] not in _packaged_builders():
        return None
    paths: List[str] = []
    for pattern in [data_files] if isinstance(data_files, str) else data_files:
        paths.extend(_data_file_paths(str(pattern)))
    return paths


def _packaged_builders() -> Tuple[str, ...]:
    try:
        from datasets.packaged_modules import _PACKAGED_DATASETS_MODULES
    except ImportError:  # datasets missing (E211 says so) or moved its table
        return ("json", "parquet", "csv", "text", "arrow", "pandas", "xml")
    return tuple(_PACKAGED_DATASETS_MODULES)


def _data_file_paths(pattern: str) -> List[str]:
    if os.path.exists(pattern) or not any(char in pattern for char in "*?["):
        if not os.path.exists(pattern):
            raise FileNotFoundError(Errors.E320.format(path=pattern))
        if os.path.isdir(pattern):
            raise IsADirectoryError(Errors.E154.format(path=pattern))
        return [pattern]
    paths = sorted(path for path in glob.glob(pattern, recursive=True) if os.path.isfile(path))
    if not paths:
        raise FileNotFoundError(Errors.E321.format(pattern=pattern, cwd=os.getcwd()))
    return paths


def existing_source(source: str) -> Path:
    """``source`` as a Path; E153 when it does not exist, E154 for a directory."""
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(Errors.E153.format(path=source))
    if path.is_dir():
        raise IsADirectoryError(Errors.E154.format(path=source))
    return path


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed by its name (.gz, .bz2)."""
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def decode_utf8(data: bytes) -> Tuple[Optional[str], Optional[str]]:
    """(text, None), or (None, reason) for bytes that are not UTF-8."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as err:
        return None, f"undecodable: not UTF-8 ({err.reason} at byte {err.start})"


# What a truncated or corrupt .gz / .bz2 stream raises while it is read.
CONTAINER_ERRORS = (EOFError, OSError, zlib.error)


def damaged_container(path: Path, err: Exception) -> ValueError:
    """E155 naming the file: its container is damaged, so no later record can be trusted."""
    return ValueError(Errors.E155.format(path=path, error=f"{type(err).__name__}: {err}"))
