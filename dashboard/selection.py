"""Pure functions of the dashboard: input parsing, which reference states to compare with, display strings.

Nothing here touches Panel, Bokeh or a session: numbers, dates and arrays in, indices and strings out, so every
rule the page follows can be tested on its own.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np

from seaice_ldm.options import DAYS_PER_YEAR, RANDOM_DATES

#: Half-width (days of the year) of the held-out states compared with a dated ensemble in the ensemble views.
SEASON_WINDOW_DAYS = 12
ALL_SEASONS = "all seasons"


# ----------------------------------------------------------------------------------------- input
def parse_int(text, what: str, low: int, high: int) -> tuple[int | None, str]:
    """``(value, "")`` for a whole number in ``[low, high]``; ``(None, why)`` for anything else (no silent
    rounding or clipping: ``"3.7"``, ``"1e3"``, ``""`` and values out of range are refused)."""
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
    """An ISO date ``YYYY-MM-DD`` (or a date/datetime), else ``None``."""
    if isinstance(text, dt.datetime):
        return text.date()
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text).strip()[:10])
    except ValueError:
        return None


def day_label(day: dt.date | str | None, year: bool = True) -> str:
    """``"15 Mar 2008"`` (or ``"15 Mar"``); all seasons for None / ``"random"``."""
    if day is None or day == RANDOM_DATES:
        return ALL_SEASONS
    d = parse_date(day)
    return ALL_SEASONS if d is None else (f"{d.day} {d:%b %Y}" if year else f"{d.day} {d:%b}")


def doy_label(day_of_year: float) -> str:
    """A 1-based (fractional) day of the year as ``"16 Jul"`` (in a non-leap year)."""
    d = dt.date(2001, 1, 1) + dt.timedelta(days=int(np.floor(day_of_year)) - 1)
    return f"{d.day} {d:%b}"


# ----------------------------------------------------------------------------------------- reference
def doy_distance(dates: list[dt.date], day_of_year: float) -> np.ndarray:
    """Circular distance in days between each date's day of the year and ``day_of_year`` (1-based)."""
    doy = np.array([d.timetuple().tm_yday for d in dates], dtype=np.float64)
    diff = np.abs(doy - day_of_year)
    return np.minimum(diff, DAYS_PER_YEAR - diff)


def nearest_indices(values: np.ndarray, target: float, k: int) -> np.ndarray:
    """Indices of the ``k`` values nearest ``target`` (ties: earlier first), sorted by distance."""
    order = np.argsort(np.abs(np.asarray(values, dtype=np.float64) - target), kind="stable")
    return order[: max(1, min(k, len(order)))]


def season_window(dates: list[dt.date], day_of_year: float, half_width: int = SEASON_WINDOW_DAYS) -> np.ndarray:
    """Sorted indices of the held-out states within ``half_width`` days of ``day_of_year`` (any year); the
    nearest one when none is that close."""
    distance = doy_distance(dates, day_of_year)
    inside = np.flatnonzero(distance <= half_width)
    return inside if len(inside) else nearest_indices(distance, 0.0, 1)


