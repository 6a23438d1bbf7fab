"""Colours, spelt once for the report's figures and the dashboard: a colour map for every quantity a map
shows (cmocean, perceptually uniform, chosen for ocean data), and a colour for every generator (the
``colour`` of :data:`seaice_ldm.options.GENERATORS`) and for the reference.

Pure data at import (no matplotlib): :func:`colour_map` and :func:`hex_colours` import cmocean when asked.
"""

from __future__ import annotations

from functools import lru_cache

from seaice_ldm.options import GENERATORS, REFINED

#: Colour map per shown quantity, as (cmocean name, reversed?): the five variables, the drift speed, two
#: views of an ensemble (its spread, the probability of ice), a difference (sample - reference), the density
#: of ice edges over the members, and the density of a joint histogram of two variables.
CMAPS: dict[str, tuple[str, bool]] = {
    "sit": ("thermal", False),
    "sic": ("ice", False),
    "sid": ("matter", False),
    "siu": ("balance", False),
    "siv": ("balance", False),
    "speed": ("speed", False),
    "spread": ("amp", False),
    "prob": ("deep", False),  # a probability never borrows the sic colours
    "miz": ("dense", False),  # the probability of the MIZ
    "difference": ("balance", False),
    "edge_density": ("thermal", False),
    "joint": ("thermal", False),
}
#: The held-out reference states, next to the generators.
REFERENCE_COLOUR = "#333333"


def line_style(label: str) -> dict[str, str | None]:
    """Colour and line style of a source in a line plot, by its label: its generator's colour (dashed for the
    Gaussian output of a model that serves both decoders, dotted for a refined latent output), the reference's;
    matplotlib's cycle for others."""
    served = {spec.output_label(d): (spec.colour, "--" if d == "gaussian" and len(spec.serves) > 1 else "-")
              for spec in GENERATORS for d in spec.serves}
    served.update({label + REFINED: (colour, ":") for label, (colour, _) in served.items()})  # dotted: refined
    colour, style = served.get(label, (REFERENCE_COLOUR if label == "reference" else None, "-"))
    return {"color": colour, "linestyle": style}


def space_colours() -> dict[str, str]:
    """Colour of each space's censored generator (the dashboard's panel per space) and of ``"reference"``."""
    return {**{spec.space: spec.colour for spec in GENERATORS if spec.decoder == "censored"},
            "reference": REFERENCE_COLOUR}


@lru_cache(maxsize=32)
def colour_map(quantity: str):
    """The matplotlib colour map of ``quantity`` (a key of :data:`CMAPS`)."""
    import cmocean

    name, reverse = CMAPS[quantity]
    return getattr(cmocean.cm, name + ("_r" if reverse else ""))


@lru_cache(maxsize=32)
def hex_colours(quantity: str, n: int = 256, low: float = 0.0, high: float = 1.0) -> tuple[str, ...]:
    """``n`` colours of the colour map of ``quantity`` (its part from ``low`` to ``high``) as hex strings (for
    Bokeh)."""
    import numpy as np
    from matplotlib.colors import to_hex

    return tuple(to_hex(c) for c in colour_map(quantity)(np.linspace(low, high, n)))
