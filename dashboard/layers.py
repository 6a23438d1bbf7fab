"""The pieces of a map as HoloViews elements: geography, text, contour lines, flags, arrows, scale bar, transect.

Pure builders: numbers in, elements out (no session, no Panel). Text is laid out for the visible box and the
map's pixel size, so labels stay inside the frame, never overlap each other, and carry no box that hides the
ice edge (a white halo under the glyphs instead).
"""

from __future__ import annotations

from functools import lru_cache

import holoviews as hv
import numpy as np

from seaice_ldm.data import graticule, graticule_spacing, project_lonlat, projected_coastline, sea_labels
from seaice_ldm.evaluation import along_distance

from dashboard import styles
from dashboard.styles import LINES, LineStyle

Box = tuple[float, float, float, float]
LABEL_MARGIN = 0.035  # of the box width: labels keep this far from the frame
FINE_BELOW_M = 4.0e6  # a box narrower than this (a region, a zoom) gets the fine graticule


def fine_graticule(box: Box) -> bool:
    """Whether a map showing ``box`` draws the fine graticule (the pan-Arctic one would cross it once or never)."""
    return box[1] - box[0] < FINE_BELOW_M


def name_hook(name: str):
    """Name a layer's Bokeh renderer (the browser tests find the layers by name)."""
    def hook(plot, element) -> None:
        renderer = plot.handles.get("glyph_renderer")
        if renderer is not None:
            renderer.name = name
    return hook


# ----------------------------------------------------------------------------------------- geography
@lru_cache(maxsize=8)
def geography_layers(crs: str = "EPSG:3413", fine: bool = False) -> tuple[hv.Path, hv.Path]:
    """Coast and graticule (built once per CRS and spacing and reused, so Bokeh never resends them)."""
    coast = hv.Path([np.asarray(projected_coastline(crs))], kdims=["x", "y"]).opts(
        color=styles.COAST_COLOUR, line_width=1.1, hooks=[name_hook("sl-coastline")])
    grid = hv.Path([graticule(crs, fine)["lines"]], kdims=["x", "y"]).opts(
        color=styles.GRATICULE_COLOUR, line_width=0.8, line_dash="4 3", alpha=0.9, hooks=[name_hook("sl-graticule")])
    return coast, grid


@lru_cache(maxsize=8)
def _graticule_points(crs: str, fine: bool = False) -> dict[str, np.ndarray]:
    """Projected points along each meridian (50-86 N) and parallel, for label placement."""
    out = {}
    parallels, meridians = graticule_spacing(fine)
    lats = np.linspace(50.0, 86.0, 73)
    for m in meridians:
        x, y = project_lonlat(np.full_like(lats, m), lats, crs)
        out[_meridian_text(m)] = np.column_stack([x, y])
    lons = np.linspace(-180.0, 180.0, 145)[:-1]
    order = np.argsort(np.abs(((lons - 150.0 + 180.0) % 360.0) - 180.0), kind="stable")  # 150 E first
    for p in parallels:
        x, y = project_lonlat(lons[order], np.full(len(lons), p), crs)
        out[f"{p:.0f}°N"] = np.column_stack([x, y])
    return out


def _meridian_text(m: float) -> str:
    return "180°" if abs(m) == 180.0 else ("0°" if m == 0 else f"{abs(m):.0f}°{'E' if m > 0 else 'W'}")


def _extent(text: str, size: int, per_px: float) -> tuple[float, float]:
    """Half width and half height of a label in map units (an estimate from its characters)."""
    return 0.3 * size * len(text) * per_px + 2 * per_px, 0.62 * size * per_px


