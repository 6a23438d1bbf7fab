"""Colours, spelt once for the report's figures and the dashboard: a colour map for every quantity a map
shows (cmocean, perceptually uniform, chosen for ocean data), and a colour for every generator (the
``colour`` of :data:`seaice_ldm.options.GENERATORS`) and for the reference.

Pure data at import (no matplotlib): :func:`colour_map` and :func:`hex_colours` import cmocean when asked.
"""

from __future__ import annotations

from functools import lru_cache

from seaice_ldm.options import GENERATORS

#: Colour map per shown quantity, as (cmocean name, reversed?): the five variables, the drift speed, and two
#: views of an ensemble (its spread, the probability of ice).
CMAPS: dict[str, tuple[str, bool]] = {
    "sit": ("thermal", False),
    "sic": ("ice", False),
    "sid": ("matter", False),
    "siu": ("balance", False),
    "siv": ("balance", False),
    "speed": ("speed", False),
    "spread": ("amp", False),
    "prob": ("ice", False),
}
#: The held-out reference states, next to the generators.
REFERENCE_COLOUR = "#333333"


def generator_colours() -> dict[str, str]:
    """Colour of every generator output by its label (``"LDM (censored)"`` ...) and of ``"reference"``."""
    colours = {spec.output_label(d): spec.colour for spec in GENERATORS for d in spec.serves}
    return {**colours, "reference": REFERENCE_COLOUR}


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
def hex_colours(quantity: str, n: int = 256) -> tuple[str, ...]:
    """``n`` colours of the colour map of ``quantity`` as hex strings (for Bokeh)."""
    import numpy as np
    from matplotlib.colors import to_hex

    return tuple(to_hex(c) for c in colour_map(quantity)(np.linspace(0.0, 1.0, n)))
