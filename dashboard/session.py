"""One browser session's requests: estimate, budget, queue, cancel, and results applied as they arrive.

:class:`Session` turns the :class:`~dashboard.settings.Settings` into runs (``worker.plan``), shows their
estimated time before anything runs (measured speed; over the server's budget a request is refused with its
estimate), hands them to the shared queue and applies what comes back on the session's event loop
(``add_next_tick_callback``, the one Document method that is safe from another thread), panel by panel, into
the :class:`~dashboard.store.ResultStore`.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Callable

import param

from dashboard import selection, worker
from dashboard.generators import BY_KEY, SPACES_OF_PANELS
from dashboard.sampling import SamplingQueue
from dashboard.settings import Settings
from dashboard.store import ResultStore

#: Seconds between progress updates sent to the page (the first and last step of each run always go).
PROGRESS_INTERVAL = 0.2
_SESSION_IDS = itertools.count(1)
REQUEST_PARAMS = ["members", "seed", "sampler", "steps", "include_data", "no_ice_rule", "refine", "season", "date"]


class Session(param.Parameterized):
    """The request side of one page: status, progress, estimate; results go to ``store``."""

    status = param.String("", doc="What the sampler is doing for this page, in words")
    error = param.String("")
    running = param.Boolean(False, doc="This session has a request queued or sampling")
    queue_position = param.Integer(0, doc="Place in the queue (1 = next), 0 when not waiting")
    progress = param.Dict(default={}, doc="{space: (percent, text)} of the request being sampled")
    panel_errors = param.Dict(default={}, doc="{space: message} of runs that failed")
    estimate = param.String("", doc="Estimated sampling time of the controls' request")
    over_budget = param.Boolean(False)
    elapsed = param.Number(None, allow_None=True, doc="Seconds from click to results of the last request")
    cancelled_at = param.Dict(default={}, doc="{asked_at, stopped_at}: sampler steps when Cancel was asked and "
                                              "when the run stopped")

    settings = param.ClassSelector(class_=Settings, constant=True)
    store = param.ClassSelector(class_=ResultStore, constant=True)

    def __init__(self, pipeline: Any, settings: Settings, store: ResultStore, queue: SamplingQueue,
                 budget_s: float = float("inf"), **params):
        super().__init__(settings=settings, store=store, **params)
        self.pipeline, self.queue, self.budget_s = pipeline, queue, budget_s
        self._runs_left: dict[str, int] = {}
        self.session_id = f"session-{next(_SESSION_IDS)}"
        self.available = set(pipeline.available)
        self.load_errors = dict(getattr(pipeline, "errors", {}) or {})
        self.device = pipeline.device_name
        self._doc = None
        self._job: worker.Job | None = None
        self._job_done: threading.Event | None = None
        self._fresh = False
        self._last_report = 0.0
        self._started = 0.0
        self.status = f"Ready on {self.device}. Press Sample to generate an ensemble."
        self.update_estimate()

    # ------------------------------------------------------------------ what would run
    def can_sample(self, space: str) -> bool:
        return any(s == space for s, _ in self.available)

    def runs(self) -> list[worker.Run]:
        include = bool(self.settings.include_data and self.can_sample("data"))
        return worker.plan(self.available, self.settings.base_request(), include)

    def shown_request(self) -> dict:
        return dict(self.settings.wanted(), include_data=bool(self.settings.include_data and self.can_sample("data")))

    @param.depends(*(f"settings.{p}" for p in REQUEST_PARAMS), watch=True)
    def update_estimate(self) -> None:
        parts: dict[str, float] = {}
        for run in self.runs():
            label = BY_KEY[run.space].label(run.request.decoder) if run.space == "latent" else BY_KEY["data"].short
            parts[label] = self.queue.estimate(self.pipeline, [run])
        wait = self.queue.wait_ahead(self.session_id) if sum(parts.values()) > 0 else 0.0
        text, over = selection.estimate_text(parts, self.budget_s, wait)
        self.param.update(estimate=text, over_budget=over)

    # ------------------------------------------------------------------ sampling
    def sample(self, event=None) -> bool:
        """Ask for the controls' request: served at once from the cache, else queued. False if refused."""
        if self.settings.input_error:
            self.status = "Not sampled: " + self.settings.input_error
            return False
        runs = self.runs()
        if not runs:
            self.error = self.status = "No trained model in the checkpoints folder can be sampled."
            return False
        self.update_estimate()
        if self.over_budget:
            self.status = "Refused: " + self.estimate
            return False
        shown = self.shown_request()
        if self._job is not None and not self._job.cancelled and self._job.runs == runs \
                and self.queue.position(self._job) is not None:
            return False  # the same request is already queued or sampling (a double click)
        self._started = time.perf_counter()
        if self.serve_cached(runs, shown):
            return True
        self._doc = _session_doc()
        if self._job is not None:
            self._job.cancel()  # a request replaced before it finished is never shown
        job = worker.Job(self.session_id, self.pipeline, runs, shown=shown)
        job.listener = self._listener(job)
        self._job, self._job_done = job, threading.Event()
        self._begin(runs)
        self.status = "Queued…"
        self.queue.submit(job)
        return True

    def serve_cached(self, runs=None, shown: dict | None = None) -> bool:
        """Show a request at once if every one of its runs is in the cache (no queue, no thread)."""
        runs = self.runs() if runs is None else runs
        shown = self.shown_request() if shown is None else shown
        cached = [self.queue.cache.get(worker.cache_key(self.pipeline, run)) for run in runs]
        if not runs or any(c is None for c in cached):
            return False
        self._started = self._started or time.perf_counter()
        self.queue.cancel(self.session_id)
        self._job = None
        with param.parameterized.batch_call_watchers(self.store), param.parameterized.batch_call_watchers(self):
            self._begin(runs)
            for run, datasets in zip(runs, cached):
                self._on_panel(shown, run.space, datasets)
            self._on_done(shown, time.perf_counter() - self._started, cached=True)
        self._started = 0.0
        return True

    def _begin(self, runs) -> None:
        self._fresh = True  # the first panel of this request replaces the old results
        self._runs_left = {space: sum(1 for r in runs if r.space == space) for space in {r.space for r in runs}}
        self.param.update(error="", running=True, panel_errors={}, cancelled_at={},
                          progress={run.space: (0, "waiting") for run in runs})

    def wait(self, timeout: float | None = None) -> None:
        """Block until this session's request has finished and its results are applied (tests)."""
        if self._job_done is not None and not self._job_done.wait(timeout):
            raise TimeoutError(f"sampling did not finish within {timeout} s")

    def cancel(self, event=None) -> None:
        """Stop this session's work: a queued request at once, a running one at its next sampler step."""
        self.queue.cancel(self.session_id)

    def on_session_destroyed(self, session_context) -> None:
        """Bokeh's session-destroyed hook (bound to this session, so it needs no module global)."""
        self._doc = None
        self.cancel()

    # ------------------------------------------------------------------ events from the worker thread
    def _listener(self, job: worker.Job) -> Callable[[str, dict], None]:
        def listen(kind: str, info: dict) -> None:  # worker thread
            if kind in ("queued", "progress") and _page_gone(self._doc):
                job.cancel()  # the tab closed or reloaded: stop at this step, not when Bokeh reaps the session
                return
            if kind == "progress":
                now = time.perf_counter()
                if 0 < info["step"] < info["steps"] and now - self._last_report < PROGRESS_INTERVAL:
                    return
                self._last_report = now
            try:
                self.dispatch(lambda: self._on_event(job, kind, info))
            finally:
                if kind in ("done", "cancelled") and job is self._job and self._job_done is not None:
                    self._job_done.set()
        return listen

    def dispatch(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the session's event loop (or right here when there is no server document)."""
        doc = self._doc
        if doc is None:
            fn()
            return
        from panel.io.state import set_curdoc

        def wrapped() -> None:
            with set_curdoc(doc):
                fn()
        try:
            doc.add_next_tick_callback(wrapped)
        except Exception:  # the session is gone
            self.cancel()

    def _on_event(self, job: worker.Job, kind: str, info: dict) -> None:
        if job is not self._job:
            return  # a replaced request
        if kind == "queued":
            self.param.update(queue_position=info["position"], status=selection.queue_text(info["position"],
                                                                                             info["wait"]))
        elif kind == "start":
            self.param.update(queue_position=0, status="Sampling…")
        elif kind == "progress":
            label = self._label(info["space"], info["decoders"])
            text = selection.progress_text(label, info["step"], info["steps"], info["batch"], info["batches"])
            percent = int(100 * ((info["batch"] - 1) * info["steps"] + info["step"])
                          / max(info["batches"] * info["steps"], 1))
            runs = [i for i, r in enumerate(job.runs) if r.space == info["space"]]
            if len(runs) > 1:  # latent: one run per decoder, one progress line
                percent = (100 * runs.index(info["run"]) + percent) // len(runs)
            self.param.update(progress=dict(self.progress, **{info["space"]: (min(percent, 99), text)}),
                              queue_position=0,
                              status=f"Sampling… {text}, {time.perf_counter() - self._started:.1f} s")
        elif kind == "panel":
            self._on_panel(job.shown, info["space"], info["datasets"])
        elif kind == "panel_error":
            if info["space"] == "all":
                self.error = info["message"]
            else:
                self.panel_errors = dict(self.panel_errors, **{info["space"]: info["message"]})
        elif kind == "done":
            self._on_done(job.shown, time.perf_counter() - self._started)
        elif kind == "cancelled":
            asked, stopped = info.get("asked_at"), info.get("stopped_at")
            self.param.update(running=False, queue_position=0, progress={}, cancelled_at={"asked_at": asked,
                                                                                           "stopped_at": stopped},
                              status=_cancel_text(asked, stopped))

    def _label(self, space: str, decoders) -> str:
        return BY_KEY[space].label(decoders[0]) if space == "latent" else BY_KEY[space].short

    def _on_panel(self, shown: dict, space: str, datasets: dict) -> None:
        """One space's ensembles are ready: show them now (the first of a request replaces the old results)."""
        first, self._fresh = self._fresh, False
        with param.parameterized.batch_call_watchers(self.store):
            if first:
                self.store.clear(shown)
            self.store.put(space, dict(datasets))
        self._runs_left[space] = self._runs_left.get(space, 1) - 1
        if self._runs_left[space] <= 0:
            self.progress = dict(self.progress, **{space: (100, "done")})

    def _on_done(self, shown: dict, elapsed: float, cached: bool = False) -> None:
        parts = ", ".join(f"{BY_KEY[p].short} {self._run_seconds(space):.1f} s"
                          for p, space in SPACES_OF_PANELS.items() if space in self.store.results)
        failed = "; ".join(f"{space}: {msg}" for space, msg in self.panel_errors.items())
        how = "from the cache" if cached else parts or "nothing sampled"
        self.param.update(elapsed=elapsed, queue_position=0, running=False,
                          status=(f"Done: {shown['members']} members, seed {shown['seed']}, {shown['sampler']}, "
                                  f"{shown['steps']} steps, {selection.day_label(shown['date'])} in {elapsed:.1f} s "
                                  f"on {self.device} ({how})." + (f" Failed: {failed}" if failed else "")),
                          error=failed or self.error)
        self.update_estimate()  # the speed is measured now, and this request is in the cache

    def _run_seconds(self, space: str) -> float:
        seconds = [float(ds.attrs.get("seconds", 0.0)) for ds in self.store.results.get(space, {}).values()]
        return sum(seconds) if space == "latent" else max(seconds, default=0.0)


def _cancel_text(asked: int | None, stopped: int | None) -> str:
    if asked is None or stopped is None:
        return "Cancelled."
    return f"Cancelled: asked after {asked} sampler steps, stopped after {stopped}."


def _session_doc():
    """The server document of the current session, or None (tests, notebooks)."""
    try:
        import panel as pn
    except ImportError:  # pragma: no cover
        return None
    doc = pn.state.curdoc
    return doc if doc is not None and doc.session_context is not None else None


def _page_gone(doc) -> bool:
    """Whether this session's page has no open connection any more (closed or reloaded tab).

    Bokeh calls session-destroyed hooks only when it reaps unused sessions (15-17 s later by default); the
    connection count drops at once. Public Bokeh API: the application context's ``get_session``.
    """
    context = getattr(doc, "session_context", None) if doc is not None else None
    if context is None:
        return False
    try:
        session = context.server_context.application_context.get_session(context.id)
    except Exception:  # already discarded
        return True
    return session.connection_count == 0