def area_rmse(sic: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Area-weighted RMSE over ocean cells between each ``sic[t]`` and ``target``."""
    ok = np.isfinite(target) & np.isfinite(sic).all(axis=0) & np.isfinite(weight)
    w = weight[ok] / weight[ok].sum()
    return np.sqrt(((sic[:, ok] - target[ok]) ** 2 * w).sum(axis=1))


@dataclass(frozen=True)
class ReferenceChoice:
    """The held-out states a view compares with, and how to say so."""

    indices: tuple[int, ...]
    what: str  # a short phrase for titles: "12 Mar 2008" or "3 states, 4-19 Mar 2008"
    why: str  # a sentence: which states and why these
    warning: str = ""  # shown on the reference panel and tables when the comparison is not like with like


def choose_reference(dates: list[dt.date] | None, n_states: int, *, ensemble_view: bool, shown_date: str | None,
                     member_day: float | None, fallback_day: dt.date | None, members: int,
                     nearest: np.ndarray | None = None) -> ReferenceChoice:
    """Which held-out states to show beside the ensembles: always like with like.

    - ``nearest`` (indices sorted by sic RMSE to the latent member or ensemble mean): the nearest state, or as
      many as there are members in the ensemble views.
    - A dated ensemble (``shown_date`` ISO): the state nearest its day of the year (any year), or in the
      ensemble views the states within :data:`SEASON_WINDOW_DAYS` days of it, with a warning: a few states of
      one or two years over several weeks are not a same-day ensemble.
    - All seasons (``shown_date`` random or None): one member's own day (``member_day``, else the date box,
      ``fallback_day``), or in the ensemble views every held-out state.
    """
    if n_states == 0:
        return ReferenceChoice((), "none", "no held-out states")
    if not dates:
        dates = None
    if nearest is not None and len(nearest):
        if not ensemble_view:
            i = int(nearest[0])
            return ReferenceChoice((i,), _when(dates, [i]), f"{_when(dates, [i])}: the held-out state nearest the "
                                   "latent member in sic RMSE")
        chosen = tuple(sorted(int(i) for i in nearest[:max(members, 1)]))
        return ReferenceChoice(chosen, f"{len(chosen)} nearest states", f"the {len(chosen)} held-out states nearest "
                               "the latent ensemble mean in sic RMSE (as many as members)",
                               _not_ensemble_warning(len(chosen), members, "chosen by likeness, not by date"))
    if dates is None:
        if ensemble_view:
            return ReferenceChoice(tuple(range(n_states)), f"all {n_states} states", f"all {n_states} held-out states")
        return ReferenceChoice((0,), "state #0", "the first held-out state (the reference has no dates)")
    day = parse_date(shown_date) if shown_date not in (None, RANDOM_DATES) else None
    if day is not None:
        doy = float(day.timetuple().tm_yday)
        if ensemble_view:
            chosen = tuple(int(i) for i in season_window(dates, doy))
            span = _when(dates, chosen)
            return ReferenceChoice(chosen, f"{len(chosen)} states, {span}" if len(span) < 14 else f"{len(chosen)} states "
                                   f"±{SEASON_WINDOW_DAYS} d", f"{len(chosen)} held-out states within "
                                   f"±{SEASON_WINDOW_DAYS} days of {day_label(day, False)} ({span})",
                                   _not_ensemble_warning(len(chosen), members, f"±{SEASON_WINDOW_DAYS} days"))
        i = int(nearest_indices(doy_distance(dates, doy), 0.0, 1)[0])
        return ReferenceChoice((i,), _when(dates, [i]), f"{_when(dates, [i])}: the held-out day nearest "
                               f"{day_label(day, False)}")
    if ensemble_view:
        return ReferenceChoice(tuple(range(n_states)), f"all {n_states} states",
                               f"all {n_states} held-out states (all seasons, like the ensemble)")
    if member_day is not None:
        i = int(nearest_indices(doy_distance(dates, member_day), 0.0, 1)[0])
        return ReferenceChoice((i,), _when(dates, [i]), f"{_when(dates, [i])}: the held-out day nearest the "
                               f"member's own day ({doy_label(member_day)})")
    target = fallback_day or dates[len(dates) // 2]
    i = int(nearest_indices(np.array([(d - target).days for d in dates], dtype=float), 0.0, 1)[0])
    return ReferenceChoice((i,), _when(dates, [i]), f"{_when(dates, [i])}: the held-out state nearest the date "
                           f"box ({day_label(target)})")


def _when(dates: list[dt.date] | None, indices) -> str:
    if not dates:
        return f"state #{indices[0]}" if len(indices) == 1 else f"{len(indices)} states"
    chosen = sorted(dates[i] for i in indices)
    if len(chosen) == 1:
        return day_label(chosen[0])
    first, last = chosen[0], chosen[-1]
    if first.year == last.year:
        start = f"{first.day} {first:%b}" if first.month != last.month else f"{first.day}"
        return f"{start}–{last.day} {last:%b %Y}"
    return f"{day_label(first)} – {day_label(last)}"


def _not_ensemble_warning(n: int, members: int, how: str) -> str:
    return f"Reference: {n} held-out state{'s' if n != 1 else ''} ({how}), not a same-day ensemble of {members}"


# ----------------------------------------------------------------------------------------- strings
def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def duration(seconds: float) -> str:
    """``"8 s"``, ``"2.5 min"``, ``"1.3 h"``."""
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def queue_text(position: int, seconds: float) -> str:
    """``"Queued: 2nd in line, about 9 s before yours starts"`` (position 1 = next to run)."""
    return f"Queued: {ordinal(position)} in line, about {duration(seconds)} before yours starts"


def progress_text(label: str, step: int, steps: int, batch: int = 1, batches: int = 1) -> str:
    """``"LDM (censored): step 3/10 (30 %)"``; with batches, the step of the whole run."""
    done = ((batch - 1) * steps + step) / max(batches * steps, 1)
    where = f"step {step}/{steps}" + (f" of batch {batch}/{batches}" if batches > 1 else "")
    return f"{label}: {where} ({100 * done:.0f} %)"


def estimate_text(parts: dict[str, float], budget: float, wait: float = 0.0) -> tuple[str, bool]:
    """(sentence, over budget) for the estimated sampling seconds of each generator (0: in the cache)."""
    total = sum(parts.values())
    if not parts:
        return "Nothing to sample.", False
    if total <= 0:
        return "In the cache: shown at once.", False
    each = ", ".join(f"{label} {duration(s)}" if s > 0 else f"{label} cached" for label, s in parts.items())
    text = f"Estimate: about {duration(total)} of sampling ({each})"
    if wait > 0.5:
        text += f", after about {duration(wait)} for requests ahead"
    over = total > budget
    if over:
        text += f". Over this server's budget of {duration(budget)}: fewer members or steps"
    return text + ".", over


def request_differences(wanted: dict, shown: dict) -> list[str]:
    """What the controls ask for that the shown ensembles are not: ``["date 15 Mar 2008 (shown: 28 Jun 2008)"]``."""
    out = []
    names = {"date": "date", "members": "members", "seed": "seed", "sampler": "sampler", "steps": "steps",
             "no_ice_rule": "no-ice rule", "include_data": "data-space baseline", "refine": "refiner"}
    for key, name in names.items():
        a, b = wanted.get(key), shown.get(key)
        if a == b:
            continue
        if key == "date":
            out.append(f"date {day_label(a)} (shown: {day_label(b)})")
        elif key in ("no_ice_rule", "include_data", "refine"):
            out.append(f"{name} {'on' if a else 'off'} (shown: {'on' if b else 'off'})")
        else:
            out.append(f"{name} {a} (shown: {b})")
    return out
