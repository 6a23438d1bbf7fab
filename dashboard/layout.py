"""The page: widgets bound to the settings, the views, and the Bootstrap template, composed in one place.

Nothing is computed here: every view is a Viewer of :mod:`dashboard.maps`, :mod:`dashboard.summary` ... that
declares what it draws. The Bootstrap template is the one that makes no request outside the server.
"""

from __future__ import annotations

import html

import holoviews as hv
import panel as pn

from seaice_ldm.data import REGIONS
from seaice_ldm.options import MAX_MEMBERS, MAX_STEPS, SAMPLERS

from dashboard import legend
from dashboard.app import App
from dashboard.joint import JointView
from dashboard.linkbar import LinkBar
from dashboard.maps import MapsView
from dashboard.panes import PLOT_THEME, THEME_CSS, html_pane
from dashboard.probe import ProbeView
from dashboard.regional import RegionsView
from dashboard.seasonal import SeasonalView
from dashboard.settings import MODES, PAIRS, TOOLS, VIEWS
from dashboard.summary import NumbersView, SpectraView
from dashboard.transect import TransectView

TITLE = "Arctic sea ice from latent diffusion"
SYNTHETIC_NOTE = "Trained on SYNTHETIC Arctic data – not observations"
ACCENT = "#0b4f6c"
SIDEBAR_WIDTH = 300

pn.extension(raw_css=[THEME_CSS], notifications=False, design="bootstrap")
hv.extension("bokeh", logo=False)
# Canvas, not WebGL: the maps are images and a few lines, which WebGL does not speed up, and a browser without
# a GPU (SwiftShader) spent 0.6 s of a page open copying WebGL canvases
hv.renderer("bokeh").webgl = False


def _label(text: str) -> pn.pane.HTML:
    return html_pane(f'<div class="sl-label">{text}</div>', margin=(2, 10, 0, 10))


def _section(title: str) -> pn.pane.HTML:
    return html_pane(f'<div class="sl-section">{title}</div>', sizing_mode="stretch_width", margin=(10, 5, 0, 5))


def request_widgets(app: App) -> list:
    s, session = app.settings, app.session
    not_present = s.param.present.rx.not_()  # presentation mode: fewer controls
    date = pn.widgets.DatePicker.from_param(s.param.date, label="", width=120, css_classes=["sl-date"],
                                            disabled=s.param.season.rx() == "all", margin=(5, 4, 5, 5))
    season = pn.widgets.RadioButtonGroup.from_param(
        s.param.season, options={"Date": "date", "All seasons": "all"}, label="", color="default",
        sizing_mode="stretch_width", css_classes=["sl-season"], disabled=not s.date_conditioned, margin=(5, 5, 5, 4))
    members = pn.widgets.EditableIntSlider.from_param(s.param.members, label="Members", start=1, end=64,
                                                      fixed_start=1, fixed_end=MAX_MEMBERS, sizing_mode="stretch_width",
                                                      css_classes=["sl-members"])
    seed = pn.widgets.TextInput.from_param(s.param.seed_input, label="Seed", sizing_mode="stretch_width",
                                           css_classes=["sl-seed"])
    sampler = pn.widgets.Select.from_param(s.param.sampler, label="Sampler", options=list(SAMPLERS),
                                           sizing_mode="stretch_width", css_classes=["sl-sampler"])
    steps = pn.widgets.EditableIntSlider.from_param(s.param.steps, label="Steps", start=1, end=50, fixed_start=1,
                                                    fixed_end=MAX_STEPS, sizing_mode="stretch_width",
                                                    css_classes=["sl-steps"])
    input_error = html_pane(s.param.input_error.rx().rx.pipe(
        lambda e: f'<div class="sl-input-error" role="alert">{html.escape(e)}</div>' if e else ""),
        sizing_mode="stretch_width", name="input-error", visible=s.param.input_error.rx() != "")
    include_data = pn.widgets.Checkbox.from_param(s.param.include_data, label="Data-space baseline too",
                                                  disabled=not session.can_sample("data"), css_classes=["sl-include-data"])
    no_ice = pn.widgets.Checkbox.from_param(s.param.no_ice_rule, label="No-ice rule (sit, sid, drift 0 at sic 0)",
                                            css_classes=["sl-no-ice"])
    refine = pn.widgets.Checkbox.from_param(s.param.refine, css_classes=["sl-refine"], disabled=not s.can_refine,
                                            label="Refine latent samples (data-space pass)" if s.can_refine
                                            else "Refine latent samples (no refiner in these checkpoints)")
    estimate = html_pane(pn.bind(lambda text, over: f'<div class="sl-estimate{" sl-over" if over else ""}">'
                                                    f"{html.escape(text)}</div>",
                                 session.param.estimate, session.param.over_budget),
                         sizing_mode="stretch_width", name="estimate")
    sample = pn.widgets.Button(label="Sample", color="primary", sizing_mode="stretch_width",
                               css_classes=["sl-sample"], disabled=s.param.input_error.rx() != "")
    sample.on_click(session.sample)
    cancel = pn.widgets.Button(label="Cancel", color="warning", width=90, css_classes=["sl-cancel"],
                               disabled=session.param.running.rx.not_())
    cancel.on_click(session.cancel)
    status = html_pane(pn.bind(lambda text, error, cancelled: (
        f'<div class="sl-status{" sl-error" if error else ""}" data-status="{html.escape(text)}"'
        + "".join(f' data-{k.replace("_", "-")}="{v}"' for k, v in cancelled.items()) + f">{html.escape(text)}</div>"),
        session.param.status, session.param.error, session.param.cancelled_at), sizing_mode="stretch_width",
        name="status")
    progress = html_pane(pn.bind(legend.progress_html, session.param.progress, session.param.running,
                                 session.param.queue_position), sizing_mode="stretch_width", name="panel-progress")
    # what a presenter changes most comes first (above the fold at 1280x800); the rest of the request after Display
    top = [_section("Ensemble"), _label("Sampled for a day of the year, or all seasons"), pn.Row(date, season, margin=0),
           members, pn.Row(sample, cancel, margin=0), input_error, estimate, progress, status]
    details = [_section("Request"), pn.Row(seed, sampler, margin=0), steps, include_data, no_ice, refine]
    return [top, pn.Column(*details, margin=0, sizing_mode="stretch_width", visible=not_present)]


