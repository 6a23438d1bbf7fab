"""The names every layer shares, spelt once: spaces, decoders, samplers, precisions, the generators (which
model serves which decoder, labels, colours), request limits, the package version.

Pure Python (no torch): the CLI's choices, the pipeline, the evaluation and the dashboard all read these,
and :class:`SampleRequest` is the one validated form of "sample an ensemble like this".
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and pandas load on first use: the CLI reads these names before its interrupt handlers
    import numpy as np
    import pandas as pd

#: Where the diffusion model runs: on VAE latents or directly on the normalised fields.
SPACES = ("latent", "data")
#: Each space's models in words (titles of panels and plots that show a space).
SPACE_LABELS = {"latent": "Latent diffusion", "data": "Data-space diffusion"}
#: The same, short, for tight places (a panel's histogram title, a timing line).
SPACE_SHORT = {"latent": "LDM", "data": "Data-space DM"}
#: The VAE decoder's likelihood: censored Gaussian (Tobit, mass at the physical bounds) or plain Gaussian.
DECODERS = ("censored", "gaussian")
#: Sampler names; each one's function and network evaluations per step: ``seaice_ldm.diffusion.samplers.SAMPLERS``.
SAMPLERS = ("dpmpp2m", "heun", "euler", "dpmpp2m_sde")
DEFAULT_SAMPLER = "dpmpp2m"
DEFAULT_STEPS = 10
DEFAULT_MEMBERS = 8
#: The latent path's refiner pass (``SampleRequest.refine``; docs/DESIGN.md, "A low-noise refiner"): network
#: evaluations from the refiner's start level (the ``sigma_max`` it was trained below), the last level before 0,
#: and the rho of the Karras levels between them. rho 3.5 (levels 2.5, 0.92, 0.22, 0.02) keeps the sid small-scale
#: power of validation-year states passed through the pass (0.86 against their own 0.85; rho 7, the sampler's,
#: 0.74): ``scripts/probe_line_loss.py calibrate``.
REFINE_EVALUATIONS, REFINE_SIGMA_MIN, REFINE_RHO = 4, 0.02, 3.5
#: Arithmetic of training and sampling (bf16 autocast or float32); "auto": bf16 where the device computes it
#: natively. The one rule that turns a choice into arithmetic: ``seaice_ldm.models.device.resolve_precision``.
PRECISIONS = ("auto", "float32", "bfloat16")

#: Request limits, the same for the library, the CLI and the dashboard.
MAX_MEMBERS = 256
MAX_STEPS = 200
MAX_SEED = 2**31 - 1
MAX_GUIDANCE = 10.0
#: ``date=RANDOM_DATES``: all seasons through a date-conditioned model, each member for a day of the year
#: drawn uniformly from the seed, i.e. samples of p(x) = mean over the year of p(x | day) (the climatology).
RANDOM_DATES = "random"
DAYS_PER_YEAR = 365.25
#: the two ways a date-conditioned model samples all seasons (``seaice-ldm evaluate --all-seasons``):
#: each member for a drawn day (``date=RANDOM_DATES``) or the date dropped (``date=None``)
ALL_SEASONS = {"drawn": "dates drawn", "dropped": "date dropped"}


def all_seasons_way(way: str | None, date_conditioned: bool) -> tuple[str, str | None]:
    """``(way, date)``: the checked way to sample all seasons (``None`` = drawn for date-conditioned models,
    dropped otherwise) and the ``date`` argument of ``Pipeline.sample`` that samples it."""
    way = way or ("drawn" if date_conditioned else "dropped")
    if way not in ALL_SEASONS:
        raise ValueError(f"all seasons must be sampled one of the ways {sorted(ALL_SEASONS)}, got {way!r}")
    if way == "drawn" and not date_conditioned:
        raise ValueError("all seasons with dates drawn needs date-conditioned models; these are unconditional")
    return way, (RANDOM_DATES if way == "drawn" else None)


def _package_version() -> str:
    try:
        return metadata.version("seaice-ldm")  # from pyproject.toml, through the installed distribution
    except metadata.PackageNotFoundError:  # a source tree on sys.path that was never installed
        return "0+unknown"


#: The package version (``seaice_ldm.__version__``, and the release part of a checkpoint's ``code_version``).
VERSION = _package_version()


@dataclass(frozen=True)
class GeneratorSpec:
    """One trained generator of a checkpoints folder: where it runs, which decoders' outputs it serves, what
    it is called and drawn with. Latent models have a VAE of their own decoder; the data-space model is one
    model whose output serves both decoders (clipped to the bounds: censored; as it is: Gaussian)."""

    space: str
    decoder: str  # the decoder of its checkpoint (data space: "censored", the name it is held under)
    serves: tuple[str, ...]  # the decoders whose outputs it gives
    folder: str  # its diffusion checkpoint in a checkpoints folder
    vae_folder: str | None  # the VAE that decodes its latents (None in data space)
    label: str  # e.g. "LDM (censored)", "data-space DM"
    short: str  # e.g. "LDM-C", for tight places (legends, badges)
    colour: str  # one colour per generator, in the report's figures and the dashboard

    @property
    def key(self) -> tuple[str, str]:
        """``(space, decoder)``: how a pipeline holds it."""
        return self.space, self.decoder

    def output_label(self, decoder: str) -> str:
        """Display name of its output under ``decoder``: its label, with the decoder where it serves several."""
        check_choice("decoder", decoder, self.serves)
        return self.label if len(self.serves) == 1 else f"{self.label} ({decoder})"


#: Every generator a checkpoints folder can hold, in the order they are loaded, sampled and shown.
GENERATORS = (
    GeneratorSpec("latent", "censored", ("censored",), "ldm_censored", "vae_censored", "LDM (censored)", "LDM-C",
                  "#1f77b4"),
    GeneratorSpec("latent", "gaussian", ("gaussian",), "ldm_gaussian", "vae_gaussian", "LDM (gaussian)", "LDM-G",
                  "#6a3d9a"),
    GeneratorSpec("data", "censored", DECODERS, "ddm", None, "data-space DM", "DM", "#d95f02"),
)


def generator_for(space: str, decoder: str) -> GeneratorSpec:
    """The generator whose output serves ``decoder`` in ``space`` (in data space, the one model for both)."""
    check_choice("space", space, SPACES)
    check_choice("decoder", decoder, DECODERS)
    return next(g for g in GENERATORS if g.space == space and decoder in g.serves)


def generator_label(space: str, decoder: str, refine: bool = False) -> str:
    """Display name of a generator's output, e.g. ``"LDM (censored)"``, ``"LDM (censored) + refiner"`` or
    ``"data-space DM (gaussian)"``."""
    return generator_for(space, decoder).output_label(decoder) + (REFINED if refine else "")


#: What a refined latent output adds to its generator's label.
REFINED = " + refiner"
#: The latent path the report samples refined too (its own generator), when the checkpoints hold a refiner.
REFINED_PATH = ("latent", "censored")


def check_choice(what: str, value, choices) -> str:
    """``value`` if it is one of ``choices``, else a ValueError that names ``what`` and the choices."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose one of {sorted(choices)}")
    return value


