"""The joint distribution of (sic, sit) or (sic, sid) per panel, with each pair's own axes.

The density of the pairs inside the bounds is rasterised by datashader (log colours); the point masses at the
bounds (open water at (0, 0), the pack at sic = 1, thin or undamaged ice at 0, fully damaged ice at sid = 1),
which a censored decoder keeps and which would sit as one pixel under the bound lines, are drawn as marks whose
area is their share, with the shares listed under each plot, clear of the data.
"""

from __future__ import annotations

import html

import datashader as ds
import holoviews as hv
import numpy as np
import panel as pn
import param
from holoviews.operation.datashader import rasterize

from dashboard import notes
from dashboard.generators import PANELS
from dashboard.layers import name_hook
from dashboard.panes import PLOT_THEME, html_pane
from dashboard.settings import PAIRS, Settings
from dashboard.store import ResultStore
from dashboard.styles import PLOT_TITLE_SIZE, cmap_for, variable_info, variable_label


def pair_values(data, second: str) -> tuple[np.ndarray, np.ndarray]:
    """(sic, second) over all ocean cells of all states."""
    sic = np.asarray(data["sic"].values).ravel()
    other = np.asarray(data[second].values).ravel()
    ok = np.isfinite(sic) & np.isfinite(other)
    return sic[ok], other[ok]


def axis_range(values: np.ndarray, second: str) -> tuple[float, float]:
    """The second variable's axis: its display range (with room for the marks), widened to 99.5 % of the data."""
    _, _, lower, upper, (lo, hi) = variable_info(second)
    pad = 0.1 * (hi - lo)
    low, high = lo - pad, hi + pad
    if len(values):
        q_lo, q_hi = np.quantile(values, [0.005, 0.995])
        low, high = min(low, q_lo - pad / 2), max(high, q_hi + pad / 2)
    return float(low), float(high)


def bound_masses(sic: np.ndarray, other: np.ndarray, second: str) -> list[tuple[str, float, float, float]]:
    """``(name, share, x, y)`` of each point or line mass at the bounds, placed where it lies on the plot."""
    _, _, lower, upper, _ = variable_info(second)
    n = max(len(sic), 1)
    out = []
    open_water = (sic == 0) & (other == lower)
    out.append(("sic = 0, " + f"{second} = {lower:g}", open_water.sum() / n, 0.0, lower))
    pack = sic == 1
    out.append(("sic = 1", pack.sum() / n, 1.0, float(np.median(other[pack])) if pack.any() else 0.5))
    low2 = (other == lower) & (sic > 0)
    out.append((f"{second} = {lower:g}, sic > 0", low2.sum() / n, float(np.median(sic[low2])) if low2.any() else 0.5,
                lower))
    if upper is not None:
        top = (other == upper) & (sic < 1)
        out.append((f"{second} = {upper:g}", top.sum() / n, float(np.median(sic[top])) if top.any() else 0.5, upper))
    return out


def joint_plot(data, panel: str, second: str, title: str) -> tuple[hv.Overlay, str]:
    """One panel's plot and the HTML caption of its bound shares."""
    if data is None or "sic" not in data or second not in data:
        empty = hv.Points([], kdims=["sic", second]).opts(responsive=True, height=360, title=title,
                                                          fontsize={"title": PLOT_TITLE_SIZE})
        return empty, '<div class="sl-small">no data</div>'
    sic, other = pair_values(data, second)
    _, _, lower, upper, _ = variable_info(second)
    at_bound = (sic == 0) | (sic == 1) | (other == lower) | ((other == upper) if upper is not None else False)
    y0, y1 = axis_range(other, second)
    x0, x1 = -0.12, 1.12
    points = hv.Points((sic[~at_bound], other[~at_bound]), kdims=[hv.Dimension("sic", label="sic (1)"),
                                                                  hv.Dimension(second, label=variable_label(second))])
    density = rasterize(points, aggregator=ds.count(), dynamic=False, x_range=(x0, x1), y_range=(y0, y1),
                        width=300, height=280).opts(cmap=list(cmap_for("joint")), cnorm="log", colorbar=True,
                                                    colorbar_position="right", clabel="cells per pixel (log)",
                                                    clipping_colors={"NaN": "transparent", "min": "transparent"},
                                                    tools=["hover"], hooks=[name_hook("sl-joint")])
    masses = bound_masses(sic, other, second)
    marks = hv.Points([(mx, my, share, 6 + 60 * np.sqrt(share), name) for name, share, mx, my in masses if share > 0],
                      kdims=["sic", second], vdims=["share", "size", "what"]).opts(
        size="size", color="#c2185b", fill_alpha=0.35, line_color="#7a0e3a", line_width=2, tools=["hover"],
        hover_tooltips=[("", "@what"), ("share", "@share{0.0%}")])
    lines = [hv.VLine(b).opts(color="#555555", line_dash="dashed", line_width=1) for b in (0.0, 1.0)]
    lines += [hv.HLine(b).opts(color="#555555", line_dash="dashed", line_width=1) for b in (lower, upper)
              if b is not None]
    plot = hv.Overlay([density, marks, *lines]).opts(hv.opts.Overlay(
        responsive=True, height=360, xlim=(x0, x1), ylim=(y0, y1), title=title,
        fontsize={"title": PLOT_TITLE_SIZE}, show_legend=False, toolbar="above",
        xlabel="sic (1)", ylabel=variable_label(second)))
    caption = "; ".join(f"{html.escape(name)}: <b>{100 * share:.1f} %</b>" for name, share, _, _ in masses)
    return plot, (f'<div class="sl-small sl-joint-caption" data-panel="{panel}">Marks at the bounds (area ∝ share '
                  f"of {len(sic):,} cells): {caption}</div>")


class JointView(pn.viewable.Viewer):
    """The three panels' joint distributions for the chosen pair (rebuilt with the pair's own axes)."""

    settings = param.ClassSelector(class_=Settings, constant=True)
    store = param.ClassSelector(class_=ResultStore, constant=True)

    @param.depends("store.version", "settings.pair", "settings.decoder", "settings.reference_mode", "settings.view")
    def plots(self):
        columns = []
        for panel in PANELS:
            data = self.store.dataset(panel)
            title = notes.count_title(data if data is not None and "sic" in data else None, panel)
            plot, caption = joint_plot(data, panel, self.settings.pair, title)
            columns.append(pn.Column(pn.pane.HoloViews(plot, theme=PLOT_THEME, sizing_mode="stretch_width"),
                                     html_pane(caption, sizing_mode="stretch_width"), sizing_mode="stretch_width"))
        return pn.Row(*columns, sizing_mode="stretch_width", css_classes=["sl-joint"])

    def __panel__(self):
        return pn.Column(self.plots, sizing_mode="stretch_width")


__all__ = ["JointView", "PAIRS", "bound_masses", "joint_plot"]
