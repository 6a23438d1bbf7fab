"""Every choice a user makes on the page, in one ``param.Parameterized`` per session, and its URL.

The settings hold no results and do no work: the request they describe is :meth:`Settings.base_request`
(a :class:`~seaice_ldm.options.SampleRequest`); :mod:`dashboard.links` turns them into the page's query
string and back.
"""

from __future__ import annotations

import datetime as dt

import param

from seaice_ldm.data import PAN_ARCTIC, REGIONS
from seaice_ldm.options import (DECODERS, DEFAULT_MEMBERS, DEFAULT_SAMPLER, DEFAULT_STEPS, MAX_MEMBERS, MAX_SEED,
                                MAX_STEPS, RANDOM_DATES, SAMPLERS, SampleRequest)

from dashboard import links
from dashboard.selection import parse_int

#: Variables a user can show: the model variables and the drift speed derived from siu, siv.
DISPLAY_VARIABLES: tuple[str, ...] = ("sit", "sic", "sid", "siu", "siv", "speed")
#: Views of an ensemble, key -> label.
VIEWS: dict[str, str] = {
    "member": "One member",
    "mean": "Ensemble mean",
    "spread": "Ensemble spread (std)",
    "prob": "P(sic > 0.15)",
    "miz": "P(MIZ: 0.15 < sic < 0.8)",
}
#: What the maps show.
MODES: dict[str, str] = {
    "fields": "Fields",
    "difference": "Sample − reference",
    "spaghetti": "Ice-edge spaghetti",
    "joint": "Joint distribution",
}
#: The tools below the maps.
TOOLS: dict[str, str] = {
    "numbers": "Numbers",
    "probe": "Point values",
    "transect": "Transect",
    "regions": "MIZ width by region",
    "seasonal": "Seasonal cycle",
    "spectra": "Spectra",
}
#: joint pairs: second variable -> label
PAIRS = {"sit": "sic vs sit", "sid": "sic vs sid"}


def needs(variable: str) -> set[str]:
    """Model variables a displayed variable is made of."""
    return {"siu", "siv"} if variable == "speed" else {variable}


