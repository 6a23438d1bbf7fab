"""Every kind of file the package writes passes the canonical contract and IOOS ``compliance-checker --test
cf:1.8`` without errors or warnings: synthetic data, reference states, sampled ensembles (netCDF, and zarr
re-exported to netCDF with plain xarray) and the dashboard's download."""

import json
import shutil
import subprocess
from pathlib import Path

import pyproj
import pytest
import xarray as xr

from seaice_ldm.cli import main
from seaice_ldm.data import VARIABLE_NAMES, check_canonical, write_dataset

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
CHECKER = shutil.which("compliance-checker")
pytestmark = [pytest.mark.skipif(CHECKER is None, reason="compliance-checker (test extra) is not installed"),
              pytest.mark.slow]  # the checker runs in a subprocess, several seconds a file


def cf_problems(path: Path) -> list[str]:
    """The checker's errors (high priority) and warnings (medium priority) for ``path``."""
    report = path.with_suffix(".cf.json")
    subprocess.run([CHECKER, "--test", "cf:1.8", "-f", "json", "-o", str(report), str(path)],
                   capture_output=True, timeout=300)
    result = json.loads(report.read_text())["cf:1.8"]
    return [f"{r['name']}: {msg}" for key in ("high_priorities", "medium_priorities")
            for r in result[key] for msg in r["msgs"] if r["value"][0] < r["value"][1]]


def assert_canonical_cf(path: Path) -> None:
    assert cf_problems(path) == []
    with xr.open_dataset(path) as ds:
        check_canonical(ds)
        for name in (n for n in VARIABLE_NAMES if n in ds.data_vars):
            crs = pyproj.CRS.from_cf(ds[ds[name].attrs["grid_mapping"]].attrs)
            assert crs.equals(pyproj.CRS("EPSG:3413"), ignore_axis_order=True) or crs.to_epsg() == 3413
        for coord in ("x", "y", "time", "member"):
            if coord in ds.variables:
                assert "_FillValue" not in ds[coord].encoding or ds[coord].encoding["_FillValue"] is None


@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    """``seaice-ldm sample`` to netCDF and to zarr (2 members, 2 steps, shipped models)."""
    out = tmp_path_factory.mktemp("samples")
    for name in ("s.nc", "s.zarr"):
        assert main(["sample", "--members", "2", "--steps", "2", "--device", "cpu", "--checkpoints",
                     str(CHECKPOINTS), "--out", str(out / name)]) == 0
    return out


def test_synthetic_data(tmp_path):
    path = tmp_path / "synth.nc"
    assert main(["data", "synth", "--years", "1", "--out", str(path)]) == 0
    assert_canonical_cf(path)


def test_sample_netcdf(sampled):
    assert_canonical_cf(sampled / "s.nc")


def test_sample_zarr_exported_to_netcdf(sampled, tmp_path):
    """The zarr store carries the whole canonical layout; written back as netCDF with the package's writer.

    (Plain ``to_netcdf`` would give x/y xarray's default NaN _FillValue and ``flag_values`` the int64 of
    zarr's JSON attributes; the writer applies :func:`cf_encoding` and :func:`with_flag_types`.)"""
    with xr.open_zarr(sampled / "s.zarr", consolidated=False) as ds:
        check_canonical(ds)
        write_dataset(ds, tmp_path / "from_zarr.nc")
    assert_canonical_cf(tmp_path / "from_zarr.nc")


def test_dashboard_download(tmp_path):
    from dashboard import export
    from seaice_ldm.options import DECODERS, SampleRequest
    from seaice_ldm.pipeline import load_pipeline

    pipe = load_pipeline(CHECKPOINTS, device="cpu", reference=False)
    results = {"latent": pipe.sample(SampleRequest("latent", members=2, steps=2), decoders=DECODERS)}
    data = export.netcdf_bytes(export.ensemble_dataset(results, pipe.synthetic, pipe.grid))
    path = tmp_path / "download.nc"
    path.write_bytes(data.getvalue())
    assert_canonical_cf(path)


def test_reference_states(tmp_path):
    path = tmp_path / "reference.nc"
    assert main(["data", "reference", "--checkpoint", str(CHECKPOINTS / "ldm_censored"), "--states", "4",
                 "--out", str(path)]) == 0
    assert_canonical_cf(path)
