"""The MIZ-width tool: per named region, histograms of the MIZ width of every member of every panel.

The width of a state in a region is its MIZ area there over the length of its ice edge there
(``seaice_ldm.evaluation.miz_widths_by_region``), in the region's box as the maps show it (grown to hold the
region's MIZ through the year). A region without an ice edge in a state gives no width for that state.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import param

from seaice_ldm.data import PAN_ARCTIC
from seaice_ldm.evaluation import miz_widths_by_region

from dashboard import notes
from dashboard.generators import BY_KEY, PANELS, REFERENCE
from dashboard.panes import PLOT_THEME, html_pane
from dashboard.settings import Settings
from dashboard.store import ResultStore


def region_widths(store: ResultStore) -> dict[str, dict[str, np.ndarray]]:
    """``{panel: {region: widths (n,) km}}`` of the shown decoder (memoised per result)."""
    boxes = {k: v for k, v in store.region_boxes().items() if k != PAN_ARCTIC}
    out = {}
    for panel in PANELS:
        data = store.dataset(panel)
        if data is None or "sic" not in data:
            continue
        key = ("region widths", panel, store.version, store.settings.decoder, store.reference_choice().indices)
        out[panel] = store.memo(key, lambda data=data: miz_widths_by_region(
            np.asarray(data["sic"].values), store.x, store.y, store.cell_area, boxes))
    return out


def region_plot(region: str, widths: dict[str, dict[str, np.ndarray]], decoder: str) -> hv.Overlay:
    values = {p: w[region][np.isfinite(w[region])] for p, w in widths.items()}
    every = np.concatenate([v for v in values.values() if v.size] or [np.array([0.0, 100.0])])
    edges = np.histogram_bin_edges(every, bins=12, range=(0.0, max(float(every.max()) * 1.05, 10.0)))
    layers = []
    for panel, v in values.items():
        counts, _ = np.histogram(v, bins=edges)
        share = counts / max(len(v), 1)
        label = f"{BY_KEY[panel].label(decoder)} ({len(v)})"
        layers.append(hv.Histogram((edges, share), kdims=["MIZ width (km)"], vdims=["share of states"],
                                   label=label).opts(fill_color=BY_KEY[panel].colour, line_color=BY_KEY[panel].colour,
                                                     fill_alpha=0.0 if panel == REFERENCE else 0.35,
                                                     line_width=2.5 if panel == REFERENCE else 1.5))
    if not layers:
        layers = [hv.Histogram(([0, 1], [0]), kdims=["MIZ width (km)"], vdims=["share of states"])]
    return hv.Overlay(layers).opts(hv.opts.Overlay(responsive=True, height=250, title=region, toolbar=None,
                                                   legend_position="top_right", show_legend=True, ylim=(0, 1.05)))


class RegionsView(pn.viewable.Viewer):
    """A small histogram of MIZ widths per region, all panels overlaid."""

    settings = param.ClassSelector(class_=Settings, constant=True)
    store = param.ClassSelector(class_=ResultStore, constant=True)

    @param.depends("store.version", "settings.decoder", "settings.reference_mode", "settings.view")
    def plots(self):
        widths = region_widths(self.store)
        regions = [r for r in self.store.region_boxes() if r != PAN_ARCTIC]
        panes = [pn.pane.HoloViews(region_plot(r, widths, self.settings.decoder), theme=PLOT_THEME,
                                   sizing_mode="stretch_width", css_classes=["sl-region-hist"]) for r in regions]
        note = (f'<div class="sl-small">MIZ width (MIZ area / ice-edge length, 0.15 &lt; sic &lt; 0.8) of every state '
                f"in each region's map box. Reference: {notes.when(self.store, REFERENCE)}. Share of each panel's "
                "states per bin; a state without an ice edge in the region has no width.</div>")
        return pn.Column(html_pane(note, sizing_mode="stretch_width"),
                         pn.GridBox(*panes, ncols=3, sizing_mode="stretch_width"), sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(self.plots, sizing_mode="stretch_width")
