"""The page: widgets bound to a DashboardState, the plots and the Bootstrap template, all in one place.

The Bootstrap template is the one that makes no request outside the server (no CDN, no web font).
Maps and histograms are HoloViews DynamicMaps driven by the state's parameters, so a change updates the
existing Bokeh figures in place: the three maps keep their linked zoom and pan.
"""

from __future__ import annotations

import html
from functools import partial
from pathlib import Path

import holoviews as hv
import panel as pn
from bokeh.themes import Theme

from dashboard import maps, views
from dashboard.selection import PANEL_TITLES, PANELS, VERSION_PARAMS, date_label
from dashboard.state import DashboardState
from dashboard.worker import checkpoints_dir, load_seconds
from seaice_ldm.options import DECODERS, MAX_MEMBERS, MAX_STEPS, SAMPLERS, SPACES

HERE = Path(__file__).parent
THEME_CSS = (HERE / "theme.css").read_text()
TITLE = "Arctic sea ice from latent diffusion"
SYNTHETIC_NOTE = "Trained on SYNTHETIC Arctic data – not observations"
ACCENT = "#0b4f6c"

#: Parameters that change what the maps, histograms, tables and spectra show (with a panel's version).
DISPLAY_PARAMS = ["variable", "view", "member", "decoder", "arrows", "reference_index", "reference_mode"]

# histograms and tables stand under the maps, one column per map: wider, the third column left the page's
# main area at 1280 and 1600 pixels and had to be scrolled to
COLUMN = maps.FRAME + 8
FONT = "system-ui, 'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif"
#: Bokeh theme of every plot: the system sans-serif font (no web font), quiet grid and axes.
PLOT_THEME = Theme(json={"attrs": {
    "Title": {"text_font": FONT, "text_font_size": "13px", "text_font_style": "bold", "text_color": "#1f2a33"},
    "Axis": {"axis_label_text_font": FONT, "axis_label_text_font_style": "normal", "axis_label_text_font_size": "12px",
             "major_label_text_font": FONT, "major_label_text_font_size": "11px", "axis_line_color": "#8a949c",
             "major_tick_line_color": "#8a949c", "minor_tick_line_color": "#b5bcc2"},
    "ColorBar": {"title_text_font": FONT, "title_text_font_style": "normal", "major_label_text_font": FONT,
                 "major_label_text_font_size": "11px", "background_fill_alpha": 0},
    "Legend": {"label_text_font": FONT},
    "Grid": {"grid_line_color": "#e3e7ea"},
    "Toolbar": {"logo": None},
}})

pn.extension(raw_css=[THEME_CSS], notifications=False, design="bootstrap")
hv.extension("bokeh", logo=False)
# Canvas, not WebGL: the maps are images and a few lines, which WebGL does not speed up, and a browser
# without a GPU (SwiftShader) spent 0.6 s of a page open copying WebGL canvases (Bokeh's blit_webgl)
hv.renderer("bokeh").webgl = False


def _html(obj, **params) -> pn.pane.HTML:
    """An HTML pane with the theme's styles (panes render in shadow DOM, where page-wide CSS does not reach)."""
    return pn.pane.HTML(obj, stylesheets=[THEME_CSS], **params)


def _stream(state: DashboardState, names: list[str]) -> hv.streams.Params:
    return hv.streams.Params(state, names)


def _hist_cb(state: DashboardState, panel: str, **_) -> hv.Overlay:
    return views.panel_histogram(state, panel, width=COLUMN)


def _spectra_cb(state: DashboardState, **_) -> hv.Overlay:
    return views.spectra_plot(state, width=2 * COLUMN)


def _histograms(state: DashboardState) -> pn.pane.HoloViews:
    hists = [
        hv.DynamicMap(partial(_hist_cb, state, panel),
                      streams=[_stream(state, ["variable", "view", "decoder", "reference_index", "reference_mode",
                                               VERSION_PARAMS[panel]])])
        for panel in PANELS
    ]
    layout = hv.Layout(hists).cols(3).opts(shared_axes=True, toolbar=None)
    return pn.pane.HoloViews(layout, sizing_mode="fixed", theme=PLOT_THEME, css_classes=["sl-hists"], name="histograms")


def _spectra(state: DashboardState) -> pn.pane.HoloViews:
    dmap = hv.DynamicMap(partial(_spectra_cb, state),
                         streams=[_stream(state, ["variable", "view", "decoder", "reference_index", "reference_mode",
                                                  "version"])])
    return pn.pane.HoloViews(dmap, sizing_mode="fixed", theme=PLOT_THEME, css_classes=["sl-spectra"], name="spectra")


