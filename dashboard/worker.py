"""Sampling off the event loop: the process-wide pipeline, a bounded result cache and one fair queue.

- The trained models load once per server process (:func:`get_pipeline`, behind a lock, loading what
  it can: a broken model is reported in ``pipeline.errors`` and only its panel is disabled).
- One worker thread samples for every session, first come first served (:class:`SamplingQueue`): a
  session waits its turn instead of halving everyone's CPU, is told its place and an estimate, and its
  own new request replaces its queued one. Closing a session cancels its queued job, and its running
  job at the next sampler step (the progress callback raises :class:`Cancelled`).
- Equal requests give equal ensembles (the seed fixes all noise), so finished runs are kept in a small
  LRU :class:`ResultCache`; a repeated request, or the server's own first ensemble, is served from it.
- torch uses ``TORCH_THREADS`` (default 1) threads for sampling: two threads halve the time on an idle
  2-core machine but collapse 4-15x when another process keeps a core busy; one thread never does.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable

from seaice_ldm.options import DECODERS, DEFAULT_MEMBERS, DEFAULT_SAMPLER, DEFAULT_STEPS

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHECKPOINTS = REPO_ROOT / "checkpoints"
TORCH_THREADS = int(os.environ.get("SEAICE_DASHBOARD_TORCH_THREADS", 0) or 1)
#: "auto": bf16 autocast + channels-last where the device computes bf16 natively (see seaice_ldm.pipeline)
PRECISION = os.environ.get("SEAICE_DASHBOARD_PRECISION", "auto")
CACHE_SIZE = int(os.environ.get("SEAICE_DASHBOARD_CACHE", 0) or 24)

# ----------------------------------------------------------------------------------------- pipeline
_PIPELINE_LOCK = threading.Lock()
_PIPELINE: Any = None
_LOAD_SECONDS: float | None = None


def checkpoints_dir() -> Path:
    """Where the shipped models are: ``$SEAICE_LDM_CHECKPOINTS`` or ``<repo>/checkpoints``."""
    return Path(os.environ.get("SEAICE_LDM_CHECKPOINTS", DEFAULT_CHECKPOINTS))


def get_pipeline(loader: Callable[..., Any] | None = None):
    """The process-wide pipeline, loaded on first use (cuda if available, else cpu).

    ``$SEAICE_LDM_DEVICE`` forces a device. Models that fail to load are left out and named in
    ``pipeline.errors``; when none loads, the error is raised and not cached (a later session retries).
    """
    global _PIPELINE, _LOAD_SECONDS
    with _PIPELINE_LOCK:
        if _PIPELINE is None:
            if loader is None:
                from seaice_ldm import load_pipeline as loader
            start = time.perf_counter()
            _PIPELINE = loader(checkpoints_dir(), device=os.environ.get("SEAICE_LDM_DEVICE") or None,
                               precision=PRECISION, strict=False)
            _LOAD_SECONDS = time.perf_counter() - start
        return _PIPELINE


def set_pipeline(pipeline: Any) -> None:
    """Replace the shared pipeline (tests, or an app that loads its own)."""
    global _PIPELINE
    with _PIPELINE_LOCK:
        _PIPELINE = pipeline


def load_seconds() -> float | None:
    return _LOAD_SECONDS


def limit_torch_threads(pipeline) -> None:
    """Set torch's CPU threads to ``TORCH_THREADS`` when the models run on the CPU (in the worker)."""
    if getattr(getattr(pipeline, "device", None), "type", "cpu") != "cpu":
        return
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    if torch.get_num_threads() != TORCH_THREADS:
        torch.set_num_threads(TORCH_THREADS)


class Cancelled(Exception):
    """Raised inside the sampler's progress callback to stop a run (session closed or request replaced)."""


# ----------------------------------------------------------------------------------------- requests
DEFAULT_REQUEST = {"members": DEFAULT_MEMBERS, "seed": 0, "sampler": DEFAULT_SAMPLER, "steps": DEFAULT_STEPS,
                   "include_data": True, "date": None, "guidance": 1.0}


@dataclass(frozen=True)
class Run:
    """One sampler call: a space and the decoders it yields (data space: one run for both decoders)."""

    space: str
    decoders: tuple[str, ...]


