"""The "Numbers" and "Spectra" tools: a histogram and a table per panel, and the panels' spectra on one plot."""

from __future__ import annotations

import html

import holoviews as hv
import numpy as np
import panel as pn
import param

from dashboard import notes, numbers
from dashboard.generators import BY_KEY, PANELS, REFERENCE
from dashboard.panes import PLOT_THEME, html_pane
from dashboard.session import Session
from dashboard.settings import Settings
from dashboard.store import ResultStore, variable_values
from dashboard.styles import PLOT_TITLE_SIZE, units_label, variable_info, variable_label

HIST_FLOOR = 1e-5


def _fmt_pct(share) -> str:
    if share is None or not np.isfinite(share):
        return "–"
    if share == 0:
        return "0 %"
    pct = 100 * share
    return f"{pct:.2f} %" if pct >= 0.01 else f"{pct:.1e} %"


def table_html(summary: dict | None, variable: str, title: str, colour: str, note: str, compared: str,
               warning: str = "") -> str:
    """One panel's table: integrals (mean ± sample sd over the states) and the bound shares of ``variable``."""
    head = (f'<div class="sl-table" data-panel-title="{html.escape(title)}">'
            f'<div class="sl-table-title" style="border-left-color:{colour}">{html.escape(title)}</div>')
    if warning:
        head += f'<div class="sl-warning" role="alert">⚠ {html.escape(warning)}</div>'
    if summary is None:
        return head + f'<div class="sl-table-empty">{html.escape(note or "no data yet")}</div></div>'
    rows = []
    for key, label, units in numbers.ROWS:
        if key not in summary:
            continue
        mean, sd = summary[key]
        digits = 0 if key == "miz_width" else 2
        spread = f" ± {sd:.{digits}f}" if np.isfinite(sd) else ""
        value = f"{mean:.{digits}f}{spread}" if np.isfinite(mean) else "–"
        rows.append(f"<tr class='sl-row-{key}'><th>{label}</th><td>{value}</td><td class='u'>{units}</td></tr>")
    if "outside" in summary:
        tol = summary["tolerance"]
        rows.append(f"<tr class='oob'><th>Outside the bounds ({variable})</th><td data-oob='{summary['outside']}'>"
                    f"{_fmt_pct(summary['outside'])}</td><td class='u'>of cells</td></tr>")
        rows.append(f"<tr><th>… by more than {tol:g}</th><td data-oob-tol='{summary['outside_tol']}'>"
                    f"{_fmt_pct(summary['outside_tol'])}</td><td class='u'>of cells</td></tr>")
        rows.append(f"<tr><th>Exactly at a bound</th><td>{_fmt_pct(summary['at_bounds'])}</td>"
                    f"<td class='u'>of cells</td></tr>")
    foot = (f'<div class="sl-table-note">{html.escape(note)}<br>± sample sd over {summary["n"]} '
            f'{"states" if summary["n"] != 1 else "state"} (n − 1). IIEE {html.escape(compared)}.</div>')
    return head + "<table>" + "".join(rows) + "</table>" + foot + "</div>"


def histogram(values, variable: str, title: str, colour: str, height: int = 230) -> hv.Overlay:
    """Histogram (log share of ocean cells) with spikes for the mass exactly at the bounds."""
    _, _, lower, upper, _ = variable_info(variable)
    label = variable_label(variable)
    edges = numbers.histogram_bins(variable)
    data = {"edges": edges, "share": np.zeros(len(edges) - 1), "at": {}, "n": 0} if values is None else \
        numbers.histogram_data(values, variable)
    floor = HIST_FLOOR * 0.5
    share = np.maximum(data["share"], floor)
    edges = data["edges"]
    xdim, ydim = hv.Dimension("value", label=label), hv.Dimension("share", label="share of ocean cells")
    bars = hv.Rectangles((edges[:-1], np.full(len(share), floor), edges[1:], share), kdims=[xdim, ydim, "x1", "y1"]).opts(
        color=colour, alpha=0.6, line_color=colour, line_width=0.5)
    sx = np.array([b for b, _ in data["at"].values()], dtype=float)
    sh = np.array([max(s, floor) for _, s in data["at"].values()], dtype=float)
    spikes = hv.Segments((sx, np.full(len(sx), floor), sx, sh), kdims=[xdim, ydim, "x1", "y1"]).opts(
        color="#c00000", line_width=5, alpha=0.9)
    bounds = hv.Overlay([hv.VLine(b).opts(color="#555555", line_dash="dashed", line_width=1)
                         for b in (lower, upper) if b is not None])
    return (bars * spikes * bounds).opts(hv.opts.Overlay(
        responsive=True, height=height, logy=True, ylim=(HIST_FLOOR, 1.0), xlim=(edges[0], edges[-1]), title=title,
        xlabel=label, ylabel="share of ocean cells", toolbar=None, show_legend=False, min_width=200,
        fontsize={"title": PLOT_TITLE_SIZE}))