def label_rows(box: Box, frame_px: float, sizes: dict[str, int], crs: str = "EPSG:3413",
               reserved: list[Box] | None = None) -> list[tuple[float, float, str, str]]:
    """``(x, y, text, kind)`` of the sea names and graticule labels that fit inside ``box`` without overlap.

    Sea names first, then parallels and meridians; each label takes its first candidate position inside the
    box (less a margin) that overlaps no placed label and no ``reserved`` box (arrow key, scale bar).
    """
    x0, x1, y0, y1 = box
    per_px = (x1 - x0) / max(frame_px, 50.0)
    margin = LABEL_MARGIN * (x1 - x0)
    placed: list[Box] = list(reserved or [])
    rows = []

    def fits(x: float, y: float, text: str, size: int) -> Box | None:
        hw, hh = _extent(text, size, per_px)
        b = (x - hw, x + hw, y - hh, y + hh)
        if b[0] < x0 + margin or b[1] > x1 - margin or b[2] < y0 + margin or b[3] > y1 - margin:
            return None
        if any(b[0] < p[1] and p[0] < b[1] and b[2] < p[3] and p[2] < b[3] for p in placed):
            return None
        return b

    def place(candidates, text: str, kind: str) -> None:
        for x, y in candidates:
            b = fits(float(x), float(y), text, sizes[kind])
            if b is not None:
                placed.append(b)
                rows.append((float(x), float(y), text, kind))
                return

    step = 0.9 * sizes["sea"] * per_px
    for x, y, name in sea_labels(crs):
        place([(x, y), (x, y + step), (x, y - step), (x + 2 * step, y), (x - 2 * step, y)], name, "sea")
    points = _graticule_points(crs, fine_graticule(box))
    for key, pts in points.items():
        if key.endswith("N"):
            place(pts, key, "graticule")
    for key, pts in points.items():
        if not key.endswith("N"):
            place(pts, key, "graticule")
    return rows


LABEL_STYLES = {"graticule": ("normal", styles.GRATICULE_COLOUR), "sea": ("italic", "#0b3954"),
                "key": ("bold", styles.TEXT_COLOUR), "bar": ("bold", styles.TEXT_COLOUR),
                "mark": ("bold", styles.LINES["transect"].casing)}


def text_layers(rows: list[tuple[float, float, str, str]], sizes: dict[str, int]) -> list[hv.Labels]:
    """All text of a map as two layers: a white halo (the glyphs outlined), then the text itself."""
    cols = {"x": [], "y": [], "text": [], "size": [], "style": [], "colour": []}
    for x, y, text, kind in rows:
        style, colour = LABEL_STYLES[kind]
        for k, v in zip(cols, (x, y, text, f"{sizes[kind]}px", style, colour)):
            cols[k].append(v)
    data = {k: np.asarray(v, dtype=object if k != "x" and k != "y" else float) for k, v in cols.items()}
    if not rows:
        data = {"x": np.array([np.nan]), "y": np.array([np.nan]), "text": np.array([""], dtype=object),
                "size": np.array(["10px"], dtype=object), "style": np.array(["normal"], dtype=object),
                "colour": np.array([styles.TEXT_COLOUR], dtype=object)}
    vdims = ["text", "size", "style", "colour"]
    common = dict(text_font_size=hv.dim("size"), text_font_style=hv.dim("style"), text_align="center",
                  text_baseline="middle")
    halo = hv.Labels(data, kdims=["x", "y"], vdims=vdims).opts(text_color="#ffffff", hooks=[_halo_hook], **common)
    text = hv.Labels(data, kdims=["x", "y"], vdims=vdims).opts(text_color=hv.dim("colour"),
                                                               hooks=[name_hook("sl-map-text")], **common)
    return [halo, text]


def _halo_hook(plot, element) -> None:
    glyph = plot.handles.get("glyph")
    if glyph is not None:
        glyph.text_outline_color = "#ffffff"
        glyph.text_outline_width = 4
        glyph.text_alpha = 0.9
    renderer = plot.handles.get("glyph_renderer")
    if renderer is not None:
        renderer.name = "sl-map-halo"


# ----------------------------------------------------------------------------------------- lines
def _joined(parts: list[np.ndarray]) -> np.ndarray:
    out = []
    for lines in parts:
        if len(lines):
            out += [np.asarray(lines, dtype=float), np.full((1, 2), np.nan)]
    return np.concatenate(out[:-1]) if out else np.full((1, 2), np.nan)


