"""The linked polar maps: one per panel, side by side, filling the main area's width at any screen size.

- Each map is a HoloViews DynamicMap in its own responsive pane; the panes' axes are linked, so a pan or zoom
  moves all of them. The visible box is the region's (boxes grown to hold their MIZ through the year) or the
  user's pan/zoom, fitted to the frame's aspect, so the maps are never stretched.
- :meth:`MapsView._refresh` declares once every input the maps draw; a change redraws, inside one held
  document update, only the maps whose content changed: the three maps change together, never one by one.
- Hovering draws a linked crosshair on every map (shared Bokeh spans, no server round trip) and reports the
  point to the store (the point-values tool); with transect drawing on, two clicks set the transect's ends.
"""

from __future__ import annotations

from collections import deque
from functools import partial

import holoviews as hv
import numpy as np
import panel as pn
import param
from bokeh.models import BoxZoomTool, CrosshairTool, HoverTool, Span

from seaice_ldm.data import PAN_ARCTIC

from dashboard import layers, notes, styles
from dashboard.generators import PANELS, REFERENCE
from dashboard.mapcontent import Frame, map_layers
from dashboard.session import Session
from dashboard.settings import Settings
from dashboard.store import ResultStore

#: whole plot width / height of a map: the frame (square) plus its two-line title and colour bar
ASPECT = 0.74
DEFAULT_SIZE = 400  # pixels, before the browser reports the real size
#: A frame that changes by at most this many pixels (a colour bar's new labels) keeps its drawn map: redrawing
#: it would update the three maps one after another, a round trip apart.
NUDGE_PX = 6
#: the layers' limits and colour ranges are all explicit: HoloViews need not compute data ranges of any layer
#: (a third of a page's build time went to the coastline's and the labels' extents)
LAYER_KINDS = ("Image", "Path", "Contours", "Labels", "VectorField")


class Redraw(hv.streams.Stream):
    """Ticks when a map must be drawn again (its content changed)."""

    tick = param.Integer(0)


def fit_aspect(box, width: float, height: float):
    """``box`` grown along one axis so its aspect equals the frame's (a map is never stretched)."""
    x0, x1, y0, y1 = box
    w, h = x1 - x0, y1 - y0
    target = max(width, 1.0) / max(height, 1.0)
    if w / h < target:
        grow = (h * target - w) / 2
        return x0 - grow, x1 + grow, y0, y1
    grow = (w / target - h) / 2
    return x0, x1, y0 - grow, y1 + grow


def nudged(drawn: tuple, key: tuple) -> bool:
    """Whether a draw key differs from the drawn one only by a few pixels of frame and the matching box."""
    (tick0, box0, w0, h0), (tick1, box1, w1, h1) = drawn, key
    span = max(box0[1] - box0[0], box0[3] - box0[2])
    return (tick0 == tick1 and abs(w1 - w0) <= NUDGE_PX and abs(h1 - h0) <= NUDGE_PX
            and max(abs(a - b) for a, b in zip(box0, box1)) <= span * NUDGE_PX / max(w0, h0, 1))


class ViewBox:
    """The box the linked maps show: the region's until the user pans or zooms, then the user's."""

    def __init__(self, boxes: dict):
        self.boxes = boxes
        self.region = None
        self.box = boxes[PAN_ARCTIC]
        # what each map's range stream said last: a stream keeps its value until the browser moves that map's
        # ranges, so a value seen before is old news (after a region change it is still the old region's box)
        self.reported: dict[str, tuple] = {}
        # the boxes lately handed to the maps: a stream that moves to one of them echoes it, not a pan or zoom
        self.handed: deque = deque(maxlen=12)

    def resolve(self, panel: str, region: str, x_range, y_range, width: float, height: float):
        known = x_range is not None and y_range is not None and None not in (*x_range, *y_range)
        reported = (*x_range, *y_range) if known else None
        seen = self.reported.get(panel)
        if reported is not None:
            self.reported[panel] = reported
        moved = reported is not None and seen is not None and not np.allclose(reported, seen, rtol=0, atol=1.0)
        if region != self.region:
            self.region, self.box = region, self.boxes[region]
        elif moved and not any(np.allclose(reported, box, rtol=0, atol=1.0) for box in self.handed):
            self.box = reported  # a pan or zoom in the browser
        shown = fit_aspect(self.box, width, height)
        self.handed.append(shown)
        return shown


