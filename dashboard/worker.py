"""Sampling off the event loop: the process-wide pipeline, a bounded result cache, measured speed and one fair queue.

- The trained models load once per server process (:func:`get_pipeline`, behind a lock, loading what it can:
  a broken model is reported in ``pipeline.errors`` and only its panel is disabled).
- Every call into the pipeline goes through :func:`sample_run` (one :class:`~seaice_ldm.options.SampleRequest`
  and the decoders it yields); results are cached under that request (:class:`ResultCache`).
- :class:`SpeedBook` keeps the measured seconds per member and network evaluation of each space, so a
  request's time is known before it runs, and a request above the server's budget is refused.
- One worker thread samples for every session, first come first served (:class:`SamplingQueue`): a session
  is told its place and wait; its own new request replaces its queued one; cancelling (the Cancel button, a
  closed tab) stops a running job at its next sampler step. Background jobs (the seasonal cycle) run only
  when no session waits, and give way at their next step when one does.
- torch uses the configured number of threads (default 1): two threads halve the time on an idle 2-core
  machine but collapse 4-15x when another process keeps a core busy; one thread never does.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Hashable

from seaice_ldm.options import DECODERS, SampleRequest
from seaice_ldm.pipeline import evaluations

# ----------------------------------------------------------------------------------------- pipeline
_PIPELINE_LOCK = threading.Lock()
_PIPELINES: dict[tuple, Any] = {}
_LOAD_SECONDS: dict[tuple, float] = {}


def get_pipeline(config, loader: Callable[..., Any] | None = None):
    """The process-wide pipeline of ``config`` (checkpoints, device, precision), loaded on first use.

    Models that fail to load are left out and named in ``pipeline.errors``; when none loads, the error is
    raised and not cached (a later session retries).
    """
    key = (str(config.checkpoints), config.device, config.precision)
    with _PIPELINE_LOCK:
        if key not in _PIPELINES:
            if loader is None:
                from seaice_ldm import load_pipeline as loader
            start = time.perf_counter()
            _PIPELINES[key] = loader(config.checkpoints, device=config.device, precision=config.precision,
                                     strict=False)
            _LOAD_SECONDS[key] = time.perf_counter() - start
        return _PIPELINES[key]


def load_seconds(config) -> float | None:
    return _LOAD_SECONDS.get((str(config.checkpoints), config.device, config.precision))


def limit_torch_threads(pipeline, threads: int) -> None:
    """Set torch's CPU threads when the models run on the CPU (called in the worker thread)."""
    if getattr(getattr(pipeline, "device", None), "type", "cpu") != "cpu":
        return
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


# ----------------------------------------------------------------------------------------- runs
@dataclass(frozen=True)
class Run:
    """One call into the pipeline: a request and the decoders it yields (data space: one run for both)."""

    request: SampleRequest
    decoders: tuple[str, ...]

    @property
    def space(self) -> str:
        return self.request.space


def sample_run(pipeline, run: Run, callback: Callable[[dict], None] | None = None) -> dict:
    """THE one call into the pipeline: ``{decoder: Dataset}`` of ``run``."""
    return pipeline.sample(run.request, decoders=run.decoders, callback=callback)


def plan(available, base: SampleRequest, include_data: bool = True) -> list[Run]:
    """The runs of a request, latent first (each decoder from the same noise), then data space (both decoders
    from one run). ``base`` gives members, steps, sampler, seed, date, guidance, the no-ice rule and whether the
    latent samples are refined."""
    available = set(available)
    runs = [Run(replace(base, space="latent", decoder=d), (d,)) for d in DECODERS if ("latent", d) in available]
    if include_data and any(space == "data" for space, _ in available):
        runs.append(Run(replace(base, space="data", decoder=DECODERS[0], refine=False), DECODERS))
    return runs


def cache_key(pipeline, run: Run) -> tuple:
    return (id(pipeline), run.request, run.decoders)


class ResultCache:
    """A bounded, thread-safe LRU of finished runs: key -> ``{decoder: Dataset}``."""

    def __init__(self, maxsize: int = 24):
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


class SpeedBook:
    """Seconds per member and network evaluation of each space (the refined latent path apart, its pass adding
    to every evaluation's share): a default until measured, then a running mean."""

    # about the benchmark's figures on the 2-core project CPU (the refiner's pass: 12.5 / 9.0 GFLOP per state)
    DEFAULT = {"latent": 0.01, "latent+refine": 0.014, "data": 0.1}

    def __init__(self):
        self.rate = dict(self.DEFAULT)
        self.measured: set[str] = set()
        self._lock = threading.Lock()

    @staticmethod
    def _kind(run: Run) -> str:
        return run.request.space + ("+refine" if run.request.refine else "")

    def seconds(self, run: Run) -> float:
        r = run.request
        return self.rate.get(self._kind(run), 0.1) * r.members * evaluations(r.sampler, r.steps)

    def record(self, run: Run, seconds: float) -> None:
        r, kind = run.request, self._kind(run)
        per = seconds / max(r.members * evaluations(r.sampler, r.steps), 1)
        with self._lock:
            self.rate[kind] = per if kind not in self.measured else 0.5 * (self.rate[kind] + per)
            self.measured.add(kind)


# ----------------------------------------------------------------------------------------- jobs
#: Events a job reports to its owner (from the worker thread):
#:   ("queued", {"position": n, "wait": s})  n = 1 is next; sent whenever the queue moves
#:   ("start", {})                            the job now holds the sampler
#:   ("progress", {"space", "decoders", "run", "runs", "step", "steps", "batch", "batches"})
#:   ("panel", {"space", "datasets", "seconds", "cached"})    one space's ensembles are ready
#:   ("panel_error", {"space", "message"})    that space failed; the others go on
#:   ("done", {"seconds"}) / ("cancelled", {"asked_at", "stopped_at"}) (sampler steps of the job so far)
Listener = Callable[[str, dict], None]
USER, BACKGROUND = 0, 1


@dataclass(eq=False)
class Job:
    owner: Hashable
    pipeline: Any
    runs: list[Run]
    listener: Listener = lambda kind, info: None
    priority: int = USER
    shown: dict = field(default_factory=dict)  # what the owner shows for this job (its request, in words)
    cancel_event: threading.Event = field(default_factory=threading.Event)
    number: int = 0
    steps_done: int = 0  # sampler steps completed by this job (all its runs)
    cancel_asked_at: int | None = None  # steps_done when cancel() was called

    def cancel(self) -> None:
        if not self.cancel_event.is_set():
            self.cancel_asked_at = self.steps_done
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


class Cancelled(Exception):
    """Raised inside the sampler's progress callback to stop a run."""