def display_widgets(app: App) -> list:
    s = app.settings
    decoder = pn.widgets.RadioButtonGroup.from_param(s.param.decoder, options={"Censored": "censored",
                                                                                "Gaussian": "gaussian"}, label="",
                                                     color="primary", variant="outline", sizing_mode="stretch_width",
                                                     css_classes=["sl-decoder"])
    variable = pn.widgets.RadioButtonGroup.from_param(s.param.variable, options={v: v for v in s.param.variable.objects},
                                                      label="", color="primary", variant="outline",
                                                      sizing_mode="stretch_width", css_classes=["sl-variable"])
    view = pn.widgets.Select.from_param(s.param.view, label="View", options={v: k for k, v in VIEWS.items()},
                                        sizing_mode="stretch_width", css_classes=["sl-view"])
    member = pn.widgets.IntSlider.from_param(s.param.member, label="Member", start=0,
                                             end=app.store.param.shown.rx().rx.pipe(
                                                 lambda shown: max(int(shown.get("members", s.members)) - 1, 1)),
                                             sizing_mode="stretch_width", css_classes=["sl-member"],
                                             visible=s.param.view.rx() == "member")
    arrows = pn.widgets.Checkbox.from_param(s.param.arrows, label="Drift arrows (grid components siu, siv)",
                                            css_classes=["sl-arrows"], disabled=not app.store.has("latent", "speed"))
    return [_section("Display"), decoder, variable, view, member, arrows]


def reference_widgets(app: App) -> list:
    s = app.settings
    mode = pn.widgets.RadioButtonGroup.from_param(s.param.reference_mode, options={"Like the date": "date",
                                                                                    "Nearest to sample": "nearest"},
                                                  label="", color="default", sizing_mode="stretch_width",
                                                  css_classes=["sl-ref-mode"], disabled=app.store.reference is None)
    return [_section("Reference"), mode]


def sidebar(app: App) -> list:
    hide = app.settings.param.present.rx.not_()
    download = pn.widgets.FileDownload(callback=app.netcdf_bytes, filename=app.download_filename(),
                                       label="Download ensemble (netCDF)", color="success",
                                       sizing_mode="stretch_width", css_classes=["sl-download"],
                                       disabled=app.store.param.version.rx() == 0)
    app.store.param.watch(lambda *_: setattr(download, "filename", app.download_filename()), "version")
    notices = html_pane(app.settings.param.notices.rx().rx.pipe(
        lambda n: ('<div class="sl-notice" role="status">Link arguments ignored: '
                   + "; ".join(html.escape(x) for x in n) + "</div>") if n else ""),
        sizing_mode="stretch_width", name="notices", visible=app.settings.param.notices.rx().rx.len() > 0)
    top, details = request_widgets(app)
    return [notices, *top, *display_widgets(app), details,
            pn.Column(*reference_widgets(app), _section("Share"), LinkBar(settings=app.settings), download,
                      margin=0, sizing_mode="stretch_width", visible=hide)]


