"""What makes a `spacy lm score` run safe to stop and to resume (corpus_scoring.py): digests that
identify inputs and models by their bytes rather than their names, inputs named twice, and
SIGINT / SIGTERM turned into an exception so that the engine's workers are stopped and the
manifest stays resumable."""
import hashlib
import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ..corpora.web import HF_PREFIX

STOP_SIGNALS = ("SIGINT", "SIGTERM")


def _blake2b_file(path: Path, digest: Optional[Any] = None) -> Any:
    digest = digest if digest is not None else hashlib.blake2b(digest_size=20)
    with open(path, "rb") as file_:
        for block in iter(lambda: file_.read(1 << 20), b""):
            digest.update(block)
    return digest


def input_digest(source: str) -> Optional[str]:
    """``SIZE:BLAKE2B`` of an input file's bytes (streamed); None for an ``hf:`` dataset."""
    if source.startswith(HF_PREFIX):
        return None
    return f"{os.path.getsize(source)}:{_blake2b_file(Path(source)).hexdigest()}"


def path_digest(path: Path) -> str:
    """BLAKE2b of a file, or of a directory's files (their relative names, sizes and bytes, in
    name order): a pipeline replaced under the same path has another digest."""
    if path.is_file():
        return _blake2b_file(path).hexdigest()
    digest = hashlib.blake2b(digest_size=20)
    for file_path in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file_path.relative_to(path).as_posix()}\0{file_path.stat().st_size}\0".encode("utf-8"))
        _blake2b_file(file_path, digest)
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


# ------------------------------------------------------------------------------ stopping


class ScoringStopped(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a run: the engine's workers are stopped, the shards finished so
    far stay in the manifest, and the same run started again resumes."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.signal_number = int(getattr(signal, signal_name))


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``ScoringStopped`` in the main thread while scoring (SIGTERM
    would otherwise end the process at once, leaving the engine's workers to clean up alone);
    the previous handlers are restored after. Elsewhere than the main thread: nothing to do."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise ScoringStopped(signal.Signals(signum).name)

    previous = {name: signal.signal(getattr(signal, name), stop) for name in STOP_SIGNALS}
    try:
        yield
    finally:
        for name, handler in previous.items():
            if handler is not None:
                signal.signal(getattr(signal, name), handler)
