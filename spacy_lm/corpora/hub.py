"""Fail at once, with one clear line, where a HuggingFace hub dataset cannot be downloaded.

Without a network ``datasets.load_dataset`` retries for about half a minute before it gives
up; with HF_HUB_OFFLINE / HF_DATASETS_OFFLINE set it fails with a message that does not say
what to do. ``check_hub_dataset`` runs before it (the ``spacy_lm.HFDataset.v1`` reader and the
projects' fetch scripts call it): local files and folders never probe; a hub name is checked
against the offline settings and a ~3 s connection to the hub, and when the hub cannot be
reached and the dataset is in no local cache it raises E251. A cached dataset still loads:
the offline settings are switched on for this process (when `datasets` is not imported yet),
so `datasets` reads its cache without the retries.

This module imports nothing heavy: the fetch scripts call it before importing `datasets`.
"""
import os
import socket
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlparse

from ..errors import Errors

OFFLINE_ENV = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
PROBE_TIMEOUT = 3.0
_probed: Dict[Tuple[str, int], Optional[str]] = {}


def is_local_dataset(path: Any, data_files: Any = None) -> bool:
    """Whether ``load_dataset(path, data_files=...)`` reads local data only: ``path`` is an
    existing file or folder, or a packaged builder name ("text", "json", ...: no "/") with
    ``data_files``. Only the other names are looked up on the hub."""
    text = os.fspath(path)
    if Path(text).expanduser().exists():
        return True
    return data_files is not None and "/" not in text


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in ("1", "ON", "YES", "TRUE")


def _host_port(url: str, default: str) -> Tuple[str, int]:
    parsed = urlparse(url if "://" in url else f"http://{url}")
    return parsed.hostname or default, parsed.port or (80 if parsed.scheme == "http" else 443)


def hub_host() -> Tuple[str, int]:
    """Where a connection to the hub goes first: the proxy for it (https_proxy, ...) if one is
    set, else the hub: HF_ENDPOINT's host (a mirror) or huggingface.co:443."""
    from urllib.request import getproxies, proxy_bypass

    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    host, port = _host_port(endpoint, "huggingface.co")
    proxy = getproxies().get(urlparse(endpoint).scheme or "https")
    if proxy and not proxy_bypass(host):
        return _host_port(proxy, host)
    return host, port


def offline_reason(timeout: float = PROBE_TIMEOUT) -> Optional[str]:
    """Why the hub cannot be reached now, or None if it can: an offline setting, or a TCP
    connection to the hub that fails within ``timeout`` seconds (probed once per process)."""
    for name in OFFLINE_ENV:
        if _env_flag(name):
            return f"{name}={os.environ[name]} is set (offline mode)"
    host, port = hub_host()
    if (host, port) not in _probed:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            _probed[(host, port)] = None
        except OSError as err:
            reason = " ".join(str(err).split()) or type(err).__name__
            _probed[(host, port)] = f"{host}:{port} cannot be reached ({reason})"
    return _probed[(host, port)]


def _cache_dirs(cache_dir: Optional[Any]) -> List[Path]:
    """Where `datasets` (and the hub client under it) keep downloaded datasets."""
    home = Path(os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache") / "huggingface")
    datasets_cache = Path(cache_dir) if cache_dir else Path(os.environ.get("HF_DATASETS_CACHE") or home / "datasets")
    hub_cache = Path(os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE") or home / "hub")
    return [datasets_cache.expanduser(), hub_cache.expanduser()]


def cached_dataset(name: str, cache_dir: Optional[Any] = None) -> Optional[Path]:
    """The local cache folder of hub dataset ``name`` (``org/name``), if there is one."""
    datasets_cache, hub_cache = _cache_dirs(cache_dir)
    for candidate in (datasets_cache / name.replace("/", "___"), hub_cache / f"datasets--{name.replace('/', '--')}"):
        if candidate.is_dir():
            return candidate
    return None


def check_hub_dataset(path: Any, *, data_files: Any = None, cache_dir: Optional[Any] = None) -> None:
    """Call before ``datasets.load_dataset(path, ...)``. Local data: nothing. A hub dataset
    when the hub cannot be reached: E251 at once unless it is cached; if it is, offline mode
    is switched on (for a `datasets` not imported yet) so the cache is read without retries."""
    if is_local_dataset(path, data_files):
        return
    reason = offline_reason()
    if reason is None:
        return
    name = os.fspath(path)
    if cached_dataset(name, cache_dir) is not None:
        if "datasets" not in sys.modules:
            os.environ.update({key: "1" for key in OFFLINE_ENV})
        return
    flags = [key for key in OFFLINE_ENV if _env_flag(key)]
    unset = f" (and unset {' and '.join(flags)})" if flags else ""
    caches = " or ".join(str(d) for d in _cache_dirs(cache_dir))
    raise ValueError(Errors.E251.format(name=name, reason=reason, cache=caches, unset=unset))
