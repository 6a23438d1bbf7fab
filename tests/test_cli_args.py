"""Every command-line argument is checked before any work starts: exit status 2 and a message naming it."""

import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from seaice_ldm import cli
from seaice_ldm.cli import main

CHECKPOINTS = str(Path(__file__).resolve().parents[1] / "checkpoints")


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a command gets as far as loading models or data."""
    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the arguments were checked")

    import seaice_ldm.data as data
    import seaice_ldm.pipeline as pipeline

    monkeypatch.setattr(pipeline, "load_pipeline", forbidden)
    monkeypatch.setattr(data, "synthesize", forbidden)
    for name in ("_data_reference", "_evaluate", "_benchmark", "_train"):
        monkeypatch.setitem(cli.__dict__, name, forbidden)


def run(argv, capsys) -> tuple[int, str]:
    start = time.perf_counter()
    try:
        code = main(argv)
    except SystemExit as err:  # argparse
        code = err.code
    assert time.perf_counter() - start < 5, "the check took longer than parsing should"
    return code, capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["sample", "--seed", str(2**64), "--out", "x.nc"], r"argument --seed: must be an integer between 0 and"),
    (["sample", "--seed", "-1", "--out", "x.nc"], r"argument --seed: must be an integer between 0 and"),
    (["sample", "--batch-size", "-1", "--out", "x.nc"], r"argument --batch-size: must be an integer between 1"),
    (["sample", "--device", "tpu", "--out", "x.nc"], r"argument --device: unknown device 'tpu'"),
    (["sample", "--members", "0", "--out", "x.nc"], r"argument --members: must be an integer between 1 and 256"),
    (["sample", "--steps", "100000", "--out", "x.nc"], r"argument --steps: must be an integer between 1 and 200"),
    (["sample", "--date", "2008-02-30", "--out", "x.nc"], r"argument --date: date must be a calendar date"),
    (["sample", "--guidance", "nan", "--out", "x.nc"], r"argument --guidance: must be between 0 and"),
    (["sample", "--out", "x.txt"], r"argument --out: output x.txt must end in .nc"),
    (["sample", "--checkpoints", "/no/such/folder", "--out", "x.nc"], r"argument --checkpoints: no such folder"),
    (["benchmark", "--nfe", "0"], r"argument --nfe: must be an integer between 1 and"),
    (["evaluate", "--sampler", "foo"], r"argument --sampler: invalid choice: 'foo'"),
    (["evaluate", "--members", "1"], r"argument --members: must be an integer between 2 and"),
    (["data", "synth", "--out", "x.nc", "--seed", "-3"], r"argument --seed"),
    (["data", "synth", "--out", "x.nc", "--grid", "arctic1km"], r"argument --grid: invalid choice"),
    (["data", "synth", "--out", "x.nc", "--years", "0"], r"argument --years: must be an integer between 1"),
    (["data", "reference", "--checkpoint", CHECKPOINTS + "/ldm_censored", "--out", "r.nc", "--states", "0"],
     r"argument --states: must be an integer at least 1"),
    (["data", "check", "x.nc", "--land-mask", "0=land"], r"argument --land-mask: invalid choice"),
    (["train", "vae", "--config", "nothere.toml"], r"argument --config: no such file"),
    (["train", "vae", "--config", "configs/vae_censored.toml", "--steps", "-5"], r"argument --steps"),
])
def test_bad_arguments_exit_2_naming_the_argument(argv, message, capsys, no_work):
    code, err = run(argv, capsys)
    assert code == 2
    assert __import__("re").search(message, err), err


def test_sample_into_a_users_folder_is_refused_before_sampling(tmp_path, capsys, no_work):
    mine = tmp_path / "mystuff.zarr"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    code, err = run(["sample", "--out", str(mine), "--checkpoints", CHECKPOINTS], capsys)
    assert code == 2 and "is an existing folder that seaice-ldm did not write" in err
    assert (mine / "notes.txt").read_text() == "mine"


def test_date_and_guidance_reach_the_pipeline(tmp_path, monkeypatch, capsys):
    seen = {}

    class FakePipeline:
        device = "cpu"

        def sample(self, request, **kwargs):
            seen.update(vars(request))
            from seaice_ldm.data import Grid, make_dataset

            ds = make_dataset({"sic": np.zeros((1, 10, 12))}, Grid("custom", 12, 10, 5e4),
                              land=np.zeros((10, 12), bool))
            return ds.assign_attrs(seconds=0.1)

    import seaice_ldm.pipeline as pipeline

    monkeypatch.setattr(pipeline, "load_pipeline", lambda *a, **k: FakePipeline())
    out = tmp_path / "s.nc"
    assert main(["sample", "--date", "2008-03-15", "--guidance", "2.5", "--members", "1",
                 "--checkpoints", CHECKPOINTS, "--out", str(out)]) == 0
    assert seen["date"] == "2008-03-15" and seen["guidance"] == 2.5
    assert main(["sample", "--date", "random", "--members", "1", "--checkpoints", CHECKPOINTS, "--out", str(out)]) == 0
    assert seen["date"] == "random"
    assert xr.open_dataset(out).attrs["Conventions"] == "CF-1.8"


def _time_file(path, times, **time_attrs):
    sic = np.full((len(times), 10, 12), 0.5, np.float32)
    ds = xr.Dataset({"sic": (("time", "y", "x"), sic)},
                    coords={"x": np.arange(12) * 5e4, "y": np.arange(10) * 5e4})
    if times is not None:
        ds = ds.assign_coords(time=("time", times, time_attrs))
    ds.to_netcdf(path)
    return str(path)


@pytest.mark.parametrize("times, message", [
    (np.arange(3.0), "time has no usable units"),
    (np.arange(0.0), "the 'time' dimension is empty"),
])
def test_data_check_refuses_unusable_time(tmp_path, capsys, times, message):
    code, err = run(["data", "check", _time_file(tmp_path / "t.nc", times)], capsys)
    assert code == 2 and message in err and "t.nc" in err


def test_data_check_reads_a_mask_with_the_convention_given(tmp_path, capsys):
    land = np.zeros((10, 12), np.int8)
    land[:3, :4] = 1
    sic = np.where(land, 0.0, 0.5)[None].repeat(2, 0).astype(np.float32)
    ds = xr.Dataset({"sic": (("time", "y", "x"), sic, {"grid_mapping": "crs"}), "mask": (("y", "x"), 1 - land),
                     "crs": ((), 0, __import__("pyproj").CRS("EPSG:3413").to_cf())},
                    coords={"x": np.arange(12) * 5e4, "y": np.arange(10) * 5e4,
                            "time": np.array(["2000-01-01", "2000-01-02"], dtype="datetime64[ns]")})
    ds.to_netcdf(tmp_path / "m.nc")
    code, err = run(["data", "check", str(tmp_path / "m.nc")], capsys)
    assert code == 2 and "land_mask='1=land' or land_mask='1=ocean'" in err
    assert main(["data", "check", str(tmp_path / "m.nc"), "--land-mask", "1=ocean"]) == 0
    assert "land: 10.0% of cells (12 land, 108 ocean)" in capsys.readouterr().out


def test_output_into_a_closed_pipe_ends_quietly_like_a_unix_tool(tmp_path, monkeypatch, capsys):
    class ClosedPipe:  # `seaice-ldm data check FILE | head -1`: head has exited before the next line
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    sic = np.full((2, 10, 12), 0.5, np.float32)
    ds = xr.Dataset({"sic": (("time", "y", "x"), sic, {"grid_mapping": "crs"}),
                     "crs": ((), 0, __import__("pyproj").CRS("EPSG:3413").to_cf())},
                    coords={"x": np.arange(12) * 5e4, "y": np.arange(10) * 5e4,
                            "time": np.array(["2000-01-01", "2000-01-02"], dtype="datetime64[ns]")})
    path = str(tmp_path / "t.nc")
    ds.to_netcdf(path)
    assert main(["data", "check", path]) == 0  # the file reads
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    code = main(["data", "check", path])
    assert code == 141 and capsys.readouterr().err == ""  # was "seaice-ldm: error: [Errno 32] Broken pipe", 2

