"""The dashboard's one place for what each panel shows: its generator, label, short label and colour, and the
variables each loaded model has.

Labels come from ``seaice_ldm.options.generator_label`` (the library's one spelling); when the library grows
its generators record and palette (issue 27), :func:`panel_kinds` and :data:`PANEL_COLOURS` are the only
places to point at them. Panels are a list, not three fixed slots: a fourth generator (e.g. an "LDM +
refiner") is one more :class:`PanelKind`.
"""

from __future__ import annotations

from dataclasses import dataclass

from seaice_ldm.data import VARIABLE_NAMES
from seaice_ldm.options import DECODERS, SPACE_SHORT, generator_label
from seaice_ldm.palette import space_colours

#: colour of each panel's lines, histograms and table: its space's censored generator's, the reference's
PANEL_COLOURS = space_colours()
REFERENCE = "reference"


@dataclass(frozen=True)
class PanelKind:
    """One map panel: a generator (``space``) or the held-out reference states (``space`` None)."""

    key: str
    space: str | None
    short: str

    @property
    def colour(self) -> str:
        return PANEL_COLOURS.get(self.key, "#555555")

    def label(self, decoder: str) -> str:
        """Full label for the shown decoder: ``"LDM (censored)"``, ``"data-space DM (gaussian)"``, ``"Reference"``."""
        if self.space is None:
            return "Reference (held out)"
        return generator_label(self.space, decoder)


LATENT = PanelKind("latent", "latent", SPACE_SHORT["latent"])
DATA = PanelKind("data", "data", SPACE_SHORT["data"])
REFERENCE_PANEL = PanelKind(REFERENCE, None, "Reference")
#: every panel the dashboard knows, in the order they are drawn
ALL_PANELS: tuple[PanelKind, ...] = (LATENT, DATA, REFERENCE_PANEL)
PANELS = tuple(p.key for p in ALL_PANELS)
BY_KEY = {p.key: p for p in ALL_PANELS}
SPACES_OF_PANELS = {p.key: p.space for p in ALL_PANELS if p.space is not None}


def panel_kinds() -> tuple[PanelKind, ...]:
    return ALL_PANELS


def model_variables(pipeline) -> dict[tuple[str, str], tuple[str, ...]]:
    """``{(space, decoder): variables}`` of the loaded generators, in the canonical order.

    Read from each model's normalisation statistics (a generator samples exactly the variables it was trained
    on); a pipeline that does not expose them (a test stand-in) is taken to have all five.
    TODO(issue 27): read the library's generators record once it lists the variables.
    """
    out = {}
    generators = getattr(pipeline, "generators", {}) or {}
    for key in pipeline.available:
        names = None
        gen = generators.get(key) if isinstance(generators, dict) else None
        model = getattr(gen, "vae", None) or getattr(gen, "diffusion", None)
        stats = getattr(model, "stats", None)
        names = getattr(stats, "names", None)
        variables = tuple(v for v in VARIABLE_NAMES if names is None or v in names)
        if key[0] == "data":  # one data-space model serves both decoders
            out.update({("data", d): variables for d in DECODERS})
        else:
            out[key] = variables
    return out


def panel_variables(pipeline, reference) -> dict[str, set[str]]:
    """``{panel key: variables}``: the union over a panel's decoders; the reference's are its data variables."""
    by_model = model_variables(pipeline)
    out: dict[str, set[str]] = {}
    for kind in ALL_PANELS:
        if kind.space is None:
            out[kind.key] = set() if reference is None else {v for v in VARIABLE_NAMES if v in reference.data_vars}
        else:
            out[kind.key] = {v for (space, _), names in by_model.items() if space == kind.space for v in names}
    return out
