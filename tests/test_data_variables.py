import numpy as np
import pytest

from seaice_ldm.data import VARIABLE_NAMES, VARIABLES, DataError, bounds_array, canonical_name, unit_factor


def test_variables_in_canonical_order_with_bounds():
    assert VARIABLE_NAMES == ("sit", "sic", "sid", "siu", "siv")
    assert tuple(VARIABLES) == VARIABLE_NAMES
    assert (VARIABLES["sit"].lower, VARIABLES["sit"].upper) == (0.0, None)
    assert (VARIABLES["sic"].lower, VARIABLES["sic"].upper) == (0.0, 1.0)
    assert VARIABLES["siu"].units == "m s-1" and VARIABLES["siu"].lower is None


def test_bounds_array_uses_infinities_where_unbounded():
    lower, upper = bounds_array(("siv", "sic", "sit"))
    np.testing.assert_array_equal(lower, [-np.inf, 0.0, 0.0])
    np.testing.assert_array_equal(upper, [np.inf, 1.0, np.inf])


@pytest.mark.parametrize("alias, name", [
    ("analysis_sea_ice_thickness", "sit"), ("sithick", "sit"), ("siconc", "sic"), ("ice_conc", "sic"),
    ("damage", "sid"), ("vxsi", "siu"), ("vysi", "siv"), ("SIC", "sic"), ("sic", "sic"), ("salinity", None),
])
def test_canonical_name(alias, name):
    assert canonical_name(alias) == name


@pytest.mark.parametrize("name, units, factor", [
    ("sic", "%", 0.01), ("sic", "percent", 0.01), ("sic", "1", 1.0), ("sit", "cm", 0.01), ("sit", "m", 1.0),
    ("siu", "cm/s", 0.01), ("siv", "cm s-1", 0.01), ("siu", "km/day", 1 / 86.4), ("siu", "km d-1", 1 / 86.4),
    ("siv", "m/day", 1 / 86400), ("siu", "m s-1", 1.0), ("sit", None, 1.0),
])
def test_unit_factor(name, units, factor):
    assert unit_factor(name, units) == pytest.approx(factor)


def test_unknown_units_are_refused_by_name():
    with pytest.raises(DataError, match=r"'sit'.*unknown units 'furlong'"):
        unit_factor("sit", "furlong")
