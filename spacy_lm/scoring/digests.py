"""What lets a `spacy lm score` run resume safely: inputs and models are identified by their
bytes rather than their names (a model replaced under the same path, an input edited in place
are noticed), inputs named twice are scored once, and the files a run wrote are checked by their
SHA-256 (manifest.py)."""
import hashlib
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..corpora.web_formats import HF_PREFIX


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


def input_digest(source: str) -> Optional[str]:
    """``SIZE:BLAKE2B`` of an input file's bytes (streamed); None for an ``hf:`` dataset."""
    if source.startswith(HF_PREFIX):
        return None
    return f"{os.path.getsize(source)}:{hash_file(Path(source), _blake2b()).hexdigest()}"


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
