"""What lets a `spacy lm score` run resume safely: inputs and models are identified by their
bytes rather than their names (a model replaced under the same path, an input edited in place
are noticed), inputs named twice are scored once, and the files a run wrote are checked by their
SHA-256 (manifest.py). The one pass that reads an input for its digest also counts its newlines
per byte range, which is what lets workers read their own ranges with the right line numbers
(ranges.py)."""
import hashlib
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..corpora.web_formats import HF_PREFIX, builder_data_files


def hash_file(path: Path, digest: Any) -> Any:
    """``digest`` (a hashlib object) updated with the file's bytes, read in blocks."""
    with open(path, "rb") as file_:
        for block in iter(lambda: file_.read(1 << 20), b""):
            digest.update(block)
    return digest


def _blake2b() -> Any:
    return hashlib.blake2b(digest_size=20)


def sha256_file(path: Path) -> str:
    """The SHA-256 the manifest records for every file a run wrote."""
    return hash_file(path, hashlib.sha256()).hexdigest()


def input_digest(source: str, data_files: Sequence[str] = ()) -> Optional[str]:
    """``SIZE:BLAKE2B`` of an input file's bytes (streamed). An ``hf:`` dataset read from local
    ``data_files`` (hf:json, hf:parquet, ...) gets the digest of those files (sizes and bytes, in
    the order read), so that an edited data file is scored again; other ``hf:`` datasets None."""
    if not source.startswith(HF_PREFIX):
        return f"{os.path.getsize(source)}:{hash_file(Path(source), _blake2b()).hexdigest()}"
    paths = builder_data_files(source, list(data_files))
    if not paths:
        return None
    digest = _blake2b()
    for path in paths:
        digest.update(f"{os.path.getsize(path)}\0".encode("utf-8"))
        hash_file(Path(path), digest)
    return f"{sum(os.path.getsize(path) for path in paths)}:{digest.hexdigest()}"


def scan_input(path: str, range_bytes: int) -> Tuple[str, List[int]]:
    """An input file's ``input_digest`` and, in the same pass, the newlines (b"\\n") of each of
    its byte ranges: ``counts[k]`` for bytes ``[k * range_bytes, (k + 1) * range_bytes)``, one
    count per range (a single 0 for an empty file)."""
    digest = _blake2b()
    counts: List[int] = [0]
    position = 0
    with open(path, "rb") as file_:
        for block in iter(lambda: file_.read(1 << 20), b""):
            digest.update(block)
            _count_newlines(block, position, range_bytes, counts)
            position += len(block)
    n_ranges = max(1, -(-position // range_bytes))
    return f"{position}:{digest.hexdigest()}", counts + [0] * (n_ranges - len(counts))


def _count_newlines(block: bytes, position: int, range_bytes: int, counts: List[int]) -> None:
    """Add the newlines of ``block`` (which starts at byte ``position``) to their ranges' counts."""
    offset = 0
    while offset < len(block):
        index = (position + offset) // range_bytes
        counts.extend([0] * (index + 1 - len(counts)))
        stop = min(len(block), (index + 1) * range_bytes - position)
        counts[index] += block.count(b"\n", offset, stop)
        offset = stop


def path_digest(path: Path) -> str:
    """BLAKE2b of a file, or of a directory's files (their relative names, sizes and bytes, in
    name order): a pipeline replaced under the same path has another digest."""
    if path.is_file():
        return hash_file(path, _blake2b()).hexdigest()
    digest = _blake2b()
    for file_path in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file_path.relative_to(path).as_posix()}\0{file_path.stat().st_size}\0".encode("utf-8"))
        hash_file(file_path, digest)
    return digest.hexdigest()


def model_digests(model: str, prefilter: Optional[str] = None) -> Dict[str, Optional[str]]:
    """Digests of the model's and the prefilter's files (a pipeline folder, an installed package
    or an ARPA file); None for a name that is neither (spacy.load will say so)."""
    from spacy.util import get_package_path, is_package

    digests: Dict[str, Optional[str]] = {}
    for name, value in (("model", model), ("prefilter", prefilter)):
        path = Path(value) if value else None
        if value and path is not None and not path.exists() and is_package(value):
            path = get_package_path(value)
        digests[f"{name}_digest"] = path_digest(path) if path is not None and path.exists() else None
    return digests


def unique_sources(sources: Sequence[str], digests: Dict[str, Optional[str]]) -> Tuple[List[str], Dict[str, str]]:
    """The inputs without repeats (the same file named twice, or two files with the same bytes),
    first naming first, and {repeat: the input it repeats}."""
    unique: List[str] = []
    duplicates: Dict[str, str] = {}
    seen: Dict[Any, str] = {}
    for source in sources:
        keys = [("source", source)]
        if not source.startswith(HF_PREFIX):
            keys += [("path", os.path.realpath(source)), ("content", digests[source])]
        first = next((seen[key] for key in keys if key in seen), None)
        if first is not None:
            duplicates[source] = first
            continue
        seen.update(dict.fromkeys(keys, source))
        unique.append(source)
    return unique, duplicates
