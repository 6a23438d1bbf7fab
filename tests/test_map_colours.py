"""Map lines stay readable on every colour map: WCAG 2.1 contrast of line core or casing with every colour."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest.importorskip("panel")
pytest.importorskip("datashader")

from dashboard import styles as maps  # noqa: E402  (the map styles)

MIN_CONTRAST = 3.0  # WCAG 2.1 SC 1.4.11, non-text contrast


def luminance(colour: str) -> float:
    """WCAG relative luminance of a hex colour."""
    rgb = np.array([int(colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)]) / 255.0
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(lin @ [0.2126, 0.7152, 0.0722])


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_formula_matches_wcag_examples():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#ffd400", "#ffd400") == 1.0


@pytest.mark.parametrize("line", list(maps.LINES))
def test_every_line_has_contrast_on_every_colour_under_it(line):
    style = maps.LINES[line]
    under = {f"{name}[{i}]": c for name, cmap in maps.cmaps_in_use().items() for i, c in enumerate(cmap)}
    under.update(maps.background_colours())
    worst = min(under, key=lambda k: max(contrast(style.core, under[k]), contrast(style.casing, under[k])))
    best = max(contrast(style.core, under[worst]), contrast(style.casing, under[worst]))
    assert best >= MIN_CONTRAST, (line, worst, under[worst], best)
    assert style.casing_width > style.width  # the casing shows on both sides of the core


def test_a_single_colour_would_not_do():
    """Why lines are cased: the old yellow edge alone fails on light colour maps (damage, speed)."""
    colours = [c for cmap in maps.cmaps_in_use().values() for c in cmap]
    assert min(contrast("#ffd400", c) for c in colours) < 1.5


def test_arrows_are_cased_too():
    colours = [c for cmap in maps.cmaps_in_use().values() for c in cmap] + list(maps.background_colours().values())
    assert min(max(contrast(maps.ARROW_CORE, c), contrast(maps.ARROW_CASING, c)) for c in colours) >= MIN_CONTRAST


def test_masks_and_arrow_scale():
    from dashboard import mapcontent, store

    sic = np.array([[0.0, 0.1, 0.5], [np.nan, 1.0, 0.16]])
    sid = np.full_like(sic, 0.4)
    masked = store.ice_masked(sid, sic, "sid")
    assert np.isnan(masked[0, :2]).all() and np.isnan(masked[1, 0]) and not np.isnan(masked[1, 1:]).any()
    assert np.array_equal(store.ice_masked(sid, sic, "sit"), sid)  # thickness is kept (0 where no ice)
    # about ARROWS_ACROSS arrows across any view; a KEY_SPEED arrow is one spacing long
    for width, dx in ((6.4e6, 50e3), (6.4e6, 12.5e3), (9e5, 12.5e3)):
        every = mapcontent.arrow_spacing(width, dx)
        assert abs(width / (every * dx) - mapcontent.ARROWS_ACROSS) <= mapcontent.ARROWS_ACROSS / 2
        assert mapcontent.KEY_SPEED * mapcontent.arrow_scale(every, dx) == pytest.approx(every * dx)