def plan(available, include_data: bool = True) -> list[Run]:
    """The sampler calls of a request, latent first (each decoder from the same noise), then data space."""
    available = set(available)
    runs = [Run("latent", (d,)) for d in DECODERS if ("latent", d) in available]
    if include_data and any(space == "data" for space, _ in available):
        runs.append(Run("data", DECODERS))
    return runs


def cache_key(pipeline, run: Run, request: dict) -> tuple:
    return (id(pipeline), run.space, run.decoders, request["members"], request["seed"], request["sampler"],
            request["steps"], request.get("date"), float(request.get("guidance", 1.0)))


class ResultCache:
    """A bounded, thread-safe LRU of finished runs: key -> ``{decoder: Dataset}``."""

    def __init__(self, maxsize: int = CACHE_SIZE):
        self.maxsize = maxsize
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key not in self._data:
                return None
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


# ----------------------------------------------------------------------------------------- queue
#: Events a job reports to its owner (from the worker thread):
#:   ("queued", {"position": n, "wait": s})  n = 1 is next; sent whenever the queue moves
#:   ("start", {})                            the job now holds the sampler
#:   ("progress", {"space", "run", "runs", "done", "text"})   done in [0, 1] for that run
#:   ("panel", {"space", "datasets", "seconds", "cached"})    one space's ensembles are ready
#:   ("panel_error", {"space", "message"})    that space failed; the others go on
#:   ("done", {"seconds"}) / ("cancelled", {})
Listener = Callable[[str, dict], None]


@dataclass(eq=False)
class Job:
    owner: Hashable
    pipeline: Any
    request: dict
    runs: list[Run]
    listener: Listener = lambda kind, info: None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    number: int = 0

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def emit(self, kind: str, **info) -> None:
        try:
            self.listener(kind, info)
        except Exception:  # a listener of a closed session must never stop the queue; logged, not lost
            import traceback

            print(f"seaice-ldm dashboard: {self.owner} could not take {kind!r}:\n{traceback.format_exc()}",
                  file=sys.stderr)


