"""Pure functions of the dashboard: input and URL parsing, reference selection, display strings.

Nothing here touches Panel, Bokeh or a session: numbers, dates and Datasets in, numbers and strings out,
so every rule the page follows can be tested on its own.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import xarray as xr

from seaice_ldm.options import (DECODERS, MAX_MEMBERS, MAX_SEED, MAX_STEPS, RANDOM_DATES, SAMPLERS,
                                generator_label)

PANELS = ("latent", "data", "reference")
#: The state parameter that changes when a panel's results change: each model panel redraws on its own
#: (progressive display); the reference's selection follows every result (date, nearest states).
VERSION_PARAMS = {"latent": "latent_version", "data": "data_version", "reference": "version"}
PANEL_TITLES = {"latent": "Latent diffusion", "data": "Data-space diffusion", "reference": "Reference (held out)"}
#: Half-width (days of the year) of the reference window of a date-conditioned ensemble.
SEASON_WINDOW_DAYS = 21
ALL_SEASONS = "all seasons"
#: Query arguments a shareable link may carry (besides ``autosample``).
QUERY_KEYS = ("members", "seed", "steps", "sampler", "variable", "view", "decoder", "date", "data", "region")


# ----------------------------------------------------------------------------------------- input
def parse_int(text, what: str, low: int, high: int) -> tuple[int | None, str]:
    """``(value, "")`` for a whole number in ``[low, high]``; ``(None, why)`` for anything else.

    Accepts ``"12"``, ``" 12 "`` and ints; refuses empty text, ``"3.7"``, ``"abc"``, ``"1e3"`` and values
    out of range (no silent rounding or clipping).
    """
    if isinstance(text, bool):
        return None, f"{what} must be a whole number from {low} to {high}"
    if isinstance(text, (int, np.integer)):
        value = int(text)
    else:
        s = "" if text is None else str(text).strip()
        if not re.fullmatch(r"[+-]?\d+", s):
            shown = repr(s) if s else "an empty box"
            return None, f"{what} must be a whole number from {low} to {high}, not {shown}"
        value = int(s)
    if not low <= value <= high:
        return None, f"{what} must be a whole number from {low} to {high}, not {value}"
    return value, ""


def parse_date(text) -> dt.date | None:
    """An ISO date ``YYYY-MM-DD`` (or a date/datetime64), else ``None``."""
    if isinstance(text, dt.date):
        return text if not isinstance(text, dt.datetime) else text.date()
    try:
        return dt.date.fromisoformat(str(text).strip()[:10])
    except ValueError:
        return None


def parse_query(args: dict[str, list[bytes]] | None, variables, views) -> tuple[dict, list[str], bool | None]:
    """The dashboard's query arguments -> ``(state values, notices, autosample)``.

    Each argument is applied when valid and ignored with a notice otherwise (bad bytes included: the
    text is decoded with replacement characters). ``date`` is an ISO date or ``all`` (all seasons).
    ``autosample`` is ``None`` when absent.
    """
    values: dict = {}
    notices: list[str] = []
    autosample: bool | None = None
    for key, raw in (args or {}).items():
        items = raw if isinstance(raw, (list, tuple)) else [raw]
        last = items[-1] if items else b""
        text = (last.decode("utf-8", "replace") if isinstance(last, bytes) else str(last)).strip()
        shown = text if len(text) <= 40 else text[:40] + "…"
        if key.startswith("bokeh-"):
            continue
        if key == "autosample":
            flag = _flag(text)
            if flag is None:
                notices.append(f"autosample={shown!r} ignored (use 0 or 1)")
            else:
                autosample = flag
            continue
        if key not in QUERY_KEYS:
            notices.append(f"unknown link argument {key!r} ignored")
            continue
        if key in ("members", "seed", "steps"):
            high = {"members": MAX_MEMBERS, "seed": MAX_SEED, "steps": MAX_STEPS}[key]
            value, why = parse_int(text, key, 0 if key == "seed" else 1, high)
            if value is None:
                notices.append(f"{why}: ignored")
            else:
                values[key] = value
        elif key in ("sampler", "variable", "view", "decoder"):
            choices = {"sampler": list(SAMPLERS), "variable": list(variables), "view": list(views),
                       "decoder": list(DECODERS)}[key]
            if text in choices:
                values[key] = text
            else:
                notices.append(f"{key}={shown!r} ignored (one of {', '.join(choices)})")
        elif key == "data":
            flag = _flag(text)
            if flag is None:
                notices.append(f"data={shown!r} ignored (use 0 or 1)")
            else:
                values["include_data"] = flag
        elif key == "date":
            if text.lower() in ("all", "none", ALL_SEASONS):
                values["conditioned"] = False
            elif (day := parse_date(text)) is not None:
                values["reference_date"] = day
            else:
                notices.append(f"date={shown!r} ignored (a date like 2008-03-15, or 'all')")
        elif key == "region":
            from seaice_ldm.data import REGIONS

            def simple(name: str) -> str:  # "Barents Sea", "barents-sea" and "barents_sea" are the same region
                return re.sub(r"[^a-z]", "", name.lower())

            match = next((name for name in REGIONS if simple(name) == simple(text)), None)
            if match is None:
                notices.append(f"region={shown!r} ignored (one of {', '.join(REGIONS)})")
            else:
                values["region"] = match
    return values, notices, autosample


def _flag(text: str) -> bool | None:
    t = text.lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    return None


# ----------------------------------------------------------------------------------------- reference
def reference_dates(reference: xr.Dataset | None) -> list[dt.date] | None:
    """The reference times as dates, or None when there is no reference or its times are not dates."""
    if reference is None or "time" not in reference.coords:
        return None
    values = reference["time"].values
    if np.issubdtype(values.dtype, np.datetime64):
        return [d.astype("datetime64[D]").astype(dt.date) for d in values]
    try:  # cftime objects
        return [dt.date(v.year, v.month, v.day) for v in values]
    except AttributeError:
        return None


def nearest_indices(values: np.ndarray, target: float, k: int) -> np.ndarray:
    """Indices of the ``k`` values nearest ``target`` (ties: earlier first), sorted by distance."""
    order = np.argsort(np.abs(np.asarray(values, dtype=np.float64) - target), kind="stable")
    return order[: max(1, min(k, len(order)))]


def nearest_date_index(dates: list[dt.date], day: dt.date) -> int:
    days = np.array([(d - day).days for d in dates], dtype=np.float64)
    return int(nearest_indices(days, 0.0, 1)[0])


def day_of_year_distance(dates: list[dt.date], day: dt.date) -> np.ndarray:
    """Circular distance in days between each date's day of the year and ``day``'s (any year)."""
    doy = np.array([d.timetuple().tm_yday for d in dates], dtype=np.float64)
    diff = np.abs(doy - day.timetuple().tm_yday)
    return np.minimum(diff, 365.25 - diff)


def season_window(dates: list[dt.date], day: dt.date, half_width: int = SEASON_WINDOW_DAYS) -> np.ndarray:
    """Indices of the held-out states within ``half_width`` days of ``day``'s day of the year (any year),
    sorted; the nearest one when none is that close. A date-conditioned ensemble is compared with these."""
    distance = day_of_year_distance(dates, day)
    inside = np.flatnonzero(distance <= half_width)
    return inside if len(inside) else nearest_indices(distance, 0.0, 1)


def area_rmse(sic: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Area-weighted RMSE over ocean cells between each ``sic[t]`` and ``target``."""
    ok = np.isfinite(target) & np.isfinite(sic).all(axis=0) & np.isfinite(weight)
    w = weight[ok] / weight[ok].sum()
    return np.sqrt(((sic[:, ok] - target[ok]) ** 2 * w).sum(axis=1))


