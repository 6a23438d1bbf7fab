import numpy as np
import pytest

from seaice_ldm.data import DataError, split_by_year, split_years

YEARS = list(range(2000, 2006))


@pytest.fixture
def ds(make_tiny):
    return make_tiny(np.array([f"{y}-{m:02d}-15" for y in YEARS for m in (2, 8)], dtype="datetime64[D]"))


def years_of(split):
    return sorted(set(split["time"].dt.year.values.tolist()))


def test_last_years_are_test_and_the_ones_before_validation(ds):
    splits = split_by_year(ds, val_years=1, test_years=2)
    assert years_of(splits["train"]) == [2000, 2001, 2002]
    assert years_of(splits["val"]) == [2003]
    assert years_of(splits["test"]) == [2004, 2005]
    assert sum(s.sizes["time"] for s in splits.values()) == ds.sizes["time"]


def test_too_few_years(ds):
    with pytest.raises(DataError, match="6 years.*leave no training year"):
        split_by_year(ds, val_years=3, test_years=3)


def test_explicit_years(ds):
    splits = split_years(ds, train=[2001, 2003], val=[2000], test=[2005])
    assert years_of(splits["train"]) == [2001, 2003] and splits["train"].sizes["time"] == 4
    assert years_of(splits["val"]) == [2000] and years_of(splits["test"]) == [2005]


@pytest.mark.parametrize("kwargs, message", [
    ({"train": [2000], "val": [2000]}, "2000 is in both the train and the val split"),
    ({"train": [2000], "test": [1999]}, "test year 1999 is not in the data set"),
    ({"train": []}, "at least one year"),
])
def test_explicit_year_errors(ds, kwargs, message):
    with pytest.raises(DataError, match=message):
        split_years(ds, **kwargs)
