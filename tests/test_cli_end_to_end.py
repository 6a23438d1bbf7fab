"""End to end through the ``seaice-ldm`` command: train tiny models, export, sample, refuse bad requests."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from seaice_ldm.checkpoints.format import read_meta
from seaice_ldm.data import VARIABLES
from seaice_ldm.diffusion.coverage import noise_levels_for
from seaice_ldm.cli import main

TINY = Path(__file__).parents[1] / "configs" / "tiny"
pytestmark = pytest.mark.slow  # the chain fixture trains five tiny models (minutes)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """Tiny censored and Gaussian VAEs, their latent models and a data-space model, exported for sampling."""
    root = tmp_path_factory.mktemp("chain")
    runs, ship = root / "runs", root / "checkpoints"
    for decoder in ("censored", "gaussian"):
        assert main(["train", "vae", "--config", str(TINY / f"vae_{decoder}.toml"),
                     "--out", str(runs / f"vae_{decoder}"), "--steps", "12"]) == 0
        assert main(["train", "diffusion", "--space", "latent", "--config", str(TINY / f"ldm_{decoder}.toml"),
                     "--vae", str(runs / f"vae_{decoder}"), "--out", str(runs / f"ldm_{decoder}"),
                     "--steps", "8"]) == 0
    assert main(["train", "diffusion", "--space", "data", "--config", str(TINY / "ddm.toml"),
                 "--out", str(runs / "ddm"), "--steps", "4"]) == 0
    for name in ("vae_censored", "vae_gaussian", "ldm_censored", "ldm_gaussian", "ddm"):
        assert main(["export", str(runs / name), str(ship / name), "--dtype", "float16"]) == 0
    return root


def _sample(chain, out, *extra):
    return main(["sample", "--checkpoints", str(chain / "checkpoints"), "--out", str(out), "--members", "3",
                 "--steps", "3", *extra])


def test_checkpoints_carry_what_the_issue_asks_for(chain):
    meta = read_meta(chain / "runs" / "ldm_censored")
    assert meta["step"] == 8 and meta["space"] == "latent"
    assert meta["vae"]["model_id"] == f"{read_meta(chain / 'runs' / 'vae_censored')['run_id']}@12"
    assert meta["data"]["years"] == {"train": [2000], "val": [2001], "test": [2002]}
    assert meta["data"]["synthetic"] == "yes"
    assert set(meta["norm_stats"]) >= {"names", "mean", "std"}
    assert meta["grid"]["name"] == "arctic50km" and meta["precision"] == "float32"
    assert {"ema.safetensors", "raw.safetensors", "optim.safetensors", "grid.safetensors"} <= set(meta["files"])
    shipped = read_meta(chain / "checkpoints" / "ldm_censored")
    assert set(shipped["files"]) == {"ema.safetensors", "grid.safetensors"}
    assert shipped["weights_dtype"] == "float16"


@pytest.mark.parametrize("space", ["latent", "data"])
def test_sample_writes_an_ensemble_that_says_how_it_was_made(chain, tmp_path, space):
    out = tmp_path / "ens.nc"
    assert _sample(chain, out, "--space", space, "--decoder", "censored", "--sampler", "heun") == 0
    ds = xr.open_dataset(out)
    assert dict(ds.sizes) == {"member": 3, "y": 128, "x": 128}
    made = {k: ds.attrs[k] for k in ("space", "decoder", "sampler", "steps", "precision")}
    assert made == {"space": space, "decoder": "censored", "sampler": "heun", "steps": 3, "precision": "float32"}
    assert ds.attrs["device"].startswith("cpu: ")
    land = ds["land"].values.astype(bool)
    for name in ("sit", "sic", "sid", "siu", "siv"):
        assert np.isfinite(ds[name].values[:, ~land]).all()


def test_the_censored_data_space_ensemble_is_the_gaussian_one_clipped_to_the_bounds(chain, tmp_path):
    """One data-space model serves both decoders: from the same seed, the censored output is the Gaussian
    output clipped to each variable's bounds (the no-ice rule holds in both, at the same cells)."""
    paths = {d: tmp_path / f"{d}.nc" for d in ("censored", "gaussian")}
    for decoder, path in paths.items():
        assert _sample(chain, path, "--space", "data", "--decoder", decoder, "--seed", "3") == 0
    censored, gaussian = (xr.open_dataset(p) for p in paths.values())
    outside = 0
    for name in ("sit", "sic", "sid", "siu", "siv"):
        lower, upper = VARIABLES[name].lower, VARIABLES[name].upper
        bounds = (-np.inf if lower is None else lower, np.inf if upper is None else upper)
        values = gaussian[name].values
        outside += int(np.sum((values < bounds[0]) | (values > bounds[1])))
        np.testing.assert_array_equal(censored[name].values, np.clip(values, *bounds))
    assert outside > 0  # the tiny model leaves the bounds somewhere, so clipping had work to do