# ----------------------------------------------------------------------------------------- strings
def date_label(date: str | None) -> str:
    """``"2008-03-15"`` or ``"all seasons"`` (a sample's ``date`` attribute or a request's date; random dates
    and the unconditional model are both all seasons)."""
    return ALL_SEASONS if date in (None, "", RANDOM_DATES) or str(date).startswith(ALL_SEASONS) else str(date)


def panel_title(panel: str, decoder: str, variable: str, view: str, member: int, when: str) -> str:
    """Map title: model (and decoder), variable and view, then the date or "all seasons"."""
    base = PANEL_TITLES[panel]
    if panel == "latent":
        base = f"Latent diffusion · {decoder}"
    elif panel == "data":
        base = "Data-space diffusion · " + ("clipped" if decoder == "censored" else "unclipped")
    if view == "prob":
        what = "P(sic > 0.15)"
    else:
        what = variable + " " + {"member": f"member {member}" if panel != "reference" else "state",
                                 "mean": "mean", "spread": "spread"}[view]
    return f"{base} — {what} · {when}"


def ensemble_note(ds: xr.Dataset, panel: str, decoder: str) -> str:
    """What a generated panel shows: members, decoder, sampler, steps, seed, date, seconds."""
    how = ("clipped to the bounds (censored)" if decoder == "censored" else "not clipped (Gaussian)") \
        if panel == "data" else f"{decoder} decoder"
    return (f"{ds.sizes['member']} members, {how}, {ds.attrs.get('sampler', '')} {ds.attrs.get('steps', '')} "
            f"steps, seed {ds.attrs.get('seed', '')}, {date_label(ds.attrs.get('date'))}, "
            f"{float(ds.attrs.get('seconds', 0)):.1f} s")


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def queue_text(position: int, seconds: float) -> str:
    """``"Queued: 2nd in line, about 9 s"`` (position 1 = next to run)."""
    return f"Queued: {ordinal(position)} in line, about {max(seconds, 1):.0f} s before yours starts"


def generator_names(available) -> list[str]:
    """Display names of the loaded generators, from the shared labels."""
    return [generator_label(space, decoder) for space, decoder in sorted(available)]
