"""``seaice-ldm train all``: one command from a user's file (2 variables, a non-default grid, CS2SMOS-like layout)
to a checkpoints folder that sampling, the evaluation and the dashboard read (issue 26)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pyproj
import pytest
import xarray as xr

import seaice_ldm.workflow.train_all as train_all_module
from seaice_ldm.checkpoints.format import read_meta
from seaice_ldm.cli import main
from seaice_ldm.workflow.presets import MODELS, preset_folder

TIMES_PER_YEAR = 24


def user_file(path: Path, ny=32, nx=48, years=3, dx=25_000.0) -> Path:
    """A CS2SMOS-like file: analysis_sea_ice_thickness (m) and concentration in %, xc/yc in km with y decreasing,
    a Polar_Stereographic_Grid mapping, land NaN in a corner; values with a seasonal cycle and noise."""
    rng = np.random.default_rng(0)
    times = np.concatenate([np.datetime64(f"{2010 + y}-01-01") + np.arange(TIMES_PER_YEAR) * 15
                            for y in range(years)]).astype("datetime64[ns]")
    season = np.cos(2 * np.pi * np.arange(times.size) / TIMES_PER_YEAR)[:, None, None]
    yy = np.linspace(0, 1, ny)[None, :, None]
    sic = np.clip(0.6 + 0.5 * season * (1 - yy) + 0.1 * rng.normal(size=(times.size, ny, nx)), 0, 1)
    sit = np.where(sic > 0, 2.0 * sic + 0.2 * rng.normal(size=sic.shape), 0).clip(0)
    land = np.zeros((ny, nx), bool)
    land[:6, :10] = True
    sic[:, land], sit[:, land] = np.nan, np.nan
    x = (np.arange(nx) - nx / 2) * dx
    y = (np.arange(ny) - ny / 2) * dx
    mapping = {k: v for k, v in pyproj.CRS("EPSG:3413").to_cf().items() if k != "crs_wkt"}
    ds = xr.Dataset(
        {"analysis_sea_ice_thickness": (("time", "yc", "xc"), sit[:, ::-1].astype(np.float32),
                                        {"units": "m", "grid_mapping": "Polar_Stereographic_Grid"}),
         "sea_ice_concentration": (("time", "yc", "xc"), 100 * sic[:, ::-1].astype(np.float32),
                                   {"units": "%", "grid_mapping": "Polar_Stereographic_Grid"}),
         "Polar_Stereographic_Grid": ((), np.int32(0), mapping)},
        coords={"time": times, "xc": ("xc", x / 1000, {"units": "km"}), "yc": ("yc", y[::-1] / 1000, {"units": "km"})},
        attrs={"title": "test file in a CS2SMOS-like layout"})
    ds.to_netcdf(path)
    return path


def quick_preset(folder: Path, steps: int = 3) -> Path:
    """The tiny preset with every run cut to ``steps`` steps (validated and checkpointed at the end)."""
    folder.mkdir()
    for path in preset_folder("tiny").glob("*.toml"):
        text = path.read_text()
        for key in ("steps", "val_every", "checkpoint_every"):
            text = "\n".join(f"{key} = {steps}" if line.startswith(f"{key} =") else line for line in text.splitlines())
        (folder / path.name).write_text(text + "\n")
    return folder


@pytest.fixture
def no_training(monkeypatch):
    class Stopped(Exception):
        pass

    def forbidden(*args, **kwargs):
        raise Stopped("training started")

    monkeypatch.setattr(train_all_module, "train_vae", forbidden)
    monkeypatch.setattr(train_all_module, "train_diffusion", forbidden)
    return Stopped


# --- before any work --------------------------------------------------------------------------------------


def test_the_plan_is_printed_before_any_training(tmp_path, capsys, no_training):
    data = user_file(tmp_path / "cs2.nc", years=4)
    with pytest.raises(no_training):
        main(["train", "all", "--data", str(data), "--out", str(tmp_path / "models"), "--variables", "sit,sic",
              "--val-years", "1", "--test-years", "1"])
    out = capsys.readouterr().out
    assert "grid: custom, 32 x 48 cells of 25 km, EPSG:3413" in out
    assert "variables: sit, sic (2 channels)" in out
    assert "train 2010-2011 (48 states), val 2012 (24 states), test 2013 (24 states)" in out
    assert "stages: vae_censored, vae_gaussian, ldm_censored, ldm_gaussian, ddm" in out


def test_a_record_that_leaves_one_training_year_says_so(tmp_path, capsys, no_training):
    data = user_file(tmp_path / "cs2.nc", years=3)
    with pytest.raises(no_training):
        main(["train", "all", "--data", str(data), "--out", str(tmp_path / "m")])
    out = capsys.readouterr().out
    assert "train 2010 (24 states), val 2011 (24 states), test 2012 (24 states)" in out
    assert "warning: only 1 of the 3 years are left for training" in out


def test_a_grid_the_networks_cannot_halve_is_refused_naming_sides_that_would_do(tmp_path, capsys, no_training):
    data = user_file(tmp_path / "odd.nc", ny=40, nx=48)
    assert main(["train", "all", "--data", str(data), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "the grid is 40 x 48 cells" in err and "y: 40 -> 32 (crop) or 48 (pad with land)" in err
    assert not (tmp_path / "m").exists()


def test_a_folder_train_all_did_not_make_is_refused(tmp_path, capsys, no_training):
    data = user_file(tmp_path / "cs2.nc")
    (tmp_path / "thesis").mkdir()
    (tmp_path / "thesis" / "chapter1.tex").write_text("years of work")
    assert main(["train", "all", "--data", str(data), "--out", str(tmp_path / "thesis")]) == 2
    assert "thesis exists and was not made by train all" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "thesis").iterdir()) == ["chapter1.tex"]


def test_too_few_years_for_the_split_are_refused_before_training(tmp_path, capsys, no_training):
    data = user_file(tmp_path / "short.nc", years=2)
    assert main(["train", "all", "--data", str(data), "--out", str(tmp_path / "m")]) == 2
    assert "2 years (2010-2011); 1 validation + 1 test years leave no training year" in capsys.readouterr().err


def test_unknown_variables_and_presets_are_refused_when_parsed(tmp_path, capsys, no_training):
    assert main(["train", "all", "--data", "x.nc", "--out", str(tmp_path / "m"), "--variables", "sit,snow"]) == 2
    assert "unknown variable(s) ['snow']" in capsys.readouterr().err
    assert main(["train", "all", "--data", "x.nc", "--out", str(tmp_path / "m"), "--preset", "huge"]) == 2
    assert "'huge' is neither a preset (tiny, default) nor a folder of configs" in capsys.readouterr().err


# --- the whole path -------------------------------------------------------------------------------------------


@pytest.mark.slow  # five tiny models trained and exported (about a minute)
def test_train_all_makes_a_folder_the_pipeline_reads_and_resumes(tmp_path, capsys):
    data = user_file(tmp_path / "cs2.nc")
    preset = quick_preset(tmp_path / "quick")
    out = tmp_path / "models"
    argv = ["train", "all", "--data", str(data), "--out", str(out), "--preset", str(preset)]
    assert main(argv) == 0
    assert {p.name for p in out.iterdir()} >= {*MODELS, "reference.nc", "README.md", "model_cards", "runs"}
    for model in MODELS:
        meta = read_meta(out / model)
        assert meta["variables"] == ["sit", "sic"] and meta["grid"]["name"] == "custom"
        assert (meta["grid"]["ny"], meta["grid"]["nx"], meta["grid"]["dx"]) == (32, 48, 25_000.0)
        assert meta["config"]["data"]["grid"] is None and meta["config"]["data"]["path"] == str(data.resolve())
        assert meta["data"]["synthetic"] == "no"
    assert read_meta(out / "vae_censored")["config"]["vae"]["in_channels"] == 2
    assert read_meta(out / "ddm")["config"]["unet"]["in_channels"] == 2
    latent = read_meta(out / "vae_censored")["config"]["vae"]["latent_channels"]
    assert read_meta(out / "ldm_censored")["config"]["unet"]["in_channels"] == latent
    reference = xr.open_dataset(out / "reference.nc")
    assert set(reference.data_vars) == {"sit", "sic"} and reference.sizes["y"] == 32
    assert int(reference.time.dt.year.min()) == 2012  # the test year, held out
    cards = (out / "README.md").read_text()
    assert cards.count("## `") == 5 and "synthetic" not in cards.lower()

    import seaice_ldm

    pipe = seaice_ldm.load_pipeline(out, device="cpu")
    ens = pipe.sample(seaice_ldm.SampleRequest(members=2, steps=2))
    assert set(ens.data_vars) == {"sit", "sic"} and ens.attrs["synthetic"] == "no"
    assert pipe.reference is not None and pipe.grid.shape == (32, 48)

    capsys.readouterr()
    assert main(argv) == 0  # again: every run finished, nothing retrained
    assert capsys.readouterr().out.count("(skipped)") == len(list(preset.glob("*.toml")))
    assert main([*argv[:-2], "--preset", str(preset), "--variables", "sit"]) == 2
    assert "holds models trained with other variables" in capsys.readouterr().err


@pytest.mark.slow
def test_train_all_resumes_an_interrupted_run(tmp_path, monkeypatch):
    data = user_file(tmp_path / "cs2.nc")
    preset = quick_preset(tmp_path / "quick", steps=4)
    out = tmp_path / "models"
    real = train_all_module.train_diffusion
    calls = []

    def interrupted(cfg, **kwargs):
        calls.append(cfg.out)
        raise KeyboardInterrupt

    monkeypatch.setattr(train_all_module, "train_diffusion", interrupted)
    assert main(["train", "all", "--data", str(data), "--out", str(out), "--preset", str(preset)]) == 130
    assert (out / "runs" / "vae_censored" / "config.json").exists() and not (out / "ldm_censored").exists()
    record = json.loads((out / ".seaice-ldm-train-all.json").read_text())
    assert record["variables"] == ["sit", "sic"]
    monkeypatch.setattr(train_all_module, "train_diffusion", real)
    assert main(["train", "all", "--data", str(data), "--out", str(out), "--preset", str(preset)]) == 0
    assert read_meta(out / "runs" / "vae_censored")["step"] == 4  # finished, not retrained
    assert (out / "ddm" / "config.json").exists()
    shutil.rmtree(out)


@pytest.mark.slow  # two processes train five tiny models (minutes)
def test_train_all_under_torchrun_keeps_one_process_group(tmp_path):
    """Each run used to destroy and re-create the process group; under torchrun the ranks then waited for each
    other's stale addresses for ever, at the fourth run."""
    import os
    import subprocess
    import sys

    data = user_file(tmp_path / "cs2.nc")
    preset = quick_preset(tmp_path / "quick", steps=2)
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "seaice_ldm.cli",
         "train", "all",
         "--data", str(data), "--out", str(tmp_path / "m"), "--preset", str(preset), "--device", "cpu"],
        capture_output=True, text=True, timeout=1200, cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("train all: done") == 1  # the first process reports, the other trains only
    for model in MODELS:
        assert read_meta(tmp_path / "m" / model)["hardware"].startswith("2 x cpu")
