"""What one map shows, as HoloViews layers: the field (or the edge density), its flags, lines, arrows and text.

:func:`map_layers` reads a :class:`~dashboard.store.ResultStore` and the settings (never changes them) and returns
the same list of layers every time (empty ones included), so an update only sends new data. Fields are
rasterised by datashader for the visible box at the map's pixel size, so a 512 x 512 grid or a 64-member
ensemble sends as many pixels as a 128 x 128 one.
"""

from __future__ import annotations

from dataclasses import dataclass

import datashader as ds
import holoviews as hv
import numpy as np
import pandas as pd
from holoviews.operation.datashader import rasterize
from scipy import ndimage

from seaice_ldm.data import EXTENT_THRESHOLD, MIZ_UPPER
from seaice_ldm.evaluation import contour_lines

from dashboard import layers, styles
from dashboard.generators import REFERENCE
from dashboard.store import ENSEMBLE_VIEWS, ResultStore
from dashboard.styles import LINES

ARROWS_ACROSS = 18  # about this many drift arrows across the visible width
KEY_SPEED = 0.1  # m/s: the key arrow, as long as the spacing between arrows


@dataclass
class Frame:
    """The visible box of a map and its pixel size."""

    box: tuple[float, float, float, float]
    width: int
    height: int


def raster(store: ResultStore, values: np.ndarray, frame: Frame, vdims=("value",), lonlat: bool = True) -> hv.Image:
    """A field for the frame, with lat/lon of each cell for the hover tooltip: the grid's own cells in the box
    when they are fewer than the frame's pixels (nothing is gained by sending more), else rasterised to the
    frame's pixels by datashader (a 512 x 512 grid sends no more than the screen shows)."""
    x0, x1, y0, y1 = frame.box
    dx = abs(store.x[1] - store.x[0])
    cols = np.flatnonzero((store.x >= x0 - dx) & (store.x <= x1 + dx))
    rows = np.flatnonzero((store.y >= y0 - dx) & (store.y <= y1 + dx))
    if not len(cols) or not len(rows):
        cols, rows = np.arange(2), np.arange(2)
    sl = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    extra = [store.lat[sl], store.lon[sl]] if lonlat else []
    image = hv.Image((store.x[sl[1]], store.y[sl[0]], np.asarray(values, dtype=np.float32)[sl], *extra),
                     kdims=["x", "y"], vdims=[*vdims, *(["lat", "lon"] if lonlat else [])])
    if len(cols) <= frame.width and len(rows) <= frame.height:
        return image
    return rasterize(image, dynamic=False, x_range=(x0, x1), y_range=(y0, y1), width=frame.width,
                     height=frame.height)


def edge_density(store: ResultStore, panel: str, frame: Frame) -> hv.Image:
    """Share of a panel's members (or states) whose sic = 0.15 contour passes within a pixel of each pixel (0-1: one
    scale for every panel, whatever its number of members): each member's edge is drawn by datashader, widened to
    three pixels, and counted once per pixel."""
    data = store.dataset(panel)
    sic = None if data is None or "sic" not in data else np.asarray(data["sic"].values)
    lines = [contour_lines(f, store.x, store.y, EXTENT_THRESHOLD) for f in (sic if sic is not None else [])]
    n = max(len(lines), 1)
    x0, x1, y0, y1 = frame.box
    canvas = ds.Canvas(plot_width=frame.width, plot_height=frame.height, x_range=(x0, x1), y_range=(y0, y1))
    total = None
    for line in lines:  # each member counts once per pixel, however often its edge crosses it
        if not len(line):
            continue
        agg = canvas.line(pd.DataFrame({"x": line[:, 0], "y": line[:, 1]}), "x", "y", agg=ds.any())
        hit = ndimage.binary_dilation(np.asarray(agg.values, dtype=bool), iterations=1).astype(np.float32)
        total = hit if total is None else total + hit
    xs = np.linspace(x0, x1, frame.width, endpoint=False) + (x1 - x0) / frame.width / 2
    ys = np.linspace(y0, y1, frame.height, endpoint=False) + (y1 - y0) / frame.height / 2
    share = np.full((frame.height, frame.width), np.nan, np.float32) if total is None else total / n
    share = np.where(share > 0, share, np.nan).astype(np.float32)
    xx, yy = np.meshgrid(xs, ys)
    lon, lat = _lonlat(store.crs, xx, yy)
    return hv.Image((xs, ys, share, lat, lon), kdims=["x", "y"], vdims=["value", "lat", "lon"])