def _tables(state: DashboardState) -> pn.Row:
    panes = []
    for panel in PANELS:
        fn = pn.bind(lambda *_, panel=panel: views.panel_table(state, panel),
                     *[state.param[p] for p in (*DISPLAY_PARAMS, VERSION_PARAMS[panel])])
        panes.append(_html(fn, width=COLUMN - 10, css_classes=["sl-table-pane", f"sl-table-{panel}"],
                                  name=f"table-{panel}"))
    return pn.Row(*panes, css_classes=["sl-tables"])


def _sidebar(state: DashboardState) -> list:
    members = pn.widgets.IntSlider.from_param(state.param.members, start=1, end=MAX_MEMBERS, label="Members",
                                              sizing_mode="stretch_width", css_classes=["sl-members"])
    # a text box, checked by the state: an invalid seed is refused with a message, never replaced silently
    seed = pn.widgets.TextInput.from_param(state.param.seed_input, label="Seed", sizing_mode="stretch_width",
                                           css_classes=["sl-seed"])
    input_error = _html(pn.bind(lambda e: f'<div class="sl-input-error sl-error" role="alert">{html.escape(e)}</div>'
                                if e else "", state.param.input_error),
                        sizing_mode="stretch_width", name="input-error", visible=state.param.input_error.rx() != "")
    if state.date_supported:
        date_note = pn.bind(lambda c, d: '<div class="sl-small sl-date-note">'
                            + (f"Samples for {d:%d %B} (the reference date below)" if c and d else
                               "Samples all seasons: each member for its own day, spread over the year") + "</div>",
                            state.param.conditioned, state.param.reference_date)
    else:
        date_note = ('<div class="sl-small sl-date-note">The loaded models are not date-conditioned: they sample '
                     "all seasons.</div>")
    conditioned = pn.widgets.RadioButtonGroup.from_param(
        state.param.conditioned, options={"Reference date": True, "All seasons": False}, label="Season",
        color="default", sizing_mode="stretch_width", css_classes=["sl-conditioned"],
        disabled=not state.date_supported)
    date_note = _html(date_note, sizing_mode="stretch_width", name="date-note")
    sampler = pn.widgets.Select.from_param(state.param.sampler, options=list(SAMPLERS), label="Sampler",
                                           sizing_mode="stretch_width", css_classes=["sl-sampler"])
    steps = pn.widgets.IntSlider.from_param(state.param.steps, start=1, end=min(MAX_STEPS, 50), label="Steps",
                                            sizing_mode="stretch_width", css_classes=["sl-steps"])
    include_data = pn.widgets.Checkbox.from_param(state.param.include_data, label="Data-space baseline too",
                                                  disabled=not state.can_sample("data"), css_classes=["sl-include-data"])
    button = pn.widgets.Button(label="Sample", color="primary", sizing_mode="stretch_width",
                               css_classes=["sl-sample"], disabled=state.param.input_error.rx() != "")
    button.on_click(state.sample)
    progress = pn.indicators.Progress(value=state.param.progress, max=100, sizing_mode="stretch_width", height=14,
                                      bar_color="primary", css_classes=["sl-progress"],
                                      visible=state.param.running)
    panel_progress = _html(pn.bind(_panel_progress_html, state, state.param.panel_progress,
                                   state.param.panel_errors, state.param.running, state.param.queue_position),
                           sizing_mode="stretch_width", name="panel-progress")
    notices = _html(pn.bind(lambda n: ('<div class="sl-notice sl-small" role="status">Link arguments ignored: '
                                       + "; ".join(html.escape(x) for x in n) + "</div>") if n else "",
                            state.param.notices),
                    sizing_mode="stretch_width", name="notices", visible=state.param.notices.rx().rx.len() > 0)
    status = _html(pn.bind(lambda s, e: f'<div class="sl-status{" sl-error" if e else ""}" '
                                              f'data-status="{html.escape(s)}">{html.escape(s)}</div>',
                                  state.param.status, state.param.error),
                          sizing_mode="stretch_width", name="status")

    decoder = pn.widgets.RadioButtonGroup.from_param(state.param.decoder, options={"Censored": "censored",
                                                                                   "Gaussian": "gaussian"},
                                                     label="Decoder", color="primary", variant="outline",
                                                     sizing_mode="stretch_width", css_classes=["sl-decoder"])
    variable = pn.widgets.RadioButtonGroup.from_param(
        state.param.variable, options={v: v for v in views.DISPLAY_VARIABLES}, label="Variable",
        color="primary", variant="outline", sizing_mode="stretch_width", css_classes=["sl-variable"])
    view = pn.widgets.Select.from_param(state.param.view, options={label: key for key, label in views.VIEWS.items()},
                                        label="View", sizing_mode="stretch_width", css_classes=["sl-view"])
    member = pn.widgets.IntSlider.from_param(state.param.member, label="Member", sizing_mode="stretch_width",
                                             css_classes=["sl-member"],
                                             visible=state.param.view.rx() == "member")
    arrows = pn.widgets.Checkbox.from_param(state.param.arrows, label="Drift arrows (siu, siv)",
                                            css_classes=["sl-arrows"])

    ref_widgets: list = []
    if state.reference is not None:
        ref_widgets.append(pn.widgets.RadioButtonGroup.from_param(
            state.param.reference_mode, options={"By date": "date", "Nearest to sample": "nearest"},
            label="Reference state", color="default", sizing_mode="stretch_width",
            css_classes=["sl-ref-mode"]))
        if state.dates:
            ref_widgets.append(pn.widgets.DatePicker.from_param(
                state.param.reference_date, label="Reference date", start=min(state.dates), end=max(state.dates),
                enabled_dates=list(state.dates), sizing_mode="stretch_width", css_classes=["sl-ref-date"],
                disabled=state.param.reference_mode.rx() == "nearest"))
        else:
            ref_widgets.append(pn.widgets.IntSlider.from_param(state.param.reference_index, label="Reference state",
                                                               sizing_mode="stretch_width"))
        ref_widgets.append(_html(pn.bind(lambda *_: f'<div class="sl-small">{html.escape(state.panel_note("reference"))}</div>',
                                                state.param.reference_index, state.param.view,
                                                state.param.reference_mode, state.param.version),
                                        sizing_mode="stretch_width", name="reference-note"))
    else:
        ref_widgets.append(_html('<div class="sl-small">No held-out reference states shipped.</div>'))

    download = pn.widgets.FileDownload(callback=state.netcdf_bytes, filename=state.download_filename(),
                                       label="Download ensemble (netCDF)", color="success",
                                       sizing_mode="stretch_width", css_classes=["sl-download"],
                                       disabled=state.param.version.rx() == 0)

    def _rename(*_):
        download.filename = state.download_filename()

    state.param.watch(_rename, "version")

    def section(title: str) -> pn.pane.HTML:
        return _html(f'<div class="sl-section">{title}</div>', sizing_mode="stretch_width", margin=(12, 5, 0, 5))

    return [
        section("Ensemble"),
        notices,
        members, seed, input_error, sampler, steps, include_data,
        _html('<div class="sl-label">Season</div>', margin=(0, 10)), conditioned, date_note,
        button, progress, panel_progress, status,
        section("Display"),
        _html('<div class="sl-label">Decoder</div>', margin=(0, 10)), decoder,
        _html('<div class="sl-label">Variable</div>', margin=(0, 10)), variable,
        view, member, arrows,
        section("Reference"),
        *ref_widgets,
        section("Export"),
        download,
    ]