class NumbersView(pn.viewable.Viewer):
    """Per panel: the histogram of the shown variable and a table of integrals, edges and bound shares."""

    settings = param.ClassSelector(class_=Settings, constant=True)
    store = param.ClassSelector(class_=ResultStore, constant=True)
    session = param.ClassSelector(class_=Session, constant=True)

    @param.depends("store.version", "settings.variable", "settings.decoder", "settings.view", "settings.member",
                   "settings.reference_mode")
    def histograms(self):
        plots = []
        for panel in PANELS:
            ds = self.store.dataset(panel)
            ok = ds is not None and self.store.has(panel, self.settings.variable)
            values = variable_values(ds, self.settings.variable) if ok else None
            title = notes.count_title(ds, panel) if ok else BY_KEY[panel].short
            plots.append(histogram(values, self.settings.variable, title, BY_KEY[panel].colour))
        return pn.Row(*[pn.pane.HoloViews(p, theme=PLOT_THEME, sizing_mode="stretch_width") for p in plots],
                      sizing_mode="stretch_width")

    @param.depends("store.version", "settings.variable", "settings.decoder", "settings.view", "settings.member",
                   "settings.reference_mode", "session.running", "settings.date", "settings.season",
                   "settings.members", "settings.seed", "settings.steps", "settings.sampler")
    def tables(self) -> str:
        st, s = self.store, self.settings
        ice_ref = numbers.reference_ice(st.dataset(REFERENCE))
        warn = notes.mismatch(self.session, st)
        out = []
        for panel in PANELS:
            ds = st.dataset(panel)
            kind, note = notes.panel_state(self.session, st, panel)
            summary = None
            if ds is not None:
                summary = st.memo(("numbers", panel, st.version, s.decoder, s.variable, st.reference_choice().indices),
                                  lambda ds=ds, panel=panel: numbers.panel_numbers(
                                      ds, s.variable, None if panel == REFERENCE else ice_ref))
            title = f"{notes.panel_label(st, panel)} · {notes.when(st, panel)}"
            warning = " ".join(w for w in (warn, notes.reference_warning(st) if panel == REFERENCE else "") if w)
            out.append(table_html(summary, s.variable, title, BY_KEY[panel].colour, note,
                                  "vs the reference's edge (" + st.reference_choice().what + ")", warning))
        return '<div class="sl-tables">' + "".join(f'<div class="sl-table-{p}">{t}</div>'
                                                   for p, t in zip(PANELS, out)) + "</div>"

    def __panel__(self):
        return pn.Column(self.histograms, html_pane(self.tables, sizing_mode="stretch_width", name="tables"),
                         sizing_mode="stretch_width")


class SpectraView(pn.viewable.Viewer):
    """Radially averaged spectra of the shown variable, all panels on one log-log plot."""

    settings = param.ClassSelector(class_=Settings, constant=True)
    store = param.ClassSelector(class_=ResultStore, constant=True)

    @param.depends("store.version", "settings.variable", "settings.decoder", "settings.view", "settings.reference_mode")
    def plot(self):
        s, st = self.settings, self.store
        _, units, *_ = variable_info(s.variable)
        u = units_label(units)
        curves = []
        for panel in PANELS:
            ds = st.dataset(panel)
            if ds is None or not st.has(panel, s.variable):
                k, p = np.array([1e-3, 1e-2]), np.array([np.nan, np.nan])
            else:
                k, p = st.memo(("spectrum", panel, st.version, s.decoder, s.variable, st.reference_choice().indices),
                               lambda ds=ds: numbers.spectrum(ds, s.variable))
                p = np.where(p > 0, p, np.nan)
            label = BY_KEY[panel].label(s.decoder)
            curves.append(hv.Curve((1.0 / np.asarray(k), p), kdims=[hv.Dimension("wavelength", label="wavelength (km)")],
                                   vdims=[hv.Dimension("power", label=f"power ({u}² km²)" if u != "1" else "power (km²)")],
                                   label=label).opts(color=BY_KEY[panel].colour, line_width=2.4,
                                                     line_dash="dashed" if panel == REFERENCE else "solid",
                                                     tools=["hover"]))
        overlay = hv.Overlay(curves).opts(hv.opts.Overlay(
            responsive=True, height=380, logx=True, logy=True, legend_position="bottom_left", invert_xaxis=True,
            xticks=[100, 200, 500, 1000, 2000, 5000], title=f"Radially averaged spectrum of {s.variable} (sample mean)",
            toolbar=None, show_legend=True))
        return pn.pane.HoloViews(overlay, theme=PLOT_THEME, sizing_mode="stretch_width")

    def __panel__(self):
        note = ('<div class="sl-small">Power spectral density averaged over annuli of the 2-D wavenumber, over land-free '
                'boxes of about 800 km (Hann window, so no coast enters) and over the samples of each panel, as in the '
                'evaluation report. The right end shows how much small-scale detail each model keeps.</div>')
        return pn.Column(self.plot, html_pane(note, sizing_mode="stretch_width"), sizing_mode="stretch_width")
