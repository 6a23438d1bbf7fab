"""The dashboard's state: one Parameterized class per browser session, plus the shared pipeline.

- The trained models load once per server process (:func:`get_pipeline`, a module global behind a
  lock) and are shared read-only by every session. Sampling runs in a worker thread, never on the
  server's event loop; a process-wide semaphore lets one ensemble be sampled at a time (a second
  session waits its turn instead of halving everyone's CPU), and a session never starts a second run
  while its own is going.
- Each session has its own :class:`DashboardState` with its own results: nothing generated is stored at
  module level.
- Results come back to the session's Bokeh document through ``add_next_tick_callback`` (the one
  Document method that is safe from another thread), so widgets and plots are only touched on the
  event loop.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import numpy as np
import param
import xarray as xr

from dashboard import views

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHECKPOINTS = REPO_ROOT / "checkpoints"
SAMPLERS = ("dpmpp2m", "heun", "euler")
# The decoder toggle (seaice_ldm.models.DECODERS; spelt out so the page builds before torch is imported)
DECODERS = ("censored", "gaussian")
# `seaice-ldm benchmark` (docs/benchmark.json): the cheapest setting within 5 % of the best CRPS in both spaces
DEFAULTS = {"members": 8, "steps": 10, "sampler": "dpmpp2m", "seed": 0}
MAX_MEMBERS = 64
MAX_STEPS = 100
PANELS = ("latent", "data", "reference")
PANEL_TITLES = {"latent": "Latent diffusion", "data": "Data-space diffusion", "reference": "Reference (held out)"}

# ----------------------------------------------------------------------------------------- shared
_PIPELINE_LOCK = threading.Lock()
_PIPELINE: Any = None
_LOAD_SECONDS: float | None = None
#: Sampling jobs of all sessions run here; at most one samples at a time (see _SAMPLING_SLOT).
_EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="seaice-sample")
_SAMPLING_SLOT = threading.Semaphore(1)
#: torch CPU threads for sampling: all cores but one, which stays free for the server's event loop (and
#: avoids OpenMP oversubscription, which made a 2-core machine 15x slower with other jobs running).
TORCH_THREADS = int(os.environ.get("SEAICE_DASHBOARD_TORCH_THREADS", 0)) or max(1, (os.cpu_count() or 2) - 1)


def checkpoints_dir() -> Path:
    """Where the shipped models are: ``$SEAICE_LDM_CHECKPOINTS`` or ``<repo>/checkpoints``."""
    return Path(os.environ.get("SEAICE_LDM_CHECKPOINTS", DEFAULT_CHECKPOINTS))


def get_pipeline(loader: Callable[..., Any] | None = None):
    """The process-wide pipeline, loaded on first use (cuda if available, else cpu).

    ``$SEAICE_LDM_DEVICE`` forces a device. Errors are not cached: a later session retries (models may
    be copied in while the server runs).
    """
    global _PIPELINE, _LOAD_SECONDS
    with _PIPELINE_LOCK:
        if _PIPELINE is None:
            if loader is None:
                from seaice_ldm import load_pipeline as loader
            start = time.perf_counter()
            _PIPELINE = loader(checkpoints_dir(), device=os.environ.get("SEAICE_LDM_DEVICE") or None)
            _LOAD_SECONDS = time.perf_counter() - start
        return _PIPELINE


def set_pipeline(pipeline: Any) -> None:
    """Replace the shared pipeline (tests, or an app that loads its own)."""
    global _PIPELINE
    with _PIPELINE_LOCK:
        _PIPELINE = pipeline


def load_seconds() -> float | None:
    return _LOAD_SECONDS


class Cancelled(Exception):
    """Raised inside the sampler's progress callback to stop a run (session closed)."""


# ----------------------------------------------------------------------------------------- helpers
def _to_date(value) -> dt.date | None:
    try:
        return np.datetime64(value, "D").astype(dt.date)
    except (TypeError, ValueError):
        return None


def reference_dates(reference: xr.Dataset | None) -> list[dt.date] | None:
    """The reference times as dates, or None when there is no reference or its times are not dates."""
    if reference is None or "time" not in reference.coords:
        return None
    values = reference["time"].values
    if np.issubdtype(values.dtype, np.datetime64):
        return [d.astype("datetime64[D]").astype(dt.date) for d in values]
    try:  # cftime objects
        return [dt.date(v.year, v.month, v.day) for v in values]
    except AttributeError:
        return None


