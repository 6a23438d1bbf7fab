"""The page's words and keys as HTML: map legend (what the lines and colours of the current view mean), the run
line, per-panel progress, the header badges and the about text. Pure functions of their arguments."""

from __future__ import annotations

import html

from dashboard import selection, styles
from dashboard.generators import BY_KEY
from dashboard.styles import LINES
from seaice_ldm.options import GENERATORS


def _line(style: styles.LineStyle) -> str:
    return (f'<span class="sl-line-cased" style="border-color:{style.casing};background:{style.casing}">'
            f'<span style="border-top:3px {style.dash} {style.core}"></span></span>')


def _swatch(colour: str) -> str:
    return f'<span class="sl-swatch" style="background:{colour}"></span>'


def legend_html(view: str, mode: str, variable: str, transect, tool: str) -> str:
    """Only what the maps show now: each line names the field it is a contour of."""
    items = []
    if mode == "spaghetti":
        items += [_swatch(styles.cmap_for("density")[40]) + "share of members with an edge in the pixel (0-1, every "
                  "panel on one scale)", _line(LINES["reference_edge"]) + LINES["reference_edge"].label,
                  _line(LINES["p50"]) + LINES["p50"].label]
    elif view in ("prob", "miz"):
        items += [_line(LINES["p50"]) + LINES["p50"].label, _line(LINES["mean_edge"]) + LINES["mean_edge"].label]
    elif view == "member":
        items += [_line(LINES["edge"]) + LINES["edge"].label + " (member, or state)",
                  _line(LINES["miz"]) + LINES["miz"].label]
    else:
        items += [_line(LINES["mean_edge"]) + LINES["mean_edge"].label, _line(LINES["mean_miz"]) + LINES["mean_miz"].label]
    if transect or tool == "transect":
        items.append(_line(LINES["transect"]) + "transect A → B")
    if mode == "fields" and view not in ("prob", "miz", "spread") and variable in ("sic", "sid", "sit"):
        tol = styles.TOLERANCE.get(variable, 0)
        items += [_swatch(styles.BELOW_COLOUR) + f"below the bound by more than {tol:g} (stronger: further)",
                  _swatch(styles.ABOVE_COLOUR) + "above it"]
    if mode == "fields" and variable in ("sid", "siu", "siv", "speed") and view not in ("prob", "miz"):
        items.append(_swatch(styles.NO_ICE_COLOUR) + "no ice (sic ≤ 0.15): damage and drift not shown")
    items += [_swatch(styles.LAND_COLOUR) + "land (grid mask)",
              '<span class="sl-coast-key"></span>coast: Natural Earth (public domain)']
    return '<div class="sl-map-legend">' + "".join(f"<span>{i}</span>" for i in items) + "</div>"


def region_note(region: str) -> str:
    """A region's note (what happens there), beside the region selector."""
    from seaice_ldm.data import REGIONS

    r = REGIONS.get(region)
    text = "the whole grid" if r is None else r.note
    return f'<div class="sl-small sl-region-note" title="{html.escape(text)}">{html.escape(text)}</div>'


def progress_html(progress: dict, running: bool, position: int) -> str:
    """One line per generator while its request is queued or sampling: its own progress."""
    if not running:
        return ""
    rows = []
    for space, (percent, text) in progress.items():
        label = BY_KEY[space].short
        shown = f"queued ({selection.ordinal(position)} in line)" if position else html.escape(text)
        rows.append(f'<div class="sl-panel-progress" data-panel="{space}" data-percent="{percent}">{label}: '
                    f'<meter min="0" max="100" value="{percent}"></meter> {shown}</div>')
    return '<div class="sl-small">' + "".join(rows) + "</div>"


def run_line(shown: dict, elapsed, running: bool, decoder: str, version: int, app=None) -> str:
    """What the panels show, and whether a new request is on its way."""
    if not shown:
        text = "Sampling the first ensemble…" if running else "No ensemble yet: press <b>Sample</b>."
        return f'<div class="sl-run">{text}</div>'
    timing = f"sampled in {elapsed:.1f} s" if elapsed is not None else ""
    busy = " A new request is on its way; these panels stay until it arrives." if running else ""
    return (f'<div class="sl-run" data-seed="{shown["seed"]}" data-version="{version}">Showing '
            f'<b>{shown["members"]}-member ensembles for {selection.day_label(shown["date"])}</b>, seed {shown["seed"]}, '
            f'{shown["sampler"]} {shown["steps"]} steps, <b>{decoder}</b> decoder{", " + timing if timing else ""}.'
            f"{busy}</div>")


def badges_html(app) -> str:
    models = " + ".join(spec.label for spec in GENERATORS if spec.key in app.session.available)
    models += " + refiner (optional)" if app.settings.can_refine else ""
    return ('<div class="sl-header">'
            + (f'<span class="sl-badge sl-synthetic" title="The models and reference states are synthetic">'
               f"SYNTHETIC data – not observations</span>" if app.synthetic else "")
            + f'<span class="sl-badge sl-device" data-device="{app.device}">Device: {app.device}</span>'
            f'<span class="sl-badge sl-models">Models: {html.escape(models)}</span></div>')


def intro_html(app) -> str:
    grid = app.pipeline.grid
    return ('<div class="sl-intro">Compare an ensemble from the <b>latent diffusion</b> model (VAE latent space, after '
            "Finn et al. 2024) with the <b>data-space diffusion</b> baseline and <b>held-out reference</b> states on the "
            f"{grid.ny} x {grid.nx}, {grid.dx / 1000:g} km {html.escape(str(grid.crs))} polar stereographic grid. "
            "The decoder toggle shows the same request decoded by the <b>censored</b> decoder (point mass at the "
            "physical bounds) or the <b>Gaussian</b> decoder (values may leave the bounds). The reference panel always "
            "shows states like the ensembles' date (the held-out day nearest it; in the ensemble views the states "
            "within a few days of it, with a warning, since a few states of one year are not a same-day ensemble). "
            "Maps share zoom and pan; the tools under the maps read the same ensembles.</div>")