def test_same_seed_same_ensemble_at_any_batch_size(chain, tmp_path):
    a, b, c = tmp_path / "a.nc", tmp_path / "b.nc", tmp_path / "c.nc"
    assert _sample(chain, a, "--seed", "5") == 0
    assert _sample(chain, b, "--seed", "5", "--batch-size", "1") == 0
    assert _sample(chain, c, "--seed", "6") == 0
    da, db, dc = (xr.open_dataset(p) for p in (a, b, c))
    np.testing.assert_allclose(da.sic.values, db.sic.values, atol=1e-5)
    assert not np.allclose(np.nan_to_num(da.sic.values), np.nan_to_num(dc.sic.values))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--members", "0"], "--members: must be an integer between 1 and"),
        (["--members", "100000"], "--members: must be an integer between 1 and"),
        (["--steps", "0"], "--steps: must be an integer between 1 and"),
        (["--sampler", "ddim"], "ddim"),
    ],
)
def test_absurd_requests_are_refused_and_write_nothing(chain, tmp_path, capsys, args, message):
    out = tmp_path / "ens.nc"
    code = main(["sample", "--checkpoints", str(chain / "checkpoints"), "--out", str(out), *args])
    assert code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_missing_checkpoints_are_named(tmp_path, capsys):
    assert main(["sample", "--checkpoints", str(tmp_path / "nope"), "--out", str(tmp_path / "x.nc")]) == 2
    err = capsys.readouterr().err
    assert "--checkpoints" in err and "nope" in err


def test_latent_model_with_the_wrong_vae_is_refused(chain, tmp_path, capsys):
    ship = tmp_path / "checkpoints"
    shutil.copytree(chain / "checkpoints", ship)
    shutil.rmtree(ship / "vae_censored")
    shutil.copytree(ship / "vae_gaussian", ship / "vae_censored")
    assert main(["sample", "--checkpoints", str(ship), "--out", str(tmp_path / "x.nc")]) == 2
    assert "trained on the latents of VAE" in capsys.readouterr().err


TINY_REFINER = """
space = "data"
[data]
years = 3
grid = "arctic50km"
val_years = 1
test_years = 1
[unet]
channels = [8, 16]
blocks_per_level = 1
attention_levels = []
[diffusion]
refiner = true
sigma_max = 2.5
p_mean = -0.9
p_std = 1.2
crop = 32
refine_variables = ["sid"]
[optim]
batch_size = 4
val_every = 2
val_batches = 1
"""


def test_a_refiner_trains_on_crops_ships_and_refines_the_latent_samples(chain, tmp_path, capsys):
    ship = tmp_path / "checkpoints"
    shutil.copytree(chain / "checkpoints", ship)
    (tmp_path / "refiner.toml").write_text(TINY_REFINER)
    assert main(["train", "diffusion", "--config", str(tmp_path / "refiner.toml"), "--out", str(tmp_path / "run"),
                 "--steps", "2"]) == 0
    said = capsys.readouterr().out
    assert "noise levels (a refiner): training sigmas ~ logN(-0.9, 1.2^2) below sigma_max = 2.5" in said
    assert main(["export", str(tmp_path / "run"), str(ship / "refiner")]) == 0
    assert _sample(chain, tmp_path / "plain.nc", "--seed", "3") == 0
    assert main(["sample", "--checkpoints", str(ship), "--out", str(tmp_path / "refined.nc"), "--members", "3",
                 "--steps", "3", "--seed", "3", "--refine"]) == 0
    plain, refined = xr.open_dataset(tmp_path / "plain.nc"), xr.open_dataset(tmp_path / "refined.nc")
    assert refined.attrs["refiner_model"] == str(ship / "refiner") and plain.attrs["refiner_model"] == "none"
    assert not np.allclose(np.nan_to_num(plain.sid.values), np.nan_to_num(refined.sid.values))
    for name in ("sit", "sic", "siu", "siv"):  # it redraws damage alone: the rest is the latent path's
        np.testing.assert_allclose(plain[name].values, refined[name].values, rtol=0, atol=1e-6)
    assert main(["cards", "--checkpoints", str(ship)]) == 0
    assert "## `refiner`: Refiner of the latent path" in (ship / "README.md").read_text()
    assert "- A refiner of sid (any other variable is its condition" in (ship / "README.md").read_text()
    capsys.readouterr()
    assert main(["sample", "--checkpoints", str(ship), "--out", str(tmp_path / "d.nc"), "--space", "data",
                 "--refine"]) == 2
    assert "refine applies to the latent path" in capsys.readouterr().err
    shutil.rmtree(ship / "refiner")
    shutil.copytree(ship / "ddm", ship / "refiner")
    assert main(["sample", "--checkpoints", str(ship), "--out", str(tmp_path / "x.nc")]) == 2
    assert "is not a refiner" in capsys.readouterr().err
    assert not (tmp_path / "d.nc").exists() and not (tmp_path / "x.nc").exists()


