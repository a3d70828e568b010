"""SIGINT / SIGTERM during `spacy lm score` become an exception (``ScoringStopped``), so that the
engine's workers are stopped (engines.py) and the manifest stays resumable; the CLI reports it as
E210 with the shell's exit status 128 + N."""
import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

STOP_SIGNALS = ("SIGINT", "SIGTERM")


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
