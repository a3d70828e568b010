"""Engines for `spacy lm score`: each starts its workers once per run (each loading the pipeline
once: worker.py) and maps them over the run's range tasks (ranges.py), yielding their outcomes
(counts only: the rows are in part files the workers wrote) in the tasks' order. run.py does the
rest.

* ``local`` (the default): in this process for one worker; otherwise a pool of processes
  (forked on Linux for CPU workers, spawned elsewhere: ``start_method``), their BLAS threads
  set to their share of the cores, two tasks in flight per worker. Forked workers start ready:
  the driver loads the pipeline (and warms its tables) once before the fork, and every worker
  shares it copy-on-write; spawned ones load their own.
  A worker that dies breaks the pool: a fresh pool is started and the unfinished ranges are
  submitted again (``MAX_RETRIES`` times at most; a range scored again replaces its parts). A
  worker never outlives its driver: on Linux it asks for SIGKILL when the driver dies
  (``prctl(PR_SET_PDEATHSIG)``; the driver's thread that starts the pool must live as long as
  it), and everywhere a watchdog thread exits it once the driver's pipe closes or it is
  re-parented (a driver killed with ``kill -9``). Workers ignore SIGINT (a Ctrl-C reaches the
  whole process group): the driver stops them; a driver stopped by an exception (SIGINT,
  SIGTERM: see ``stopping.stop_on_signals``) terminates its workers instead of waiting.
* ``ray``: Ray Data (``pip install "spacy-lm[ray]"``, imported only here and only when asked):
  one dataset per run whose items are the range tasks, ``from_items`` → ``map_batches`` with an
  actor class (``--workers`` actors, a GPU each with ``--gpu``, started once per run) that reads
  and scores its ranges and writes their parts → the outcomes back in order. Every node must see
  the input paths and the output folder (a shared file system): the actors read and write them
  directly. Ray restarts an actor that dies and retries its range (parts make that idempotent);
  E167 if a range comes back other than once. A local Ray runtime is started, or an existing
  cluster joined with ``ray_address``.

  Why not ``ray.data.read_json`` / ``read_text`` / ``read_parquet``: they cannot give what a
  range task does. ``read_json`` parses blocks with Arrow's JSON reader, so one bad line fails
  the whole read instead of becoming a reject row, and neither it nor ``read_text`` (which drops
  blank lines and fails on bytes that are not UTF-8) says which line a row came from, which the
  default ids (``<file>:<line>``) need; ``read_parquet`` loses the row numbers across row groups
  and fragments alike. Nor do they let a worker write a range's rows itself, which is what keeps
  the texts and rows off the driver.
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
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Sequence

from ..errors import Errors
from .ranges import RangeTask
from .settings import check_setting, is_int
from .worker import RangeOutcome, RangeWorker, WorkerSpec

ENGINES = ("local", "ray")
MAX_RETRIES = 3
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
PARENT_POLL_S = 1.0  # how often a worker's watchdog looks for its driver
PARENT_GONE_EXIT = 75  # a worker's exit status when its driver died
PR_SET_PDEATHSIG = 1  # linux/prctl.h


MapTasks = Callable[[Sequence[RangeTask]], Iterator[RangeOutcome]]


def check_engine(engine: str, workers: int, gpu: bool) -> None:
    check_setting("engine", engine in ENGINES, f"one of {ENGINES}", engine)
    check_setting("workers", is_int(workers) and workers >= 1, "an integer >= 1", workers)
    check_setting("gpu", not gpu or engine == "ray", "used with engine ray (the local engine takes gpu_id)", gpu)


@contextmanager
def open_engine(engine: str, spec: WorkerSpec, *, workers: int = 1, ray_address: Optional[str] = None,
                gpu: bool = False) -> Iterator[MapTasks]:
    """The engine's ``map_tasks`` for the run (its workers started once); they stop when the
    run does."""
    check_engine(engine, workers, gpu)
    if engine == "ray":
        yield RayEngine(spec, workers, ray_address, gpu).map_tasks
    elif workers == 1:
        worker = RangeWorker(spec)
        yield lambda tasks: (worker.run(task) for task in tasks)
    else:
        with LocalPool(spec, workers) as pool:
            yield pool.map_tasks


# ------------------------------------------------------------------------------ local processes

_WORKER: Optional[RangeWorker] = None
_WORKER_ERROR: Optional[Exception] = None


def _init_worker(spec: WorkerSpec, parent_pid: int, threads: int = 1) -> None:
    """Tie the worker's life to the driver's, then load the pipeline; an error (a bad model path,
    say) is kept and raised by the first task, so that it reaches the driver with its message
    (an initializer that raises only breaks the pool, and the message is lost)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker has the driver's handler
    exit_with_parent(parent_pid)
    _limit_threads(threads)
    if _WORKER is None and _WORKER_ERROR is None:  # spawned (a forked worker inherits the driver's)
        _load_worker(spec)


def _load_worker(spec: WorkerSpec) -> None:
    global _WORKER, _WORKER_ERROR
    try:
        _WORKER = RangeWorker(spec)
    except Exception as err:  # noqa: BLE001 - re-raised in _run_task
        _WORKER_ERROR = err


