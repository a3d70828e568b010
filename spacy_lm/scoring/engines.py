"""Engines for `spacy lm score`: each maps ``TextScorer.score`` (scorer.py) over chunks of texts
and yields the results in the chunks' order (run.py and shards.py do everything else).

* ``local`` (the default): in this process for one worker; otherwise a pool of spawned
  processes, each loading the pipeline once, its BLAS threads set to its share of the cores.
  A worker that dies breaks the pool: a fresh pool is started and the unfinished chunks are
  submitted again (``MAX_RETRIES`` times at most). A worker never outlives its driver: on Linux
  it asks for SIGKILL when the driver dies (``prctl(PR_SET_PDEATHSIG)``; the driver's thread
  that starts the pool must live as long as it), and everywhere a watchdog thread exits it once
  the driver's pipe closes or it is re-parented (a driver killed with ``kill -9``). Workers
  ignore SIGINT (a Ctrl-C reaches the whole process group): the driver stops them; a driver
  stopped by an exception (SIGINT, SIGTERM: see ``stopping.stop_on_signals``) terminates
  its workers instead of waiting for their chunks.
* ``ray``: Ray Data (``pip install "spacy-lm[ray]"``, imported only here and only when asked):
  windows of texts (across shards) ``from_items`` → ``map_batches`` with an actor class that loads the pipeline
  once per actor (``--workers`` actors, a GPU each with ``--gpu``) → the scores back in order.
  Ray restarts an actor that dies and retries its batch. A local Ray runtime is started, or an
  existing cluster joined with ``ray_address``.
"""
import json
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict
from multiprocessing import get_context
from typing import Any, Deque, Dict, Iterable, Iterator, List, Optional

from ..errors import Errors
from .scorer import TextScorer
from .settings import MapChunks, Scores, ScoreSettings, check_setting, is_int

ENGINES = ("local", "ray")
MAX_RETRIES = 3
RAY_WINDOW_CHARS = 200_000_000  # text per Ray dataset (one actor pool start per window)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
PARENT_POLL_S = 1.0  # how often a worker's watchdog looks for its driver
PARENT_GONE_EXIT = 75  # a worker's exit status when its driver died
PR_SET_PDEATHSIG = 1  # linux/prctl.h


@contextmanager
def open_engine(engine: str, settings: ScoreSettings, *, workers: int = 1, ray_address: Optional[str] = None,
                gpu: bool = False) -> Iterator[MapChunks]:
    """The engine's ``map_chunks`` for the run; its workers stop when the run does."""
    check_setting("engine", engine in ENGINES, f"one of {ENGINES}", engine)
    check_setting("workers", is_int(workers) and workers >= 1, "an integer >= 1", workers)
    if engine == "ray":
        yield RayEngine(settings, workers, ray_address, gpu).map_chunks
    elif gpu:
        check_setting("gpu", False, "used with engine ray (the local engine takes gpu_id)", gpu)
    elif workers == 1:
        scorer = TextScorer(settings)
        yield lambda chunks: (scorer.score(chunk) for chunk in chunks)
    else:
        with LocalPool(settings, workers) as pool:
            yield pool.map_chunks


# ------------------------------------------------------------------------------ local processes

_WORKER_SCORER: Optional[TextScorer] = None
_WORKER_ERROR: Optional[Exception] = None


def _init_worker(settings: Dict[str, Any], parent_pid: int) -> None:
    """Tie the worker's life to the driver's, then load the pipeline; an error (a bad model path,
    say) is kept and raised by the first task, so that it reaches the driver with its message
    (an initializer that raises only breaks the pool, and the message is lost)."""
    global _WORKER_SCORER, _WORKER_ERROR
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent(parent_pid)
    try:
        _WORKER_SCORER = TextScorer(ScoreSettings(**settings))
    except Exception as err:  # noqa: BLE001 - re-raised in _score_chunk
        _WORKER_ERROR = err


def exit_with_parent(parent_pid: int, poll: float = PARENT_POLL_S) -> None:
    """Make this process exit when ``parent_pid`` dies, so that no worker is left behind (blocked
    on the pool's pipe, a pipeline in memory) by a driver killed with ``kill -9``: the kernel's
    parent-death signal where there is one, and a watchdog thread everywhere."""
    _set_parent_death_signal()
    if os.getppid() != parent_pid:  # the parent died before the signal was asked for
        os._exit(PARENT_GONE_EXIT)
    threading.Thread(target=watch_parent, args=(parent_pid, poll), name="spacy-lm-watch-parent",
                     daemon=True).start()


