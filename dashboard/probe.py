"""The point-values tool: hover a map and see, for every panel, all its members' values at that cell.

The maps share a crosshair (drawn in the browser); the cell under the mouse comes to the store as
``ResultStore.probe``. Each member is a dot; the members exactly at a bound (a censored decoder's point mass
in edge cells) are counted beside, since they would stack on one spot.
"""

from __future__ import annotations

import html

import holoviews as hv
import numpy as np
import panel as pn
import param

from dashboard.generators import BY_KEY, PANELS
from dashboard.panes import PLOT_THEME, html_pane
from dashboard.settings import Settings
from dashboard.store import ResultStore, variable_values
from dashboard.styles import variable_info, variable_label


def cell_of(store: ResultStore, x: float, y: float) -> tuple[int, int] | None:
    """(row, column) of the grid cell holding the point, or None outside the grid."""
    dx, dy = store.x[1] - store.x[0], store.y[1] - store.y[0]
    j, i = int(round((x - store.x[0]) / dx)), int(round((y - store.y[0]) / dy))
    if 0 <= i < len(store.y) and 0 <= j < len(store.x):
        return i, j
    return None


def point_values(store: ResultStore, variable: str, cell: tuple[int, int]) -> dict[str, np.ndarray]:
    """``{panel: values (n,)}`` of the shown variable at ``cell`` for every panel with data."""
    out = {}
    for panel in PANELS:
        data = store.dataset(panel)
        if data is not None and store.has(panel, variable):
            out[panel] = variable_values(data, variable)[:, cell[0], cell[1]]
    return out


def at_bounds(values: np.ndarray, variable: str) -> dict[str, int]:
    _, _, lower, upper, _ = variable_info(variable)
    return {f"= {b:g}": int(np.sum(values == b)) for b in (lower, upper) if b is not None}


class ProbeView(pn.viewable.Viewer):
    """Members' values of every panel at the cell under the mouse."""

    settings = param.ClassSelector(class_=Settings, constant=True)
    store = param.ClassSelector(class_=ResultStore, constant=True)

    @param.depends("store.probe", "store.version", "settings.variable", "settings.decoder", "settings.reference_mode",
                   "settings.view", "settings.member")
    def view(self):
        st, variable = self.store, self.settings.variable
        if st.probe is None or (cell := cell_of(st, *st.probe)) is None:
            return html_pane('<div class="sl-small sl-probe" data-cell="">Move the mouse over a map: every panel\'s '
                             "members at that point appear here.</div>", sizing_mode="stretch_width")
        values = point_values(st, variable, cell)
        lat, lon = st.lat[cell], st.lon[cell]
        rows, dots = [], []
        for k, (panel, v) in enumerate(values.items()):
            finite = v[np.isfinite(v)]
            counts = at_bounds(finite, variable)
            jitter = (np.arange(len(v)) % 7 - 3) * 0.045
            dots.append(hv.Scatter((v, k + jitter), variable, "row", label=BY_KEY[panel].label(self.settings.decoder)).opts(
                color=BY_KEY[panel].colour, size=9, alpha=0.75, line_color="#ffffff"))
            bound = ", ".join(f"{n} of {len(v)} {variable} {b}" for b, n in counts.items() if n)
            summary = "land" if not finite.size else (f"{len(finite)} values, mean {finite.mean():.3f}, "
                                                      f"{finite.min():.3f} to {finite.max():.3f}")
            rows.append(f'<tr data-panel="{panel}"><th>{html.escape(BY_KEY[panel].label(self.settings.decoder))}</th>'
                        f"<td>{summary}</td><td class='sl-bound'>{html.escape(bound) or '–'}</td></tr>")
        _, _, lower, upper, (lo, hi) = variable_info(variable)
        lines = [hv.VLine(b).opts(color="#777777", line_dash="dotted") for b in (lower, upper) if b is not None]
        plot = hv.Overlay([*dots, *lines]).opts(hv.opts.Overlay(
            responsive=True, height=190, xlim=(lo - 0.08 * (hi - lo), hi + 0.08 * (hi - lo)), ylim=(-0.6, len(values) - 0.4),
            yaxis=None, xlabel=variable_label(variable), legend_position="right", toolbar=None,
            title=f"{variable} of every member at {lat:.1f}°N {lon:.1f}°E"))
        table = (f'<table class="sl-probe-table" data-cell="{cell[0]},{cell[1]}"><tr><th></th><th>members</th>'
                 f"<th>exactly at a bound</th></tr>{''.join(rows)}</table>")
        return pn.Column(pn.pane.HoloViews(plot, theme=PLOT_THEME, sizing_mode="stretch_width"),
                         html_pane(table, sizing_mode="stretch_width", css_classes=["sl-probe"]),
                         sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(self.view, sizing_mode="stretch_width")
