"""What each panel says about itself: its title, its state (sampling, failed, not available) and warnings.

Functions of a session's settings, store and session (read only), returning plain strings, shared by the map
headers, the tables and the tools, so a panel is described the same way everywhere.
"""

from __future__ import annotations

from seaice_ldm.data import sample_dim as data_sample_dim
from seaice_ldm.options import REFINED

from dashboard import selection
from dashboard.generators import BY_KEY, REFERENCE
from dashboard.settings import VIEWS, needs
from dashboard.store import ENSEMBLE_VIEWS

WHAT = {"member": "member {m}", "mean": "ensemble mean", "spread": "ensemble spread", "prob": "P(sic > 0.15)",
        "miz": "P(MIZ)"}


def panel_label(store, panel: str) -> str:
    """The panel's generator as shown (the latent panel's ensemble may be refined)."""
    refined = panel == "latent" and bool(store.shown.get("refine"))
    return BY_KEY[panel].label(store.settings.decoder) + (REFINED if refined else "")


def count_title(data, panel: str) -> str:
    """A plot title naming the states it pools: "LDM: 8 members", "Reference: 3 states"."""
    n = 0 if data is None or not data.sizes else data.sizes[data_sample_dim(data)]
    noun = "state" if panel == REFERENCE else "member"
    return f"{BY_KEY[panel].short}: {n} {noun}{'' if n == 1 else 's'}"


def when(store, panel: str) -> str:
    """The date a panel shows: a member's own day in all seasons, the reference states' own dates."""
    s = store.settings
    if panel == REFERENCE:
        return store.reference_choice().what
    date = store.shown_date()
    if date is None or date == "random":
        if s.view == "member":
            day = store.member_day(s.member)
            return f"all seasons: member's day {selection.doy_label(day)}" if day is not None else selection.ALL_SEASONS
        return "all seasons, a day per member" if date == "random" else selection.ALL_SEASONS
    return selection.day_label(date)


def what(store, panel: str) -> str:
    s = store.settings
    if s.mode == "spaghetti":
        return "ice edges of all " + ("states" if panel == REFERENCE else "members")
    view = s.view
    if panel == REFERENCE and view == "member":
        name = f"{s.variable} state"
    elif view in ("prob", "miz"):
        name = WHAT[view]
    else:
        name = f"{s.variable} {WHAT[view].format(m=s.member)}"
    return f"Δ {name} − reference" if s.mode == "difference" and panel != REFERENCE else name


def panel_title(store, panel: str) -> str:
    """Two lines: the generator, then what is shown and when."""
    return f"{panel_label(store, panel)}\n{what(store, panel)} · {when(store, panel)}"


def availability(store, panel: str) -> str:
    """Why a panel cannot show the chosen variable or view ('' when it can)."""
    s = store.settings
    have = store.variables.get(panel, set())
    name = "the reference" if panel == REFERENCE else "this model"
    trained = ", ".join(v for v in ("sit", "sic", "sid", "siu", "siv") if v in have)
    wanted = {"sic"} if s.view in ("prob", "miz") or s.mode == "spaghetti" else needs(s.variable)
    missing = sorted(wanted - have)
    if have and missing:
        return f"{', '.join(missing)} not in {name} (it has {trained})"
    return ""


def panel_state(session, store, panel: str) -> tuple[str, str]:
    """(kind, text) of a panel's state: ``ok``, ``busy``, ``error`` or ``empty``."""
    s = store.settings
    if panel == REFERENCE:
        if store.reference is None:
            broken = session.load_errors.get(("reference", "reference.nc"))
            return "error", f"Reference not loaded: {broken}" if broken else "no reference.nc in the checkpoints"
        missing = availability(store, panel)
        return ("error", missing) if missing else ("ok", store.reference_choice().why)
    space = BY_KEY[panel].space
    broken = next((m for (sp, d), m in session.load_errors.items() if sp == space
                   and (space == "data" or d == s.decoder)), None)
    if not session.can_sample(space):
        return "error", f"Model not loaded: {broken}" if broken else f"no {panel_label(store, panel)} in the checkpoints"
    if space == "latent" and (space, s.decoder) not in session.available:
        return "error", f"Model not loaded: {broken}" if broken else f"no latent model for the {s.decoder} decoder"
    if space in session.panel_errors:
        return "error", session.panel_errors[space]
    missing = availability(store, panel)
    if missing:
        return "error", missing
    ds = store.dataset(panel)
    if ds is None:
        if session.running and space in session.progress:
            percent, text = session.progress[space]
            return "busy", f"sampling… {text}" if percent else ("queued" if session.queue_position else "sampling…")
        if store.results and not store.shown.get("include_data", True) and space == "data":
            return "empty", "not sampled (tick 'Data-space baseline too')"
        return "empty", "sampling the first ensemble…" if session.running else "no ensemble yet: press Sample"
    return "ok", ensemble_note(ds, panel, s.decoder)


def ensemble_note(ds, panel: str, decoder: str) -> str:
    how = ("clipped to the bounds" if decoder == "censored" else "not clipped") if panel == "data" else \
        f"{decoder} decoder"
    rule = "" if ds.attrs.get("no_ice_rule", "off") == "off" else ", no-ice rule"
    rule += "" if ds.attrs.get("refiner_model", "none") == "none" else ", refined in data space"
    return (f"{ds.sizes['member']} members, {how}, {ds.attrs.get('sampler', '')} {ds.attrs.get('steps', '')} steps, "
            f"seed {ds.attrs.get('seed', '')}{rule}, {float(ds.attrs.get('seconds', 0)):.1f} s")


def mismatch(session, store) -> str:
    """The warning every panel shows while the controls ask for another ensemble than the one shown."""
    if not store.results:
        return ""
    diffs = selection.request_differences(session.settings.wanted(), store.shown)
    diffs = [d for d in diffs if not d.startswith(("data-space", "no-ice"))] + \
            [d for d in diffs if d.startswith("no-ice")]
    if not diffs:
        return ""
    shown = selection.day_label(store.shown.get("date"))
    if session.running:
        return f"New ensemble on its way ({'; '.join(diffs)}): panels still show {shown}."
    return f"Not sampled yet: {'; '.join(diffs)}. Every panel still shows {shown}: press Sample."


def reference_warning(store) -> str:
    """The reference's own warning (a few states beside a same-day ensemble), in the ensemble views."""
    if store.settings.view not in ENSEMBLE_VIEWS and store.settings.mode not in ("spaghetti", "joint"):
        return ""
    return store.reference_choice().warning


def comparison(store) -> str:
    """A sentence naming the states a number is compared with (tables, tools)."""
    return f"vs the reference: {store.reference_choice().why}"


def view_label(view: str) -> str:
    return VIEWS[view]
