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

from dashboard import views
from dashboard.state import (
    DECODERS, MAX_MEMBERS, MAX_STEPS, PANELS, SAMPLERS, DashboardState, checkpoints_dir, load_seconds,
)

HERE = Path(__file__).parent
THEME_CSS = (HERE / "theme.css").read_text()
TITLE = "Arctic sea ice from latent diffusion"
SYNTHETIC_NOTE = "Trained on SYNTHETIC Arctic data – not observations"
ACCENT = "#0b4f6c"

#: Parameters that change what the maps, histograms, tables and spectra show.
DISPLAY_PARAMS = ["variable", "view", "member", "decoder", "arrows", "reference_index", "reference_mode", "version"]

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


def _html(obj, **params) -> pn.pane.HTML:
    """An HTML pane with the theme's styles (panes render in shadow DOM, where page-wide CSS does not reach)."""
    return pn.pane.HTML(obj, stylesheets=[THEME_CSS], **params)


def _stream(state: DashboardState, names: list[str]) -> hv.streams.Params:
    return hv.streams.Params(state, names)


def _map_cb(state: DashboardState, panel: str, **_) -> hv.Overlay:
    return views.panel_map(state, panel)


def _hist_cb(state: DashboardState, panel: str, **_) -> hv.Overlay:
    return views.panel_histogram(state, panel)


def _spectra_cb(state: DashboardState, **_) -> hv.Overlay:
    return views.spectra_plot(state)


def _maps(state: DashboardState) -> pn.pane.HoloViews:
    """The three linked polar maps (one Bokeh grid: shared x/y ranges give linked zoom and pan)."""
    maps = [
        hv.DynamicMap(partial(_map_cb, state, panel), streams=[_stream(state, DISPLAY_PARAMS)])
        for panel in PANELS
    ]
    layout = hv.Layout(maps).cols(3).opts(shared_axes=True, merge_tools=True, toolbar="above")
    return pn.pane.HoloViews(layout, sizing_mode="fixed", linked_axes=True, theme=PLOT_THEME, css_classes=["sl-maps"],
                             name="maps")


def _histograms(state: DashboardState) -> pn.pane.HoloViews:
    hists = [
        hv.DynamicMap(partial(_hist_cb, state, panel),
                      streams=[_stream(state, ["variable", "view", "decoder", "reference_index", "reference_mode",
                                               "version"])])
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
        fn = pn.bind(lambda *_, panel=panel: views.panel_table(state, panel), *[state.param[p] for p in DISPLAY_PARAMS])
        panes.append(_html(fn, width=430, css_classes=["sl-table-pane", f"sl-table-{panel}"],
                                  name=f"table-{panel}"))
    return pn.Row(*panes, css_classes=["sl-tables"])


def _legend() -> pn.pane.HTML:
    swatch = '<span class="sl-swatch" style="background:{}"></span>'
    line = '<span class="sl-line" style="background:{}"></span>'
    items = [
        line.format(views.MIZ_COLOURS[views.MIZ_LOWER]) + f"sic = {views.MIZ_LOWER} (ice edge)",
        line.format(views.MIZ_COLOURS[views.MIZ_UPPER]) + f"sic = {views.MIZ_UPPER} (MIZ inner edge)",
        swatch.format(views.BELOW_COLOUR) + "below the physical lower bound",
        swatch.format(views.ABOVE_COLOUR) + "above the physical upper bound",
        swatch.format(views.LAND_COLOUR) + "land (shipped mask)",
        '<span class="sl-spike"></span>histogram: share exactly at a bound',
    ]
    return _html('<div class="sl-legend">' + "".join(f"<div>{i}</div>" for i in items) + "</div>",
                        sizing_mode="stretch_width", name="legend")


def _sidebar(state: DashboardState) -> list:
    members = pn.widgets.IntSlider.from_param(state.param.members, start=1, end=MAX_MEMBERS, label="Members",
                                              sizing_mode="stretch_width", css_classes=["sl-members"])
    seed = pn.widgets.IntInput.from_param(state.param.seed, label="Seed", sizing_mode="stretch_width",
                                          css_classes=["sl-seed"])
    sampler = pn.widgets.Select.from_param(state.param.sampler, options=list(SAMPLERS), label="Sampler",
                                           sizing_mode="stretch_width", css_classes=["sl-sampler"])
    steps = pn.widgets.IntSlider.from_param(state.param.steps, start=1, end=min(MAX_STEPS, 50), label="Steps",
                                            sizing_mode="stretch_width", css_classes=["sl-steps"])
    include_data = pn.widgets.Checkbox.from_param(state.param.include_data, label="Data-space baseline too",
                                                  disabled=not state.can_sample("data"), css_classes=["sl-include-data"])
    button = pn.widgets.Button(label="Sample", color="primary", sizing_mode="stretch_width",
                               css_classes=["sl-sample"], disabled=state.param.running)
    button.on_click(state.sample)
    progress = pn.indicators.Progress(value=state.param.progress, max=100, sizing_mode="stretch_width", height=14,
                                      bar_color="primary", css_classes=["sl-progress"],
                                      visible=state.param.running)
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
        members, seed, sampler, steps, include_data, button, progress, status,
        section("Display"),
        _html('<div class="sl-label">Decoder</div>', margin=(0, 10)), decoder,
        _html('<div class="sl-label">Variable</div>', margin=(0, 10)), variable,
        view, member, arrows,
        section("Reference"),
        *ref_widgets,
        section("Export"),
        download,
        section("Legend"),
        _legend(),
    ]


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
        "Maps share zoom and pan (scroll to zoom, drag to pan)."
    )
    return _html(f'<div class="sl-intro">{text}</div>', sizing_mode="stretch_width", name="intro")


