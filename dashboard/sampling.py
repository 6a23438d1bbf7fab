"""The fair sampling queue: one worker thread samples for every session, first come first served.

A job is a list of :class:`~dashboard.worker.Run`; its events go to its listener (see ``worker.Listener``).
The thread starts with the first job (never at import). Background jobs wait until no session's job is queued
and give way, at their next sampler step, to one that arrives (their finished runs stay in the cache).
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Hashable

from dashboard.worker import (BACKGROUND, USER, Cancelled, Job, ResultCache, SpeedBook, cache_key,
                              limit_torch_threads, sample_run)


class Preempted(Exception):
    """A background job gives way to a session's job."""


class SamplingQueue:
    """First come, first served across sessions; one job samples at a time, in one worker thread."""

    def __init__(self, cache: ResultCache | None = None, speed: SpeedBook | None = None, threads: int = 1):
        self.cache = cache if cache is not None else ResultCache()
        self.speed = speed if speed is not None else SpeedBook()
        self.threads = threads
        self._cond = threading.Condition(threading.RLock())  # listeners may call back (cancel)
        self._queue: list[Job] = []
        self._running: Job | None = None
        self._running_started = 0.0
        self._thread: threading.Thread | None = None
        self._numbers = itertools.count(1)
        #: (owner, job number) in the order jobs started (tests check fairness with it)
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
            self._queue.sort(key=lambda j: j.priority)  # stable: users first, each kind in order
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
                job.emit("cancelled", asked_at=job.steps_done, stopped_at=job.steps_done)
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

    def estimate(self, pipeline, runs) -> float:
        """Seconds of sampling of ``runs``, from the measured speed (0 for runs of ``pipeline`` in the cache)."""
        return sum(self.speed.seconds(run) for run in runs
                   if pipeline is None or self.cache.get(cache_key(pipeline, run)) is None)

    def job_seconds(self, job: Job) -> float:
        return self.estimate(job.pipeline, job.runs)

    def wait_ahead(self, owner: Hashable) -> float:
        """Seconds before a new job of ``owner`` would start: what runs now and the sessions' jobs queued ahead."""
        with self._cond:
            wait = 0.0
            if self._running is not None and self._running.owner != owner and self._running.priority == USER:
                wait += max(self.job_seconds(self._running) - (time.perf_counter() - self._running_started), 0.0)
            for job in self._queue:
                if job.owner != owner and job.priority == USER:
                    wait += self.job_seconds(job)
            return wait

    def busy(self) -> bool:
        with self._cond:
            return self._running is not None or bool(self._queue)

    # ------------------------------------------------------------------ worker side
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="seaice-sampler", daemon=True)
            self._thread.start()

    def _user_waiting(self) -> bool:
        with self._cond:
            return any(j.priority == USER for j in self._queue)

    def _announce(self) -> None:
        """Tell every queued session job its place and the wait before it starts (under the lock: in order)."""
        with self._cond:
            running = self._running
            wait = 0.0
            if running is not None and running.priority == USER:
                wait = max(self.job_seconds(running) - (time.perf_counter() - self._running_started), 0.5)
            for i, job in enumerate(self._queue):
                if job.priority != USER:
                    continue
                job.emit("queued", position=i + 1, wait=wait)
                wait += self.job_seconds(job)

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
                limit_torch_threads(job.pipeline, self.threads)
                self._run(job)
            except Preempted:
                with self._cond:  # back to the head of the background jobs; finished runs are cached
                    self._queue.append(job)
                    self._queue.sort(key=lambda j: j.priority)
            except Exception as err:  # a bug, not a sampling error: reported, and the queue goes on
                job.emit("panel_error", space="all", message=f"{type(err).__name__}: {err}")
                job.emit("done", seconds=time.perf_counter() - self._running_started)
            finally:
                with self._cond:
                    self._running = None
                self._announce()

    def _run(self, job: Job) -> None:
        start = time.perf_counter()
        if job.cancelled:
            job.emit("cancelled", asked_at=job.cancel_asked_at, stopped_at=job.steps_done)
            return
        for index, run in enumerate(job.runs):
            key = cache_key(job.pipeline, run)
            cached = self.cache.get(key)
            if cached is not None:
                job.emit("panel", space=run.space, datasets=cached, seconds=0.0, cached=True)
                continue
            if job.priority == BACKGROUND and self._user_waiting():
                raise Preempted()

            def callback(info: dict, index: int = index, run=run) -> None:
                if job.cancelled:
                    raise Cancelled()
                if job.priority == BACKGROUND and self._user_waiting():
                    raise Preempted()
                job.steps_done += 1
                job.emit("progress", space=run.space, decoders=run.decoders, run=index, runs=len(job.runs),
                         step=info["i"] + 1, steps=info["n"], batch=info["batch"] + 1, batches=info["batches"])
                if job.cancelled:  # the listener found the page gone
                    raise Cancelled()

            job.emit("progress", space=run.space, decoders=run.decoders, run=index, runs=len(job.runs), step=0,
                     steps=run.request.steps, batch=1, batches=1)
            t0 = time.perf_counter()
            try:
                out = sample_run(job.pipeline, run, callback)
            except Cancelled:
                job.emit("cancelled", asked_at=job.cancel_asked_at, stopped_at=job.steps_done)
                return
            except Preempted:
                raise
            except Exception as err:  # reported on that panel; the other spaces go on
                job.emit("panel_error", space=run.space, message=f"Sampling failed: {type(err).__name__}: {err}")
                continue
            seconds = time.perf_counter() - t0
            self.speed.record(run, seconds)
            self.cache.put(key, out)
            job.emit("panel", space=run.space, datasets=out, seconds=seconds, cached=False)
        job.emit("done", seconds=time.perf_counter() - start)


_QUEUES: dict[tuple, SamplingQueue] = {}
_QUEUES_LOCK = threading.Lock()


def shared_queue(config) -> SamplingQueue:
    """The process-wide queue every session of ``config``'s server uses (built on first use)."""
    key = (config.cache_size, config.torch_threads)
    with _QUEUES_LOCK:
        if key not in _QUEUES:
            _QUEUES[key] = SamplingQueue(ResultCache(config.cache_size), threads=config.torch_threads)
        return _QUEUES[key]