def _limit_threads(threads: int) -> None:
    """The BLAS and OpenMP thread pools a forked worker took from its driver, cut to its share
    of the cores (with threadpoolctl, where it is installed; a spawned worker has the variables)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=threads)


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


def _run_task(task: RangeTask) -> RangeOutcome:
    if _WORKER_ERROR is not None:
        raise _WORKER_ERROR
    assert _WORKER is not None
    return _WORKER.run(task)


def start_method(gpu_id: int) -> str:
    """``fork`` on Linux for CPU workers: a worker starts with the driver's imports (spaCy and
    ours: seconds per worker otherwise) and no thread of the driver's (the local engine starts
    none; Arrow and OpenBLAS re-create theirs after a fork); ``spawn`` elsewhere and for a
    GPU, which cannot be used across a fork."""
    return "fork" if sys.platform.startswith("linux") and gpu_id < 0 else "spawn"


class LocalPool:
    """Worker processes (``start_method``); tasks in flight are bounded (two per worker)."""

    def __init__(self, spec: WorkerSpec, workers: int) -> None:
        self.spec, self.workers = spec, workers
        self.threads = max(1, (os.cpu_count() or 1) // workers)
        self.executor: Optional[ProcessPoolExecutor] = None
        self.restarts = 0
        self._saved_env: Dict[str, Optional[str]] = {}

    def __enter__(self) -> "LocalPool":
        # Children inherit the environment: one BLAS thread pool per core share (a forked child
        # has its driver's BLAS already started: _init_worker limits it).
        for name in THREAD_VARIABLES:
            self._saved_env[name] = os.environ.get(name)
            os.environ.setdefault(name, str(self.threads))
        self._start()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        global _WORKER, _WORKER_ERROR
        _WORKER = _WORKER_ERROR = None  # the driver's preloaded worker (fork) goes with the pool
        if self.executor is not None:
            if exc_type is not None:  # stopped (a signal, an error): do not wait for running tasks
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
        method = start_method(self.spec.settings.get("gpu_id", -1))
        if method == "fork" and _WORKER is None and _WORKER_ERROR is None:
            # Loaded once, here, before the fork: every worker (and any replacement) starts with
            # the pipeline and its warmed tables, shared copy-on-write, instead of loading its own.
            _load_worker(self.spec)
        context = get_context(method)
        self.executor = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_init_worker,
                                            initargs=(self.spec, os.getpid(), self.threads))

    def _submit(self, task: RangeTask) -> "Future[RangeOutcome]":
        """A future for the task; a pool that broke meanwhile gives a failed one (retried as
        any task of a broken pool)."""
        try:
            return self.executor.submit(_run_task, task)  # type: ignore[union-attr]
        except BrokenProcessPool as err:
            failed: "Future[RangeOutcome]" = Future()
            failed.set_exception(err)
            return failed

    def map_tasks(self, tasks: Sequence[RangeTask]) -> Iterator[RangeOutcome]:
        todo = iter(tasks)
        pending: Deque[List[Any]] = deque()  # [task, future, tries]

        def fill() -> None:
            while len(pending) < 2 * self.workers:
                task = next(todo, None)
                if task is None:
                    return
                pending.append([task, self._submit(task), 0])

        fill()
        while pending:
            head = pending[0]
            try:
                result = head[1].result()
            except BrokenProcessPool:
                if head[2] >= MAX_RETRIES:
                    raise RuntimeError(Errors.E165.format(tries=head[2] + 1, text=head[0].describe())) from None
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


class RayRangeScorer:
    """A Ray Data actor: a ``RangeWorker`` (the pipeline loaded once per actor); a batch of range
    tasks (JSON) in, their outcomes (JSON) out. A coded error (a ValueError: a damaged input, a
    sample with nothing to score) comes back as data, so that the driver raises it as it is."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.worker = RangeWorker(spec)

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        import numpy

        outcomes = []
        for task in batch["task"].tolist():
            try:
                outcomes.append(json.dumps(self.worker.run(RangeTask(**json.loads(task))).to_json()))
            except ValueError as err:
                outcomes.append(json.dumps({"error": str(err)}))
        return {"pos": batch["pos"], "outcome": numpy.array(outcomes, dtype=object)}


class RayEngine:
    def __init__(self, spec: WorkerSpec, workers: int, ray_address: Optional[str], gpu: bool) -> None:
        try:
            import ray
        except ImportError as err:
            raise ImportError(Errors.E166) from err
        self.ray = ray
        self.spec, self.workers, self.gpu = spec, workers, gpu
        if not ray.is_initialized():
            local = {} if ray_address else {"num_cpus": max(os.cpu_count() or 1, workers)}
            ray.init(address=ray_address, include_dashboard=False, log_to_driver=False, configure_logging=False,
                     **local)
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # our progress line, not Ray's

    def map_tasks(self, tasks: Sequence[RangeTask]) -> Iterator[RangeOutcome]:
        """One dataset for the run: one block per range task, one actor pool for all of them."""
        if not tasks:
            return
        items = [{"pos": pos, "task": json.dumps(asdict(task))} for pos, task in enumerate(tasks)]
        dataset = self.ray.data.from_items(items, override_num_blocks=len(items))
        scored = dataset.map_batches(
            RayRangeScorer, fn_constructor_args=(self.spec,), batch_size=1,
            compute=self.ray.data.ActorPoolStrategy(size=self.workers), num_cpus=1, num_gpus=1 if self.gpu else 0,
            batch_format="numpy",
        )  # Ray Data's actor pools restart dead actors and retry their tasks by default
        seen = [False] * len(tasks)
        # No prefetching: an outcome is yielded as soon as its range is done, not with the next.
        for batch in scored.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=0):
            for pos, outcome in zip(batch["pos"].tolist(), batch["outcome"].tolist()):
                if seen[pos]:
                    raise RuntimeError(Errors.E167.format(pos=tasks[pos].describe()))
                seen[pos] = True
                data = json.loads(outcome)
                if "error" in data:
                    raise ValueError(data["error"])
                yield RangeOutcome.from_json(data)
        missing = [tasks[pos].describe() for pos, done in enumerate(seen) if not done]
        if missing:
            raise RuntimeError(Errors.E167.format(pos=missing[:5]))
