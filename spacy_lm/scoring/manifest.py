"""``manifest.json`` in a `spacy lm score` output folder: the settings that change the rows (with
the model's digests and the cutoffs a first run computed) and, per finished shard, its input's
digest, its counts and the SHA-256 of its files. A run started again skips the shards listed with
matching files and refuses settings or a model that would write other rows (E164)."""
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from ..errors import Errors
from .digests import sha256_file
from .settings import ScoreSettings
from .shards import ShardResult

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


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
        changed = [f"{name}: {old.get(name)!r} then, {new.get(name)!r} now"
                   for name in new if old.get(name) != new.get(name)]
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
