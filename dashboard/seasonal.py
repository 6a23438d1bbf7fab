"""The seasonal-cycle tool: extent, MIZ area and MIZ width per month, each generator against the reference states.

A generator's cycle needs 12 ensembles (the 15th of each month): the server computes them once, in the
background (the queue runs them only while no session waits, and they give way at the next sampler step), and
keeps the per-state numbers in a JSON file named by a fingerprint of the models' files, in the shipped folder
``dashboard/precomputed/`` or the cache folder (``SEAICE_DASHBOARD_CACHE_DIR``). With the shipped models the
shipped file opens the tool at once; ``python -m dashboard.seasonal --checkpoints DIR`` writes one ahead.
The reference's cycle comes from its dated states, grouped by calendar month.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from pathlib import Path

import holoviews as hv
import numpy as np
import panel as pn
import param

from seaice_ldm.evaluation import cycle_from_numbers, cycle_from_states, mid_month_dates, state_numbers
from seaice_ldm.options import DEFAULT_SAMPLER, SampleRequest

from dashboard import worker
from dashboard.generators import BY_KEY, PANEL_COLOURS
from dashboard.panes import PLOT_THEME, html_pane
from dashboard.selection import parse_date
from dashboard.settings import Settings
from dashboard.store import ResultStore

PRECOMPUTED = Path(__file__).parent / "precomputed"
OWNER = "seasonal cycle"
QUANTITY_LABELS = {"extent": ("Extent (sic > 0.15)", "10⁶ km²"), "miz_area": ("MIZ area", "10⁶ km²"),
                   "miz_width": ("MIZ width", "km")}
MODEL_FOLDERS = ("vae_censored", "vae_gaussian", "ldm_censored", "ldm_gaussian", "ddm")


def fingerprint(checkpoints: Path) -> str:
    """A short hash of every model file in the checkpoints folder (weights and configs; not the reference)."""
    h = hashlib.sha256()
    for folder in MODEL_FOLDERS:
        for path in sorted((Path(checkpoints) / folder).glob("*")):
            if path.is_file():
                h.update(f"{folder}/{path.name}".encode())
                h.update(path.read_bytes())
    return h.hexdigest()[:16]


class SeasonalCycles(param.Parameterized):
    """The process-wide cycles: the reference's at once, the generators' from a file or sampled in the background."""

    version = param.Integer(0, doc="Increases when a month of a generator's cycle arrives")
    months_done = param.Integer(0)

    def __init__(self, pipeline, config, queue, **params):
        super().__init__(**params)
        self.pipeline, self.config, self.queue = pipeline, config, queue
        grid = pipeline.grid
        self.x, self.y = np.asarray(grid.x, float), np.asarray(grid.y, float)
        coords = pipeline.coords()
        self.area = np.asarray(getattr(coords["cell_area"], "values", coords["cell_area"]), float)
        ref = pipeline.reference
        self.reference = None if ref is None or "sic" not in ref or "time" not in ref.coords else cycle_from_states(
            np.asarray(ref["sic"].values), ref["time"].values, self.x, self.y, self.area)
        self.filename = (f"seasonal_{fingerprint(config.checkpoints)}_{config.seasonal_members}m_"
                     f"{config.seasonal_steps}s.json")
        self.numbers: dict[str, dict[int, dict[str, list]]] = {}  # "space/decoder" -> month -> quantity -> values
        self.source = ""
        self.started = False
        self._lock = threading.Lock()
        self._listeners: list = []
        self._load()

    # ------------------------------------------------------------------ files
    def _load(self) -> None:
        for folder in (PRECOMPUTED, self.config.cache_dir):
            path = Path(folder) / self.filename
            if path.is_file():
                data = json.loads(path.read_text())
                self.numbers = {g: {int(m): q for m, q in months.items()} for g, months in data["generators"].items()}
                self.source = str(path)
                self.months_done = min((len(m) for m in self.numbers.values()), default=0)
                return

    def save(self, folder: Path | None = None) -> Path:
        folder = Path(folder or self.config.cache_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.filename
        data = {"about": "per-state extent (1e6 km2), MIZ area (1e6 km2) and MIZ width (km) of ensembles sampled for "
                         "the 15th of each month; written by dashboard/seasonal.py",
                "members": self.config.seasonal_members, "steps": self.config.seasonal_steps,
                "sampler": DEFAULT_SAMPLER, "generators": self.numbers}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(path)
        self.source = str(path)
        return path

    @property
    def complete(self) -> bool:
        return self.months_done == 12

    # ------------------------------------------------------------------ background sampling
    def start(self) -> None:
        """Queue the missing months as background jobs (nothing when the cycle is complete)."""
        if self.complete or not getattr(self.pipeline, "date_conditioned", False):
            return
        self.started = True
        for month, date in enumerate(mid_month_dates(), start=1):
            if all(month in m for m in self.numbers.values()) and self.numbers:
                continue
            base = SampleRequest(members=self.config.seasonal_members, steps=self.config.seasonal_steps, seed=0,
                                 date=date)
            job = worker.Job(f"{OWNER} {month:02d}", self.pipeline, worker.plan(self.pipeline.available, base),
                             priority=worker.BACKGROUND)
            job.listener = self._listener(month)
            self.queue.submit(job)

    def _listener(self, month: int):
        def listen(kind: str, info: dict) -> None:
            if kind != "panel":
                return
            with self._lock:
                for decoder, ds in info["datasets"].items():
                    numbers = state_numbers(np.asarray(ds["sic"].values), self.x, self.y, self.area)
                    self.numbers.setdefault(f"{info['space']}/{decoder}", {})[month] = \
                        {q: [float(v) for v in vals] for q, vals in numbers.items()}
                done = min((len(m) for m in self.numbers.values()), default=0)
            self.months_done = done
            self.version += 1
            if self.complete:
                try:
                    self.save()
                except OSError as err:  # the cycle stays in memory
                    print(f"seaice-ldm dashboard: seasonal cycle not saved: {err}", file=sys.stderr)
            for notify in list(self._listeners):
                notify()
        return listen

    def subscribe(self, notify) -> None:
        """Call ``notify()`` (from the worker thread) whenever a month arrives."""
        self._listeners.append(notify)

    def cycles(self) -> dict[str, object]:
        """``{"space/decoder": cycle Dataset}`` of what has arrived so far."""
        with self._lock:
            numbers = {g: {m: dict(q) for m, q in months.items()} for g, months in self.numbers.items()}
        return {g: _cycle(months) for g, months in numbers.items()}


def _cycle(months: dict[int, dict[str, list]]):
    return cycle_from_numbers({m: {q: np.asarray(v) for q, v in qs.items()} for m, qs in months.items()})


_CYCLES: dict[tuple, SeasonalCycles] = {}
_CYCLES_LOCK = threading.Lock()


def shared_cycles(pipeline, config, queue) -> SeasonalCycles:
    """The process-wide cycles of ``pipeline`` (read or started once)."""
    with _CYCLES_LOCK:
        key = (id(pipeline), config.seasonal_members, config.seasonal_steps)
        if key not in _CYCLES:
            _CYCLES[key] = SeasonalCycles(pipeline, config, queue)
        return _CYCLES[key]


def cycle_plot(quantity: str, cycles: dict, reference, decoder: str, month_mark: float | None) -> hv.Overlay:
    """One quantity per month: each generator's mean and 10-90 % band, the reference's mean and its states."""
    label, units = QUANTITY_LABELS[quantity]
    layers = []
    for key, cycle in cycles.items():
        space, dec = key.split("/")
        if space == "latent" and dec != decoder:
            continue
        name = BY_KEY[space].label(decoder if space == "data" else dec)
        colour = PANEL_COLOURS[space]
        months = cycle["month"].values
        layers.append(hv.Area((months, cycle[f"{quantity}_low"].values, cycle[f"{quantity}_high"].values),
                              "month", ["low", "high"]).opts(color=colour, alpha=0.18, line_width=0))
        layers.append(hv.Curve((months, cycle[quantity].values), "month", quantity, label=name).opts(
            color=colour, line_width=3))
    if reference is not None:
        layers.append(hv.Curve((reference["month"].values, reference[quantity].values), "month", quantity,
                               label="Reference (held out)").opts(color=PANEL_COLOURS["reference"], line_width=3,
                                                                   line_dash="dashed"))
        layers.append(hv.Scatter((reference["month"].values, reference[quantity].values), "month", quantity).opts(
            color=PANEL_COLOURS["reference"], size=7))
    if month_mark is not None:
        layers.append(hv.VLine(month_mark).opts(color="#c2185b", line_width=2, line_dash="dotted"))
    if not layers:
        layers = [hv.Curve([], "month", quantity)]
    return hv.Overlay(layers).opts(hv.opts.Overlay(
        responsive=True, height=300, xlim=(0.6, 12.4), xticks=[(m, "JFMAMJJASOND"[m - 1]) for m in range(1, 13)],
        xlabel="month (15th)", ylabel=f"{label} ({units})", title=label, legend_position="top_right",
        show_legend=quantity == "extent", toolbar=None))


class SeasonalView(pn.viewable.Viewer):
    """Extent, MIZ area and MIZ width per month; the shown ensemble's month is marked."""

    settings = param.ClassSelector(class_=Settings, constant=True)
    store = param.ClassSelector(class_=ResultStore, constant=True)
    source = param.ClassSelector(class_=SeasonalCycles, constant=True, allow_None=True)
    version = param.Integer(0, doc="Increases when the process-wide cycles grow (set on this session's loop)")

    def __init__(self, dispatch=None, **params):
        super().__init__(**params)
        if self.source is not None and dispatch is not None and not self.source.complete:
            self.source.subscribe(lambda: dispatch(self._bump))

    def _bump(self) -> None:
        self.version += 1

    @param.depends("version", "settings.decoder", "store.shown")
    def plots(self):
        if self.source is None:
            return html_pane('<div class="sl-small">No seasonal cycle: no models loaded.</div>')
        cycles = self.source.cycles()
        date = parse_date(self.store.shown_date() or "")
        mark = None if date is None else date.month + (date.day - 15) / 30.5
        plots = [pn.pane.HoloViews(cycle_plot(q, cycles, self.source.reference, self.settings.decoder, mark),
                                   theme=PLOT_THEME, sizing_mode="stretch_width", css_classes=[f"sl-cycle-{q}"])
                 for q in QUANTITY_LABELS]
        done = self.source.months_done
        members, steps = self.source.config.seasonal_members, self.source.config.seasonal_steps
        if self.source.complete:
            state = f"From {Path(self.source.source).name}" if self.source.source else "Complete"
        elif not getattr(self.source.pipeline, "date_conditioned", False):
            state = "The models are not date-conditioned: only the reference's cycle"
        elif self.source.started:
            state = f"Computing in the background: {done} of 12 months so far"
        else:
            state = ("Not computed for these models (no file; the server samples none with "
                     "SEAICE_DASHBOARD_SEASONAL=0): run python -m dashboard.seasonal")
        note = (f'<div class="sl-small sl-cycle-note" data-months="{done}">Each generator: {members} members for the '
                f"15th of each month, {steps} {DEFAULT_SAMPLER} steps, seed 0 (band: 10-90 % of the members); "
                f"reference: its held-out states by calendar month. Dotted line: the shown ensemble's date. "
                f"{state}.</div>")
        return pn.Column(html_pane(note, sizing_mode="stretch_width"),
                         pn.Row(*plots, sizing_mode="stretch_width"), sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(self.plots, sizing_mode="stretch_width")


def main(argv: list[str] | None = None) -> int:
    """Sample the cycle of a checkpoints folder and write its file (``--out``: default the shipped folder)."""
    import argparse

    from dashboard.config import server_config
    from dashboard.sampling import SamplingQueue

    p = argparse.ArgumentParser(prog="python -m dashboard.seasonal", description=main.__doc__)
    p.add_argument("--checkpoints", default=None)
    p.add_argument("--out", default=str(PRECOMPUTED))
    args = p.parse_args(argv)
    import os

    os.environ["SEAICE_DASHBOARD_SEASONAL"] = "1"
    config = server_config(["--checkpoints", args.checkpoints] if args.checkpoints else [])
    pipeline = worker.get_pipeline(config)
    queue = SamplingQueue(threads=config.torch_threads)
    cycles = SeasonalCycles(pipeline, config, queue)
    finished = threading.Event()
    cycles.subscribe(lambda: finished.set() if cycles.complete else print(f"{cycles.months_done}/12 months",
                                                                          flush=True))
    cycles.start()
    while not cycles.complete:
        finished.wait(5)
    print(f"wrote {cycles.save(Path(args.out))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