def map_controls(app: App) -> pn.Row:
    s = app.settings
    region = pn.widgets.Select.from_param(s.param.region, label="", options=list(REGIONS), width=170,
                                          css_classes=["sl-region"], margin=(0, 8, 0, 5))
    mode = pn.widgets.RadioButtonGroup.from_param(s.param.mode, label="", options={v: k for k, v in MODES.items()},
                                                  color="primary", variant="outline", css_classes=["sl-mode"],
                                                  margin=(0, 8))
    pair = pn.widgets.RadioButtonGroup.from_param(s.param.pair, label="", options={PAIRS[p]: p for p in
                                                                                  s.param.pair.objects},
                                                  color="default", css_classes=["sl-pair"], margin=(0, 8),
                                                  visible=s.param.mode.rx() == "joint")
    present = pn.widgets.Toggle.from_param(s.param.present, label="Presentation mode", css_classes=["sl-present"],
                                           width=170, margin=(0, 5), align="end")
    note = html_pane(s.param.region.rx().rx.pipe(legend.region_note), name="region-note", margin=(0, 5),
                     align="center", stylesheets=[":host { flex: 1 1 0px; min-width: 0; width: auto; }"])
    # wraps rather than scrolling the main area sideways when the joint view's pair buttons join the row
    return pn.FlexBox(region, mode, pair, note, present, flex_wrap="wrap", align_items="center",
                      sizing_mode="stretch_width", css_classes=["sl-map-controls"])


def tools(app: App) -> pn.Tabs:
    views = {"numbers": NumbersView(settings=app.settings, store=app.store, session=app.session),
             "probe": ProbeView(settings=app.settings, store=app.store),
             "transect": TransectView(settings=app.settings, store=app.store),
             "regions": RegionsView(settings=app.settings, store=app.store),
             "seasonal": SeasonalView(settings=app.settings, store=app.store, source=app.cycles,
                                      dispatch=app.session.dispatch),
             "spectra": SpectraView(settings=app.settings, store=app.store)}
    keys = list(TOOLS)
    tabs = pn.Tabs(*[(TOOLS[k], views[k]) for k in keys], dynamic=True, sizing_mode="stretch_width",
                   css_classes=["sl-tools"], active=keys.index(app.settings.tool))
    tabs.param.watch(lambda e: setattr(app.settings, "tool", keys[e.new]), "active")
    app.settings.param.watch(lambda e: setattr(tabs, "active", keys.index(e.new)), "tool")
    return tabs


def create_app(app: App) -> pn.template.BootstrapTemplate:
    """The page of one session."""
    s = app.settings
    maps = MapsView(settings=s, store=app.store, session=app.session, theme=PLOT_THEME)
    joint_box = pn.Column(visible=s.param.mode.rx() == "joint", margin=0, sizing_mode="stretch_width")

    def show_joint(*_) -> None:  # the joint view is built the first time it is shown
        if s.mode == "joint" and not joint_box.objects:
            joint_box.objects = [JointView(settings=s, store=app.store)]

    s.param.watch(show_joint, "mode")
    show_joint()
    map_box = pn.Column(maps, visible=s.param.mode.rx() != "joint", margin=0, sizing_mode="stretch_width")
    key = html_pane(pn.bind(legend.legend_html, s.param.view, s.param.mode, s.param.variable, s.param.transect,
                            s.param.tool), sizing_mode="stretch_width", name="map-legend", margin=(2, 5),
                    visible=s.param.mode.rx() != "joint")
    run_line = html_pane(pn.bind(legend.run_line, app.store.param.shown, app.session.param.elapsed,
                                 app.session.param.running, s.param.decoder, app.store.param.version, app=app),
                         sizing_mode="stretch_width", name="run-line")
    main = pn.Column(run_line, map_controls(app), map_box, joint_box, key, sizing_mode="stretch_width",
                     css_classes=["sl-main"])

    def add_below() -> None:  # the tools come once the page is in the browser: the maps come first
        main.extend([tools(app), pn.Card(html_pane(legend.intro_html(app), sizing_mode="stretch_width"),
                                         title="About this page", collapsed=True, sizing_mode="stretch_width",
                                         css_classes=["sl-about"])])

    pn.state.onload(add_below)  # at once when there is no server session (tests, notebooks)
    header = [html_pane(legend.badges_html(app), name="header-badges", margin=(0, 10), align="center")]
    return pn.template.BootstrapTemplate(title=TITLE, sidebar=sidebar(app), main=[main], header=header,
                                         header_background=ACCENT, sidebar_width=SIDEBAR_WIDTH, collapsed_sidebar=False)


def error_page(message: str, checkpoints: str) -> pn.template.BootstrapTemplate:
    """Shown when the models cannot be loaded: says why and where they were looked for."""
    body = (f'<div class="sl-error-page"><h3>The models could not be loaded</h3><p>{html.escape(message)}</p>'
            f"<p>Checkpoints folder: <code>{html.escape(checkpoints)}</code> (set <code>SEAICE_LDM_CHECKPOINTS</code> "
            "or <code>panel serve dashboard --args --checkpoints DIR</code> to use another one).</p></div>")
    return pn.template.BootstrapTemplate(title=TITLE, main=[html_pane(body, sizing_mode="stretch_width")],
                                         header_background=ACCENT)