def _lonlat(crs: str, xx, yy):
    import pyproj

    lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(xx, yy)
    return np.asarray(lon, np.float32), np.asarray(lat, np.float32)


def lines_for(store: ResultStore, panel: str, mode: str) -> list[tuple[np.ndarray, styles.LineStyle]]:
    """The contours a map draws, each with the style that names it (member edges solid, the mean field's
    dashed, the median edge P(sic > 0.15) = 0.5 in its own colours)."""
    s = store.settings
    out = []
    x, y = store.x, store.y
    data = store.dataset(panel)
    if data is not None and "sic" in data:
        single = data["sic"].shape[0] == 1
        prob = store.probability(panel)
        if mode == "spaghetti":
            ref = store.dataset(REFERENCE)
            if ref is not None and "sic" in ref:
                ref_sic = np.asarray(ref["sic"].values)
                field, level = (ref_sic[0], EXTENT_THRESHOLD) if len(ref_sic) == 1 else (
                    store.probability(REFERENCE), 0.5)
                out.append((contour_lines(field, x, y, level), LINES["reference_edge"]))
            if prob is not None:
                out.append((contour_lines(prob, x, y, 0.5), LINES["p50"]))
        else:
            sic = store.contour_sic(panel)
            member_like = s.view == "member" or single
            if s.view in ("prob", "miz") and prob is not None:
                out.append((contour_lines(prob, x, y, 0.5), LINES["p50"]))
                out.append((contour_lines(sic, x, y, EXTENT_THRESHOLD), LINES["mean_edge"]))
            elif member_like:
                out.append((contour_lines(sic, x, y, EXTENT_THRESHOLD), LINES["edge"]))
                out.append((contour_lines(sic, x, y, MIZ_UPPER), LINES["miz"]))
            else:
                out.append((contour_lines(sic, x, y, EXTENT_THRESHOLD), LINES["mean_edge"]))
                out.append((contour_lines(sic, x, y, MIZ_UPPER), LINES["mean_miz"]))
    line = shown_transect(store)
    if line:
        x0, y0, x1, y1 = line
        out.append((np.array([[x0, y0], [x1, y1]]), LINES["transect"]))
    return out


def shown_transect(store: ResultStore):
    """The transect the maps draw: the user's, or the default line while the transect tool is open."""
    s = store.settings
    if s.transect:
        return s.transect
    if s.tool == "transect":
        from dashboard.transect import default_transect

        return default_transect(s.region, store.crs)
    return ()


