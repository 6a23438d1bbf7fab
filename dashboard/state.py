"""The dashboard's state: one ``param.Parameterized`` per browser session (request, display, results).

Sampling itself is in :mod:`dashboard.worker` (shared pipeline, result cache, fair queue); the rules for
choosing reference states and the display strings are pure functions in :mod:`dashboard.selection`; the
netCDF download is :mod:`dashboard.export`. This class ties them to one session: it turns widget values
into a request, hands it to the queue, and applies what comes back on the session's event loop
(``add_next_tick_callback``, the one Document method that is safe from another thread), panel by panel.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from functools import partial
from typing import Any, Callable

import numpy as np
import param
import xarray as xr

from dashboard import export, selection, worker
from dashboard.selection import PANELS
from dashboard.views import DISPLAY_VARIABLES, VIEWS, contour_field
from seaice_ldm.options import (
    DECODERS, DEFAULT_MEMBERS, DEFAULT_SAMPLER, DEFAULT_STEPS, MAX_MEMBERS, MAX_SEED, MAX_STEPS, RANDOM_DATES, SAMPLERS,
    SPACES,
)

#: Seconds between progress updates sent to the page (the first and last step of each run always go).
PROGRESS_INTERVAL = 0.2
_SESSION_IDS = itertools.count(1)


def default_date(pipeline) -> dt.date | None:
    """The reference date a new page opens on: the middle held-out date."""
    dates = selection.reference_dates(pipeline.reference)
    return dates[len(dates) // 2] if dates else None


def default_request(pipeline) -> dict:
    """The request a new page opens with (the server samples it once at start, see app_hooks.py)."""
    date = default_date(pipeline) if getattr(pipeline, "date_conditioned", False) else None
    return dict(worker.DEFAULT_REQUEST, date=None if date is None else date.isoformat())


class DashboardState(param.Parameterized):
    """Everything one browser session sees and can change; views are functions of this state."""

    # sampling request
    members = param.Integer(DEFAULT_MEMBERS, bounds=(1, MAX_MEMBERS), doc="Ensemble members")
    seed = param.Integer(0, bounds=(0, MAX_SEED), doc="Random seed (same seed, same ensemble)")
    seed_input = param.String("0", doc="The seed box as typed; a valid whole number sets `seed`")
    sampler = param.Selector(default=DEFAULT_SAMPLER, objects=list(SAMPLERS), doc="ODE sampler")
    steps = param.Integer(DEFAULT_STEPS, bounds=(1, MAX_STEPS), doc="Sampler steps")
    include_data = param.Boolean(True, doc="Also sample the data-space diffusion baseline")
    conditioned = param.Boolean(True, doc="Sample for the reference date (date-conditioned models) or all seasons")
    # display
    decoder = param.Selector(default="censored", objects=list(DECODERS), doc="Decoder shown")
    variable = param.Selector(default="sic", objects=list(DISPLAY_VARIABLES), doc="Variable shown")
    view = param.Selector(default="member", objects=list(VIEWS), doc="View of the ensemble")
    member = param.Integer(0, bounds=(0, DEFAULT_MEMBERS - 1), doc="Member shown in the 'One member' view")
    arrows = param.Boolean(False, doc="Draw drift arrows")
    reference_mode = param.Selector(default="date", objects=["date", "nearest"],
                                    doc="Reference state: by date, or the held-out state nearest the latent sample")
    reference_date = param.CalendarDate(default=None, allow_None=True, doc="Date of the reference state")
    reference_index = param.Integer(0, bounds=(0, None), doc="Index of the reference state (nearest the date)")
    # outputs (set by the state itself)
    results = param.Dict(default={}, doc="{space: {decoder: Dataset}} of the last request, as they arrive")
    request = param.Dict(default={}, doc="The request that produced `results`")
    running = param.Boolean(False, doc="This session has a request queued or sampling")
    queue_position = param.Integer(0, doc="Place in the queue (1 = next), 0 when not waiting")
    progress = param.Integer(0, bounds=(0, 100))
    panel_progress = param.Dict(default={}, doc="{space: percent} of the request being sampled")
    panel_errors = param.Dict(default={}, doc="{space: message} of runs that failed")
    status = param.String("")
    error = param.String("")
    input_error = param.String("", doc="Why the last typed value was refused (empty when all inputs are valid)")
    notices = param.List(default=[], doc="Link arguments that were ignored, and why")
    elapsed = param.Number(None, allow_None=True, doc="Seconds from click to results of the last run")
    version = param.Integer(0, doc="Increases with every new result")
    latent_version = param.Integer(0, doc="Increases when the latent panel's ensembles change")
    data_version = param.Integer(0, doc="Increases when the data-space panel's ensembles change "
                                        "(a plot of one panel can redraw on its own version only)")

    def __init__(self, pipeline: Any, queue: worker.SamplingQueue | None = None, **params):
        super().__init__(**params)
        self.pipeline = pipeline
        self.queue = queue or worker.QUEUE
        self.session_id = f"session-{next(_SESSION_IDS)}"
        self._doc = None
        self._job: worker.Job | None = None
        self._job_done: threading.Event | None = None
        self._fresh = False
        self._last_report = 0.0
        self._started = 0.0
        self.available = set(pipeline.available)
        self.load_errors = dict(getattr(pipeline, "errors", {}) or {})
        self.date_supported = bool(getattr(pipeline, "date_conditioned", False))
        if not self.date_supported:
            self.conditioned = False
        self.device = str(pipeline.device)
        self.reference = pipeline.reference
        self.synthetic = bool(pipeline.synthetic)
        self.dates = selection.reference_dates(self.reference)
        n_ref = 0 if self.reference is None else int(self.reference.sizes.get("time", 0))
        self.param.reference_index.bounds = (0, max(n_ref - 1, 0))
        if self.dates:
            self.param.reference_date.bounds = (min(self.dates), max(self.dates))
            if self.reference_date is None:
                self.reference_date = default_date(pipeline)
            else:
                self._snap_date()
        grid = pipeline.grid
        self.grid_label = f"{grid.ny} x {grid.nx}, {grid.dx / 1000:g} km {grid.crs}"
        x, y = np.asarray(grid.x), np.asarray(grid.y)
        self.x, self.y = x, y
        self.land = ~np.asarray(pipeline.ocean, dtype=bool)
        coords = pipeline.coords()
        self.lat = np.asarray(coords["lat"].values if hasattr(coords["lat"], "values") else coords["lat"][1])
        self.lon = np.asarray(coords["lon"].values if hasattr(coords["lon"], "values") else coords["lon"][1])
        area = coords["cell_area"]
        self.cell_area = np.asarray(area.values if hasattr(area, "values") else area[1])
        self.seed_input = str(self.seed)
        self.link_region: str | None = None
        self.status = f"Ready on {self.device.upper()}. Press Sample to generate an ensemble."

    # ------------------------------------------------------------------ input
    @param.depends("seed_input", watch=True)
    def _parse_seed(self) -> None:
        value, why = selection.parse_int(self.seed_input, "Seed", 0, MAX_SEED)
        if value is None:
            self.input_error = f"{why}. Sample stays off until the seed is valid (last valid seed: {self.seed})."
        else:
            self.input_error = ""
            self.seed = value

    @param.depends("seed", watch=True)
    def _show_seed(self) -> None:
        if selection.parse_int(self.seed_input, "Seed", 0, MAX_SEED)[0] != self.seed:
            self.seed_input = str(self.seed)

    def apply_query(self, args: dict[str, list[bytes]] | None) -> bool | None:
        """Apply a page's URL arguments (shareable links); invalid ones are listed in ``notices``.

        Returns the ``autosample`` choice of the link (None when it has none).
        """
        values, notices, autosample = selection.parse_query(args, DISPLAY_VARIABLES, VIEWS)
        #: a named map region from the link, for the map area (which owns the region choice)
        self.link_region = values.pop("region", None)
        if "conditioned" in values and not self.date_supported:
            values.pop("conditioned")
        if "reference_date" in values:
            if not self.dates:
                notices.append("date= ignored: no held-out reference dates")
                values.pop("reference_date")
            else:
                day = values["reference_date"]
                lo, hi = min(self.dates), max(self.dates)
                if not lo <= day <= hi:
                    notices.append(f"date={day} is outside the reference ({lo} to {hi}): the nearest is used")
                    values["reference_date"] = min(max(day, lo), hi)
                if self.date_supported:
                    values.setdefault("conditioned", True)
        if "include_data" in values and not self.can_sample("data"):
            values.pop("include_data")
        self.param.update(**values)
        self.notices = notices
        return autosample

    # ------------------------------------------------------------------ what can be sampled
    def can_sample(self, space: str, decoder: str | None = None) -> bool:
        """Whether ``space`` (with ``decoder``, or any) has a loaded generator; data space serves both decoders."""
        if space == "data":
            return any(s == "data" for s, _ in self.available)
        return any(("latent", d) in self.available for d in ([decoder] if decoder else DECODERS))

    def request_date(self) -> str | None:
        """The date the next request samples for; all seasons: random dates with date-conditioned models (each
        member for its own day, spread over the year: their date-dropped path is the weaker one), else None."""
        if not self.date_supported:
            return None
        if self.conditioned and self.reference_date is not None:
            return self.reference_date.isoformat()
        return RANDOM_DATES

    def current_request(self) -> dict:
        return {"members": int(self.members), "seed": int(self.seed), "sampler": self.sampler,
                "steps": int(self.steps), "include_data": bool(self.include_data and self.can_sample("data")),
                "date": self.request_date(), "guidance": 1.0}

    # ------------------------------------------------------------------ sampling
    def sample(self, event=None) -> bool:
        """Ask for the current request: served at once from the cache, else queued. False if refused."""
        if self.input_error:
            self.status = "Not sampled: " + self.input_error
            return False
        request = self.current_request()
        runs = worker.plan(self.available, request["include_data"])
        if not runs:
            self.error = "No trained model in the checkpoints folder can be sampled."
            self.status = self.error
            return False
        if self._job is not None and not self._job.cancelled and self._job.request == request \
                and self.queue.position(self._job) is not None:
            return False  # the same request is already queued or sampling (a double click)
        self._started = time.perf_counter()
        if self.serve_cached(request, runs):
            return True
        try:
            import panel as pn

            doc = pn.state.curdoc
        except ImportError:  # pragma: no cover
            doc = None
        self._doc = doc if doc is not None and doc.session_context is not None else None
        if self._job is not None:
            self._job.cancel()  # a request replaced before it finished is never shown
        job = worker.Job(self.session_id, self.pipeline, request, runs)
        job.listener = self._listener(job)
        self._job = job
        self._job_done = threading.Event()
        self._begin(request, runs)
        self.status = "Queued…"
        self.queue.submit(job)
        return True

    def serve_cached(self, request: dict | None = None, runs=None) -> bool:
        """Show a request at once if every one of its runs is in the cache (no queue, no thread)."""
        request = request or self.current_request()
        runs = runs if runs is not None else worker.plan(self.available, request["include_data"])
        cached = [self.queue.cache.get(worker.cache_key(self.pipeline, run, request)) for run in runs]
        if not runs or any(c is None for c in cached):
            return False
        start = time.perf_counter()
        self.queue.cancel(self.session_id)
        self._job = None
        with param.parameterized.batch_call_watchers(self):  # all panels in one redraw, not one per run
            self._begin(request, runs)
            for run, datasets in zip(runs, cached):
                self._on_panel(request, run.space, datasets, 0.0, True)
            self._on_done(request, time.perf_counter() - start, cached=True)
        return True

    def _begin(self, request: dict, runs) -> None:
        self._fresh = True  # the first panel of this request replaces the old results
        self.param.update(error="", progress=0, running=True, panel_errors={},
                          panel_progress={run.space: 0 for run in runs})

    def wait(self, timeout: float | None = None) -> None:
        """Block until this session's request has finished and its results are applied (tests)."""
        if self._job_done is not None and not self._job_done.wait(timeout):
            raise TimeoutError(f"sampling did not finish within {timeout} s")

    def cancel(self) -> None:
        """Stop this session's work: a queued request at once, a running one at its next sampler step."""
        self.queue.cancel(self.session_id)

    def on_session_destroyed(self, session_context) -> None:
        """Bokeh's session-destroyed hook (bound to this state, so it needs no module global)."""
        self._doc = None
        self.cancel()

    def _listener(self, job: worker.Job) -> Callable[[str, dict], None]:
        def listen(kind: str, info: dict) -> None:  # worker thread
            if kind in ("queued", "progress") and self._page_gone():
                job.cancel()  # the tab closed or reloaded: stop at this step, not when Bokeh reaps the session
                return
            if kind == "progress":
                now = time.perf_counter()
                if 0.0 < info["done"] < 1.0 and now - self._last_report < PROGRESS_INTERVAL:
                    return
                self._last_report = now
            try:
                self._dispatch(lambda: self._on_event(job, kind, info))
            finally:
                if kind in ("done", "cancelled") and job is self._job and self._job_done is not None:
                    self._job_done.set()

        return listen

    def _page_gone(self) -> bool:
        """Whether this session's page has no open connection any more (closed or reloaded tab).

        Bokeh calls session-destroyed hooks only when it reaps unused sessions (15-17 s later by default);
        the connection count drops at once.
        """
        doc = self._doc
        session = getattr(getattr(doc, "session_context", None), "_session", None) if doc is not None else None
        return session is not None and getattr(session, "connection_count", 1) == 0

    def _dispatch(self, fn: Callable[[], None]) -> None:
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
        """On the event loop: one event of this session's current job."""
        if job is not self._job:
            return  # a replaced request
        if kind == "queued":
            self.param.update(queue_position=info["position"],
                              status=selection.queue_text(info["position"], info["wait"]))
        elif kind == "start":
            self.param.update(queue_position=0, status="Sampling…")
        elif kind == "progress":
            panels = dict(self.panel_progress, **{info["space"]: min(int(100 * info["done"]), 99)})
            percent = int(round(100 * (info["run"] + min(info["done"], 1.0)) / max(info["runs"], 1)))
            self.param.update(panel_progress=panels, progress=min(percent, 99),
                              status=f"Sampling… {info['text']} ({time.perf_counter() - self._started:.1f} s)")
        elif kind == "panel":
            self._on_panel(job.request, info["space"], info["datasets"], info["seconds"], info["cached"])
        elif kind == "panel_error":
            if info["space"] == "all":
                self.error = info["message"]
            else:
                self.panel_errors = dict(self.panel_errors, **{info["space"]: info["message"]})
        elif kind == "done":
            self._on_done(job.request, time.perf_counter() - self._started)
        elif kind == "cancelled":
            self.param.update(running=False, queue_position=0, progress=0, panel_progress={}, status="Cancelled.")

    def _on_panel(self, request: dict, space: str, datasets: dict, seconds: float, cached: bool) -> None:
        """One space's ensembles are ready: show them now (the first of a request replaces the old results)."""
        first, self._fresh = self._fresh, False
        members = request["members"]
        with param.parameterized.batch_call_watchers(self):
            if first:
                self.param.member.bounds = (0, members - 1)
                if self.member >= members:
                    self.member = members - 1
                self.results = {space: dict(datasets)}
                self.request = dict(request, device=self.device)
            else:
                self.results = {**self.results, space: {**self.results.get(space, {}), **datasets}}
            self.panel_progress = dict(self.panel_progress, **{space: 100})
            if self.reference_mode == "nearest" and space == "latent":
                self._update_nearest()
            setattr(self, f"{space}_version", getattr(self, f"{space}_version") + 1)
            if not first or not cached:
                self.version += 1
            if first and not cached:  # a new request empties the other panel now (its results are far off)
                self._empty_other_panels(space)
        if first and cached:  # every panel is ready: the first is drawn and sent on its own tick, the rest next
            self._dispatch(partial(self._after_first_panel, space))

    def _empty_other_panels(self, space: str) -> None:
        for other in SPACES:  # unless its own results came in meanwhile (with their own redraw)
            if other != space and other not in self.results:
                setattr(self, f"{other}_version", getattr(self, f"{other}_version") + 1)

    def _after_first_panel(self, space: str) -> None:
        """A cached request's first panel is shown: empty the other model panel and redraw what follows every
        result (reference, spectra, run line)."""
        with param.parameterized.batch_call_watchers(self):
            self._empty_other_panels(space)
            self.version += 1

    def _on_done(self, request: dict, elapsed: float, cached: bool = False) -> None:
        seconds = ", ".join(f"{space} {self._run_seconds(space):.1f} s" for space in self.results)
        failed = "; ".join(f"{space}: {msg}" for space, msg in self.panel_errors.items())
        date = selection.date_label(request.get("date"))
        with param.parameterized.batch_call_watchers(self):
            self.elapsed = elapsed
            self.progress = 100
            self.queue_position = 0
            self.status = (f"Done: {request['members']} members, seed {request['seed']}, {request['sampler']}, "
                           f"{request['steps']} steps, {date} in {elapsed:.1f} s on {self.device.upper()} "
                           f"({'from the cache' if cached else seconds or 'nothing sampled'})."
                           + (f" Failed: {failed}" if failed else ""))
            if failed:
                self.error = failed
            self.running = False

    def _run_seconds(self, space: str) -> float:
        """Sampling seconds of one space: latent decoders are separate runs, data space is one run."""
        seconds = [float(ds.attrs.get("seconds", 0.0)) for ds in self.results.get(space, {}).values()]
        return sum(seconds) if space == "latent" else max(seconds, default=0.0)

    # ------------------------------------------------------------------ reference selection
    @param.depends("reference_date", watch=True)
    def _snap_date(self) -> None:
        """The reference state nearest (in time) to the chosen date."""
        if not self.dates or self.reference_date is None:
            return
        index = selection.nearest_date_index(self.dates, self.reference_date)
        if self.reference_mode == "date" and index != self.reference_index:
            self.reference_index = index

    @param.depends("reference_mode", "member", "view", watch=True)
    def _update_nearest(self) -> None:
        if self.reference_mode == "nearest":
            index = self.nearest_reference()
            if index is not None:
                self.reference_index = index
        else:
            self._snap_date()

    def nearest_reference(self, k: int = 1) -> int | np.ndarray | None:
        """The held-out state(s) nearest the latent sample: area-weighted RMSE of sic over the ocean.

        Compared with the shown member in the 'One member' view, else with the ensemble-mean sic. Returns
        the nearest index (``k == 1``) or the ``k`` nearest indices, nearest first.
        """
        ds = self.panel_dataset("latent")
        if ds is None or self.reference is None:
            return None
        target = contour_field(ds, self.view, self.member)
        rmse = selection.area_rmse(np.asarray(self.reference["sic"].values), target, self.cell_area)
        order = np.argsort(rmse, kind="stable")
        return int(order[0]) if k == 1 else order[:k]

    def shown_date(self) -> str | None:
        """The date of the shown ensembles (None: all seasons); the next request's before any result."""
        for space in SPACES:
            for ds in self.results.get(space, {}).values():
                date = ds.attrs.get("date")
                return None if selection.date_label(date) == selection.ALL_SEASONS else str(date)
        return self.request_date()

    def reference_selection(self) -> tuple[xr.Dataset, str] | None:
        """The reference states shown, and a sentence saying which.

        One state in the 'One member' view (nearest the chosen date, or nearest the latent member). In the
        ensemble views like is compared with like: for a date-conditioned ensemble, the held-out states
        within ``SEASON_WINDOW_DAYS`` of its day of the year; for an all-seasons ensemble, every held-out
        state; in 'nearest' mode, as many states as members nearest the latent ensemble mean in sic.
        """
        if self.reference is None:
            return None
        n = int(self.reference.sizes["time"])
        index = min(self.reference_index, n - 1)
        when = self.dates[index].isoformat() if self.dates else f"#{index}"
        nearest_mode = self.reference_mode == "nearest" and self.panel_dataset("latent") is not None
        if self.view == "member":
            how = "nearest to the latent member in sic RMSE" if nearest_mode else "nearest to the chosen date"
            return self.reference.isel(time=[index]), f"{when} ({how})"
        if nearest_mode:
            k = int(self.request.get("members", self.members))
            chosen = np.sort(self.nearest_reference(max(k, 2))[:k])
            return self.reference.isel(time=chosen), (f"{len(chosen)} states nearest to the latent ensemble mean "
                                                      f"in sic RMSE (best: {when})")
        date = self.shown_date()
        if date is None or not self.dates:
            return self.reference, f"all {n} held-out states (all seasons, like the ensemble)"
        day = selection.parse_date(date)
        chosen = selection.season_window(self.dates, day)
        return self.reference.isel(time=chosen), (f"{len(chosen)} states within ±{selection.SEASON_WINDOW_DAYS} "
                                                  f"days of {day:%d %b} (the ensemble's date)")

    # ------------------------------------------------------------------ what each panel shows
    def panel_dataset(self, panel: str) -> xr.Dataset | None:
        """The ensemble (member, y, x) of a panel for the shown decoder; the reference states for 'reference'."""
        if panel == "reference":
            selected = self.reference_selection()
            return None if selected is None else selected[0]
        return self.results.get(panel, {}).get(self.decoder)

    def load_error(self, panel: str) -> str | None:
        """Why the model behind a panel could not be loaded (for the shown decoder), if it could not."""
        if panel == "latent":
            return self.load_errors.get(("latent", self.decoder))
        if panel == "data":
            return next((msg for (space, _), msg in self.load_errors.items() if space == "data"), None)
        return self.load_errors.get(("reference", "reference.nc"))

    def panel_note(self, panel: str) -> str:
        """Why a panel is empty, or what it shows."""
        broken = self.load_error(panel)
        if panel == "reference":
            if broken:
                return f"Reference not loaded: {broken}"
            selected = self.reference_selection()
            return "no reference.nc in the checkpoints" if selected is None else f"Held-out state: {selected[1]}"
        if broken and not self.can_sample(panel, self.decoder if panel == "latent" else None):
            return f"Model not loaded: {broken}"
        if panel == "data" and not self.can_sample("data"):
            return "no data-space model (ddm) in the checkpoints"
        if panel == "latent" and ("latent", self.decoder) not in self.available:
            return f"no latent model for the {self.decoder} decoder"
        if panel in self.panel_errors:
            return self.panel_errors[panel]
        ds = self.panel_dataset(panel)
        if ds is None:
            if self.running and panel in self.panel_progress:
                return f"sampling… {self.panel_progress[panel]} %"
            if panel == "data" and self.results and not self.request.get("include_data", True):
                return "not sampled (tick 'data-space baseline')"
            return "press Sample"
        return selection.ensemble_note(ds, panel, self.decoder)

    def panel_title(self, panel: str) -> str:
        """Map title: model (and decoder), variable and view, and the date or "all seasons"."""
        if panel == "reference":
            selected = self.reference_selection()
            if selected is None:
                when = "none"
            elif self.view == "member" or self.reference_mode == "nearest":
                when = selection.date_label(
                    self.dates[min(self.reference_index, len(self.dates) - 1)].isoformat() if self.dates else None)
            else:
                date = self.shown_date()
                when = selection.ALL_SEASONS if date is None else f"±{selection.SEASON_WINDOW_DAYS} d of {date[5:]}"
        else:
            ds = self.panel_dataset(panel)
            when = selection.date_label(ds.attrs.get("date") if ds is not None else self.request_date())
        return selection.panel_title(panel, self.decoder, self.variable, self.view, self.member, when)

    # ------------------------------------------------------------------ download
    def ensemble_dataset(self) -> xr.Dataset | None:
        return export.ensemble_dataset(self.results, self.synthetic, getattr(self.pipeline, "grid", None))

    def download_filename(self) -> str:
        return export.download_filename(self.request or self.current_request())

    def netcdf_bytes(self):
        return export.netcdf_bytes(self.ensemble_dataset())


__all__ = ["DashboardState", "PANELS", "default_request"]