def contour_layers(sets: list[tuple[np.ndarray, LineStyle]]) -> list[hv.Contours]:
    """All lines of a map as two layers (solid, dashed), casings first, then cores.

    Lines that share a colour and width are one NaN-separated path; every layer always has the same paths
    (one NaN point when a map has no such line), so an update only sends new coordinates.
    """
    layers = []
    for dash in ("solid", "dashed"):
        styles_ = [st for st in LINES.values() if st.dash == dash]
        keys = [("casing", st.casing, st.casing_width) for st in styles_] + [("core", st.core, st.width) for st in styles_]
        keys = list(dict.fromkeys(keys))
        paths = []
        for part, colour, width in keys:
            chosen = [lines for lines, st in sets if st.dash == dash and (
                (st.casing, st.casing_width) if part == "casing" else (st.core, st.width)) == (colour, width)]
            joined = _joined(chosen)
            paths.append({"x": joined[:, 0], "y": joined[:, 1], "colour": colour, "width": width})
        layers.append(hv.Contours(paths, kdims=["x", "y"], vdims=["colour", "width"]).opts(
            color=hv.dim("colour"), line_width=hv.dim("width"), line_dash=dash, hooks=[name_hook(f"sl-lines-{dash}")]))
    return layers


# ----------------------------------------------------------------------------------------- scale bar
NICE_KM = (25, 50, 100, 200, 250, 500, 1000, 2000)


def scale_bar(box: Box, frame_px: float, crs: str = "EPSG:3413") -> tuple[np.ndarray, tuple[float, float, str], Box]:
    """A bar of a round true length (about a fifth of the view) in the lower right corner: its ``(n, 2)``
    path (bar and end ticks), its label ``(x, y, text)`` and the box it takes (kept free of other text).

    The map length of the bar is its true length times the local map scale (polar stereographic maps are true
    only at 70 N), measured along the bar with the library's geodesic distance."""
    x0, x1, y0, y1 = box
    w, h = x1 - x0, y1 - y0
    right, base = x1 - 0.06 * w, y0 + 0.07 * h
    probe = np.array([[right - 0.2 * w, base], [right, base]])
    true_km = float(along_distance(probe, crs)[-1])
    map_per_km = 0.2 * w / max(true_km, 1e-9)
    km = max((k for k in NICE_KM if k * map_per_km <= 0.3 * w), default=NICE_KM[0])
    left = right - km * map_per_km
    tick = 0.012 * h
    path = np.array([[left, base + tick], [left, base], [right, base], [right, base + tick]])
    label = ((left + right) / 2, base + 0.035 * h, f"{km} km")
    return path, label, (left - 0.01 * w, right + 0.01 * w, base - 0.02 * h, base + 0.06 * h)


# ----------------------------------------------------------------------------------------- arrows
def arrow_layers(xs, ys, angle, length) -> list[hv.VectorField]:
    """Drift arrows: white casing, dark core (readable on the dark open ocean and the pale pack)."""
    opts = dict(rescale_lengths=False, pivot="tail", magnitude=hv.dim("Magnitude"))
    field = (xs, ys, angle, length)
    casing = hv.VectorField(field, kdims=["x", "y"], vdims=["Angle", "Magnitude"]).opts(
        color=styles.ARROW_CASING, line_width=3.4, **opts)
    core = hv.VectorField(field, kdims=["x", "y"], vdims=["Angle", "Magnitude"]).opts(
        color=styles.ARROW_CORE, line_width=1.5, hooks=[name_hook("sl-arrows")], **opts)
    return [casing, core]


def transect_rows(transect) -> list[tuple[float, float, str, str]]:
    """Text rows "A" and "B" at the transect's ends (none without a transect)."""
    if not transect:
        return []
    x0, y0, x1, y1 = transect
    return [(x0, y0, "A", "mark"), (x1, y1, "B", "mark")]