class Settings(param.Parameterized):
    """The choices of one session (request, display, maps, tools), each one a link argument."""

    # the request
    date = param.CalendarDate(default=None, allow_None=True, doc="Day the ensemble is sampled for (any day)")
    season = param.Selector(default="date", objects=["date", "all"], doc="The date, or all seasons")
    members = param.Integer(DEFAULT_MEMBERS, bounds=(1, MAX_MEMBERS), doc="Ensemble members")
    seed = param.Integer(0, bounds=(0, MAX_SEED), doc="Random seed (same seed, same ensemble)")
    seed_input = param.String("0", doc="The seed box as typed; a valid whole number sets `seed`")
    sampler = param.Selector(default=DEFAULT_SAMPLER, objects=list(SAMPLERS),
                             doc="dpmpp2m, heun, euler: ODE solvers; dpmpp2m_sde: stochastic (fresh noise each step)")
    steps = param.Integer(DEFAULT_STEPS, bounds=(1, MAX_STEPS), doc="Sampler steps")
    include_data = param.Boolean(True, doc="Also sample the data-space diffusion baseline")
    no_ice_rule = param.Boolean(True, doc="Thickness, damage and drift set to 0 where sic <= 0")
    refine = param.Boolean(False, doc="Latent samples refined in data space (the refiner's SDEdit pass)")
    # what is shown
    decoder = param.Selector(default="censored", objects=list(DECODERS), doc="Decoder shown")
    variable = param.Selector(default="sic", objects=list(DISPLAY_VARIABLES), doc="Variable shown")
    view = param.Selector(default="member", objects=list(VIEWS), doc="View of the ensemble")
    member = param.Integer(0, bounds=(0, MAX_MEMBERS - 1), doc="Member shown in the 'One member' view")
    arrows = param.Boolean(False, doc="Draw drift arrows")
    reference_mode = param.Selector(default="date", objects=["date", "nearest"],
                                    doc="Reference states like the ensemble's date, or nearest the latent sample")
    region = param.Selector(default=PAN_ARCTIC, objects=list(REGIONS), doc="Named regional view")
    mode = param.Selector(default="fields", objects=list(MODES), doc="What the maps show")
    pair = param.Selector(default="sit", objects=list(PAIRS), doc="Second variable of the joint distribution")
    tool = param.Selector(default="numbers", objects=list(TOOLS), doc="Tool shown below the maps")
    transect = param.Parameter(default=(), doc="Transect (x0, y0, x1, y1) in projected metres; () for none")
    present = param.Boolean(False, doc="Presentation mode: larger text, fewer controls")
    # input state (not in the URL)
    drawing = param.Boolean(False, doc="Clicks on a map set the transect's ends")
    input_error = param.String("", doc="Why the last typed value was refused (empty when all inputs are valid)")
    notices = param.List(default=[], doc="Link arguments that were ignored, and why")

    def __init__(self, *, date_conditioned: bool = True, can_refine: bool = False, variables=DISPLAY_VARIABLES,
                 pairs=tuple(PAIRS), **params):
        variables = [v for v in DISPLAY_VARIABLES if v in variables] or ["sic"]
        pairs = [p for p in PAIRS if p in pairs] or ["sit"]
        variable, pair = params.pop("variable", None), params.pop("pair", None)
        super().__init__(**params)
        self.param.variable.objects = variables  # exactly what the loaded models have (per instance)
        self.param.pair.objects = pairs
        self.variable = variable if variable in variables else ("sic" if "sic" in variables else variables[0])
        self.pair = pair if pair in pairs else pairs[0]
        self.date_conditioned = date_conditioned
        self.can_refine = can_refine  # the checkpoints hold a refiner
        if not date_conditioned:
            self.season = "all"
        self.seed_input = str(self.seed)
        self.defaults = self.values()

    # ------------------------------------------------------------------ input
    @param.depends("seed_input", watch=True)
    def _parse_seed(self) -> None:
        value, why = parse_int(self.seed_input, "Seed", 0, MAX_SEED)
        if value is None:
            self.input_error = f"{why}. Sample stays off until the seed is valid (last valid seed: {self.seed})."
        else:
            self.input_error = ""
            self.seed = value

    @param.depends("seed", watch=True)
    def _show_seed(self) -> None:
        if parse_int(self.seed_input, "Seed", 0, MAX_SEED)[0] != self.seed:
            self.seed_input = str(self.seed)

    # ------------------------------------------------------------------ the request
    def request_date(self) -> str | None:
        """The date the next request samples for: the ISO date; all seasons: each member its own day (date-
        conditioned models, ``"random"``) or the unconditional model (None)."""
        if not self.date_conditioned:
            return None
        if self.season == "date" and self.date is not None:
            return self.date.isoformat()
        return RANDOM_DATES

    def base_request(self) -> SampleRequest:
        """The request (its space and decoder are set per run by ``worker.plan``)."""
        return SampleRequest(members=int(self.members), steps=int(self.steps), sampler=self.sampler,
                             seed=int(self.seed), date=self.request_date(), no_ice_rule=bool(self.no_ice_rule),
                             refine=self.refined())

    def refined(self) -> bool:
        """Whether the next request refines its latent samples (asked for, and a refiner is loaded)."""
        return bool(self.refine and self.can_refine)

    def wanted(self) -> dict:
        """The request as plain values, to compare with what is shown (``selection.request_differences``)."""
        return {"members": int(self.members), "seed": int(self.seed), "sampler": self.sampler,
                "steps": int(self.steps), "date": self.request_date(), "no_ice_rule": bool(self.no_ice_rule),
                "refine": self.refined()}

    # ------------------------------------------------------------------ the URL
    def values(self) -> dict:
        return {f.param: getattr(self, f.param) for f in links.FIELDS} | {"season": self.season}

    def query(self) -> str:
        return links.to_query(self.values(), self.defaults)

    def choices(self) -> dict[str, list]:
        return {name: list(self.param[name].objects) for name in
                ("sampler", "decoder", "variable", "view", "reference_mode", "mode", "pair", "tool")} | {
            "region": list(REGIONS)}

    def apply_query(self, args: dict | None) -> bool | None:
        """Apply a page's URL arguments; invalid ones are listed in ``notices``. Returns the link's autosample."""
        values, notices, autosample = links.parse_query(args, self.choices())
        if not self.date_conditioned and values.get("season") == "date":
            values.pop("season")
        if "seed" in values:
            values["seed_input"] = str(values["seed"])
        self.param.update(**values)
        self.notices = notices
        return autosample


def default_date(dates: list[dt.date] | None) -> dt.date | None:
    """The date a new page opens on: the middle held-out date (the server samples it at start)."""
    return dates[len(dates) // 2] if dates else None