def _integer(what: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ValueError(f"{what} must be an integer between {low} and {high}, got {value!r}")
    return int(value)


def _is_numpy_bool(value) -> bool:
    import numpy as np

    return isinstance(value, np.bool_)


def parse_date(value) -> pd.Timestamp | None:
    """A calendar date (``"2008-03-15"``, a datetime, numpy datetime64), ``None`` for all seasons."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "all", "all seasons", "none")):
        return None
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        stamp = pd.NaT
    if stamp is pd.NaT:
        raise ValueError(f"date must be a calendar date such as '2008-03-15' (or None for all seasons), got {value!r}")
    return stamp.normalize()


def normalise_date(value) -> str | None:
    """A request's date as the pipeline takes it: an ISO date, :data:`RANDOM_DATES`, or None for all seasons."""
    if isinstance(value, str) and value.strip().lower() == RANDOM_DATES:
        return RANDOM_DATES
    stamp = parse_date(value)
    return None if stamp is None else stamp.strftime("%Y-%m-%d")


@dataclass(frozen=True)
class SampleRequest:
    """One validated sampling request; equal requests give equal ensembles (the seed fixes all noise)."""

    space: str = "latent"
    decoder: str = "censored"
    members: int = DEFAULT_MEMBERS
    steps: int = DEFAULT_STEPS
    sampler: str = DEFAULT_SAMPLER
    seed: int = 0
    date: str | None = None  # ISO date; None = all seasons, unconditional; "random" = all seasons, a date each
    guidance: float = 1.0  # classifier-free guidance scale (1 = plain conditional)
    no_ice_rule: bool = True  # thickness, damage and drift set to 0 where sic <= 0 (data.no_ice_rule)
    refine: bool = False  # latent space: pass the decoded states through the data-space refiner (SDEdit)

    def __post_init__(self):
        check_choice("space", self.space, SPACES)
        check_choice("decoder", self.decoder, DECODERS)
        check_choice("sampler", self.sampler, SAMPLERS)
        object.__setattr__(self, "members", _integer("members", self.members, 1, MAX_MEMBERS))
        object.__setattr__(self, "steps", _integer("steps", self.steps, 1, MAX_STEPS))
        object.__setattr__(self, "seed", _integer("seed", self.seed, 0, MAX_SEED))
        object.__setattr__(self, "date", normalise_date(self.date))
        g = self.guidance
        if isinstance(g, bool) or not isinstance(g, numbers.Real) or not math.isfinite(g) \
                or not 0.0 <= g <= MAX_GUIDANCE:
            raise ValueError(f"guidance must be a number between 0 and {MAX_GUIDANCE:g}, got {g!r}")
        object.__setattr__(self, "guidance", float(g))
        if not isinstance(self.no_ice_rule, bool) and not _is_numpy_bool(self.no_ice_rule):
            raise ValueError(f"no_ice_rule must be true or false, got {self.no_ice_rule!r}")
        object.__setattr__(self, "no_ice_rule", bool(self.no_ice_rule))
        if not isinstance(self.refine, bool) and not _is_numpy_bool(self.refine):
            raise ValueError(f"refine must be true or false, got {self.refine!r}")
        object.__setattr__(self, "refine", bool(self.refine))
        if self.refine and self.space != "latent":
            raise ValueError("refine applies to the latent path (space = 'latent'): the refiner re-denoises the "
                             "decoded latent samples in data space")

    def days_of_year(self) -> np.ndarray | None:
        """Each member's 0-based day of the year (the model's condition); None for the unconditional model.

        A date gives its day to every member; ``"random"`` draws the days from the seed alone (not from the
        noise, so equal requests get equal days at any batch size), stratified: the year is cut into
        ``members`` equal parts, each member gets a uniform day in one part, the parts shuffled among the
        members. Each member's day is uniform over the year, and the ensemble covers the year evenly (48
        independent days can leave a season out and shift the mean extent by a million km²).
        """
        if self.date is None:
            return None
        import numpy as np
        import pandas as pd

        if self.date == RANDOM_DATES:
            rng = np.random.default_rng([self.seed, 365])
            part = rng.permutation(self.members) + rng.uniform(size=self.members)
            return part * (DAYS_PER_YEAR / self.members)
        return np.full(self.members, float(pd.Timestamp(self.date).day_of_year - 1))

    def member_seeds(self) -> list[int]:
        """Each member's own seed: member i's noise (initial and any a sampler adds) comes from it alone, so
        the same request gives the same ensemble at any batch size, and with one date (or none) the first k
        members of a larger ensemble are the ensemble of k (EDM's ``generate.py`` seeds each image alike)."""
        import numpy as np

        return [int(np.random.SeedSequence([self.seed, i]).generate_state(1, np.uint64)[0] % 2**63)
                for i in range(self.members)]