def _set_parent_death_signal() -> bool:
    """Linux: SIGKILL this process when the thread that started it ends. False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(parent_pid: int, poll: float = PARENT_POLL_S) -> None:
    """Return never; exit the process once the multiprocessing parent's pipe reaches EOF or the
    process is re-parented (``os.getppid()`` is no longer ``parent_pid``)."""
    from multiprocessing import parent_process
    from multiprocessing.connection import wait

    parent = parent_process()
    sentinel = parent.sentinel if parent is not None else None
    while True:
        if sentinel is not None:
            gone = bool(wait([sentinel], timeout=poll))
        else:
            time.sleep(poll)
            gone = False
        if gone or os.getppid() != parent_pid:
            os._exit(PARENT_GONE_EXIT)


def _score_chunk(texts: List[str]) -> List[Scores]:
    if _WORKER_ERROR is not None:
        raise _WORKER_ERROR
    assert _WORKER_SCORER is not None
    return _WORKER_SCORER.score(texts)


class LocalPool:
    """Spawned worker processes; chunks in flight are bounded (two per worker)."""

    def __init__(self, settings: ScoreSettings, workers: int) -> None:
        self.settings, self.workers = settings, workers
        self.executor: Optional[ProcessPoolExecutor] = None
        self.restarts = 0
        self._saved_env: Dict[str, Optional[str]] = {}

    def __enter__(self) -> "LocalPool":
        # Children inherit the environment when spawned: one BLAS thread pool per core share.
        threads = str(max(1, (os.cpu_count() or 1) // self.workers))
        for name in THREAD_VARIABLES:
            self._saved_env[name] = os.environ.get(name)
            os.environ.setdefault(name, threads)
        self._start()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if self.executor is not None:
            if exc_type is not None:  # stopped (a signal, an error): do not wait for running chunks
                self.terminate()
            self.executor.shutdown(wait=True, cancel_futures=True)
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def terminate(self) -> None:
        """Stop the workers now (ProcessPoolExecutor has no public way before Python 3.14)."""
        processes = getattr(self.executor, "_processes", None) or {}
        for process in list(processes.values()):
            if process.is_alive():
                process.terminate()

    def _start(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"),
                                            initializer=_init_worker, initargs=(asdict(self.settings), os.getpid()))

    def _submit(self, chunk: List[str]) -> "Future[List[Scores]]":
        """A future for the chunk; a pool that broke meanwhile gives a failed one (retried as
        any chunk of a broken pool)."""
        try:
            return self.executor.submit(_score_chunk, chunk)  # type: ignore[union-attr]
        except BrokenProcessPool as err:
            failed: "Future[List[Scores]]" = Future()
            failed.set_exception(err)
            return failed

    def map_chunks(self, chunks: Iterable[List[str]]) -> Iterator[List[Scores]]:
        todo = iter(chunks)
        pending: Deque[List[Any]] = deque()  # [chunk, future, tries]

        def fill() -> None:
            while len(pending) < 2 * self.workers:
                chunk = next(todo, None)
                if chunk is None:
                    return
                pending.append([chunk, self._submit(chunk), 0])

        fill()
        while pending:
            head = pending[0]
            try:
                result = head[1].result()
            except BrokenProcessPool:
                if head[2] >= MAX_RETRIES:
                    raise RuntimeError(Errors.E165.format(tries=head[2] + 1, text=head[0][0][:80])) from None
                self.restarts += 1
                self._start()
                for item in pending:
                    item[1] = self._submit(item[0])
                    item[2] += 1
                continue
            pending.popleft()
            yield result
            fill()


# ------------------------------------------------------------------------------ Ray Data


class RayScorer:
    """A Ray Data actor: the pipeline loaded once; a batch of texts in, JSON scores out (JSON keeps
    None and ints exact through Arrow)."""

    def __init__(self, settings: Dict[str, Any]) -> None:
        self.scorer = TextScorer(ScoreSettings(**settings))

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        import numpy

        scores = self.scorer.score([str(text) for text in batch["text"]])
        return {"pos": batch["pos"], "scores": numpy.array([json.dumps(s) for s in scores], dtype=object)}


class RayEngine:
    def __init__(self, settings: ScoreSettings, workers: int, ray_address: Optional[str], gpu: bool) -> None:
        try:
            import ray
        except ImportError as err:
            raise ImportError(Errors.E166) from err
        self.ray = ray
        self.settings, self.workers, self.gpu = settings, workers, gpu
        if not ray.is_initialized():
            local = {} if ray_address else {"num_cpus": max(os.cpu_count() or 1, workers)}
            ray.init(address=ray_address, include_dashboard=False, log_to_driver=False, configure_logging=False,
                     **local)
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # our progress line, not Ray's

    def map_chunks(self, chunks: Iterable[List[str]]) -> Iterator[List[Scores]]:
        """Chunks (across shards) are gathered into windows of ``RAY_WINDOW_CHARS`` characters of
        text, one dataset each: an actor pool (the pipeline loaded once per actor) serves a whole
        window, and the driver holds at most one window of texts."""
        window: List[List[str]] = []
        size = 0
        for chunk in chunks:
            window.append(chunk)
            size += sum(len(text) for text in chunk)
            if size >= RAY_WINDOW_CHARS:
                yield from self._map_window(window)
                window, size = [], 0
        if window:
            yield from self._map_window(window)

    def _map_window(self, chunks: List[List[str]]) -> Iterator[List[Scores]]:
        sizes = [len(chunk) for chunk in chunks]
        items = [{"pos": pos, "text": text} for pos, text in enumerate(t for chunk in chunks for t in chunk)]
        if not items:
            return
        dataset = self.ray.data.from_items(items, override_num_blocks=max(1, min(len(chunks), 4 * self.workers)))
        scored = dataset.map_batches(
            RayScorer, fn_constructor_args=(asdict(self.settings),), batch_size=self.settings.chunk_size,
            compute=self.ray.data.ActorPoolStrategy(size=self.workers), num_cpus=1, num_gpus=1 if self.gpu else 0,
            batch_format="numpy",
        )  # Ray Data's actor pools restart dead actors and retry their tasks by default
        scores: List[Optional[Scores]] = [None] * len(items)
        for batch in scored.iter_batches(batch_size=None, batch_format="numpy"):
            for pos, value in zip(batch["pos"].tolist(), batch["scores"].tolist()):
                if scores[pos] is not None:
                    raise RuntimeError(Errors.E167.format(pos=pos))
                scores[pos] = json.loads(value)
        missing = [pos for pos, value in enumerate(scores) if value is None]
        if missing:
            raise RuntimeError(Errors.E167.format(pos=missing[:5]))
        start = 0
        for size in sizes:
            yield scores[start : start + size]  # type: ignore[misc]
            start += size