def arrows(store: ResultStore, panel: str, frame: Frame) -> tuple[list, tuple | None]:
    """Drift arrows in the visible box (every k-th ice cell, about ARROWS_ACROSS across) and the key's text row."""
    s = store.settings
    data = store.dataset(panel)
    empty = (np.empty(0),) * 4
    if not s.arrows or data is None or not store.has(panel, "speed"):
        return layers.arrow_layers(*empty), None
    x0, x1, y0, y1 = frame.box
    dx = abs(store.x[1] - store.x[0])
    every = arrow_spacing(x1 - x0, dx)
    view = "mean" if s.view in ENSEMBLE_VIEWS and data["siu"].shape[0] > 1 else "member"
    u, v = (store.field(panel, name, view) for name in ("siu", "siv"))
    off = every // 2
    sl = (slice(off, None, every), slice(off, None, every))
    xx, yy = np.meshgrid(store.x, store.y)
    us, vs, xs, ys = u[sl], v[sl], xx[sl], yy[sl]
    keep = np.isfinite(us) & np.isfinite(vs) & (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
    scale = arrow_scale(every, dx)
    # grid components: the angle in the map's own x/y is arctan2(v, u), right at the pole too
    xs, ys = xs[keep], ys[keep]
    angle, length = np.arctan2(vs[keep], us[keep]), np.hypot(us[keep], vs[keep]) * scale
    kx, ky = x0 + 0.05 * (x1 - x0), y0 + 0.07 * (y1 - y0)
    xs, ys = np.append(xs, kx), np.append(ys, ky)
    angle, length = np.append(angle, 0.0), np.append(length, KEY_SPEED * scale)
    key = (kx + KEY_SPEED * scale + 0.09 * (x1 - x0), ky, f"{KEY_SPEED:g} m/s")
    return layers.arrow_layers(xs, ys, angle, length), key


def arrow_spacing(view_width: float, dx: float, across: int = ARROWS_ACROSS) -> int:
    """Cells between drift arrows so that about ``across`` arrows span the visible width."""
    return max(1, int(round(view_width / dx / across)))


def arrow_scale(spacing: int, dx: float, key_speed: float = KEY_SPEED) -> float:
    """Metres of arrow per m/s: an arrow of ``key_speed`` is as long as the spacing between arrows."""
    return spacing * dx / key_speed


def field_and_style(store: ResultStore, panel: str, mode: str) -> tuple[np.ndarray | None, styles.Style]:
    """The field a map colours and its style (fields or sample − reference)."""
    s = store.settings
    limit = store.spread_limit(s.variable) if s.view == "spread" else None
    style = styles.style_for(s.variable, s.view, limit)
    field = store.field(panel, s.variable)
    if mode == "difference" and panel != REFERENCE:
        ref = store.field(REFERENCE, s.variable)
        diff = None if field is None or ref is None else field - ref
        return diff, styles.difference_style(s.variable, s.view, limit)
    return field, style


LAND_VALUE = 10.0


def map_layers(store: ResultStore, panel: str, frame: Frame, sizes: dict) -> tuple[list, styles.Style]:
    """Every layer of one map, in drawing order, and the style of its colour bar."""
    s = store.settings
    mode = "fields" if s.mode == "joint" else s.mode
    if mode == "spaghetti":
        image, style, flags = edge_density(store, panel, frame), styles.density_style(), None
    else:
        field, style = field_and_style(store, panel, mode)
        values = np.full(store.land.shape, np.nan, np.float32) if field is None else field
        image = raster(store, values, frame)
        flags = None if field is None or mode == "difference" else styles.flag_field(field, style)
    # one layer for the flags, the land and "no ice": land is a value above the flags' range, no ice (where damage
    # and drift are not defined) one below it, each drawn in its own colour
    flag_values = np.full(store.land.shape, np.nan, np.float32) if flags is None else np.clip(flags, -1.0, 1.0)
    if mode != "spaghetti" and s.variable in ("sid", "siu", "siv", "speed") and s.view not in ("prob", "miz"):
        sic = store.contour_sic(panel)
        if sic is not None:
            with np.errstate(invalid="ignore"):
                flag_values = np.where(np.isfinite(sic) & (sic <= EXTENT_THRESHOLD), -LAND_VALUE, flag_values)
    flag_values = np.where(store.land, LAND_VALUE, flag_values).astype(np.float32)
    flag_image = raster(store, flag_values, frame, vdims=("excess",), lonlat=False).opts(
        cmap=list(styles.flag_palette()), clim=(-1.0, 1.0),
        clipping_colors={"NaN": "transparent", "max": styles.LAND_COLOUR, "min": styles.NO_ICE_COLOUR},
        colorbar=False, tools=[],
        hooks=[layers.name_hook("sl-flags")])
    coast, grid = layers.geography_layers(store.crs, layers.fine_graticule(frame.box))
    arrow_glyphs, key = arrows(store, panel, frame)
    bar_path, bar_label, bar_box = layers.scale_bar(frame.box, frame.width, store.crs)
    reserved = [bar_box]
    rows = []
    if key is not None:
        x0, x1, y0, y1 = frame.box
        reserved.append((x0, x0 + 0.4 * (x1 - x0), y0, y0 + 0.13 * (y1 - y0)))
        rows.append((*key, "key"))
    rows += [(*bar_label, "bar"), *layers.transect_rows(shown_transect(store))]
    rows += layers.label_rows(frame.box, frame.width, sizes, store.crs, reserved)
    lines = [*lines_for(store, panel, s.mode), (bar_path, styles.LINES["bar"])]
    out = [image, flag_image, grid, coast, *layers.contour_layers(lines), *arrow_glyphs, *layers.text_layers(rows, sizes)]
    return out, style
