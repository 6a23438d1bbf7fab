"""The transect tool: sic, sit and sid along a line drawn on the maps, for every member and the reference.

The line is ``Settings.transect`` (two clicks on any map with "Draw transect" on; in the link as
``transect=x0,y0,x1,y1`` in km). Values are the grid cells the line crosses (``seaice_ldm.evaluation.sample_along``,
nearest cell: a censored decoder's exact 0 and 1 stay exact), against the true distance from A in km.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import param

from seaice_ldm.data import PAN_ARCTIC, REGIONS, project_lonlat
from seaice_ldm.evaluation import along_distance, sample_along, transect_points

from dashboard import notes
from dashboard.generators import BY_KEY, PANELS, REFERENCE
from dashboard.panes import PLOT_THEME, html_pane
from dashboard.settings import Settings
from dashboard.store import ResultStore
from dashboard.styles import variable_info, variable_label

VARIABLES = ("sic", "sit", "sid")
DEFAULT_LINE = (40.0, 70.0, 40.0, 82.0)  # lon, lat of A and B: across the Barents Sea ice edge


def default_transect(region: str, crs: str) -> tuple[float, float, float, float]:
    """A south-north line through the region's centre (across its ice edge), in projected metres."""
    r = REGIONS.get(region)
    lon0, lat0, lon1, lat1 = DEFAULT_LINE if r is None or region == PAN_ARCTIC else (
        r.lon, r.lat - 6.0, r.lon, min(r.lat + 6.0, 88.0))
    x, y = project_lonlat([lon0, lon1], [lat0, lat1], crs)
    return float(x[0]), float(y[0]), float(x[1]), float(y[1])


def transect_values(store: ResultStore, line) -> tuple[np.ndarray, dict]:
    """Distance (km) and ``{panel: {variable: (n, points)}}`` along ``line`` for the shown decoder."""
    x0, y0, x1, y1 = line
    spacing = abs(store.x[1] - store.x[0]) / 2
    points = transect_points((x0, y0), (x1, y1), spacing)
    distance = along_distance(points, store.crs)
    out = {}
    for panel in PANELS:
        data = store.dataset(panel)
        if data is None:
            continue
        out[panel] = {v: sample_along(np.asarray(data[v].values), store.x, store.y, points)
                      for v in VARIABLES if v in data}
    return distance, out


def variable_plot(variable: str, distance: np.ndarray, values: dict, decoder: str, height: int = 230) -> hv.Overlay:
    """Every member (thin) and the mean (thick) of each panel along the line; reference states in black."""
    layers = []
    for panel, by_var in values.items():
        if variable not in by_var:
            continue
        v = by_var[variable]
        colour = BY_KEY[panel].colour
        label = BY_KEY[panel].label(decoder)
        thin = [np.column_stack([distance, row]) for row in v]
        layers.append(hv.Path(thin, kdims=["distance", variable]).opts(
            color=colour, alpha=0.9 if len(v) == 1 else 0.28, line_width=3 if len(v) == 1 else 1.2))
        if len(v) > 1:
            layers.append(hv.Curve((distance, np.nanmean(v, axis=0)), "distance", variable, label=f"{label}, mean").opts(
                color=colour, line_width=3.2, line_dash="dashed" if panel == REFERENCE else "solid"))
        else:
            layers.append(hv.Curve((distance, v[0]), "distance", variable, label=label).opts(color=colour, line_width=3))
    _, _, lower, upper, (lo, hi) = variable_info(variable)
    layers += [hv.HLine(b).opts(color="#777777", line_dash="dotted", line_width=1) for b in (lower, upper)
               if b is not None]
    if not layers:
        layers = [hv.Curve([], "distance", variable)]
    return hv.Overlay(layers).opts(hv.opts.Overlay(
        responsive=True, height=height, xlabel="distance from A along the line (km)", ylabel=variable_label(variable),
        ylim=(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)), legend_position="right", show_legend=True,
        toolbar="above", title=f"{variable} along the transect"))


class TransectView(pn.viewable.Viewer):
    """sic, sit and sid along the transect for the members of every panel and the reference states."""

    settings = param.ClassSelector(class_=Settings, constant=True)
    store = param.ClassSelector(class_=ResultStore, constant=True)

    def line(self):
        return self.settings.transect or default_transect(self.settings.region, self.store.crs)

    @param.depends("store.version", "settings.transect", "settings.decoder", "settings.region",
                   "settings.reference_mode", "settings.view", "settings.member")
    def plots(self):
        distance, values = transect_values(self.store, self.line())
        have = [v for v in VARIABLES if any(v in by for by in values.values())]
        plots = [pn.pane.HoloViews(variable_plot(v, distance, values, self.settings.decoder), theme=PLOT_THEME,
                                   sizing_mode="stretch_width", css_classes=[f"sl-transect-{v}"]) for v in have]
        missing = [v for v in VARIABLES if v not in have]
        note = f" ({', '.join(missing)}: not in the loaded models)" if missing else ""
        text = (f'<div class="sl-small sl-transect-note" data-length="{distance[-1]:.0f}">'
                f"{len(distance)} points, {distance[-1]:.0f} km from A to B, one value per grid cell crossed{note}. "
                f"Reference: {notes.when(self.store, REFERENCE)}."
                + ("" if self.settings.transect else " A default line: draw your own.") + "</div>")
        return pn.Column(html_pane(text, sizing_mode="stretch_width"), *plots, sizing_mode="stretch_width")

    def __panel__(self):
        draw = pn.widgets.Toggle.from_param(self.settings.param.drawing, label="✎ Draw a transect: click A, then B, "
                                            "on any map", color="primary", css_classes=["sl-draw"], width=360)
        clear = pn.widgets.Button(label="Default line", css_classes=["sl-clear-transect"], width=130)
        clear.on_click(lambda event: setattr(self.settings, "transect", ()))
        return pn.Column(pn.Row(draw, clear), self.plots, sizing_mode="stretch_width")
