"""load_pipeline's options for the dashboard: the precision chosen for a device (bf16 only where native),
bf16 sampling (scores unchanged) and loading what it can."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from seaice_ldm import load_pipeline
from seaice_ldm.checkpoints.format import CheckpointError
from seaice_ldm.evaluation import crps_fair, ice_integrals
from seaice_ldm.models.device import resolve_precision
from seaice_ldm.options import SampleRequest

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
needs_models = pytest.mark.skipif(not (CHECKPOINTS / "ldm_censored" / "config.json").exists(),
                                  reason="needs the shipped checkpoints")


# Compute capabilities of real cards and whether they have bf16 tensor cores and cuDNN bf16 convolutions
# (NVIDIA's CUDA GPU list): Volta and Turing do not, Ampere and later do.
CARDS = {"V100": ((7, 0), False), "T4": ((7, 5), False), "RTX 2080": ((7, 5), False),
         "A100": ((8, 0), True), "RTX 3090": ((8, 6), True), "L4": ((8, 9), True), "H100": ((9, 0), True)}
CUDA = torch.device("cuda", 1)  # asked of this device: no GPU is needed, the capability is passed in


@pytest.mark.parametrize("card", sorted(CARDS))
def test_bf16_is_chosen_only_on_cards_with_native_bf16(card):
    capability, native = CARDS[card]
    assert resolve_precision("auto", CUDA, capability=capability) == ("bfloat16" if native else "float32")
    assert resolve_precision("float32", CUDA, capability=capability) == "float32"
    if native:
        assert resolve_precision("bfloat16", CUDA, capability=capability) == "bfloat16"
    else:  # asked for by name, bf16 still is not chosen where the card would emulate it
        with pytest.warns(UserWarning, match="not native"):
            assert resolve_precision("bfloat16", CUDA, capability=capability) == "float32"


@pytest.mark.parametrize("flags, native", [({"avx2", "avx512f"}, False), ({"avx512f", "avx512_bf16"}, True),
                                           ({"amx_bf16", "amx_tile"}, True), (set(), False)])
def test_cpu_bf16_follows_the_cpu_flags(flags, native):
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu, flags=frozenset(flags)) == ("bfloat16" if native else "float32")
    if native:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # chosen without a word
            assert resolve_precision("bfloat16", cpu, flags=frozenset(flags)) == "bfloat16"
    else:
        with pytest.warns(UserWarning, match="not native"):
            assert resolve_precision("bfloat16", cpu, flags=frozenset(flags)) == "float32"
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("float16", cpu, flags=frozenset(flags))


def test_the_capability_is_asked_of_the_chosen_device(monkeypatch):
    """``torch.cuda.is_bf16_supported()`` asks GPU 0; a pipeline on cuda:1 must ask cuda:1."""
    asked = []
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: asked.append(device) or (7, 5))
    assert resolve_precision("auto", CUDA) == "float32"
    assert asked == [CUDA]


@needs_models
@pytest.mark.slow
def test_bf16_ensemble_scores_match_float32():
    """bf16 autocast + channels-last changes single values, not the ensemble's skill or its sea-ice extent."""
    torch.set_num_threads(1)
    fp32 = load_pipeline(CHECKPOINTS, device="cpu", precision="float32")
    bf16 = load_pipeline(CHECKPOINTS, device="cpu", precision="bfloat16")
    if not bf16.bf16:  # resolve_precision fell back, with its warning (its own test covers the fallback)
        pytest.skip("this CPU has no native bfloat16; the pipeline computes in float32")
    assert not fp32.bf16
    ref = fp32.reference
    obs = ref["sic"].isel(time=slice(0, None, 4)).values  # 12 held-out states through the year
    request = SampleRequest(space="latent", decoder="censored", members=16, steps=10, seed=3)
    a, b = fp32.sample(request), bf16.sample(request)
    assert (a.attrs["precision"], b.attrs["precision"]) == ("float32", "bfloat16")
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
    ds = pipe.sample(SampleRequest(space="latent", decoder="censored", members=2, steps=2))
    assert ds.sizes["member"] == 2
    with pytest.raises(Exception, match="no trained"):
        pipe.sample(SampleRequest(space="data", members=2, steps=2))


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


def _rewrite(folder: Path, edit) -> None:
    """Edit a copied checkpoint's config.json (``edit(meta)``) and keep its hashes true (the weight files' and
    its own), as an export of another training run would write them."""
    import hashlib
    import json

    from seaice_ldm.checkpoints.format import CONFIG_HASH, _config_hash

    meta = json.loads((folder / "config.json").read_text())
    edit(meta)
    for name in meta["files"]:
        meta["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    meta[CONFIG_HASH] = _config_hash(meta)
    (folder / "config.json").write_text(json.dumps(meta))


@needs_models
def test_generators_on_another_land_mask_or_grid_are_refused_or_left_out(tmp_path):
    from safetensors.torch import load_file, save_file

    from seaice_ldm.checkpoints.generators import load_generators

    root = _copy_checkpoints(tmp_path)
    grid = root / "ddm" / "grid.safetensors"
    ocean = load_file(str(grid))["ocean"]
    ocean[64, 64] = 1 - ocean[64, 64]  # one cell of another land mask
    save_file({"ocean": ocean}, str(grid))
    _rewrite(root / "ddm", lambda meta: None)
    with pytest.raises(CheckpointError, match="ddm has another land mask"):
        load_generators(root, strict=True)
    generators, errors = load_generators(root, strict=False)
    assert sorted(generators) == [("latent", "censored")] and "another land mask" in errors[("data", "censored")]
    save_file({"ocean": ocean[:64, :64].contiguous()}, str(grid))
    _rewrite(root / "ddm", lambda meta: meta["grid"].update(nx=64, ny=64, name="custom"))
    generators, errors = load_generators(root, strict=False)
    assert "ddm was trained on another grid" in errors[("data", "censored")]


def test_float32_on_a_gpu_means_float32_not_tf32(monkeypatch):
    """TF32 is a stated choice (off): picking a CUDA device turns it off for matmuls and convolutions."""
    from seaice_ldm.models.device import pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    saved = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    try:
        torch.set_float32_matmul_precision("high")
        torch.backends.cudnn.allow_tf32 = True
        assert pick_device("cuda:1") == torch.device("cuda", 1)
        assert torch.get_float32_matmul_precision() == "highest" and not torch.backends.cudnn.allow_tf32
    finally:
        torch.set_float32_matmul_precision(saved[0])
        torch.backends.cudnn.allow_tf32 = saved[1]
