"""Pure view functions of the dashboard: fields, maps, histograms, tables and spectra.

The functions above the last section take plain data (numpy arrays, ``xarray`` objects, strings) and
return data or HoloViews elements; those of the last section read a ``DashboardState`` (never change it). Maps are drawn in projected
metres (EPSG:3413 polar stereographic) with plain HoloViews + Bokeh, no geoviews and no download:
land and coastline come from the shipped land mask.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache

import holoviews as hv
import numpy as np
import xarray as xr

from seaice_ldm.data import EXTENT_THRESHOLD, VARIABLES, drift_speed
from seaice_ldm.evaluation import bound_share, bound_violation_share, ice_integrals, mean_spectrum, spectrum_boxes
from seaice_ldm.evaluation import edge_probability, iiee, ice_mask, miz_width

# ----------------------------------------------------------------------------------------- constants
#: Variables a user can show: the five model variables and the drift speed derived from siu, siv.
DISPLAY_VARIABLES: tuple[str, ...] = ("sit", "sic", "sid", "siu", "siv", "speed")
#: Views of an ensemble, key -> label.
VIEWS: dict[str, str] = {
    "member": "One member",
    "mean": "Ensemble mean",
    "spread": "Ensemble spread (std)",
    "prob": "P(sic > 0.15)",
}

#: Colours that are not part of any colour map (chosen to stand out on all of them).
LAND_COLOUR = "#d8d2c4"
NO_DATA_COLOUR = "#eef1f4"
BELOW_COLOUR = "#ff1fa9"  # cells below the physical lower bound (magenta)
ABOVE_COLOUR = "#ff7a00"  # cells above the physical upper bound (orange)
PANEL_COLOURS = {"latent": "#1f77b4", "data": "#d95f02", "reference": "#333333"}

#: Colour map (cmocean name, reversed?) per displayed variable; ranges are fixed so panels compare.
_CMAPS = {
    "sit": ("thermal", False),
    "sic": ("ice", False),
    "sid": ("matter", False),
    "siu": ("balance", False),
    "siv": ("balance", False),
    "speed": ("speed", False),
    "spread": ("amp", False),
    "prob": ("ice", False),
}
_SPEED_RANGE = (0.0, 0.3)


@dataclass(frozen=True)
class Style:
    """How one field is coloured: palette, fixed colour range, bounds and labels."""

    cmap: tuple[str, ...]
    clim: tuple[float, float]
    label: str  # short axis / colour-bar label with units
    long_name: str
    units: str
    lower: float | None  # physical bounds of the shown quantity (None: unbounded)
    upper: float | None

    @property
    def low_colour(self) -> str:
        """Colour of values below the colour range: flagged when the range starts at a physical bound."""
        return BELOW_COLOUR if self.lower is not None and self.lower == self.clim[0] else self.cmap[0]

    @property
    def high_colour(self) -> str:
        return ABOVE_COLOUR if self.upper is not None and self.upper == self.clim[1] else self.cmap[-1]


@lru_cache(maxsize=32)
def palette(name: str, reverse: bool = False, n: int = 256) -> tuple[str, ...]:
    """A cmocean colour map as a tuple of hex colours (perceptually uniform)."""
    import cmocean
    from matplotlib.colors import to_hex

    cmap = getattr(cmocean.cm, name + ("_r" if reverse else ""))
    return tuple(to_hex(c) for c in cmap(np.linspace(0.0, 1.0, n)))


def variable_info(variable: str) -> tuple[str, str, float | None, float | None, tuple[float, float]]:
    """(long name, units, lower, upper, display range) of a displayed variable (speed included)."""
    if variable == "speed":
        return "sea-ice drift speed", "m s-1", 0.0, None, _SPEED_RANGE
    var = VARIABLES[variable]
    return var.long_name, var.units, var.lower, var.upper, tuple(var.display_range)


def units_label(units: str) -> str:
    return {"1": "1", "m s-1": "m/s"}.get(units, units)


def style_for(variable: str, view: str) -> Style:
    """Colour style of ``variable`` shown as ``view`` (fixed ranges per variable and view)."""
    long_name, units, lower, upper, (lo, hi) = variable_info(variable)
    if view == "prob":
        return Style(palette(*_CMAPS["prob"]), (0.0, 1.0), "P(sic > 0.15)", "probability of sic > 0.15",
                     "1", 0.0, 1.0)
    if view == "spread":
        return Style(palette(*_CMAPS["spread"]), (0.0, (hi - lo) / 4.0),
                     f"std {variable} ({units_label(units)})", f"ensemble spread of {long_name}", units, 0.0, None)
    return Style(palette(*_CMAPS[variable]), (lo, hi), f"{variable} ({units_label(units)})", long_name, units,
                 lower, upper)


# ----------------------------------------------------------------------------------------- fields
def variable_array(ds: xr.Dataset, variable: str) -> xr.DataArray:
    """The (sample, y, x) values of a displayed variable; ``speed`` = hypot(siu, siv)."""
    if variable == "speed":
        return drift_speed(ds)
    return ds[variable]


def sample_dim(da: xr.DataArray) -> str:
    """The leading (sample) dimension: ``member`` for ensembles, ``time`` for reference states."""
    return next(d for d in da.dims if d not in ("y", "x"))


def view_field(ds: xr.Dataset, variable: str, view: str, member: int = 0) -> np.ndarray:
    """The 2-D ``(y, x)`` field shown on a map: one member, the mean, the spread or P(sic > 0.15).

    Land stays NaN. ``spread`` is the standard deviation over the samples (0 for a single sample).
    """
    if view == "prob":
        sic = ds["sic"]
        dim_ = sample_dim(sic)
        prob = (sic > EXTENT_THRESHOLD).mean(dim_).where(np.isfinite(sic).all(dim_))
        return np.asarray(prob.values, dtype=np.float32)
    da = variable_array(ds, variable)
    dim_ = sample_dim(da)
    if view == "member":
        return np.asarray(da.isel({dim_: min(member, da.sizes[dim_] - 1)}).values, dtype=np.float32)
    if view == "mean":
        return np.asarray(da.mean(dim_).values, dtype=np.float32)
    if view == "spread":
        return np.asarray(da.std(dim_).values, dtype=np.float32)
    raise ValueError(f"unknown view {view!r}; choose one of {list(VIEWS)}")


def contour_field(ds: xr.Dataset, view: str, member: int = 0) -> np.ndarray:
    """The sic field whose MIZ contours go on the map: the member's sic or the ensemble-mean sic."""
    return view_field(ds, "sic", "member" if view == "member" else "mean", member)