def _panel_progress_html(state: DashboardState, progress: dict, errors: dict, running: bool, position: int) -> str:
    """One line per generated panel while its request is queued or sampling: its own progress or error."""
    rows = []
    for space in SPACES:
        label = PANEL_TITLES[space]
        if space in errors:
            rows.append(f'<div class="sl-panel-progress sl-error" data-panel="{space}">{html.escape(label)}: '
                        f"{html.escape(errors[space])}</div>")
        elif running and space in progress:
            text = f"queued ({position})" if position else f"{progress[space]} %"
            rows.append(f'<div class="sl-panel-progress" data-panel="{space}" data-percent="{progress[space]}">'
                        f'{html.escape(label)}: <meter min="0" max="100" value="{progress[space]}"></meter> '
                        f"{text}</div>")
    return '<div class="sl-small">' + "".join(rows) + "</div>" if rows else ""


def _header_html(state: DashboardState) -> str:
    loaded = load_seconds()
    latent = [d for space, d in sorted(state.available) if space == "latent"]
    models = "; ".join(([f"latent diffusion ({', '.join(latent)})"] if latent else [])
                       + (["data-space diffusion"] if state.can_sample("data") else []))
    return (
        '<div class="sl-header">'
        + (f'<span class="sl-badge sl-synthetic" title="The models and reference states are synthetic">'
           f"{SYNTHETIC_NOTE}</span>" if state.synthetic else "")
        + f'<span class="sl-badge sl-device" data-device="{state.device}">Device: {state.device.upper()}</span>'
        f'<span class="sl-badge sl-models">Models: {html.escape(models)}'
        + (f" · loaded in {loaded:.1f} s" if loaded is not None else "") + "</span></div>"
    )


