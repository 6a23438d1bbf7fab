import re

import pytest

from seaice_ldm.data import DataError, check_path, summarize, write_dataset


@pytest.mark.slow  # summarises a synthetic climate (about 2 s)
def test_summary_of_a_synthetic_run(synthetic_2y):
    text = summarize(synthetic_2y)
    assert text.startswith("SYNTHETIC DATA")
    assert "time: 730 states from 2000-01-01 to 2001-12-31" in text
    assert "grid: arctic50km, 128 x 128 cells of 50 km, EPSG:3413" in text
    assert re.search(r"sic: min 0, mean [\d.]+, max 1 \([\d.]+% at 0, [\d.]+% at 1\)", text)
    march = float(re.search(r"Mar ([\d.]+)", text).group(1))
    september = float(re.search(r"Sep ([\d.]+)", text).group(1))
    assert march > september


def test_check_path(tiny, tmp_path):
    path = write_dataset(tiny, tmp_path / "tiny.nc")
    text = check_path(path)
    assert "variables: sit [m], sic [1], sid [1], siu [m s-1], siv [m s-1]" in text
    assert "land: 10.0% of cells (12 land, 108 ocean)" in text
    tiny["sic"][0, 5, 5] = 1.5
    write_dataset(tiny, path)
    with pytest.raises(DataError, match="'sic'"):
        check_path(path)