def create_app(state: DashboardState) -> pn.template.BootstrapTemplate:
    """The page of one session."""
    run_line = _html(
        pn.bind(lambda *_: _run_line(state), state.param.version, state.param.decoder, state.param.running),
        sizing_mode="stretch_width", name="run-line")
    main = [
        pn.Column(
            _html(_header_html(state), sizing_mode="stretch_width", name="header-badges"),
            _intro(state),
            run_line,
            _maps(state),
            _html('<div class="sl-subtitle">Cell values per panel (log share; red spikes: mass exactly at a '
                         'bound, dashed: the bounds)</div>', sizing_mode="stretch_width"),
            _histograms(state),
            _tables(state),
            pn.Row(_spectra(state), _html(_spectra_note(), width=360, name="spectra-note")),
            sizing_mode="stretch_width",
        )
    ]
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
    return (f'<div class="sl-run" data-seed="{r["seed"]}" data-version="{state.version}">'
            f'<b>{r["members"]}-member ensemble</b>, seed {r["seed"]}, {r["sampler"]} sampler, {r["steps"]} steps on '
            f'{state.device.upper()}: <b>{state.elapsed:.1f} s</b> from click to results. '
            f'Showing the <b>{state.decoder}</b> decoder.</div>')


def _spectra_note() -> str:
    return ('<div class="sl-small sl-spectra-note">Power spectral density averaged over annuli of the 2-D '
            'wavenumber and over the samples of each panel (Hann window, land set to the ocean mean). '
            'The right end of the curves shows how much small-scale detail each model keeps compared '
            'with the held-out states.</div>')


def error_page(message: str) -> pn.template.BootstrapTemplate:
    """Shown when the models cannot be loaded: says why and where they were looked for."""
    body = (f'<div class="sl-error-page"><h3>The models could not be loaded</h3><p>{html.escape(message)}</p>'
            f'<p>Checkpoints folder: <code>{html.escape(str(checkpoints_dir()))}</code> '
            "(set <code>SEAICE_LDM_CHECKPOINTS</code> to use another one).</p></div>")
    return pn.template.BootstrapTemplate(title=TITLE, main=[_html(body, sizing_mode="stretch_width")],
                                         header_background=ACCENT)


__all__ = ["DECODERS", "create_app", "error_page"]