def _intro(state: DashboardState) -> pn.pane.HTML:
    text = (
        "Compare an ensemble from the <b>latent diffusion</b> model (VAE latent space, after Finn et al. 2024) with "
        "the <b>data-space diffusion</b> baseline and a <b>held-out reference</b> state, on the "
        f"{state.grid_label} polar stereographic grid. The decoder toggle shows the same request decoded by the <b>censored</b> "
        "decoder (point mass at the physical bounds) or the <b>Gaussian</b> decoder (values may leave the bounds). "
        "Maps share zoom and pan (drag to pan; pick the wheel-zoom tool above the maps to zoom with the mouse wheel)."
    )
    return _html(f'<div class="sl-intro">{text}</div>', sizing_mode="stretch_width", name="intro")


def create_app(state: DashboardState) -> pn.template.BootstrapTemplate:
    """The page of one session."""
    run_line = _html(
        pn.bind(lambda *_: _run_line(state), state.param.version, state.param.decoder, state.param.running),
        sizing_mode="stretch_width", name="run-line")
    page = pn.Column(
        _html(_header_html(state), sizing_mode="stretch_width", name="header-badges"),
        _intro(state),
        run_line,
        maps.map_area(state, theme=PLOT_THEME, stylesheets=[THEME_CSS]),
        sizing_mode="stretch_width",
    )

    def add_below() -> None:  # below the maps: added once the page is in the browser, so the maps come first
        page.extend([
            _html('<div class="sl-subtitle">Cell values per panel (log share; red spikes: mass exactly at a '
                  'bound, dashed: the bounds)</div>', sizing_mode="stretch_width"),
            _histograms(state),
            _tables(state),
            pn.Row(_spectra(state), _html(_spectra_note(), width=360, name="spectra-note")),
        ])

    pn.state.onload(add_below)  # at once when there is no server session (tests, notebooks)
    main = [page]
    template = pn.template.BootstrapTemplate(
        title=TITLE, sidebar=_sidebar(state), main=main, header_background=ACCENT, sidebar_width=330,
        collapsed_sidebar=False,
    )
    return template


def _run_line(state: DashboardState) -> str:
    if state.running and not state.results:
        return '<div class="sl-run">Sampling the first ensemble…</div>'
    if not state.results:
        return '<div class="sl-run">No ensemble yet: press <b>Sample</b>.</div>'
    r = state.request
    timing = (f"<b>{state.elapsed:.1f} s</b> from click to results" if state.elapsed is not None
              and not state.running else "more panels on the way")
    return (f'<div class="sl-run" data-seed="{r["seed"]}" data-version="{state.version}">'
            f'<b>{r["members"]}-member ensemble</b> for <b>{date_label(r.get("date"))}</b>, seed {r["seed"]}, '
            f'{r["sampler"]} sampler, {r["steps"]} steps on {state.device.upper()}: {timing}. '
            f'Showing the <b>{state.decoder}</b> decoder.</div>')


def _spectra_note() -> str:
    return ('<div class="sl-small sl-spectra-note">Power spectral density averaged over annuli of the 2-D '
            'wavenumber, over land-free boxes of about 800 km (Hann window, so no coast enters) and over the '
            'samples of each panel, as in the evaluation report. The right end of the curves shows how much '
            'small-scale detail each model keeps compared with the held-out states.</div>')


def error_page(message: str) -> pn.template.BootstrapTemplate:
    """Shown when the models cannot be loaded: says why and where they were looked for."""
    body = (f'<div class="sl-error-page"><h3>The models could not be loaded</h3><p>{html.escape(message)}</p>'
            f'<p>Checkpoints folder: <code>{html.escape(str(checkpoints_dir()))}</code> '
            "(set <code>SEAICE_LDM_CHECKPOINTS</code> to use another one).</p></div>")
    return pn.template.BootstrapTemplate(title=TITLE, main=[_html(body, sizing_mode="stretch_width")],
                                         header_background=ACCENT)


__all__ = ["DECODERS", "create_app", "error_page"]
