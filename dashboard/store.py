"""The results of one session and what is derived from them (fields, reference choice), without any plotting.

:class:`ResultStore` holds the ensembles as they arrive (``{space: {decoder: Dataset}}``), the request that
made them, and the held-out reference states; every view reads its arrays from here. Derived arrays are
memoised per result version and setting, so three panels, a table and a tool asking for the same field
compute it once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import param
import xarray as xr

from seaice_ldm.data import EXTENT_THRESHOLD, PAN_ARCTIC, REGIONS, drift_speed, region_box, sample_dim
from seaice_ldm.evaluation import edge_probability, miz_box, miz_probability, nearest_region

from dashboard import selection
from dashboard.generators import BY_KEY, REFERENCE, SPACES_OF_PANELS, panel_variables
from dashboard.settings import Settings, needs

ENSEMBLE_VIEWS = ("mean", "spread", "prob", "miz")
REGION_REACH = 2.0  # a region's own MIZ: within this many half widths of its centre (and nearer it than any other)


def variable_values(ds: xr.Dataset, variable: str) -> np.ndarray:
    """``(n, y, x)`` values of a displayed variable (``speed`` = hypot(siu, siv))."""
    return np.asarray((drift_speed(ds) if variable == "speed" else ds[variable]).values)


def view_field(ds: xr.Dataset, variable: str, view: str, member: int = 0) -> np.ndarray:
    """The ``(y, x)`` field a map shows: one member, the mean, the spread (sample standard deviation, ddof 1),
    P(sic > 0.15) or P(0.15 < sic < 0.8). Land stays NaN."""
    if view == "prob":
        return edge_probability(np.asarray(ds["sic"].values)).astype(np.float32)
    if view == "miz":
        return miz_probability(np.asarray(ds["sic"].values)).astype(np.float32)
    values = variable_values(ds, variable)
    if view == "member":
        return values[min(member, len(values) - 1)].astype(np.float32)
    if view == "mean":
        return values.mean(axis=0).astype(np.float32)
    if view == "spread":
        return (values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros_like(values[0])).astype(np.float32)
    raise ValueError(f"unknown view {view!r}")


def ice_masked(field: np.ndarray, sic: np.ndarray, variable: str) -> np.ndarray:
    """Damage and drift have no meaning without ice: NaN where sic <= 0.15."""
    if variable not in ("sid", "siu", "siv", "speed"):
        return field
    with np.errstate(invalid="ignore"):
        return np.where(np.asarray(sic) > EXTENT_THRESHOLD, field, np.nan).astype(np.float32)


class ResultStore(param.Parameterized):
    """One session's ensembles, the request behind them, and the reference states to compare with."""

    results = param.Dict(default={}, doc="{space: {decoder: Dataset}} of the shown request, as they arrive")
    shown = param.Dict(default={}, doc="The request of `results` (Settings.wanted() form, plus include_data)")
    latent_version = param.Integer(0, doc="Increases when the latent panel's ensembles change")
    data_version = param.Integer(0, doc="Increases when the data-space panel's ensembles change")
    version = param.Integer(0, doc="Increases with every change of the results")
    probe = param.Parameter(default=None, doc="(x, y) of the point under the mouse on a map, or None")

    def __init__(self, pipeline, settings: Settings, **params):
        super().__init__(**params)
        self.settings = settings
        self.reference = pipeline.reference
        self.dates = reference_dates(self.reference)
        grid = pipeline.grid
        self.crs = getattr(grid, "crs", "EPSG:3413")
        self.x, self.y = np.asarray(grid.x, dtype=float), np.asarray(grid.y, dtype=float)
        self.land = ~np.asarray(pipeline.ocean, dtype=bool)
        coords = pipeline.coords()
        self.lat, self.lon, self.cell_area = (np.asarray(getattr(coords[k], "values", coords[k]), dtype=float)
                                              for k in ("lat", "lon", "cell_area"))
        self.variables = panel_variables(pipeline, self.reference)
        self._memo: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ results
    def clear(self, shown: dict) -> None:
        """A new request: its first panel replaces every result."""
        self.param.update(results={}, shown=dict(shown))

    def put(self, space: str, datasets: dict) -> None:
        self.results = {**self.results, space: {**self.results.get(space, {}), **datasets}}
        setattr(self, f"{space}_version", getattr(self, f"{space}_version") + 1)
        self.version += 1

    def dataset(self, panel: str, decoder: str | None = None) -> xr.Dataset | None:
        """A model panel's ensemble for the shown decoder, or the reference states chosen for the view."""
        if panel == REFERENCE:
            return self.reference_states()
        return self.results.get(SPACES_OF_PANELS[panel], {}).get(decoder or self.settings.decoder)

    def members(self) -> int:
        return int(self.shown.get("members", self.settings.members))

    def shown_date(self) -> str | None:
        """The date of the shown ensembles (ISO, ``"random"`` or None); before any result, the controls'."""
        return self.shown["date"] if "date" in self.shown else self.settings.request_date()

    def member_day(self, member: int) -> float | None:
        """The 1-based day of the year a member of an all-seasons ensemble was sampled for (None if not known)."""
        for space in ("latent", "data"):
            for ds in self.results.get(space, {}).values():
                if "day_of_year" in ds.coords and member < ds.sizes["member"]:
                    return float(ds["day_of_year"].values[member])
        return None

    def has(self, panel: str, variable: str) -> bool:
        return needs(variable) <= self.variables.get(panel, set())

    def region_boxes(self) -> dict[str, tuple[float, float, float, float]]:
        """Each named region's box, grown (square) to hold its own MIZ (the MIZ cells nearer it than any other region,
        within twice its half width) in every held-out state, so a regional view keeps its MIZ through the year."""
        def build():
            limits = region_box(PAN_ARCTIC, self.x, self.y, self.crs)
            sic = None if self.reference is None or "sic" not in self.reference else \
                np.asarray(self.reference["sic"].values)
            boxes = {name: region_box(name, self.x, self.y, self.crs) for name in REGIONS if name != PAN_ARCTIC}
            own = nearest_region(self.x, self.y, boxes)
            out = {PAN_ARCTIC: limits}
            for name, box in boxes.items():
                out[name] = box if sic is None else miz_box(sic, self.x, self.y, box, reach=REGION_REACH,
                                                            limits=limits, within=own[name])
            return out
        return self.memo(("region boxes",), build)

    # ------------------------------------------------------------------ reference
    def reference_choice(self) -> selection.ReferenceChoice:
        s = self.settings
        n = 0 if self.reference is None else int(self.reference.sizes.get("time", 0))
        ensemble_view = s.view in ENSEMBLE_VIEWS or s.mode in ("spaghetti", "joint")
        nearest = None
        if s.reference_mode == "nearest" and self.dataset("latent") is not None and n:
            nearest = self.memo(("nearest", self.version, s.decoder, ensemble_view, s.member), self._nearest_order)
        return selection.choose_reference(self.dates, n, ensemble_view=ensemble_view, shown_date=self.shown_date(),
                                          member_day=self.member_day(s.member), fallback_day=s.date,
                                          members=self.members(), nearest=nearest)

    def _nearest_order(self) -> np.ndarray:
        s = self.settings
        latent = self.dataset("latent")
        target = view_field(latent, "sic", "member" if s.view == "member" else "mean", s.member)
        rmse = selection.area_rmse(np.asarray(self.reference["sic"].values), target, self.cell_area)
        return np.argsort(rmse, kind="stable")

    def reference_states(self) -> xr.Dataset | None:
        choice = self.reference_choice()
        if self.reference is None or not choice.indices:
            return None
        return self.memo(("reference", choice.indices), lambda: self.reference.isel(time=list(choice.indices)).load())

    # ------------------------------------------------------------------ derived fields (memoised)
    def memo(self, key, build):
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        value = build()
        with self._lock:
            self._memo[key] = value
            while len(self._memo) > 48:
                self._memo.popitem(last=False)
        return value

    def field_key(self, panel: str, what: str, decoder: str | None = None) -> tuple:
        s = self.settings
        ref = self.reference_choice().indices if panel == REFERENCE else ()
        member = 0 if panel == REFERENCE else s.member
        return (panel, what, getattr(self, f"{BY_KEY[panel].space}_version", 0) if panel != REFERENCE else -1,
                decoder or s.decoder, s.view, member, ref)

    def field(self, panel: str, variable: str, view: str | None = None, decoder: str | None = None) -> np.ndarray | None:
        """The ``(y, x)`` field of a panel (ice-masked for damage and drift), or None without data or variable."""
        view = view or self.settings.view
        ds = self.dataset(panel, decoder)
        if ds is None or (view not in ("prob", "miz") and not self.has(panel, variable)):
            return None
        member = 0 if panel == REFERENCE else self.settings.member

        def build():
            values = view_field(ds, variable, view, member)
            if view in ("prob", "miz") or "sic" not in ds:
                return values
            return ice_masked(values, self.contour_sic(panel, decoder), variable)
        return self.memo(self.field_key(panel, f"field-{variable}-{view}", decoder), build)

    def contour_sic(self, panel: str, decoder: str | None = None) -> np.ndarray | None:
        """The sic field whose contours a map draws: the member's (or the single state's), else the mean."""
        ds = self.dataset(panel, decoder)
        if ds is None or "sic" not in ds:
            return None
        view = "member" if self.settings.view == "member" or ds["sic"].shape[0] == 1 else "mean"
        member = 0 if panel == REFERENCE else self.settings.member
        return self.memo(self.field_key(panel, f"contour-{view}", decoder), lambda: view_field(ds, "sic", view, member))

    def probability(self, panel: str, decoder: str | None = None) -> np.ndarray | None:
        """P(sic > 0.15) over a panel's members (or states); None for a single state."""
        ds = self.dataset(panel, decoder)
        if ds is None or "sic" not in ds or ds["sic"].shape[0] < 2:
            return None
        return self.memo(self.field_key(panel, "p15", decoder), lambda: view_field(ds, "sic", "prob"))

    def spread_limit(self, variable: str) -> float:
        """Upper end of the spread colour range: the 99th percentile of every panel's spread (shared, so the
        panels compare), rounded up to two significant digits."""
        values = [f[np.isfinite(f)] for p in ("latent", "data", REFERENCE)
                  if (f := self.field(p, variable, "spread")) is not None]
        values = np.concatenate(values) if values else np.empty(0)
        if not values.size or np.nanmax(values) <= 0:
            return 1e-3
        top = float(np.quantile(values, 0.99))
        scale = 10 ** (np.floor(np.log10(top)) - 1)
        return float(np.ceil(top / scale) * scale)


def reference_dates(reference) -> list | None:
    """The reference times as dates, or None when there is no reference or its times are not dates."""
    import datetime as dt

    if reference is None or "time" not in reference.coords:
        return None
    values = reference["time"].values
    if np.issubdtype(values.dtype, np.datetime64):
        return [d.astype("datetime64[D]").astype(dt.date) for d in values]
    try:  # cftime objects
        return [dt.date(v.year, v.month, v.day) for v in values]
    except AttributeError:
        return None