class MapsView(pn.viewable.Viewer):
    """Every map of a session; each redraws only when what it shows changes."""

    settings = param.ClassSelector(class_=Settings, constant=True)
    store = param.ClassSelector(class_=ResultStore, constant=True)
    session = param.ClassSelector(class_=Session, constant=True)

    def __init__(self, theme=None, **params):
        super().__init__(**params)
        st = self.store
        self.viewbox = ViewBox(st.region_boxes())
        self.spans = (Span(dimension="width", line_color="#c2185b", line_width=1.2),
                      Span(dimension="height", line_color="#c2185b", line_width=1.2))
        self._signatures: dict[str, tuple] = {}
        self._drawn: dict[str, tuple] = {}
        self._pending_end = None
        self.redraws = {p: Redraw() for p in PANELS}
        self.dmaps = {}
        self.panes = {}
        for panel in PANELS:
            dmap = hv.DynamicMap(partial(self._draw, panel),
                                 streams=[self.redraws[panel], hv.streams.RangeXY(), hv.streams.PlotSize()])
            hv.streams.Tap(source=dmap).add_subscriber(self._tapped)
            hv.streams.PointerXY(source=dmap).add_subscriber(self._pointed)
            self.dmaps[panel] = dmap
            self.panes[panel] = pn.pane.HoloViews(dmap, sizing_mode="stretch_width", linked_axes=True, theme=theme,
                                                  css_classes=["sl-map", f"sl-map-{panel}"], margin=(0, 4))
        self._refresh()

    # ------------------------------------------------------------------ what the maps depend on, declared once
    @param.depends("settings.variable", "settings.view", "settings.member", "settings.decoder", "settings.arrows",
                   "settings.reference_mode", "settings.region", "settings.mode", "settings.transect",
                   "settings.tool", "settings.present", "store.version", watch=True)
    def _refresh(self) -> None:
        """Redraw, in one held document update, every map whose content changed."""
        changed = [p for p in PANELS if self._signature(p) != self._signatures.get(p)]
        with pn.io.hold():
            for panel in changed:
                self._signatures[panel] = self._signature(panel)
                self.redraws[panel].event(tick=self.redraws[panel].tick + 1)

    def _signature(self, panel: str) -> tuple:
        s, st = self.settings, self.store
        data = st.dataset(panel)
        ref = st.reference_choice().indices
        spread = tuple(id(st.dataset(p)) for p in PANELS) if s.view == "spread" else ()
        uses_ref = panel == REFERENCE or s.mode in ("difference", "spaghetti")
        model = panel != REFERENCE
        return (s.variable, s.view, s.member if model else None, s.decoder if model else None, s.arrows, s.region,
                s.mode if s.mode != "joint" else "fields", s.transect or s.tool == "transect", s.present, id(data),
                ref if uses_ref else (),
                spread, notes.when(st, panel))

    # ------------------------------------------------------------------ one map
    def _draw(self, panel: str, tick: int = 0, x_range=None, y_range=None, width=None, height=None, **_) -> hv.Overlay:
        s = self.settings
        width = int(width or DEFAULT_SIZE)
        height = int(height or DEFAULT_SIZE)
        box = self.viewbox.resolve(panel, s.region, x_range, y_range, width, height)
        key = (tick, tuple(round(v) for v in box), width, height)
        if self._drawn.get(panel, (None,))[0] == key:  # a range stream echoing what was drawn: same objects,
            return self._drawn[panel][1]  # so HoloViews sends nothing again
        if self._drawn.get(panel) and nudged(self._drawn[panel][0], key):
            return self._drawn[panel][1]
        overlay = self._overlay(panel, box, width, height)
        self._drawn[panel] = (key, overlay)
        return overlay

    def _overlay(self, panel: str, box, width: int, height: int) -> hv.Overlay:
        s = self.settings
        sizes = styles.text_sizes(width, s.present)
        items, style = map_layers(self.store, panel, Frame(box, width, height), sizes)
        bar_opts = {"height": 12, "title": style.label, "title_text_font_size": f"{sizes['bar_title']}px",
                    "major_label_text_font_size": f"{sizes['bar']}px", "title_text_font_style": "normal"}
        items[0] = items[0].opts(cmap=list(style.cmap), clim=style.clim, colorbar=True, colorbar_position="bottom",
                                 colorbar_opts=bar_opts, clipping_colors={"NaN": "transparent"}, tools=["hover"],
                                 hover_tooltips=[(style.label, "@image{0.000}"), ("lat", "@lat{0.0}°N"),
                                                 ("lon", "@lon{0.0}°E")],
                                 hooks=[self._figure_hook(sizes, style, box, (width, height))], framewise=True)
        x0, x1, y0, y1 = box
        return hv.Overlay(items).opts(
            hv.opts.Overlay(responsive=True, aspect=ASPECT, xaxis=None, yaxis=None, xlim=(x0, x1), ylim=(y0, y1),
                            bgcolor=styles.BACKGROUND, show_legend=False, toolbar="below", active_tools=[],
                            title=notes.panel_title(self.store, panel), border=2, normalize=False,
                            default_tools=["pan", "wheel_zoom", "reset", "save"]),
            *(getattr(hv.opts, kind)(normalize=False, apply_ranges=False) for kind in LAYER_KINDS),
        )

    def _figure_hook(self, sizes: dict, style: styles.Style, box, frame: tuple[int, int]):
        spans = self.spans

        def hook(plot, element) -> None:
            figure = plot.state
            # the box fitted to the frame's aspect: HoloViews leaves ranges alone on updates that the browser's
            # own range and size streams caused, so the fitted box is set on the (shared) ranges here
            x_range, y_range = plot.handles["x_range"], plot.handles["y_range"]
            if (x_range.start, x_range.end, y_range.start, y_range.end) != tuple(box):
                x_range.update(start=box[0], end=box[1])
                y_range.update(start=box[2], end=box[3])
            figure.toolbar.logo = None
            figure.outline_line_color = "#9aa3ad"
            figure.title.text_font_size = f"{sizes['title']}px"
            bar = plot.handles.get("colorbar")
            if bar is not None:
                bar.title = style.label
            renderer = plot.handles.get("glyph_renderer")
            if renderer is not None:
                renderer.name = "sl-field"
                renderer.tags = [{"drawn_for_frame": list(frame)}]  # the frame size this image was drawn for
            if not any(isinstance(t, CrosshairTool) for t in figure.tools):  # one crosshair, linked by its spans
                figure.add_tools(CrosshairTool(overlay=list(spans), visible=False), BoxZoomTool(match_aspect=True))
            for tool in figure.tools:  # inspectors work without a button (fewer icons under each map)
                if isinstance(tool, HoverTool):
                    tool.visible = False
        return hook

    # ------------------------------------------------------------------ pointer and clicks
    def _pointed(self, x=None, y=None) -> None:
        if self.settings.tool == "probe" and x is not None and y is not None:
            self.store.probe = (float(x), float(y))

    def _tapped(self, x=None, y=None) -> None:
        if not self.settings.drawing or x is None or y is None:
            return
        if self._pending_end is None:
            self._pending_end = (float(x), float(y))
            return
        (x0, y0), self._pending_end = self._pending_end, None
        if (x0, y0) != (float(x), float(y)):
            self.settings.param.update(transect=(x0, y0, float(x), float(y)), drawing=False, tool="transect")

    # ------------------------------------------------------------------ layout
    def __panel__(self):
        columns = [pn.Column(PanelHeader(panel=p, session=self.session, store=self.store, settings=self.settings),
                             self.panes[p], sizing_mode="stretch_width", margin=0, css_classes=["sl-map-column"])
                   for p in PANELS]
        return pn.Row(*columns, sizing_mode="stretch_width", css_classes=["sl-maps"], margin=0)