def test_diffusion_training_chooses_noise_levels_from_the_data(tmp_path, capsys):
    """Data-space fields have a leading (seasonal) mode spread of tens: the levels are chosen to reach it,
    recorded in the checkpoint, and EDM's image defaults, when a config asks for them, draw a warning."""
    assert main(["train", "diffusion", "--space", "data", "--config", str(TINY / "ddm.toml"),
                 "--out", str(tmp_path / "ddm"), "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "noise levels: leading mode of the training data has std" in out and "(5.00 % above it)" in out
    meta = read_meta(tmp_path / "ddm")
    levels = noise_levels_for(meta["noise_coverage"]["leading_mode_std"])
    edm = meta["config"]["diffusion"]
    assert (edm["p_mean"], edm["p_std"], edm["sigma_max"]) == (levels.p_mean, levels.p_std, levels.sigma_max)
    config = tmp_path / "edm_default.toml"
    config.write_text((TINY / "ddm.toml").read_text().replace("[diffusion]\n", "[diffusion]\np_mean = -1.2\np_std = 1.2\n"))
    assert main(["train", "diffusion", "--config", str(config), "--out", str(tmp_path / "edm"), "--steps", "1"]) == 0
    assert "warning: only" in capsys.readouterr().out


def test_training_resumes_from_the_last_checkpoint(chain, tmp_path):
    out = tmp_path / "vae"
    shutil.copytree(chain / "runs" / "vae_censored", out)
    assert main(["train", "vae", "--config", str(TINY / "vae_censored.toml"), "--out", str(out), "--steps", "14"]) == 0
    meta = read_meta(out)
    assert meta["step"] == 14
    assert meta["run_id"] == read_meta(chain / "runs" / "vae_censored")["run_id"]


def test_two_process_ddp_training_under_torchrun(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "seaice_ldm.cli", "train", "vae", "--config", str(TINY / "vae_censored.toml"),
           "--out", str(tmp_path / "ddp"), "--steps", "3", "--device", "cpu"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    meta = read_meta(tmp_path / "ddp")
    assert meta["step"] == 3 and meta["hardware"].startswith("2 x cpu")


def test_evaluate_writes_the_report_with_claim_verdicts(chain, tmp_path):
    out = tmp_path / "report"
    assert main(["evaluate", "--checkpoints", str(chain / "checkpoints"), "--out", str(out), "--members", "3",
                 "--test-states", "4", "--steps", "2", "--date-members", "2", "--spread-steps", "3"]) == 0
    assert {"report.md", "report.json", "samples.png", "samples_sic.png", "samples_sid.png", "histograms.png",
            "spectra.png", "integrals.png"} <= {p.name for p in out.iterdir()}
    results = json.loads((out / "report.json").read_text())
    assert [c["number"] for c in results["claims"]] == [1, 2, 3, 4]
    assert results["setup"]["test_years"] == [2002]
    ldm = read_meta(chain / "checkpoints" / "ldm_censored")["config"]["diffusion"]
    assert results["setup"]["training"]["LDM (censored)"]["steps"] == 8
    assert results["setup"]["training"]["LDM (censored)"]["p_mean"] == ldm["p_mean"]
    assert results["setup"]["training"]["LDM (censored)"]["sigma_max"] == ldm["sigma_max"]
    dated = results["date_conditioned"]["generators"]["LDM (censored)"]
    assert len(dated["dates"]) == 12 and sum(dated["rank_histogram"]) == 12  # the 15th of each test month
    assert dated["miz_by_season"]["all"]["dates"] == 12 and set(dated["miz_by_season"]) >= {"DJF", "JJA"}
    assert {c["verdict"] for c in results["claims"]} <= {"holds", "does not hold", "not distinguishable", "not tested"}
    rec = results["reconstruction"]["censored"]
    assert 0 <= rec["miz"]["misclassified"]["low"] <= rec["miz"]["misclassified"]["high"]
    lines = results["reference"]["lines"]
    assert set(lines) == {"share", "lines_per_state", "high_cells_per_state", "share_estimate",
                          "lines_per_state_estimate"}
    assert lines["lines_per_state_estimate"]["value"] == pytest.approx(lines["lines_per_state"])
    ruled = results["generators"]["data-space DM (gaussian)"]["consistency_no_ice_rule"]["open_water"]
    assert not any(v["share"] > 0 for v in ruled.values())  # 0, or NaN where a tiny model has no open water
    assert set(results["sampler_spread"]["LDM (censored)"]) == {"2", "3"}
    assert results["setup"]["all_seasons"] == "dates drawn"  # the default for date-conditioned models
    assert results["all_seasons_other"]["way"] == "date dropped"
    assert set(results["all_seasons_other"]["generators"]) == set(results["generators"]) - {"validation-year states"}
    assert results["generators"]["data-space DM (censored)"]["gflop_per_state"] > 0
    censored = results["generators"]["LDM (censored)"]
    assert all(v == 0 for v in censored["bound_violation"].values())
    speckle = censored["integrals"]
    assert (0 <= speckle["isolated_ice_cells_open_water_grid_edge"]["mean"]
            <= speckle["isolated_ice_cells_open_water"]["mean"] <= speckle["isolated_ice_cells"]["mean"])
    text = (out / "report.md").read_text()
    assert "synthetic" in text and "## The paper's claims on this data" in text
    assert "The training noise levels differ between the models" in text
    assert "## All seasons: dates drawn (above) or date dropped" in text
    # a second run replaces the report; a folder that holds something else is never replaced
    assert main(["evaluate", "--checkpoints", str(chain / "checkpoints"), "--out", str(out), "--members", "2",
                 "--test-states", "2", "--steps", "1", "--all-seasons", "dropped", "--date-members", "0"]) == 0
    second = json.loads((out / "report.json").read_text())
    assert second["setup"]["members"] == 2
    assert (second["setup"]["all_seasons"], second["all_seasons_other"]["way"]) == ("date dropped", "dates drawn")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "DESIGN.md").write_text("keep me")
    assert main(["evaluate", "--checkpoints", str(chain / "checkpoints"), "--out", str(tmp_path / "docs")]) == 2
    assert (tmp_path / "docs" / "DESIGN.md").read_text() == "keep me"


def test_a_vae_stage_changes_only_the_loss_and_starts_from_the_first_stages_weights(chain, tmp_path, capsys):
    """A VAE's later stage (``init_from``) loads the source run's EMA weights, records what changed in the loss,
    and the card says so; a changed network or a run of another kind is refused by name."""
    import torch

    from seaice_ldm.checkpoints.build import bounds_tensors
    from seaice_ldm.checkpoints.format import load_weights
    from seaice_ldm.models import VAE
    from seaice_ldm.training.config import follow_data, load_config, resolve_fit_scales
    from seaice_ldm.training.prepare import prepare
    from seaice_ldm.training.trainers import vae_warm_start
    from seaice_ldm.workflow.cards import warm_start_line

    source = chain / "runs" / "vae_censored"
    config = tmp_path / "vae_censored_sic.toml"
    config.write_text(f'init_from = "{source}"\n' + (TINY / "vae_censored.toml").read_text().replace(
        'kl_weight = 0.001\n', 'kl_weight = 0.001\nfit_scale = 0.05\nfit_scale_by_variable = { sic = 0.025 }\n'
        'bound_margin = 3.0\nbound_penalty = "linear"\n'))
    cfg = load_config(config, "vae")
    prepared = prepare(cfg.data)
    follow_data(cfg.vae, ("in_channels",), len(prepared.stats.names), "vae", "the variables")
    resolve_fit_scales(cfg.vae, prepared.stats.names)
    vae = VAE(cfg.vae, *bounds_tensors(prepared.stats))
    record = vae_warm_start(vae, cfg, prepared)
    expected = load_weights(source, "ema")
    assert all(torch.equal(value.float(), expected[key].float()) for key, value in vae.state_dict().items())
    assert record["changed"] == {"fit_scale": {"from": 0.0, "to": [0.05, 0.025, 0.05, 0.05, 0.05]},
                                 "fit_scale_by_variable": {"from": {}, "to": {"sic": 0.025}},
                                 "bound_margin": {"from": 0.0, "to": 3.0},
                                 "bound_penalty": {"from": "squared", "to": "linear"}}
    line = warm_start_line({"kind": "vae", "config": {}, "init_from": record}, "configs")[0]
    assert "the loss changed: `fit_scale = [0.05, 0.025, 0.05, 0.05, 0.05]` (stage 1: 0.0)" in line
    assert "12 steps" in line and "ring of land" not in line

    assert main(["train", "vae", "--config", str(config), "--out", str(tmp_path / "s2"), "--steps", "2"]) == 0
    meta = read_meta(tmp_path / "s2")
    assert meta["step"] == 2 and meta["init_from"]["run_id"] == read_meta(source)["run_id"]
    _refused_stage(capsys, "vae", config, tmp_path / "wider", ("channels = [16, 32, 32]", "channels = [16, 32, 48]"),
                   "its [vae] differs in ['channels']; only the loss")
    _refused_stage(capsys, "vae", config, tmp_path / "other", (str(source), str(chain / "runs" / "ddm")),
                   "not a vae run")


def test_a_decoder_only_stage_keeps_the_encoder_so_the_latent_model_still_pairs_with_it(chain, tmp_path, capsys):
    """``freeze_encoder``: a later stage from the shipped (float16) censored VAE trains its decoder only (and may
    change its likelihood); the encoder's weights come out bit for bit, the run records whose encoder it keeps,
    and the latent model trained on the first VAE's latents pairs with it; a stage that trained its encoder too
    does not pair."""
    import torch

    from seaice_ldm.checkpoints.build import check_pair, load_model
    from seaice_ldm.checkpoints.format import CheckpointError, load_weights
    from seaice_ldm.training.config import ConfigError, load_config

    source = chain / "checkpoints" / "vae_censored"
    body = (TINY / "vae_censored.toml").read_text()
    config = tmp_path / "decoder_only.toml"
    config.write_text(f'init_from = "{source}"\nfreeze_encoder = true\n' + body)
    assert main(["train", "vae", "--config", str(config), "--out", str(tmp_path / "dec"), "--steps", "3"]) == 0
    before, after = load_weights(source, "ema"), load_weights(tmp_path / "dec", "ema")
    encoder = [k for k in after if k.startswith("encoder.")]
    assert encoder and all(torch.equal(after[k].float(), before[k].float()) for k in encoder)
    assert any(not torch.equal(after[k].float(), before[k].float()) for k in after if k.startswith("decoder."))
    meta = read_meta(tmp_path / "dec")
    first = read_meta(source)
    assert meta["encoder_id"] == f"{first['run_id']}@{first['step']}" != f"{meta['run_id']}@{meta['step']}"
    ldm = load_model(chain / "checkpoints" / "ldm_censored", "diffusion")
    check_pair(load_model(tmp_path / "dec", "vae"), ldm)  # no error: the latents are the first VAE's
    both = tmp_path / "both.toml"
    both.write_text(f'init_from = "{source}"\n' + body)
    assert main(["train", "vae", "--config", str(both), "--out", str(tmp_path / "both"), "--steps", "3"]) == 0
    with pytest.raises(CheckpointError, match="was trained on the latents of VAE"):
        check_pair(load_model(tmp_path / "both", "vae"), ldm)
    gaussian = tmp_path / "gaussian.toml"  # a decoder-only stage may change the decoder's likelihood
    gaussian.write_text(config.read_text().replace('decoder = "censored"', 'decoder = "gaussian"'))
    assert main(["train", "vae", "--config", str(gaussian), "--out", str(tmp_path / "gau"), "--steps", "2"]) == 0
    assert read_meta(tmp_path / "gau")["init_from"]["changed"] == {"decoder": {"from": "censored", "to": "gaussian"}}
    _refused_stage(capsys, "vae", both, tmp_path / "kind", ('decoder = "censored"', 'decoder = "gaussian"'),
                   "its [vae] differs in ['decoder']; only the loss")  # the encoder trained on: refused
    alone = tmp_path / "alone.toml"
    alone.write_text("freeze_encoder = true\n" + body)
    with pytest.raises(ConfigError, match="freeze_encoder = true needs init_from"):
        load_config(alone, "vae")


def test_benchmark_prints_ratios_and_a_recommendation(chain, capsys):
    assert main(["benchmark", "--checkpoints", str(chain / "checkpoints"), "--batch", "2", "--steps", "2",
                 "--repeats", "1", "--train-steps", "1", "--nfe", "2", "4", "--quality-members", "2"]) == 0
    printed = capsys.readouterr().out
    assert "device: cpu" in printed
    assert "ratio sampling data / latent" in printed and "ratio training step data / latent" in printed
    assert "cheapest setting within 5% of the best CRPS in both spaces" in printed
    assert "ratio data / latent at equal steps" in printed and "arctic12km" in printed


def test_warm_start_fine_tunes_a_converged_run_with_a_margin(chain, tmp_path, capsys):
    """``init_from`` starts from the source run's EMA weights (the network with a margin has the same tensors)
    and records where it came from; a source with another network or space is refused by name."""
    import torch

    from seaice_ldm.checkpoints.format import load_weights
    from seaice_ldm.diffusion.precond import EDMPrecond
    from seaice_ldm.models.unet import UNet
    from seaice_ldm.training.config import load_config
    from seaice_ldm.training.prepare import prepare
    from seaice_ldm.training.trainers import warm_start

    source = chain / "runs" / "ddm"
    text = (TINY / "ddm.toml").read_text().replace('space = "data"\n', f'space = "data"\ninit_from = "{source}"\n')
    config = tmp_path / "ddm_margin.toml"
    config.write_text(text.replace("attention_levels = [3]\n", "attention_levels = [3]\nmargin = 4\n"))
    cfg = load_config(config, "diffusion")
    precond = EDMPrecond(UNet(cfg.unet), sigma_data=1.0)
    record = warm_start(precond, cfg, prepare(cfg.data))
    expected = load_weights(source, "ema")
    assert all(torch.equal(value.float(), expected[key].float()) for key, value in precond.state_dict().items())
    assert record["run_id"] == read_meta(source)["run_id"] and record["step"] == 4 and record["margin"] == 0
    # the card says how stage 1 ended from its run folder, and the same from the record once the folder is gone
    from seaice_ldm.workflow.cards import warm_start_line

    stage2 = {"config": {"unet": {"margin": 4}}}
    on_disk = warm_start_line({**stage2, "init_from": record}, "configs")[0]
    gone = warm_start_line({**stage2, "init_from": {**record, "run": str(tmp_path / "gone" / "ddm")}}, "configs")[0]
    assert gone == on_disk and "; it ran to the 4-step cap)" in on_disk
    older = {k: v for k, v in record.items() if k not in ("converged", "steps_cap", "last_improvement_step")}
    assert "how it ended is not recorded" in warm_start_line(
        {**stage2, "init_from": {**older, "run": str(tmp_path / "gone" / "ddm")}}, "configs")[0]

    assert main(["train", "diffusion", "--config", str(config), "--out", str(tmp_path / "ft"), "--steps", "2"]) == 0
    meta = read_meta(tmp_path / "ft")
    assert meta["step"] == 2 and meta["config"]["unet"]["margin"] == 4
    assert meta["init_from"]["run_id"] == read_meta(source)["run_id"] and meta["run_id"] != meta["init_from"]["run_id"]
    assert main(["train", "diffusion", "--config", str(config), "--out", str(tmp_path / "ft"), "--steps", "3"]) == 0
    resumed = read_meta(tmp_path / "ft")  # resumed from its own checkpoint, still saying where it began
    assert resumed["step"] == 3 and resumed["run_id"] == meta["run_id"] and resumed["init_from"] == meta["init_from"]

    _refused_stage(capsys, "diffusion", config, tmp_path / "wider",
                   ("channels = [16, 32, 32, 32]", "channels = [16, 32, 32, 48]"),
                   "its [unet] differs in ['channels']; only margin may change")
    _refused_stage(capsys, "diffusion", config, tmp_path / "latent",
                   (str(source), str(chain / "runs" / "ldm_censored")), "not a data-space diffusion run")


def _refused_stage(capsys, kind: str, config, out, edit: tuple[str, str], message: str) -> None:
    """``config`` with ``edit`` (old, new) applied is refused with ``message``, and no run folder is left at ``out``."""
    edited = out.with_suffix(".toml")
    edited.write_text(config.read_text().replace(*edit))
    capsys.readouterr()
    assert main(["train", kind, "--config", str(edited), "--out", str(out), "--steps", "1"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