class SamplingQueue:
    """First come, first served across sessions; one job samples at a time, in one worker thread."""

    #: seconds per member and sampler step of one run, before any run has been measured
    DEFAULT_RATE = {"latent": 0.03, "data": 0.08}

    def __init__(self, cache: ResultCache | None = None):
        self.cache = cache if cache is not None else ResultCache()
        self._cond = threading.Condition(threading.RLock())  # listeners may call back (cancel)
        self._queue: list[Job] = []
        self._running: Job | None = None
        self._running_started = 0.0
        self._thread: threading.Thread | None = None
        self._numbers = itertools.count(1)
        self.rate = dict(self.DEFAULT_RATE)
        self._measured: set[str] = set()
        #: (owner, job number) in the order jobs started (tests and the browser check fairness with it)
        self.started: list[tuple[Hashable, int]] = []

    # ------------------------------------------------------------------ sessions' side
    def submit(self, job: Job) -> Job:
        """Queue ``job``; a queued job of the same owner is replaced in place (keeps its place in line)."""
        with self._cond:
            job.number = next(self._numbers)
            for i, queued in enumerate(self._queue):
                if queued.owner == job.owner:
                    queued.cancel()
                    self._queue[i] = job
                    break
            else:
                self._queue.append(job)
            self._ensure_thread()
            self._cond.notify_all()
        self._announce()
        return job

    def cancel(self, owner: Hashable) -> int:
        """Cancel every job of ``owner``: queued ones at once, the running one at its next sampler step."""
        n = 0
        with self._cond:
            for job in [j for j in self._queue if j.owner == owner]:
                job.cancel()
                self._queue.remove(job)
                job.emit("cancelled")
                n += 1
            if self._running is not None and self._running.owner == owner:
                self._running.cancel()
                n += 1
        self._announce()
        return n

    def position(self, job: Job) -> int | None:
        """1 = next to run; 0 = running; None = not queued."""
        with self._cond:
            if self._running is job:
                return 0
            return self._queue.index(job) + 1 if job in self._queue else None

    def busy(self) -> bool:
        with self._cond:
            return self._running is not None or bool(self._queue)

    def estimate(self, job: Job) -> float:
        """Seconds ``job`` takes, from the measured rate of each space (0 for runs in the cache)."""
        total = 0.0
        for run in job.runs:
            if self.cache.get(cache_key(job.pipeline, run, job.request)) is not None:
                continue
            total += self.rate.get(run.space, 0.05) * job.request["members"] * job.request["steps"]
        return total

    # ------------------------------------------------------------------ worker side
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="seaice-sampler", daemon=True)
            self._thread.start()

    def _announce(self) -> None:
        """Tell every queued job its place and the wait before it starts (under the lock: in order)."""
        with self._cond:
            running, started = self._running, self._running_started
            wait = 0.0
            if running is not None:
                wait = max(self.estimate(running) - (time.perf_counter() - started), 0.5)
            for i, job in enumerate(self._queue):
                job.emit("queued", position=i + 1, wait=wait)
                wait += self.estimate(job)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                job = self._queue.pop(0)
                self._running, self._running_started = job, time.perf_counter()
                self.started.append((job.owner, job.number))
                if not job.cancelled:
                    job.emit("start")
                self._announce()
            try:
                limit_torch_threads(job.pipeline)
                self._run(job.pipeline, job)
            except Exception as err:  # a bug, not a sampling error: reported, and the queue goes on
                job.emit("panel_error", space="all", message=f"{type(err).__name__}: {err}")
                job.emit("done", seconds=time.perf_counter() - self._running_started)
            finally:
                with self._cond:
                    self._running = None
                self._announce()

    def _run(self, pipeline, job: Job) -> None:
        start = time.perf_counter()
        if job.cancelled:
            job.emit("cancelled")
            return
        n_runs = len(job.runs)
        for r, run in enumerate(job.runs):
            key = cache_key(pipeline, run, job.request)
            cached = self.cache.get(key)
            if cached is not None:
                job.emit("panel", space=run.space, datasets=cached, seconds=0.0, cached=True)
                continue
            label = f"Latent diffusion, {run.decoders[0]} decoder" if run.space == "latent" else "Data-space diffusion"

            def callback(info: dict, r: int = r, label: str = label) -> None:
                if job.cancelled:
                    raise Cancelled()
                done = (info["batch"] * info["n"] + info["i"] + 1) / max(info["batches"] * info["n"], 1)
                text = f"{label}: step {info['i'] + 1}/{info['n']}" + (
                    f", batch {info['batch'] + 1}/{info['batches']}" if info["batches"] > 1 else "")
                job.emit("progress", space=run.space, run=r, runs=n_runs, done=done, text=text)
                if job.cancelled:  # the listener found the page gone
                    raise Cancelled()

            job.emit("progress", space=run.space, run=r, runs=n_runs, done=0.0, text=f"{label}…")
            t0 = time.perf_counter()
            try:
                kwargs = {"date": job.request["date"], "guidance": job.request.get("guidance", 1.0)} \
                    if job.request.get("date") is not None else {}
                out = pipeline.sample_decoders(run.space, run.decoders, members=job.request["members"],
                                               steps=job.request["steps"], sampler=job.request["sampler"],
                                               seed=job.request["seed"], callback=callback, **kwargs)
            except Cancelled:
                job.emit("cancelled")
                return
            except Exception as err:  # reported on that panel; the other spaces go on
                job.emit("panel_error", space=run.space, message=f"Sampling failed: {type(err).__name__}: {err}")
                continue
            seconds = time.perf_counter() - t0
            per = seconds / max(job.request["members"] * job.request["steps"], 1)
            self.rate[run.space] = per if run.space not in self._measured else 0.5 * (self.rate[run.space] + per)
            self._measured.add(run.space)
            self.cache.put(key, out)
            job.emit("panel", space=run.space, datasets=out, seconds=seconds, cached=False)
        job.emit("done", seconds=time.perf_counter() - start)

    def warm_up(self, pipeline, request: dict, listener: Listener | None = None) -> Job:
        """Queue ``request`` under the server's own name, so that the first page finds it in the cache."""
        job = Job("server start", pipeline, dict(request), plan(pipeline.available, request["include_data"]))
        if listener is not None:
            job.listener = listener
        return self.submit(job)


#: The process-wide queue every session uses.
QUEUE = SamplingQueue()
