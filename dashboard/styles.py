"""How the dashboard colours and labels what it draws: colour maps, ranges, bound flags, lines, text sizes.

Every colour map is a cmocean map (perceptually uniform) and each kind of quantity has its own: a probability
never borrows the sic colours. Ranges are fixed per variable so the panels compare; the spread's range comes
from the data (shared by the panels). Values outside a physical bound are drawn in the map's end colour and,
when they are more than a tolerance outside, flagged by an overlay whose opacity grows with the distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seaice_ldm.data import VARIABLES
from seaice_ldm.palette import hex_colours

#: Colours that are not part of any colour map.
LAND_COLOUR = "#d8d2c4"
NO_ICE_COLOUR = "#7d8690"  # no ice (sic <= 0.15): damage and drift not defined
BACKGROUND = "#eef1f4"  # outside the grid, and under the edge density of the spaghetti view
BELOW_COLOUR = "#ff1fa9"  # below the physical lower bound (magenta)
ABOVE_COLOUR = "#ff7a00"  # above the physical upper bound (orange)
GRATICULE_COLOUR = "#5f6b75"
COAST_COLOUR = "#1b2630"
TEXT_COLOUR = "#17202a"

#: Colour maps come from ``seaice_ldm.palette``; the dashboard's names for its quantities, and the part of a
#: map a quantity uses where it is not the whole map.
PALETTE_NAME = {"density": "edge_density"}
PART = {"density": (0.12, 0.88)}  # starts saturated: one member's edge is visible
SPEED_RANGE = (0.0, 0.3)
#: values further than this outside a bound are flagged; fully opaque at FLAG_FULL
TOLERANCE = {"sic": 0.02, "sid": 0.02, "sit": 0.05, "speed": 0.01}
FLAG_FULL = {"sic": 0.3, "sid": 0.3, "sit": 1.0, "speed": 0.1}


def cmap_for(kind: str) -> tuple[str, ...]:
    low, high = PART.get(kind, (0.0, 1.0))
    return hex_colours(PALETTE_NAME.get(kind, kind), 256, low, high)


def variable_info(variable: str) -> tuple[str, str, float | None, float | None, tuple[float, float]]:
    """(long name, units, lower, upper, display range) of a displayed variable (speed included)."""
    if variable == "speed":
        return "sea-ice drift speed", "m s-1", 0.0, None, SPEED_RANGE
    var = VARIABLES[variable]
    return var.long_name, var.units, var.lower, var.upper, tuple(var.display_range)


def units_label(units: str) -> str:
    return {"1": "1", "m s-1": "m/s"}.get(units, units)


def variable_label(variable: str) -> str:
    """Colour-bar label of a variable; drift components say they are grid components."""
    _, units, *_ = variable_info(variable)
    extra = {"siu": " along grid x", "siv": " along grid y", "speed": " (drift)"}.get(variable, "")
    return f"{variable}{extra} ({units_label(units)})"


@dataclass(frozen=True)
class Style:
    """How one field is coloured: palette, colour range, label, and the bounds it is flagged against."""

    cmap: tuple[str, ...]
    clim: tuple[float, float]
    label: str
    lower: float | None = None  # physical bounds of the shown quantity (None: unbounded or not flagged)
    upper: float | None = None
    tolerance: float = 0.0
    full: float = 1.0


def style_for(variable: str, view: str, spread_limit: float | None = None) -> Style:
    """Colour style of ``variable`` shown as ``view``; ``spread_limit`` is the spread range from the data."""
    long_name, units, lower, upper, (lo, hi) = variable_info(variable)
    if view == "prob":
        return Style(cmap_for("prob"), (0.0, 1.0), "P(sic > 0.15) over the members")
    if view == "miz":
        return Style(cmap_for("miz"), (0.0, 1.0), "P(0.15 < sic < 0.8): MIZ probability")
    if view == "spread":
        top = spread_limit if spread_limit else (hi - lo) / 4.0
        return Style(cmap_for("spread"), (0.0, top), f"std of {variable_label(variable)}, range from the data")
    return Style(cmap_for(variable), (lo, hi), variable_label(variable), lower, upper,
                 TOLERANCE.get(variable, 0.0), FLAG_FULL.get(variable, 1.0))


def difference_style(variable: str, view: str, spread_limit: float | None = None) -> Style:
    """Diverging style of sample − reference, symmetric about 0 (half the variable's range)."""
    base = style_for(variable, view, spread_limit)
    half = (base.clim[1] - base.clim[0]) / 2.0
    return Style(cmap_for("difference"), (-half, half), f"Δ {base.label}, sample − reference")


def density_style() -> Style:
    return Style(cmap_for("density"), (0.0, 1.0), "share of members (states) with an ice edge in the pixel")


def flag_palette(n: int = 128) -> tuple[str, ...]:
    """Colours of the out-of-bound overlay over the excess range ``[-1, 1]`` (in units of ``Style.full``):
    magenta below, orange above, opacity growing from 20 % just past the tolerance to 90 %."""
    out = []
    for t in np.linspace(-1.0, 1.0, n):
        colour = BELOW_COLOUR if t < 0 else ABOVE_COLOUR
        alpha = int(round(255 * (0.2 + 0.7 * min(abs(t), 1.0))))
        out.append(f"{colour}{alpha:02x}")
    return tuple(out)


def flag_field(values: np.ndarray, style: Style) -> np.ndarray | None:
    """Signed excess outside the bounds beyond the tolerance (NaN inside), in units of ``style.full``; None when
    the style is unbounded or nothing is outside."""
    if style.lower is None and style.upper is None:
        return None
    v = np.asarray(values, dtype=np.float64)
    e = np.zeros_like(v)
    with np.errstate(invalid="ignore"):
        if style.lower is not None:
            e = np.where(v < style.lower, v - style.lower, e)
        if style.upper is not None:
            e = np.where(v > style.upper, v - style.upper, e)
        e = np.where(np.isfinite(v) & (np.abs(e) > style.tolerance), e / style.full, np.nan)
    return e.astype(np.float32) if np.isfinite(e).any() else None


@dataclass(frozen=True)
class LineStyle:
    """A contour drawn as a bright (or dark) core over a contrasting casing, readable on any colour."""

    core: str
    casing: str
    label: str
    width: float = 2.2
    dash: str = "solid"

    @property
    def casing_width(self) -> float:
        return self.width + 2.4


#: Lines on the maps; each core/casing pair has 3:1 WCAG contrast with every colour under it (tested).
LINES: dict[str, LineStyle] = {
    "edge": LineStyle("#ffd400", "#111111", "sic = 0.15: ice edge"),
    "miz": LineStyle("#19e3d5", "#111111", "sic = 0.8: MIZ inner edge"),
    "mean_edge": LineStyle("#ffd400", "#111111", "mean sic = 0.15: edge of the mean field", dash="dashed"),
    "mean_miz": LineStyle("#19e3d5", "#111111", "mean sic = 0.8 (mean field)", dash="dashed"),
    "p50": LineStyle("#ffffff", "#111111", "P(sic > 0.15) = 0.5: median ice edge", width=2.4),
    "reference_edge": LineStyle("#111111", "#ffffff", "reference ice edge"),
    "transect": LineStyle("#ffffff", "#6a1b9a", "transect", width=2.6, dash="dashed"),
    "bar": LineStyle("#17202a", "#ffffff", "scale bar", width=2.6),
}
ARROW_CORE, ARROW_CASING = "#111111", "#ffffff"


PLOT_TITLE_SIZE = "13px"  # histogram and joint-view titles: "Data-space DM: 16 members" fits at 1280x800


def text_sizes(frame_width: float, present: bool = False) -> dict[str, int]:
    """Pixel sizes of a map's text for its width (readable on a projector): title, labels, sea names, bar."""
    scale = min(max(frame_width / 440.0, 0.82), 1.25) * (1.25 if present else 1.0)
    return {k: int(round(v * scale)) for k, v in
            {"title": 17, "graticule": 14, "sea": 14, "key": 15, "bar": 14, "bar_title": 15, "mark": 18}.items()}


def cmaps_in_use() -> dict[str, tuple[str, ...]]:
    """Every colour map a map can show, by name (for the contrast test and the legend)."""
    from dashboard.settings import DISPLAY_VARIABLES, VIEWS

    out = {f"{v} ({view})": style_for(v, view).cmap for v in DISPLAY_VARIABLES for view in VIEWS}
    out.update({kind: cmap_for(kind) for kind in ("difference", "density")})
    return out


def background_colours() -> dict[str, str]:
    """Colours under the lines that are not part of a colour map (flags at their strongest)."""
    return {"land": LAND_COLOUR, "no ice": NO_ICE_COLOUR, "background": BACKGROUND, "below bound": BELOW_COLOUR,
            "above bound": ABOVE_COLOUR}
