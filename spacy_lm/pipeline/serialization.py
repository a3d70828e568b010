"""Save and load for language-model components, written once.

A component is three parts: ``cfg`` (JSON, with a ``format`` version), ``lm_vocab`` and
``model`` (msgpack/numpy bytes; nothing is pickled, so loading runs no code). On disk each
part is a file; in bytes they are keys of one msgpack map. Missing, corrupt or
foreign-format data raise clear errors (E006, E007) and leave nothing half-loaded.
"""
from pathlib import Path
from typing import Any, Callable, Dict, Iterable

import srsly
from spacy.util import to_disk

from ..errors import Errors


class LMSerializationMixin:
    """Needs ``name``, ``cfg``, ``format_version``, ``_payload()`` and ``_restore(cfg, read)``."""

    format_version: int
    name: str
    cfg: Dict[str, Any]

    def _payload(self) -> Dict[str, bytes]:
        """``lm_vocab`` and ``model`` bytes of an initialized component."""
        raise NotImplementedError

    def _restore(self, cfg: Dict[str, Any], read: Callable[[str], bytes]) -> None:
        """Rebuild vocabulary and model from ``read("lm_vocab")`` and ``read("model")``."""
        raise NotImplementedError

    def _parts(self) -> Dict[str, bytes]:
        return {"cfg": srsly.json_dumps(self.cfg).encode("utf8"), **self._payload()}

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        return srsly.msgpack_dumps({k: v for k, v in self._parts().items() if k not in exclude})

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()):
        try:
            msg = srsly.msgpack_loads(bytes_data)
        except Exception as err:
            raise ValueError(Errors.E006.format(name=self.name, path="bytes", reason=err)) from err
        self._load(lambda key: msg[key], "bytes")
        return self

    def to_disk(self, path, *, exclude: Iterable[str] = tuple()) -> None:
        serializers = {key: (lambda p, data=data: Path(p).write_bytes(data)) for key, data in self._parts().items()}
        to_disk(path, serializers, exclude)

    def from_disk(self, path, *, exclude: Iterable[str] = tuple()):
        path = Path(path)

        def read(key: str) -> bytes:
            file = path / key
            if not file.exists():
                raise FileNotFoundError(f"missing file '{key}'")
            return file.read_bytes()

        self._load(read, path)
        return self

    def _load(self, read: Callable[[str], Any], where) -> None:
        try:
            cfg = srsly.json_loads(read("cfg"))
        except Exception as err:
            raise ValueError(Errors.E006.format(name=self.name, path=where, reason=err)) from err
        found = cfg.get("format") if isinstance(cfg, dict) else None
        if found != self.format_version:
            raise ValueError(Errors.E007.format(name=self.name, found=found, expected=self.format_version))
        try:
            self._restore(cfg, read)
        except Exception as err:
            reason = f"{type(err).__name__}: {err}"
            raise ValueError(Errors.E006.format(name=self.name, path=where, reason=reason)) from err