class PanelHeader(pn.viewable.Viewer):
    """A panel's state and warnings above its map, in words (a fixed height, so the maps stay aligned)."""

    panel = param.String()
    settings = param.ClassSelector(class_=Settings, constant=True)
    store = param.ClassSelector(class_=ResultStore, constant=True)
    session = param.ClassSelector(class_=Session, constant=True)

    @param.depends("store.version", "store.shown", "session.progress", "session.running", "session.panel_errors",
                   "session.queue_position", "settings.members", "settings.seed", "settings.sampler",
                   "settings.steps", "settings.date", "settings.season", "settings.no_ice_rule", "settings.refine",
                   "settings.variable",
                   "settings.view", "settings.member", "settings.decoder", "settings.mode", "settings.reference_mode")
    def html(self) -> str:
        import html as h

        kind, text = notes.panel_state(self.session, self.store, self.panel)
        warn = notes.mismatch(self.session, self.store)
        ref_warn = notes.reference_warning(self.store)
        tall = " sl-tall" if warn or ref_warn else ""  # every header as tall as the tallest: the maps stay aligned
        if self.panel == REFERENCE:
            warn = " ".join(w for w in (warn, ref_warn) if w)
        warning = f'<div class="sl-warning" role="alert">⚠ {h.escape(warn)}</div>' if warn else ""
        return (f'<div class="sl-panel-head sl-head-{self.panel}{tall}" data-state="{kind}">'
                f'<div class="sl-panel-state sl-{kind}" title="{h.escape(text)}">{h.escape(text)}</div>{warning}</div>')

    def __panel__(self):
        from dashboard.panes import html_pane

        return html_pane(self.html, sizing_mode="stretch_width", margin=(0, 4), name=f"head-{self.panel}")