def nearest_indices(values: np.ndarray, target: float, k: int) -> np.ndarray:
    """Indices of the ``k`` values nearest ``target`` (ties: earlier first), sorted by distance."""
    order = np.argsort(np.abs(np.asarray(values, dtype=np.float64) - target), kind="stable")
    return order[: max(1, min(k, len(order)))]


def _coastline(grid, land: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The coastline as one NaN-separated (n, 2) path in metres, from the shipped land mask (no download)."""
    from seaice_ldm.data import coastline_segments, load_land_mask

    try:
        fraction = load_land_mask(grid).land_fraction
    except Exception:  # a grid without a shipped mask: the pipeline's own land cells
        fraction = land.astype(np.float32)
    return views.coastline_path(*coastline_segments(fraction, x, y))


def _area_rmse(sic: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Area-weighted RMSE over ocean cells between each ``sic[t]`` and ``target``."""
    ok = np.isfinite(target) & np.isfinite(sic).all(axis=0) & np.isfinite(weight)
    w = weight[ok] / weight[ok].sum()
    return np.sqrt(((sic[:, ok] - target[ok]) ** 2 * w).sum(axis=1))


def _limit_torch_threads(pipeline) -> None:
    """Cap torch's CPU threads (see TORCH_THREADS) when the models run on the CPU; set in the worker thread."""
    if getattr(getattr(pipeline, "device", None), "type", "cpu") != "cpu":
        return
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    if torch.get_num_threads() != TORCH_THREADS:
        torch.set_num_threads(TORCH_THREADS)


def _run_seconds(space: str, per_decoder: dict[str, xr.Dataset]) -> float:
    """Sampling seconds of one space: latent decoders are separate runs, data space is one run."""
    seconds = [float(ds.attrs.get("seconds", 0.0)) for ds in per_decoder.values()]
    return sum(seconds) if space == "latent" else max(seconds, default=0.0)


# ----------------------------------------------------------------------------------------- state
class DashboardState(param.Parameterized):
    """Everything one browser session sees and can change; views are functions of this state."""

    # sampling request
    members = param.Integer(DEFAULTS["members"], bounds=(1, MAX_MEMBERS), doc="Ensemble members")
    seed = param.Integer(DEFAULTS["seed"], bounds=(0, 2**31 - 1), doc="Random seed (same seed, same ensemble)")
    sampler = param.Selector(default=DEFAULTS["sampler"], objects=list(SAMPLERS), doc="ODE sampler")
    steps = param.Integer(DEFAULTS["steps"], bounds=(1, MAX_STEPS), doc="Sampler steps")
    include_data = param.Boolean(True, doc="Also sample the data-space diffusion baseline")
    # display
    decoder = param.Selector(default="censored", objects=list(DECODERS), doc="Decoder shown")
    variable = param.Selector(default="sic", objects=list(views.DISPLAY_VARIABLES), doc="Variable shown")
    view = param.Selector(default="member", objects=list(views.VIEWS), doc="View of the ensemble")
    member = param.Integer(0, bounds=(0, DEFAULTS["members"] - 1), doc="Member shown in the 'One member' view")
    arrows = param.Boolean(False, doc="Draw drift arrows")
    reference_mode = param.Selector(default="date", objects=["date", "nearest"],
                                    doc="Reference state: by date, or the held-out state nearest the latent sample")
    reference_date = param.CalendarDate(default=None, allow_None=True, doc="Date of the reference state")
    reference_index = param.Integer(0, bounds=(0, None), doc="Index of the reference state (nearest the date)")
    # outputs (set by the state itself)
    results = param.Dict(default={}, doc="{space: {decoder: Dataset}} of the last finished run")
    request = param.Dict(default={}, doc="The request that produced `results`")
    running = param.Boolean(False)
    progress = param.Integer(0, bounds=(0, 100))
    status = param.String("")
    error = param.String("")
    elapsed = param.Number(None, allow_None=True, doc="Seconds from click to results of the last run")
    version = param.Integer(0, doc="Increases with every new result")

    def __init__(self, pipeline: Any, **params):
        super().__init__(**params)
        self.pipeline = pipeline
        self._doc = None
        self._cancel = threading.Event()
        self._future: Future | None = None
        self._last_report = 0.0
        self._started = 0.0
        self.available = set(pipeline.available)
        self.device = str(pipeline.device)
        self.reference = pipeline.reference
        self.synthetic = bool(pipeline.synthetic)
        self.dates = reference_dates(self.reference)
        n_ref = 0 if self.reference is None else int(self.reference.sizes.get("time", 0))
        self.param.reference_index.bounds = (0, max(n_ref - 1, 0))
        if self.dates:
            self.param.reference_date.bounds = (min(self.dates), max(self.dates))
            if self.reference_date is None:
                self.reference_date = self.dates[len(self.dates) // 2]
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
        self.coast = _coastline(pipeline.grid, self.land, x, y)
        self.status = f"Ready on {self.device.upper()}. Press Sample to generate an ensemble."

    # ------------------------------------------------------------------ what can be sampled
    def can_sample(self, space: str, decoder: str | None = None) -> bool:
        decoders = [decoder] if decoder else list(DECODERS)
        if space == "data":  # one data-space model gives both versions (clipped / not)
            return ("data", "censored") in self.available
        return any(("latent", d) in self.available for d in decoders)

    def plan(self, request: dict) -> list[tuple[str, tuple[str, ...]]]:
        """The sampler calls of a request: each latent decoder from the same noise, then data space."""
        runs = [("latent", (d,)) for d in DECODERS if ("latent", d) in self.available]
        if request.get("include_data", True) and ("data", "censored") in self.available:
            runs.append(("data", DECODERS))
        return runs

    # ------------------------------------------------------------------ sampling
    def current_request(self) -> dict:
        return {"members": int(self.members), "seed": int(self.seed), "sampler": self.sampler,
                "steps": int(self.steps), "include_data": bool(self.include_data)}

    def sample(self, event=None) -> bool:
        """Start sampling in a worker thread; returns False (and does nothing) if a run is going."""
        if self.running:
            return False
        request = self.current_request()
        runs = self.plan(request)
        if not runs:
            self.error = "No trained model in the checkpoints folder can be sampled."
            self.status = self.error
            return False
        try:
            import panel as pn

            doc = pn.state.curdoc
        except ImportError:  # pragma: no cover
            doc = None
        self._doc = doc if doc is not None and doc.session_context is not None else None
        self._cancel.clear()
        self._started = time.perf_counter()
        self.error = ""
        self.progress = 0
        self.running = True
        self.status = "Queued…"
        self._future = _EXECUTOR.submit(self._work, request, runs)
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Block until the current run (if any) has finished and its results are applied (tests, CLI)."""
        if self._future is not None:
            self._future.result(timeout)

    def cancel(self) -> None:
        """Stop the current run at the next sampler step (e.g. when the session closes)."""
        self._cancel.set()

    def _dispatch(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the session's event loop (or right here when there is no server document)."""
        doc = self._doc
        if doc is None:
            fn()
            return
        from panel.io.state import set_curdoc, state

        def wrapped() -> None:
            with set_curdoc(doc):
                fn()

        try:
            doc.add_next_tick_callback(wrapped)
        except Exception:  # the session is gone
            self._cancel.set()
            state.log(f"dashboard session closed before {fn} ran")

    def _work(self, request: dict, runs: list[tuple[str, tuple[str, ...]]]) -> None:
        """Worker thread: wait for the sampling slot, sample every run, hand results to the session."""
        _limit_torch_threads(self.pipeline)
        try:
            waited = False
            while not _SAMPLING_SLOT.acquire(timeout=0.5):
                if self._cancel.is_set():
                    return
                if not waited:
                    waited = True
                    self._dispatch(lambda: self.param.update(status="Waiting for another session's sampling…"))
            try:
                results = self._sample_runs(request, runs)
            finally:
                _SAMPLING_SLOT.release()
        except Cancelled:
            self._dispatch(lambda: self.param.update(running=False, status="Cancelled.", progress=0))
            return
        except Exception as err:  # reported on the page, not lost in a thread
            message = f"Sampling failed: {type(err).__name__}: {err}"
            self._dispatch(lambda: self.param.update(running=False, error=message, status=message, progress=0))
            return
        elapsed = time.perf_counter() - self._started
        self._dispatch(lambda: self._finish(results, request, elapsed))

    def _sample_runs(self, request: dict, runs: list[tuple[str, tuple[str, ...]]]) -> dict:
        results: dict[str, dict[str, xr.Dataset]] = {}
        n_runs = len(runs)
        for r, (space, decoders) in enumerate(runs):
            label = ("Latent diffusion, " + decoders[0] + " decoder") if space == "latent" else "Data-space diffusion"

            def callback(info: dict, r: int = r, label: str = label) -> None:
                if self._cancel.is_set():
                    raise Cancelled()
                done = (info["batch"] * info["n"] + info["i"] + 1) / max(info["batches"] * info["n"], 1)
                self._report(r, n_runs, done, f"{label}: step {info['i'] + 1}/{info['n']}"
                             + (f", batch {info['batch'] + 1}/{info['batches']}" if info["batches"] > 1 else ""))

            self._report(r, n_runs, 0.0, f"{label}…", force=True)
            out = self.pipeline.sample_decoders(space, decoders, members=request["members"], steps=request["steps"],
                                                sampler=request["sampler"], seed=request["seed"], callback=callback)
            results.setdefault(space, {}).update(out)
        return results

    def _report(self, run: int, n_runs: int, done: float, text: str, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_report < 0.2:
            return
        self._last_report = now
        percent = int(round(100 * (run + min(done, 1.0)) / n_runs))
        elapsed = now - self._started
        status = f"Sampling… {text} ({elapsed:.1f} s)"
        self._dispatch(lambda: self.param.update(progress=min(percent, 99), status=status))

    def _finish(self, results: dict, request: dict, elapsed: float) -> None:
        """On the event loop: store the new results; every view updates from here at once."""
        members = request["members"]
        self.param.member.bounds = (0, members - 1)
        seconds = ", ".join(f"{space} {_run_seconds(space, per):.1f} s" for space, per in results.items())
        with param.parameterized.batch_call_watchers(self):
            self.results = results
            self.request = dict(request, device=self.device)
            self.elapsed = elapsed
            if self.member >= members:
                self.member = members - 1
            if self.reference_mode == "nearest":
                self._update_nearest()
            self.version += 1
            self.progress = 100
            self.status = (f"Done: {members} members, seed {request['seed']}, {request['sampler']}, "
                           f"{request['steps']} steps in {elapsed:.1f} s on {self.device.upper()} ({seconds}).")
            self.running = False

    # ------------------------------------------------------------------ reference selection
    @param.depends("reference_date", watch=True)
    def _snap_date(self) -> None:
        """The reference state nearest (in time) to the chosen date."""
        if not self.dates or self.reference_date is None:
            return
        days = np.array([(d - self.reference_date).days for d in self.dates], dtype=np.float64)
        index = int(nearest_indices(days, 0.0, 1)[0])
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
        target = views.contour_field(ds, self.view, self.member)
        rmse = _area_rmse(np.asarray(self.reference["sic"].values), target, self.cell_area)
        order = np.argsort(rmse, kind="stable")
        return int(order[0]) if k == 1 else order[:k]

    def reference_selection(self) -> tuple[xr.Dataset, str] | None:
        """The reference states shown, and a sentence saying which.

        One state in the 'One member' view. For the ensemble views, as many states as members: those
        nearest in time to the chosen date ('date' mode: a stand-in for an ensemble of the same season),
        or those nearest the latent ensemble mean in sic ('nearest' mode).
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
        k = int(self.request.get("members", self.members))
        if nearest_mode:
            chosen = np.sort(self.nearest_reference(max(k, 2))[:k])
            return self.reference.isel(time=chosen), (f"{len(chosen)} states nearest to the latent ensemble mean "
                                                      f"in sic RMSE (best: {when})")
        times = self.reference["time"].values
        keys = (times - times[index]).astype("timedelta64[s]").astype(np.float64) if np.issubdtype(
            times.dtype, np.datetime64) else np.arange(n, dtype=np.float64) - index
        chosen = np.sort(nearest_indices(keys, 0.0, k))
        return self.reference.isel(time=chosen), f"{len(chosen)} states nearest in time to {when}"

    # ------------------------------------------------------------------ what each panel shows
    def panel_dataset(self, panel: str) -> xr.Dataset | None:
        """The ensemble (member, y, x) of a panel for the shown decoder; the reference states for 'reference'."""
        if panel == "reference":
            selection = self.reference_selection()
            return None if selection is None else selection[0]
        return self.results.get(panel, {}).get(self.decoder)

    def panel_note(self, panel: str) -> str:
        """Why a panel is empty, or what it shows."""
        if panel == "reference":
            selection = self.reference_selection()
            return "no reference.nc in the checkpoints" if selection is None else f"Held-out state: {selection[1]}"
        if panel == "data" and not self.can_sample("data"):
            return "no data-space model (ddm) in the checkpoints"
        if panel == "latent" and ("latent", self.decoder) not in self.available:
            return f"no latent model for the {self.decoder} decoder"
        if panel == "data" and "data" not in self.results and self.results:
            return "not sampled (tick 'data-space baseline')"
        ds = self.panel_dataset(panel)
        if ds is None:
            return "press Sample"
        decoder = ("clipped to the bounds (censored)" if self.decoder == "censored" else "not clipped (Gaussian)") \
            if panel == "data" else f"{self.decoder} decoder"
        return (f"{ds.sizes['member']} members, {decoder}, {ds.attrs.get('sampler', '')} "
                f"{ds.attrs.get('steps', '')} steps, seed {ds.attrs.get('seed', '')}, "
                f"{ds.attrs.get('seconds', 0):.1f} s")

    def panel_title(self, panel: str) -> str:
        """Map title: model (and decoder), variable and view, short enough for one line."""
        base = PANEL_TITLES[panel]
        if panel == "latent":
            base = f"Latent diffusion · {self.decoder}"
        elif panel == "data":
            base = "Data-space diffusion · " + ("clipped" if self.decoder == "censored" else "unclipped")
        if self.view == "prob":
            return f"{base} — P(sic > 0.15)"
        what = {"member": f"member {self.member}" if panel != "reference" else "state",
                "mean": "mean", "spread": "spread"}[self.view]
        return f"{base} — {self.variable} {what}"

    # ------------------------------------------------------------------ download
    def ensemble_dataset(self) -> xr.Dataset | None:
        """All ensembles of the last run in one Dataset with a ``source`` dimension (latent/data x decoder)."""
        parts, names = [], []
        for space in ("latent", "data"):
            for decoder in DECODERS:
                ds = self.results.get(space, {}).get(decoder)
                if ds is not None:
                    parts.append(ds)
                    names.append(f"{space}_{decoder}")
        if not parts:
            return None
        keep = ("sampler", "steps", "seed", "device", "grid_name")
        combined = xr.concat([p.drop_attrs(deep=False) for p in parts], dim="source", coords="minimal",
                             compat="override", join="override")
        combined = combined.assign_coords(source=("source", names))
        for attr, kind in (("space", str), ("decoder", str), ("diffusion_model", str), ("vae_model", str),
                           ("seconds", float)):
            combined = combined.assign_coords({f"source_{attr}": ("source", [kind(p.attrs.get(attr, "")) if kind is str
                                                                              else float(p.attrs.get(attr, np.nan))
                                                                              for p in parts])})
        combined.attrs = {k: parts[0].attrs[k] for k in keep if k in parts[0].attrs}
        combined.attrs.update({
            "Conventions": "CF-1.8",
            "title": parts[0].attrs.get("title", "Generated sea-ice states"),
            "source": "seaice-ldm dashboard: latent and data-space diffusion ensembles",
            "comment": ("Models trained on SYNTHETIC Arctic data, not observations. " if self.synthetic else "")
            + "'censored' = censored decoder (latent) or clipped to the physical bounds (data space).",
            "synthetic": "yes" if self.synthetic else "no",
        })
        try:
            grid = self.pipeline.grid
            combined["crs"] = grid.crs_variable()
            for name in combined.data_vars:
                if name != "crs" and combined[name].ndim >= 2:
                    combined[name].attrs["grid_mapping"] = "crs"
        except AttributeError:
            pass
        return combined

    def download_filename(self) -> str:
        r = self.request or self.current_request()
        return f"seaice-ldm_ensemble_{r['members']}m_seed{r['seed']}_{r['sampler']}{r['steps']}.nc"

    def netcdf_bytes(self) -> io.BytesIO | None:
        """The current ensembles as netCDF-4 bytes (written with the library's atomic writer)."""
        ds = self.ensemble_dataset()
        if ds is None:
            return None
        from seaice_ldm.data import write_dataset

        with tempfile.TemporaryDirectory(prefix="seaice-dashboard-") as tmp:
            path = Path(tmp) / "ensemble.nc"
            write_dataset(ds, path)
            return io.BytesIO(path.read_bytes())
