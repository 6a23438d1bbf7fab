"""Every setting of the page in its URL: one table of query keys, parsed and written by pure functions.

``?members=16&seed=3&date=2008-03-15&variable=sit&view=mean&region=Fram%20Strait&mode=spaghetti...``: a link
opens the page as it was; an argument that is not valid is ignored and named in a notice (bad bytes are
decoded with replacement characters, never raised).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from seaice_ldm.options import MAX_MEMBERS, MAX_SEED, MAX_STEPS

from dashboard.selection import parse_date, parse_int


@dataclass(frozen=True)
class Field:
    key: str  # in the URL
    param: str  # on Settings
    kind: str  # int, flag, choice, date, transect
    low: int = 0
    high: int = 0


FIELDS: tuple[Field, ...] = (
    Field("date", "date", "date"),
    Field("members", "members", "int", 1, MAX_MEMBERS),
    Field("seed", "seed", "int", 0, MAX_SEED),
    Field("sampler", "sampler", "choice"),
    Field("steps", "steps", "int", 1, MAX_STEPS),
    Field("data", "include_data", "flag"),
    Field("noice", "no_ice_rule", "flag"),
    Field("refine", "refine", "flag"),
    Field("decoder", "decoder", "choice"),
    Field("variable", "variable", "choice"),
    Field("view", "view", "choice"),
    Field("member", "member", "int", 0, MAX_MEMBERS - 1),
    Field("arrows", "arrows", "flag"),
    Field("ref", "reference_mode", "choice"),
    Field("region", "region", "region"),
    Field("mode", "mode", "choice"),
    Field("pair", "pair", "choice"),
    Field("tool", "tool", "choice"),
    Field("transect", "transect", "transect"),
    Field("present", "present", "flag"),
)
BY_KEY = {f.key: f for f in FIELDS}
ALL = "all"


def _flag(text: str) -> bool | None:
    t = text.lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    return None


def _simple(name: str) -> str:  # "Barents Sea", "barents-sea" and "barents_sea" are the same region
    return re.sub(r"[^a-z]", "", name.lower())


def parse_query(args: dict | None, choices: dict[str, list]) -> tuple[dict, list[str], bool | None]:
    """A page's query arguments -> ``(Settings values, notices, autosample)``.

    ``choices[param]`` lists the valid values of each choice (and ``"region"`` the region names). ``date`` is an
    ISO date (any day) or ``all`` (all seasons: sets ``season="all"``). ``autosample`` is None when absent.
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
            autosample = _flag(text)
            if autosample is None:
                notices.append(f"autosample={shown!r} ignored (use 0 or 1)")
            continue
        field = BY_KEY.get(key)
        if field is None:
            notices.append(f"unknown link argument {key!r} ignored")
            continue
        value, why = _parse(field, text, choices)
        if why:
            notices.append(f"{key}={shown!r} ignored ({why})")
        else:
            values.update(value)
    return values, notices, autosample


def _parse(field: Field, text: str, choices: dict[str, list]) -> tuple[dict, str]:
    if field.kind == "int":
        value, why = parse_int(text, field.key, field.low, field.high)
        return ({field.param: value}, "") if value is not None else ({}, why)
    if field.kind == "flag":
        flag = _flag(text)
        return ({field.param: flag}, "") if flag is not None else ({}, "use 0 or 1")
    if field.kind == "choice":
        options = [str(c) for c in choices.get(field.param, [])]
        return ({field.param: text}, "") if text in options else ({}, f"one of {', '.join(options)}")
    if field.kind == "region":
        match = next((r for r in choices.get("region", []) if _simple(r) == _simple(text)), None)
        return ({"region": match}, "") if match else ({}, f"one of {', '.join(choices.get('region', []))}")
    if field.kind == "date":
        if text.lower() in (ALL, "none", "all seasons"):
            return {"season": ALL}, ""
        day = parse_date(text)
        return ({"date": day, "season": "date"}, "") if day is not None else ({}, "a date like 2008-03-15, or 'all'")
    if field.kind == "transect":
        parts = text.split(",")
        try:
            numbers = tuple(float(p) * 1e3 for p in parts)
        except ValueError:
            numbers = ()
        ok = len(numbers) == 4 and all(abs(v) < 2e7 for v in numbers) and numbers[:2] != numbers[2:]
        return ({"transect": numbers}, "") if ok else ({}, "four numbers x0,y0,x1,y1 in km")
    raise ValueError(field.kind)  # pragma: no cover


def format_value(field: Field, values: dict) -> str | None:
    """The query value of ``field`` from Settings ``values`` (None: left out of the link)."""
    v = values.get(field.param)
    if field.kind == "date":
        if values.get("season") == ALL:
            return ALL
        return None if v is None else v.isoformat()
    if field.kind == "flag":
        return "1" if v else "0"
    if field.kind == "transect":
        return None if not v else ",".join(f"{c / 1e3:.0f}" for c in v)
    return None if v is None else str(v)


def to_query(values: dict, defaults: dict) -> str:
    """``"?key=value&..."`` of every setting that differs from its default (the date always: the page's
    default date depends on the models), in the order of :data:`FIELDS`."""
    parts = []
    for field in FIELDS:
        text = format_value(field, values)
        if text is None:
            continue
        if field.kind != "date" and text == format_value(field, defaults):
            continue
        parts.append(f"{field.key}={quote(text, safe=',-')}")
    return "?" + "&".join(parts)