def drift_field(ds: xr.Dataset, view: str, member: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Grid components (u along x, v along y) of the drift shown as arrows: the member's or the mean."""
    which = "member" if view == "member" else "mean"
    return view_field(ds, "siu", which, member), view_field(ds, "siv", which, member)


# ----------------------------------------------------------------------------------------- geometry
def vector_data(u: np.ndarray, v: np.ndarray, x: np.ndarray, y: np.ndarray, every: int = 6) -> tuple:
    """Arrows for hv.VectorField: (x, y, angle, magnitude) on every ``every``-th cell of the ocean.

    ``u``, ``v`` are grid components along projected x and y, so the angle in the map's own coordinates
    is ``arctan2(v, u)``: no rotation by longitude is needed and the arrows stay right at the pole.
    """
    offset = every // 2
    sl = (slice(offset, None, every), slice(offset, None, every))
    xx, yy = np.meshgrid(x, y)
    us, vs, xs, ys = u[sl], v[sl], xx[sl], yy[sl]
    keep = np.isfinite(us) & np.isfinite(vs)
    us, vs = us[keep], vs[keep]
    return xs[keep], ys[keep], np.arctan2(vs, us), np.hypot(us, vs)


# ----------------------------------------------------------------------------------------- maps
def map_hook(style: Style):
    """Per-update Bokeh tweaks the HoloViews options do not re-apply: colour-bar title and bound colours."""

    def hook(plot, element) -> None:
        mapper = plot.handles.get("color_mapper")
        if mapper is not None:
            mapper.low_color = style.low_colour
            mapper.high_color = style.high_colour
        bar = plot.handles.get("colorbar")
        if bar is not None:
            bar.title = style.label
        figure = plot.state
        figure.toolbar.logo = None
        figure.outline_line_color = "#9aa3ad"

    return hook


# ----------------------------------------------------------------------------------------- histograms
def histogram_bins(variable: str, n: int = 60) -> np.ndarray:
    """Bin edges that extend beyond the physical bounds and have the bounds as edges."""
    _, _, lower, upper, (lo, hi) = variable_info(variable)
    width = (hi - lo) / n
    pad = int(round(0.12 * n))
    return lo + width * np.arange(-pad if lower is not None or variable in ("siu", "siv") else 0, n + pad + 1)


def histogram_data(values: np.ndarray, variable: str) -> dict:
    """Counts of cell values as shares (0-1): interior bins, plus the shares exactly at each bound.

    Values outside the binned range are counted in the first / last bin. Shares exactly at a bound are
    reported separately so a censored decoder's point mass shows as a spike.
    """
    _, _, lower, upper, _ = variable_info(variable)
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    edges = histogram_bins(variable)
    total = max(v.size, 1)
    at = {}
    inside = np.ones(v.shape, dtype=bool)
    for side, bound in (("lower", lower), ("upper", upper)):
        if bound is not None:
            hit = v == bound
            at[side] = (bound, hit.sum() / total)
            inside &= ~hit
    counts, _ = np.histogram(np.clip(v[inside], edges[0], edges[-1]), bins=edges)
    return {"edges": edges, "share": counts / total, "at": at, "n": int(v.size)}


HIST_FLOOR = 1e-5


def _hist_hook(plot, element) -> None:
    figure = plot.state
    figure.toolbar.logo = None
    figure.outline_line_color = "#9aa3ad"


def histogram_overlay(values: np.ndarray | None, variable: str, title: str = "", colour: str = "#1f77b4",
                      width: int = 450, height: int = 210) -> hv.Overlay:
    """Histogram (log share of ocean cells) with spikes for the mass exactly at the bounds."""
    _, units, lower, upper, _ = variable_info(variable)
    label = f"{variable} ({units_label(units)})"
    edges = histogram_bins(variable)
    if values is None:
        data = {"edges": edges, "share": np.zeros(len(edges) - 1), "at": {}, "n": 0}
    else:
        data = histogram_data(values, variable)
    # explicit rectangles and segments: on a log axis every bar needs a positive bottom
    floor = HIST_FLOOR * 0.5
    share = np.maximum(data["share"], floor)  # empty bins stay below the axis floor
    edges = data["edges"]
    xdim, ydim = hv.Dimension("value", label=label), hv.Dimension("share", label="share of ocean cells")
    hist = hv.Rectangles((edges[:-1], np.full(len(share), floor), edges[1:], share),
                         kdims=[xdim, ydim, "x1", "y1"]).opts(
        color=colour, alpha=0.6, line_color=colour, line_width=0.5, framewise=True)
    spike_x = np.array([b for b, _ in data["at"].values()], dtype=float)
    spike_h = np.array([max(s, floor) for _, s in data["at"].values()], dtype=float)
    spikes = hv.Segments((spike_x, np.full(len(spike_x), floor), spike_x, spike_h),
                         kdims=[xdim, ydim, "x1", "y1"]).opts(color="#c00000", line_width=5, alpha=0.9,
                                                                  framewise=True)
    bound_lines = hv.Overlay([
        hv.VLine(edges[0] if b is None else b).opts(color="#555555", line_dash="dashed", line_width=1,
                                                    alpha=0.0 if b is None else 1.0)
        for b in (lower, upper)])  # always two lines (a DynamicMap keeps its layers), hidden where unbounded
    return (hist * spikes * bound_lines).opts(
        hv.opts.Overlay(width=width, height=height, logy=True, ylim=(HIST_FLOOR, 1.0), xlim=(edges[0], edges[-1]),
                        title=title, xlabel=label, ylabel="share of ocean cells", hooks=[_hist_hook],
                        toolbar=None, framewise=True, fontscale=0.9, show_legend=False)
    )


# ----------------------------------------------------------------------------------------- tables
def integrals_summary(ds: xr.Dataset, variable: str) -> dict[str, tuple[float, float] | float | str]:
    """Per-panel numbers: mean and std over samples of extent, area, volume and MIZ area, and bound shares.

    Uses ``seaice_ldm.evaluation.metrics``: ``ice_integrals``, ``bound_violation_share``, ``bound_share``.
    Shares are of all ocean cells of all samples (0-1).
    """
    integrals = ice_integrals(ds)
    dim_ = sample_dim(ds["sic"])
    out: dict = {}
    for name in ("extent", "area", "volume", "miz_area"):
        if name in integrals:
            da = integrals[name]
            out[name] = (float(da.mean(dim_)), float(da.std(dim_)) if da.sizes[dim_] > 1 else float("nan"))
    violation = bound_violation_share(ds)
    out["outside_all"] = float(np.mean(list(violation.values()))) if violation else float("nan")
    out["outside"] = {k: float(v) for k, v in violation.items()}
    shares = bound_share(ds)
    out["at_bounds"] = {k: float(sum(v.values())) for k, v in shares.items()}
    out["n"] = int(ds.sizes[dim_])
    return out


_ROWS = (
    ("extent", "Extent", "10⁶ km²"),
    ("area", "Area", "10⁶ km²"),
    ("volume", "Volume", "10³ km³"),
    ("miz_area", "MIZ area", "10⁶ km²"),
    ("miz_width", "MIZ width", "km"),
    ("iiee", "IIEE vs reference", "10⁶ km²"),
)


def reference_ice(reference: xr.Dataset | None) -> np.ndarray | None:
    """The reference's ice mask for the IIEE: sic > 0.15 of one state, or P(sic > 0.15) > 0.5 of several."""
    if reference is None:
        return None
    sic = np.asarray(reference["sic"].values)
    if sic.shape[0] == 1:
        return ice_mask(sic[0])
    return ice_mask(edge_probability(sic), 0.5)


def edge_summary(ds: xr.Dataset, ice_ref: np.ndarray | None) -> dict[str, tuple[float, float]]:
    """Per-sample IIEE against ``ice_ref`` (10⁶ km², Goessling et al. 2016) and MIZ width (km): mean, std.

    Uses ``seaice_ldm.evaluation.edges``; areas are weighted with ``cell_area``, lengths are true lengths.
    """
    sic = np.asarray(ds["sic"].values)
    area = np.asarray(ds["cell_area"].values)
    x, y = np.asarray(ds["x"].values), np.asarray(ds["y"].values)
    ocean = np.isfinite(sic).all(axis=0)
    widths = [miz_width(s, x, y, area) / 1e3 for s in sic]
    out = {"miz_width": _mean_std(widths)}
    if ice_ref is not None and ice_ref.shape == ocean.shape:
        out["iiee"] = _mean_std([iiee(ice_mask(s), ice_ref, area, ocean)["iiee"] * 1e-12 for s in sic])
    return out


def _mean_std(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std()) if v.size > 1 else float("nan")


def _fmt_pct(share: float) -> str:
    if share is None or not np.isfinite(share):
        return "–"
    if share == 0:
        return "0 %"
    pct = 100 * share
    return f"{pct:.2f} %" if pct >= 0.01 else f"{pct:.1e} %"


def metrics_table_html(summary: dict | None, variable: str, title: str, colour: str, note: str = "") -> str:
    """A small HTML table of one panel's integrals (mean ± std) and out-of-bound / at-bound shares."""
    head = (f'<div class="sl-table" data-panel-title="{html.escape(title)}">'
            f'<div class="sl-table-title" style="border-left-color:{colour}">{html.escape(title)}</div>')
    if summary is None:
        return head + f'<div class="sl-table-empty">{html.escape(note or "no data yet")}</div></div>'
    rows = []
    for key, label, units in _ROWS:
        if key in summary:
            mean, std = summary[key]
            digits = 0 if key == "miz_width" else 2
            spread = f" ± {std:.{digits}f}" if np.isfinite(std) else ""
            value = f"{mean:.{digits}f}{spread}" if np.isfinite(mean) else "–"
            rows.append(f"<tr class='sl-row-{key}'><th>{label}</th><td>{value}</td><td class='u'>{units}</td></tr>")
    shown = "sic" if variable not in summary["outside"] else variable
    if variable in ("siu", "siv", "speed"):
        shown = None
    outside = summary["outside"].get(shown) if shown else summary["outside_all"]
    at = summary["at_bounds"].get(shown) if shown else None
    name = shown or "sit, sic, sid"
    rows.append(f"<tr class='oob'><th>Out of bounds ({name})</th><td data-oob='{outside}'>{_fmt_pct(outside)}</td>"
                f"<td class='u'>of cells</td></tr>")
    if at is not None:
        rows.append(f"<tr><th>At a bound ({name})</th><td>{_fmt_pct(at)}</td><td class='u'>of cells</td></tr>")
    all_out = ", ".join(f"{k} {_fmt_pct(v)}" for k, v in summary["outside"].items())
    foot = f'<div class="sl-table-note">{html.escape(note)}' + (f"<br>out of bounds: {all_out}" if all_out else "")
    return head + "<table>" + "".join(rows) + "</table>" + foot + "</div></div>"


# ----------------------------------------------------------------------------------------- spectra
def spectrum(ds: xr.Dataset, variable: str) -> tuple[np.ndarray, np.ndarray]:
    """Sample-mean radially averaged power spectrum (k in cycles/km) of a displayed variable, over the
    land-free boxes of the report (no coast enters), or the whole field on a grid too small for one box."""
    da = variable_array(ds, variable)
    try:
        boxes = spectrum_boxes(da)
    except ValueError:
        boxes = None
    return mean_spectrum(da, boxes=boxes)


def _spectra_hook(plot, element) -> None:
    figure = plot.state
    figure.toolbar.logo = None
    figure.outline_line_color = "#9aa3ad"
    if figure.legend:
        figure.legend[0].location = "bottom_left"
        figure.legend[0].background_fill_alpha = 0.7
        figure.legend[0].label_text_font_size = "11px"


SPECTRA_LABELS = {"latent": "Latent diffusion", "data": "Data-space diffusion", "reference": "Reference"}


def spectra_overlay(spectra: dict[str, tuple[np.ndarray, np.ndarray] | None], variable: str,
                    width: int = 560, height: int = 300) -> hv.Overlay:
    """Radially averaged spectra of the panels on one log-log plot (always the same three curves)."""
    _, units, *_ = variable_info(variable)
    u = units_label(units)
    curves = []
    for key, label in SPECTRA_LABELS.items():
        data = spectra.get(key)
        if data is None:
            k, p = np.array([1e-3, 1e-2]), np.array([np.nan, np.nan])
        else:
            k, p = data
            p = np.where(p > 0, p, np.nan)
        wavelength = 1.0 / np.asarray(k)
        curves.append(hv.Curve((wavelength, p, k), kdims=[hv.Dimension("wavelength", label="wavelength (km)")],
                               vdims=[hv.Dimension("power", label=f"power ({u}² km²)" if u != "1" else "power (km²)"),
                                      hv.Dimension("k", label="wavenumber (cycles/km)")],
                               label=label).opts(
            color=PANEL_COLOURS[key], line_width=2.2, line_dash="dashed" if key == "reference" else "solid",
            tools=["hover"], framewise=True,
            hover_tooltips=[("", label), ("wavelength", "@wavelength{0} km"), ("power", "@power{0.00e0}")]))
    return hv.Overlay(curves).opts(
        hv.opts.Overlay(width=width, height=height, logx=True, logy=True, framewise=True, legend_position="bottom_left",
                        invert_xaxis=True, xticks=[100, 200, 500, 1000, 2000, 5000],
                        xlabel="wavelength (km), large scales left", ylabel=curves[0].vdims[0].label,
                        title=f"Radially averaged spectrum of {variable} (sample mean)",
                        hooks=[_spectra_hook], toolbar=None, fontscale=0.9, show_legend=True)
    )


# ----------------------------------------------------------------------------------------- views of a state
# Functions of a DashboardState (read only): what each panel shows for the current selection.
def panel_histogram(state, panel: str, width: int = 430, height: int = 200) -> hv.Overlay:
    """Histogram of the panel's cell values of the shown variable (all members / reference states)."""
    ds = state.panel_dataset(panel)
    values = None if ds is None else variable_array(ds, state.variable).values
    n = "" if ds is None else f"\n{ds.sizes[sample_dim(ds['sic'])]} × ocean cells"  # two lines: fits a map's width
    return histogram_overlay(values, state.variable, title=f"{PANEL_SHORT[panel]}: {state.variable} values{n}",
                             colour=PANEL_COLOURS[panel], width=width, height=height)


PANEL_SHORT = {"latent": "Latent", "data": "Data space", "reference": "Reference"}


def panel_table(state, panel: str) -> str:
    """HTML table of the panel's integrals and bound shares."""
    ds = state.panel_dataset(panel)
    summary = None if ds is None else integrals_summary(ds, state.variable)
    if summary is not None:
        ref = None if panel == "reference" else reference_ice(state.panel_dataset("reference"))
        summary.update(edge_summary(ds, ref))
    title = state.panel_title(panel).split(" — ")[0]
    return metrics_table_html(summary, state.variable, title, PANEL_COLOURS[panel], note=state.panel_note(panel))


def spectra_plot(state, width: int = 620, height: int = 300) -> hv.Overlay:
    """Spectra of the shown variable for the three panels on one log-log plot."""
    spectra = {}
    for panel in ("latent", "data", "reference"):
        ds = state.panel_dataset(panel)
        spectra[panel] = None if ds is None else spectrum(ds, state.variable)
    return spectra_overlay(spectra, state.variable, width=width, height=height)
