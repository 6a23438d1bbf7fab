"""load_pipeline's options for the dashboard: bf16 sampling (scores unchanged) and loading what it can."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from seaice_ldm import load_pipeline
from seaice_ldm.checkpoints.format import CheckpointError
from seaice_ldm.evaluation import crps_fair, ice_integrals
from seaice_ldm.pipeline import native_bf16, resolve_precision

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
needs_models = pytest.mark.skipif(not (CHECKPOINTS / "ldm_censored" / "config.json").exists(),
                                  reason="needs the shipped checkpoints")


def test_precision_choice():
    cpu = torch.device("cpu")
    assert resolve_precision("float32", cpu) == "float32"
    assert resolve_precision("bfloat16", cpu) == "bfloat16"
    flags = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").exists() else set()
    assert native_bf16(cpu) == bool(flags & {"avx512_bf16", "amx_bf16"})
    assert resolve_precision("auto", cpu) == ("bfloat16" if native_bf16(cpu) else "float32")
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("float16", cpu)


@needs_models
@pytest.mark.slow
def test_bf16_ensemble_scores_match_float32():
    """bf16 autocast + channels-last changes single values, not the ensemble's skill or its sea-ice extent."""
    torch.set_num_threads(1)
    fp32 = load_pipeline(CHECKPOINTS, device="cpu", precision="float32")
    bf16 = load_pipeline(CHECKPOINTS, device="cpu", precision="bfloat16")
    assert bf16.bf16 and not fp32.bf16
    ref = fp32.reference
    obs = ref["sic"].isel(time=slice(0, None, 4)).values  # 12 held-out states through the year
    kw = dict(space="latent", decoder="censored", members=16, steps=10, seed=3)
    a, b = fp32.sample(**kw), bf16.sample(**kw)
    assert not np.array_equal(a["sic"].values, b["sic"].values, equal_nan=True)  # bf16 really ran

    def crps(ds):  # fair CRPS of the ensemble against each reference state, averaged over the ocean
        return np.nanmean([np.nanmean(crps_fair(ds["sic"].values, o)) for o in obs])

    rel = crps(b) / crps(a)
    ext_a, ext_b = float(ice_integrals(a)["extent"].mean()), float(ice_integrals(b)["extent"].mean())
    assert abs(rel - 1) < 0.02, rel
    assert abs(ext_b / ext_a - 1) < 0.02, (ext_a, ext_b)


def _copy_checkpoints(tmp_path: Path) -> Path:
    root = tmp_path / "checkpoints"
    root.mkdir()
    for name in ("vae_censored", "ldm_censored", "ddm"):
        shutil.copytree(CHECKPOINTS / name, root / name)
    return root


@needs_models
def test_strict_false_loads_what_it_can(tmp_path):
    root = _copy_checkpoints(tmp_path)
    weights = root / "ddm" / "ema.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a corrupt (truncated) data-space model
    with pytest.raises(Exception):
        load_pipeline(root, device="cpu")  # strict: one bad model, no pipeline
    pipe = load_pipeline(root, device="cpu", strict=False)
    assert pipe.available == [("latent", "censored")]
    assert list(pipe.errors) == [("data", "censored")]
    assert "ddm" in pipe.errors[("data", "censored")]
    ds = pipe.sample(space="latent", decoder="censored", members=2, steps=2)
    assert ds.sizes["member"] == 2
    with pytest.raises(Exception, match="no trained"):
        pipe.sample(space="data", members=2, steps=2)


@needs_models
def test_strict_false_missing_vae_and_nothing_loadable(tmp_path):
    root = _copy_checkpoints(tmp_path)
    shutil.rmtree(root / "vae_censored")
    pipe = load_pipeline(root, device="cpu", strict=False)
    assert pipe.available == [("data", "censored")]
    assert "needs its VAE" in pipe.errors[("latent", "censored")]
    shutil.rmtree(root / "ddm")
    with pytest.raises(CheckpointError, match="needs its VAE"):
        load_pipeline(root, device="cpu", strict=False)  # nothing at all: still an error, naming why
