"""The map area of the dashboard: three linked polar maps, region and view selectors, legend, joint view.

- Geography comes from ``seaice_ldm.data.geography`` (cartopy): the shipped Natural Earth coastline and
  the graticule are projected by cartopy into the grid's EPSG:3413 metres once per process; the maps
  themselves are plain HoloViews + Bokeh in those metres (no geoviews, no reprojection at render time).
- Every field is rasterised to the screen by datashader (``holoviews.operation.datashader.rasterize``)
  for the visible range and the plot's pixel size, so a 512 x 512 grid or a 64-member ensemble sends
  as many pixels to the browser as a 128 x 128 one. The ice-edge spaghetti is a datashader line-density
  image of every member's sic = 0.15 contour; the joint distribution is a rasterised, spread point
  density of (sic, sit) or (sic, sid) over all ocean cells of all members.
- The maths (edges, IIEE, MIZ width, region boxes) lives in the library; this module only draws.

The session's choices that only concern the map area (region, map mode, joint variable) are kept in a
small :class:`MapSettings` per session; the ensemble and display choices are read from the session's
``DashboardState`` (never changed here).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import datashader as ds
import holoviews as hv
import numpy as np
import panel as pn
import param
from holoviews.operation.datashader import rasterize, spread

from seaice_ldm.data import EXTENT_THRESHOLD, MIZ_LOWER, MIZ_UPPER
from seaice_ldm.data import configure_cartopy, graticule, project_lonlat, projected_coastline, sea_labels
from seaice_ldm.data import PAN_ARCTIC, REGIONS, region_box
from seaice_ldm.evaluation import contour_lines, edge_probability

from dashboard import views
from dashboard.selection import PANEL_TITLES, PANELS, VERSION_PARAMS

configure_cartopy()  # nothing under ~/.local; only projections are used, never cartopy.feature

#: Map modes, key -> label of the selector.
MODES: dict[str, str] = {
    "fields": "Fields",
    "difference": "Sample − reference",
    "spaghetti": "Ice-edge spaghetti",
    "joint": "Joint distribution",
}
#: Plot frame (pixels) of each map: three fit side by side next to the sidebar at 1280 px.
FRAME = 262
JOINT_FRAME = (250, 210)
DENSITY_CMAP = ("dense", False)
DIFF_CMAP = ("balance", False)
JOINT_CMAP = ("thermal", False)
#: Graticule and labels.
GRATICULE_COLOUR = "#5f6b75"
LABEL_COLOUR = "#2b3540"
COAST_COLOUR = "#1b2630"
#: Drift arrows: about this many arrows across the visible width; an arrow of KEY_SPEED is one spacing long.
ARROWS_ACROSS = 18
KEY_SPEED = 0.1  # m/s


@dataclass(frozen=True)
class LineStyle:
    """A contour drawn as a bright (or dark) core over a contrasting casing, readable on any colour."""

    core: str
    casing: str
    label: str
    width: float = 1.8
    dash: str = "solid"

    @property
    def casing_width(self) -> float:
        return self.width + 2.2


#: Lines on the maps; each core/casing pair has 3:1 WCAG contrast with every colour under it (tested).
LINES: dict[str, LineStyle] = {
    "edge": LineStyle("#ffd400", "#111111", f"sic = {MIZ_LOWER} (ice edge)"),
    "miz": LineStyle("#19e3d5", "#111111", f"sic = {MIZ_UPPER} (MIZ inner edge)"),
    "reference_edge": LineStyle("#111111", "#ffffff", "reference ice edge"),
    "p50_edge": LineStyle("#ffd400", "#111111", "ensemble edge, P(sic > 0.15) = 0.5"),
}
ARROW_CORE, ARROW_CASING = "#111111", "#ffffff"


def cmaps_in_use() -> dict[str, tuple[str, ...]]:
    """Every colour map a map panel can show, by name (for the contrast test and the legend)."""
    out = {f"{v} ({view})": views.style_for(v, view).cmap for v in views.DISPLAY_VARIABLES for view in views.VIEWS}
    out["difference"] = views.palette(*DIFF_CMAP)
    out["edge density"] = views.palette(*DENSITY_CMAP)
    return out


def background_colours() -> dict[str, str]:
    """Colours under the lines that are not part of a colour map."""
    return {"land": views.LAND_COLOUR, "no data / no ice": views.NO_DATA_COLOUR, "below bound": views.BELOW_COLOUR,
            "above bound": views.ABOVE_COLOUR}


# ----------------------------------------------------------------------------------------- pure helpers
def ice_masked(field: np.ndarray, sic: np.ndarray, variable: str) -> np.ndarray:
    """Damage and velocities have no meaning without ice: NaN where sic <= 0.15 (``EXTENT_THRESHOLD``)."""
    if variable not in ("sid", "siu", "siv", "speed"):
        return field
    with np.errstate(invalid="ignore"):
        return np.where(np.asarray(sic) > EXTENT_THRESHOLD, field, np.nan).astype(np.float32)


def arrow_spacing(view_width: float, dx: float, across: int = ARROWS_ACROSS) -> int:
    """Cells between drift arrows so that about ``across`` arrows span the visible width."""
    return max(1, int(round(view_width / dx / across)))


def arrow_scale(spacing: int, dx: float, key_speed: float = KEY_SPEED) -> float:
    """Metres of arrow per m/s: an arrow of ``key_speed`` is as long as the spacing between arrows."""
    return spacing * dx / key_speed


def difference_style(variable: str, view: str) -> views.Style:
    """Diverging style of sample − reference, symmetric about 0 (half the variable's display range)."""
    base = views.style_for(variable, view)
    half = (base.clim[1] - base.clim[0]) / 2.0
    return views.Style(views.palette(*DIFF_CMAP), (-half, half), f"Δ {base.label}, sample − reference",
                       f"difference of {base.long_name}", base.units, None, None)


def density_style(n: int) -> views.Style:
    return views.Style(views.palette(*DENSITY_CMAP), (0.0, float(max(n, 1))), "members with an ice edge in the pixel",
                       "ice-edge line density", "1", None, None)


@lru_cache(maxsize=4)
def geography_layers(crs: str = "EPSG:3413") -> tuple:
    """Static layers (built once per CRS, reused, so Bokeh never resends them): coast and graticule."""
    coast = hv.Path([np.asarray(projected_coastline(crs))], kdims=["x", "y"]).opts(
        color=COAST_COLOUR, line_width=1.0, hooks=[_name_hook("sl-coastline")])
    grid_lines = hv.Path([graticule(crs)["lines"]], kdims=["x", "y"]).opts(
        color=GRATICULE_COLOUR, line_width=0.7, line_dash="4 3", alpha=0.85, hooks=[_name_hook("sl-graticule")])
    return coast, grid_lines


#: Columns of the map's one text layer, and the style of each kind of text on it.
LABEL_COLUMNS = ("text", "size", "style", "colour", "align", "box")
LABEL_STYLES = {  # size, style, colour, align, opacity of the white box behind
    "graticule": ("9px", "normal", LABEL_COLOUR, "center", 0.65),
    "sea": ("9.5px", "italic", "#0b3954", "center", 0.6),
    "key": ("12px", "bold", ARROW_CORE, "left", 0.0),
    "message": ("14.5px", "normal", "#333333", "center", 0.0),
}


def label_rows(rows: list[tuple[float, float, str, str]]) -> dict[str, np.ndarray]:
    """``(x, y, text, kind)`` rows as the columns of the text layer (style looked up by kind)."""
    styled = [(x, y, text, *LABEL_STYLES[kind]) for x, y, text, kind in rows]
    return {name: np.asarray(column) for name, column in zip(("x", "y", *LABEL_COLUMNS), zip(*styled))}


@lru_cache(maxsize=4)
def geography_labels(crs: str = "EPSG:3413") -> tuple[tuple[float, float, str, str], ...]:
    """Graticule labels and sea names as text-layer rows."""
    return (tuple((x, y, t, "graticule") for x, y, t in graticule(crs)["labels"])
            + tuple((x, y, t, "sea") for x, y, t in sea_labels(crs)))


def text_layer(rows: list[tuple[float, float, str, str]]) -> hv.Labels:
    """All text on a map as one layer (one Bokeh glyph, each row styled by its kind): a map with one text
    layer instead of four builds and redraws faster."""
    return hv.Labels(label_rows(rows), kdims=["x", "y"], vdims=list(LABEL_COLUMNS)).opts(
        text_font_size=hv.dim("size"), text_font_style=hv.dim("style"), text_color=hv.dim("colour"),
        text_align=hv.dim("align"), background_fill_color="#ffffff", background_fill_alpha=hv.dim("box"),
        hooks=[_name_hook("sl-map-text")])


#: A map's limits and colour ranges are all set explicitly, so HoloViews need not compute data ranges over
#: every layer (normalize=False: a third less time to build a page and to redraw a map)
UNNORMALISED = ("Image", "Path", "Contours", "Labels", "VectorField")


def _no_initial_range_trigger(plot, element) -> None:
    """Skip HoloViews' second draw of a new map.

    On a first draw HoloViews sets the RangeXY stream to the frame's limits and then triggers it, which runs
    the whole map callback and update again (about a quarter of a page's build time). The limits are the
    view box the callback already drew for, so the stream keeps its values and the trigger is dropped.
    """
    for p in plot.traverse():  # filled only before the first draw
        p._trigger = [s for s in getattr(p, "_trigger", []) if not isinstance(s, hv.streams.RangeXY)]


def _name_hook(name: str):
    def hook(plot, element) -> None:
        renderer = plot.handles.get("glyph_renderer")
        if renderer is not None:
            renderer.name = name
    return hook


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    out = []
    for lines in parts:
        if len(lines):
            out += [lines, np.full((1, 2), np.nan)]
    return np.concatenate(out[:-1]) if out else np.full((1, 2), np.nan)


def contour_layer(sets: list[tuple[np.ndarray, LineStyle]]) -> hv.Contours:
    """All contour lines of a map as one layer (one Bokeh glyph): casings first, then cores.

    Lines that share a colour and width are one NaN-separated path; the paths are always the same five
    (one NaN point when a map has no such line), each with its own colour and width, so an update only
    sends new coordinates. One glyph instead of five: fewer Bokeh models to build, send and draw.
    """
    casing_keys = sorted({(st.casing, st.casing_width) for st in LINES.values()})
    core_keys = sorted({(st.core, st.width) for st in LINES.values()})
    paths = []
    for kind, keys in (("casing", casing_keys), ("core", core_keys)):
        for colour, width in keys:
            parts = [lines for lines, st in sets
                     if ((st.casing, st.casing_width) if kind == "casing" else (st.core, st.width)) == (colour, width)]
            joined = _joined(parts)
            paths.append({"x": joined[:, 0], "y": joined[:, 1], "colour": colour, "width": width})
    return hv.Contours(paths, kdims=["x", "y"], vdims=["colour", "width"]).opts(
        color=hv.dim("colour"), line_width=hv.dim("width"), hooks=[_name_hook("sl-lines")])


def _centres(lo: float, hi: float, n: int) -> np.ndarray:
    step = (hi - lo) / n
    return lo + step * (np.arange(n) + 0.5)


def _clip_range(rng, lo: float, hi: float) -> tuple[float, float]:
    a, b = (lo, hi) if rng is None or None in rng else rng
    return max(float(a), lo), min(float(b), hi)


# ----------------------------------------------------------------------------------------- session
#: what the joint view's points depend on (besides its own settings)
JOINT_INPUTS = ["version", "decoder", "view", "member", "reference_index", "reference_mode"]


class MapSettings(param.Parameterized):
    """Map-area choices of one session (not part of the ensemble request)."""

    region = param.Selector(default=PAN_ARCTIC, objects=list(REGIONS), doc="Named regional view")
    mode = param.Selector(default="fields", objects=list(MODES), doc="What the maps show")
    joint = param.Selector(default="sit", objects=["sit", "sid"], doc="Second variable of the joint distribution")
    joint_version = param.Integer(0, precedence=-1, doc="Increases when the joint view must be redrawn")


class MapArea:
    """The maps of one session: built once, updated in place by DynamicMaps."""

    def __init__(self, state, settings: MapSettings | None = None):
        self.state = state
        self.settings = settings or MapSettings()
        self.crs = getattr(getattr(getattr(state, "pipeline", None), "grid", None), "crs", "EPSG:3413")
        self.x, self.y = np.asarray(state.x, dtype=float), np.asarray(state.y, dtype=float)
        self.dx = float(abs(self.x[1] - self.x[0]))
        self.extent = region_box(PAN_ARCTIC, self.x, self.y)
        self.land = np.asarray(state.land, dtype=bool)
        # static: the same object every frame, so Bokeh sends it once
        self.land_layer = hv.Image((self.x, self.y, np.where(self.land, 1.0, np.nan).astype(np.float32)),
                                   kdims=["x", "y"], vdims=["land"]).opts(
            cmap=[views.LAND_COLOUR, views.LAND_COLOUR], clim=(0, 1), clipping_colors={"NaN": "transparent"},
            tools=[], colorbar=False)
        self.lat = np.asarray(state.lat, dtype=np.float32)
        self.lon = np.asarray(state.lon, dtype=np.float32)
        self._memo: dict = {}
        self._memo_lock = threading.Lock()
        # the view box shared by the three maps, the region it was set for, and each panel's last RangeXY
        self._box, self._box_region = self.extent, PAN_ARCTIC
        self._seen: dict[str, tuple] = {}
        # the joint view redraws only while shown (hidden, its six plots would redraw with every result)
        self._joint_stale = False
        state.param.watch(self._joint_inputs_changed, JOINT_INPUTS)
        self.settings.param.watch(self._joint_inputs_changed, "mode")

    # ------------------------------------------------------------------ data of a panel (memoised per result)
    def _key(self, panel: str, what: str) -> tuple:
        s = self.state
        return (panel, what, s.version, s.decoder, s.view, s.member, s.reference_index, s.reference_mode)

    def _memo_get(self, key, build):
        with self._memo_lock:
            if key in self._memo:
                return self._memo[key]
        value = build()
        with self._memo_lock:
            if len(self._memo) > 64:
                self._memo.clear()
            self._memo[key] = value
        return value

    def _member(self, panel: str) -> int:
        return 0 if panel == "reference" else int(self.state.member)

    def reference_ice_field(self) -> tuple[np.ndarray, float] | None:
        """The reference's edge field and level: one state's sic (0.15), or P(sic > 0.15) of several (0.5)."""
        ds_ref = self.state.panel_dataset("reference")
        if ds_ref is None:
            return None
        sic = np.asarray(ds_ref["sic"].values)
        if sic.shape[0] == 1:
            return sic[0], EXTENT_THRESHOLD
        return edge_probability(sic), 0.5

    def member_edges(self, panel: str) -> tuple[np.ndarray, int]:
        """sic = 0.15 contours of every member (or reference state) as one NaN-separated array."""
        def build():
            data = self.state.panel_dataset(panel)
            if data is None:
                return np.empty((0, 2)), 0
            sic = np.asarray(data["sic"].values)
            parts = []
            for field in sic:
                lines = contour_lines(field, self.x, self.y, EXTENT_THRESHOLD)
                if len(lines):
                    parts += [lines, np.full((1, 2), np.nan)]
            return (np.concatenate(parts[:-1]) if parts else np.empty((0, 2))), sic.shape[0]
        s = self.state
        return self._memo_get((panel, "spaghetti", s.version, s.decoder, s.view, s.reference_index,
                               s.reference_mode, s.member if panel == "reference" else None), build)

    def panel_field(self, panel: str, mode: str) -> tuple[np.ndarray | None, views.Style, np.ndarray | None, str]:
        """(field, style, sic for the contours, message) of a map in ``mode`` ('fields' or 'difference')."""
        s = self.state
        data = s.panel_dataset(panel)
        style = views.style_for(s.variable, s.view)
        if data is None:
            return None, style, None, s.panel_note(panel)
        member = self._member(panel)

        def build():
            field = views.view_field(data, s.variable, s.view, member)
            sic = views.contour_field(data, s.view, member)
            return ice_masked(field, sic, s.variable) if s.view != "prob" else field, sic
        field, sic = self._memo_get(self._key(panel, f"field-{s.variable}"), build)
        if mode == "difference" and panel != "reference":
            ref = s.panel_dataset("reference")
            if ref is None:
                return None, difference_style(s.variable, s.view), sic, "no reference to subtract"
            ref_field, _ = self._memo_get(self._key("reference", f"field-{s.variable}"),
                                          lambda: (views.view_field(ref, s.variable, s.view, 0), None))
            return field - ref_field, difference_style(s.variable, s.view), sic, ""
        return field, style, sic, ""

    # ------------------------------------------------------------------ one map
    def raster(self, values: np.ndarray, x_range, y_range, width: int, height: int) -> hv.Image:
        """The field rasterised by datashader for the visible range at the plot's pixel size (with lat/lon)."""
        image = hv.Image((self.x, self.y, np.asarray(values, dtype=np.float32), self.lat, self.lon),
                         kdims=["x", "y"], vdims=["value", "lat", "lon"])
        return rasterize(image, dynamic=False, x_range=x_range, y_range=y_range, width=width, height=height)

    def density(self, lines: np.ndarray, x_range, y_range, width: int, height: int) -> hv.Image:
        """Line density (datashader count) of the members' edges, with lat/lon of the pixel centres."""
        path = hv.Path([lines if len(lines) else np.empty((0, 2))], kdims=["x", "y"])
        agg = rasterize(path, aggregator=ds.count(), dynamic=False, x_range=x_range, y_range=y_range,
                        width=width, height=height)
        counts = np.asarray(agg.dimension_values(2, flat=False), dtype=np.float32)
        counts[counts <= 0] = np.nan
        xs = np.asarray(agg.dimension_values(0, expanded=False))
        ys = np.asarray(agg.dimension_values(1, expanded=False))
        xx, yy = np.meshgrid(xs, ys)
        lon, lat = _lonlat(xx, yy, self.crs)
        return hv.Image((xs, ys, counts, lat, lon), kdims=["x", "y"], vdims=["value", "lat", "lon"])

    def view_box(self, panel: str, x_range=None, y_range=None) -> tuple[float, float, float, float]:
        """What the (shared) maps show: the region's box once the region changes, then the user's pan/zoom.

        A panel's RangeXY stream only reports ranges the user moved in the browser, so its value is a new
        pan/zoom only when it differs from the last one that panel reported; otherwise the box stays.
        """
        region = self.settings.region
        if region != self._box_region:
            self._box, self._box_region = self.region_box(region), region
        seen = None if x_range is None or y_range is None or None in (*x_range, *y_range) else (
            tuple(x_range), tuple(y_range))
        box = self._box
        if seen is not None and seen != self._seen.get(panel, (box[:2], box[2:])):
            x0, x1 = _clip_range(x_range, *self.extent[:2])
            y0, y1 = _clip_range(y_range, *self.extent[2:])
            if x1 > x0 and y1 > y0:
                self._box = (x0, x1, y0, y1)
        if seen is not None:
            self._seen[panel] = seen
        return self._box

    def map_overlay(self, panel: str, x_range=None, y_range=None) -> hv.Overlay:
        """Everything on one map for the current state, settings and visible range (always the same layers).

        The frame's limits are the view box and are applied on every frame (``framewise``), so a region change
        moves the three maps' shared ranges, and a pan or zoom is kept through variable or view changes.
        """
        s, mode = self.state, self.settings.mode
        x0, x1, y0, y1 = self.view_box(panel, x_range, y_range)
        xr_, yr_ = (x0, x1), (y0, y1)
        edge = miz = ref_edge = p50 = np.empty((0, 2))
        uv_layers = (np.empty(0),) * 4
        message = ""
        if mode == "spaghetti":
            lines, n = self.member_edges(panel)
            image = self.density(lines, xr_, yr_, FRAME, FRAME)
            style = density_style(n)
            ref = self.reference_ice_field()
            if ref is not None:
                ref_edge = contour_lines(ref[0], self.x, self.y, ref[1])
            data = s.panel_dataset(panel)
            if data is not None and data["sic"].shape[0] > 1:
                p50 = contour_lines(edge_probability(data["sic"].values), self.x, self.y, 0.5)
            if data is None:
                message = s.panel_note(panel)
        else:
            field, style, sic, message = self.panel_field(panel, "difference" if mode == "difference" else "fields")
            values = np.full(self.land.shape, np.nan, np.float32) if field is None else field
            image = self.raster(values, xr_, yr_, FRAME, FRAME)
            if sic is not None:
                edge = contour_lines(sic, self.x, self.y, MIZ_LOWER)
                miz = contour_lines(sic, self.x, self.y, MIZ_UPPER)
            if s.arrows and field is not None:
                uv_layers = self.arrows(panel, xr_, yr_)
        image = image.opts(
            cmap=list(style.cmap), clim=style.clim, colorbar=True, colorbar_position="bottom",
            colorbar_opts={"height": 9, "title_text_font_style": "normal", "title_text_font_size": "11px",
                           "title": style.label},
            clipping_colors={"NaN": "transparent"}, tools=["hover"], hooks=[_raster_hook(style)],
            framewise=True,  # the overlay's xlim/ylim (the view box) are applied on every frame
            hover_tooltips=[(style.label, "@image{0.000}"), ("lat", "@lat{0.0}°N"), ("lon", "@lon{0.0}°E")],
        )
        coast, grid_lines = geography_layers(self.crs)
        layers = [image, self.land_layer, grid_lines, coast]
        layers.append(contour_layer([(edge, LINES["edge"]), (miz, LINES["miz"]), (p50, LINES["p50_edge"]),
                                     (ref_edge, LINES["reference_edge"])]))
        arrows, key = self.arrow_layers(*uv_layers, xr_, yr_)
        layers += arrows
        layers.append(text_layer([*geography_labels(self.crs), key, ((x0 + x1) / 2, (y0 + y1) / 2, message or "", "message")]))
        head, what, when = title_parts(panel, s.panel_title(panel))
        if mode == "difference" and panel != "reference":
            what = f"Δ {s.variable} vs reference"
        elif mode == "spaghetti":
            what = "ice edges"
        title = f"{head}\n{what} · {when}"  # two lines: one did not fit over a map of FRAME pixels
        return hv.Overlay(layers).opts(
            hv.opts.Overlay(frame_width=FRAME, frame_height=FRAME, data_aspect=1, xaxis=None, yaxis=None,
                            xlim=(x0, x1), ylim=(y0, y1), bgcolor=views.NO_DATA_COLOUR,
                            show_legend=False, toolbar="above", active_tools=[], title=title,
                            fontscale=0.85, border=4, hooks=[_no_initial_range_trigger], normalize=False),
            *(getattr(hv.opts, kind)(normalize=False) for kind in UNNORMALISED),
        )

    def arrows(self, panel: str, x_range, y_range) -> tuple:
        """Drift arrows in the visible range: positions, angle and length (m) on every k-th ice cell."""
        s = self.state
        data = s.panel_dataset(panel)
        member = self._member(panel)
        u, v = views.drift_field(data, s.view, member)
        sic = views.contour_field(data, s.view, member)
        u, v = ice_masked(u, sic, "siu"), ice_masked(v, sic, "siv")
        every = arrow_spacing(x_range[1] - x_range[0], self.dx)
        xs, ys, angle, mag = views.vector_data(u, v, self.x, self.y, every)
        inside = (xs >= x_range[0]) & (xs <= x_range[1]) & (ys >= y_range[0]) & (ys <= y_range[1])
        return xs[inside], ys[inside], angle[inside], mag[inside] * arrow_scale(every, self.dx)

    def arrow_layers(self, xs, ys, angle, length, x_range, y_range) -> tuple[list, tuple]:
        """Arrows (white casing, dark core) and a length key in the lower-left corner of the view (a row of
        the text layer)."""
        text = ""
        span = x_range[1] - x_range[0]
        kx, ky = x_range[0] + 0.05 * span, y_range[0] + 0.06 * (y_range[1] - y_range[0])
        if len(xs):  # the key is one more arrow: KEY_SPEED pointing along +x, labelled
            key_len = KEY_SPEED * arrow_scale(arrow_spacing(span, self.dx), self.dx)
            xs, ys = np.append(xs, kx), np.append(ys, ky)
            angle, length = np.append(angle, 0.0), np.append(length, key_len)
            text = f"{KEY_SPEED:g} m/s"
            tx = kx + key_len + 0.02 * span
        else:
            tx = kx
        opts = dict(rescale_lengths=False, pivot="tail", magnitude=hv.dim("Magnitude"))
        field = (xs, ys, angle, length)
        casing = hv.VectorField(field, kdims=["x", "y"], vdims=["Angle", "Magnitude"]).opts(
            color=ARROW_CASING, line_width=3.2, **opts)
        core = hv.VectorField(field, kdims=["x", "y"], vdims=["Angle", "Magnitude"]).opts(
            color=ARROW_CORE, line_width=1.4, hooks=[_name_hook("sl-arrows")], **opts)
        return [casing, core], (tx, ky, text, "key")

    # ------------------------------------------------------------------ region
    def region_box(self, name: str | None = None) -> tuple[float, float, float, float]:
        return region_box(name or self.settings.region, self.x, self.y, self.crs)

    # ------------------------------------------------------------------ joint distribution
    def _joint_inputs_changed(self, *events) -> None:
        if self.settings.mode != "joint":
            self._joint_stale = True
        elif self._joint_stale or events[0].name != "mode":
            self._joint_stale = False
            self.settings.joint_version += 1

    def joint_points(self, panel: str) -> tuple[np.ndarray, np.ndarray, int]:
        """(sic, other) over all ocean cells of all members of a panel, and the number of samples."""
        second = self.settings.joint

        def build():
            data = self.state.panel_dataset(panel)
            if data is None:
                return np.empty(0, np.float32), np.empty(0, np.float32), 0
            sic = np.asarray(data["sic"].values).ravel()
            other = np.asarray(data[second].values).ravel()
            ok = np.isfinite(sic) & np.isfinite(other)
            return sic[ok], other[ok], data["sic"].shape[0]
        s = self.state
        return self._memo_get((panel, f"joint-{second}", s.version, s.decoder, s.view, s.reference_index,
                               s.reference_mode, s.member if panel == "reference" else None), build)

    def joint_points_element(self, panel: str, **_) -> hv.Points:
        second = self.settings.joint
        sic, other, _n = self.joint_points(panel)
        return hv.Points((sic, other), kdims=[hv.Dimension("sic", label="sic (1)"),
                                              hv.Dimension(second, label=joint_label(second))])

    def joint_overlay(self, panel: str, points: hv.DynamicMap) -> hv.DynamicMap:
        """Rasterised (datashader count, spread by one pixel) density of (sic, second variable), log colours."""
        density = spread(rasterize(points, aggregator=ds.count()), px=1, shape="square")
        density = density.opts(cmap=list(views.palette(*JOINT_CMAP)), cnorm="log", colorbar=True,
                               colorbar_position="bottom", tools=["hover"], clipping_colors={"NaN": "transparent"},
                               clabel="ocean cells per pixel (log colours)",
                               colorbar_opts={"height": 9, "title_text_font_style": "normal",
                                              "title_text_font_size": "11px"},
                               hooks=[_name_hook("sl-joint")])

        def annotations(**_):
            second = self.settings.joint
            sic, other, n = self.joint_points(panel)
            lo2, hi2 = joint_range(second)
            bounds = [hv.VLine(b).opts(color="#555555", line_dash="dashed", line_width=1) for b in (0.0, 1.0)]
            upper = views.variable_info(second)[3]
            hb = [hv.HLine(0.0).opts(color="#555555", line_dash="dashed", line_width=1),
                  hv.HLine(upper if upper is not None else lo2).opts(
                      color="#555555", line_dash="dashed", line_width=1, alpha=1.0 if upper is not None else 0.0)]
            text = joint_bound_text(sic, other, second)
            top = float(np.max(other)) if len(other) else hi2  # inside the plotted range (set by the points)
            note = hv.Text(0.5, 0.95 * top, text, fontsize=9, valign="top").opts(
                text_color="#1f2a33", background_fill_color="white", background_fill_alpha=0.75)
            return hv.Overlay(bounds + hb + [note])

        def title(plot, element) -> None:  # the overlay of two DynamicMaps keeps no title of its own
            _sic, _other, n = self.joint_points(panel)
            samples = ("state" if panel == "reference" else "member") + ("s" if n != 1 else "")
            plot.state.title.text = f"{views.PANEL_SHORT[panel]}: " + (f"{n} {samples}" if n else "no data")

        ann = hv.DynamicMap(annotations, streams=[hv.streams.Params(self.settings, ["joint", "joint_version"])])
        return (density * ann).opts(
            hv.opts.Overlay(frame_width=JOINT_FRAME[0], frame_height=JOINT_FRAME[1], toolbar="above",
                            xlim=(-0.12, 1.12), show_legend=False, fontscale=0.9, framewise=True,
                            hooks=[title]),
        )


def title_parts(panel: str, title: str) -> tuple[str, str, str]:
    """(model with the panel's short name, what is shown, date or "all seasons") of a panel title."""
    head, _, rest = title.partition(" — ")
    what, _, when = rest.rpartition(" · ")
    long = PANEL_TITLES[panel]
    return (views.PANEL_SHORT[panel] + head[len(long):] if head.startswith(long) else head), what, when


def joint_label(second: str) -> str:
    long_name, units, *_ = views.variable_info(second)
    return f"{second} ({views.units_label(units)})"


def joint_range(second: str) -> tuple[float, float]:
    _, _, lower, upper, (lo, hi) = views.variable_info(second)
    pad = 0.12 * (hi - lo)
    return lo - pad, hi + pad


def joint_bound_text(sic: np.ndarray, other: np.ndarray, second: str) -> str:
    """Shares of the (sic, second) pairs exactly at the bounds: the point masses a censored decoder keeps."""
    if not len(sic):
        return ""
    return (f"sic = 0: {100 * np.mean(sic == 0.0):.1f} %   sic = 1: {100 * np.mean(sic == 1.0):.1f} %\n"
            f"{second} = 0: {100 * np.mean(other == 0.0):.1f} %")


@lru_cache(maxsize=8)
def _lonlat_transformer(crs: str):
    import pyproj

    return pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def _lonlat(xx: np.ndarray, yy: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _lonlat_transformer(crs).transform(xx, yy)
    return np.asarray(lon, np.float32), np.asarray(lat, np.float32)


def _raster_hook(style: views.Style):
    """Per-update Bokeh settings HoloViews does not re-apply: bound colours, colour-bar title, hover label."""

    colour_bar = views.map_hook(style)  # bound colours, colour-bar title, figure look

    def hook(plot, element) -> None:
        colour_bar(plot, element)
        hover = plot.handles.get("hover")
        if hover is not None:
            hover.tooltips = [(style.label, "@image{0.000}"), ("lat", "@lat{0.0}°N"), ("lon", "@lon{0.0}°E")]
        renderer = plot.handles.get("glyph_renderer")
        if renderer is not None:
            renderer.name = "sl-field"

    return hook


# ----------------------------------------------------------------------------------------- panel objects
def legend_html() -> str:
    """One line of legend for the map lines and colours (shown under the maps, visible without scrolling)."""
    def line(style: LineStyle) -> str:
        dash = "dashed" if style.dash != "solid" else "solid"
        return (f'<span class="sl-line-cased" style="border-color:{style.casing};background:{style.casing}">'
                f'<span style="border-top:3px {dash} {style.core}"></span></span>')
    swatch = '<span class="sl-swatch" style="background:{}"></span>'
    items = [line(LINES["edge"]) + LINES["edge"].label, line(LINES["miz"]) + LINES["miz"].label,
             line(LINES["reference_edge"]) + "reference edge", line(LINES["p50_edge"]) + "P(sic > 0.15) = 0.5",
             swatch.format(views.BELOW_COLOUR) + "below bound", swatch.format(views.ABOVE_COLOUR) + "above bound",
             swatch.format(views.LAND_COLOUR) + "land (grid mask)",
             swatch.format(views.NO_DATA_COLOUR) + "no ice: sid, drift not shown",
             '<span class="sl-coast-key"></span>coast: Natural Earth (public domain)']
    return '<div class="sl-map-legend">' + "".join(f"<span>{i}</span>" for i in items) + "</div>"


def map_area(state, theme=None, stylesheets=None) -> pn.Column:
    """Region and map-mode selectors, the three linked maps (or the joint distributions) and the legend."""
    area = MapArea(state)
    settings = area.settings
    display = ["variable", "view", "member", "decoder", "arrows", "reference_index", "reference_mode"]
    maps = []
    for panel in PANELS:
        dmap = hv.DynamicMap(lambda panel=panel, x_range=None, y_range=None, **_: area.map_overlay(
                                 panel, x_range=x_range, y_range=y_range),
                             streams=[hv.streams.Params(state, [*display, VERSION_PARAMS[panel]]),
                                      hv.streams.Params(settings, ["mode", "region"]),
                                      hv.streams.RangeXY()])  # fixed frames: rasterised at FRAME pixels
        maps.append(dmap)
    layout = hv.Layout(maps).cols(3).opts(shared_axes=True, merge_tools=True, toolbar="above", normalize=False)
    maps_pane = pn.pane.HoloViews(layout, sizing_mode="fixed", linked_axes=True, theme=theme,
                                  css_classes=["sl-maps"], name="maps")

    def joint_pane() -> pn.pane.HoloViews:
        joints = []
        for panel in PANELS:
            points = hv.DynamicMap(lambda panel=panel, **_: area.joint_points_element(panel),
                                   streams=[hv.streams.Params(settings, ["joint", "joint_version"])])
            joints.append(area.joint_overlay(panel, points))
        return pn.pane.HoloViews(hv.Layout(joints).cols(3).opts(shared_axes=True, toolbar="above"),
                                 sizing_mode="fixed", theme=theme, css_classes=["sl-joint"], name="joint")

    region = pn.widgets.Select.from_param(settings.param.region, name="", options=list(REGIONS), width=170,
                                          css_classes=["sl-region"], margin=(0, 8, 0, 5))
    mode = pn.widgets.RadioButtonGroup.from_param(settings.param.mode, name="", options={v: k for k, v in MODES.items()},
                                                  button_type="primary", button_style="outline",
                                                  css_classes=["sl-mode"], margin=(0, 8))
    joint = pn.widgets.RadioButtonGroup.from_param(settings.param.joint, name="", options={"sic vs sit": "sit",
                                                                                           "sic vs sid": "sid"},
                                                   button_type="default", css_classes=["sl-joint-var"], margin=(0, 8),
                                                   visible=settings.param.mode.rx() == "joint")
    legend = pn.pane.HTML(legend_html(), stylesheets=stylesheets or [], sizing_mode="stretch_width",
                          name="map-legend", margin=(2, 5))
    # shown and hidden through plain Columns: Panel fails to sync ``visible`` of a HoloViews pane whose
    # Bokeh model is a GridPlot ("unexpected attribute 'design' to GridPlot"), so the joint view never showed.
    # The joint view is built the first time it is shown (a page opens faster without it).
    showing = settings.param.mode.rx()
    joint_box = pn.Column(visible=showing == "joint", margin=0)

    def build_joint(event) -> None:
        if event.new == "joint" and not joint_box.objects:
            joint_box.objects = [joint_pane()]

    settings.param.watch(build_joint, "mode")
    column = pn.Column(pn.Row(region, mode, joint, css_classes=["sl-map-controls"]),
                       pn.Column(maps_pane, visible=showing != "joint", margin=0), joint_box, legend,
                       sizing_mode="stretch_width", css_classes=["sl-map-area"], margin=0)
    column.map_area = area  # for tests and timings
    return column


def warm_up() -> None:
    """Compile datashader's numba kernels once per process (about 3 s), off the event loop."""
    def run():
        try:
            x = np.linspace(0, 1, 8)
            img = hv.Image((x, x, np.random.rand(8, 8), np.random.rand(8, 8)), kdims=["x", "y"], vdims=["a", "b"])
            rasterize(img, dynamic=False, width=4, height=4)
            rasterize(hv.Path([np.random.rand(5, 2)]), aggregator=ds.count(), dynamic=False, width=4, height=4)
            rasterize(hv.Points(np.random.rand(50, 2)), aggregator=ds.count(), dynamic=False, width=4, height=4)
        except Exception:  # pragma: no cover - a warm-up only
            pass
    threading.Thread(target=run, name="seaice-datashader-warmup", daemon=True).start()


warm_up()

__all__ = ["LINES", "MODES", "MapArea", "MapSettings", "map_area", "ice_masked", "legend_html", "project_lonlat"]
