"""The one palette (``seaice_ldm.palette``): colour maps of every shown quantity, colours of every generator."""

from __future__ import annotations

import matplotlib.colors as mcolors
import pytest

from seaice_ldm import palette
from seaice_ldm.data import VARIABLE_NAMES
from seaice_ldm.options import DECODERS, GENERATORS, SPACES, generator_label


def test_every_variable_and_view_has_a_perceptually_uniform_colour_map():
    import cmocean

    assert set(VARIABLE_NAMES) | {"speed", "spread", "prob"} <= set(palette.CMAPS)
    for quantity, (name, reverse) in palette.CMAPS.items():
        assert palette.colour_map(quantity).name == name + ("_r" if reverse else "")
        assert name in cmocean.cm.cmapnames


def test_hex_colours_sample_the_colour_map_end_to_end():
    colours = palette.hex_colours("sic", 5)
    cmap = palette.colour_map("sic")
    assert colours[0] == mcolors.to_hex(cmap(0.0)) and colours[-1] == mcolors.to_hex(cmap(1.0))
    assert len(set(colours)) == 5


def test_every_generator_output_and_space_has_its_own_colour():
    colours = {label: palette.line_style(label)["color"] for label in
               [generator_label(s, d) for s in SPACES for d in DECODERS] + ["reference"]}
    assert len({c.lower() for c in (*{g.colour for g in GENERATORS}, palette.REFERENCE_COLOUR)}) == len(GENERATORS) + 1
    assert palette.space_colours() == {"latent": GENERATORS[0].colour, "data": GENERATORS[-1].colour,
                                       "reference": palette.REFERENCE_COLOUR}
    for colour in colours.values():
        assert mcolors.is_color_like(colour)
    dm_censored, dm_gaussian = (palette.line_style(generator_label("data", d)) for d in DECODERS)
    assert dm_censored["color"] == dm_gaussian["color"] and dm_gaussian["linestyle"] != dm_censored["linestyle"]
    assert palette.line_style("reference")["color"] == palette.REFERENCE_COLOUR
    assert palette.line_style("validation-year states")["color"] is None  # matplotlib's own cycle


@pytest.mark.parametrize("space, decoder, label", [("latent", "censored", "LDM (censored)"),
                                                   ("latent", "gaussian", "LDM (gaussian)"),
                                                   ("data", "censored", "data-space DM (censored)"),
                                                   ("data", "gaussian", "data-space DM (gaussian)")])
def test_generator_labels_and_which_model_serves_a_decoder(space, decoder, label):
    """The labels the report's tables and claims are keyed by, and the data-space rule: one model, both decoders."""
    from seaice_ldm.options import generator_for

    assert generator_label(space, decoder) == label
    spec = generator_for(space, decoder)
    assert spec.key == ((space, decoder) if space == "latent" else ("data", "censored"))
    assert (spec.folder, spec.vae_folder) == ((f"ldm_{decoder}", f"vae_{decoder}") if space == "latent" else
                                              ("ddm", None))
