"""Checkpoints: bit-exact round trip, atomic writes, clear refusals; training configs."""

import json
import re
from pathlib import Path

import pytest
import torch

from seaice_ldm.checkpoints.build import TrainedModel, build_precond, check_pair, load_model
from seaice_ldm.checkpoints.format import (
    CheckpointError,
    load_weights,
    optimizer_from_safetensors,
    optimizer_to_safetensors,
    read_meta,
    save_checkpoint,
)
from seaice_ldm.models.vae import VAE, VAEConfig
from seaice_ldm.training.config import ConfigError, load_config

CONFIGS = Path(__file__).parents[1] / "configs"
STATS = {"names": ["sit", "sic", "sid", "siu", "siv"], "mean": [1.0, 0.5, 0.1, 0.0, 0.0], "std": [1.0, 0.4, 0.2, 0.1, 0.1]}


def _vae_meta(channels=(8, 8)) -> dict:
    return {
        "kind": "vae",
        "run_id": "test",
        "step": 1,
        "config": {"vae": {"in_channels": 5, "latent_channels": 4, "channels": list(channels), "decoder": "censored"}},
        "norm_stats": STATS,
    }


def _vae(channels=(8, 8)) -> VAE:
    torch.manual_seed(0)
    lower = torch.tensor([-1.0, -1.25, -0.5, -float("inf"), -float("inf")])
    upper = torch.tensor([float("inf"), 1.25, 4.5, float("inf"), float("inf")])
    return VAE(VAEConfig(in_channels=5, latent_channels=4, channels=channels), lower, upper)


def test_round_trip_is_bit_exact(tmp_path):
    vae = _vae()
    save_checkpoint(tmp_path / "ck", _vae_meta(), {"ema": vae.state_dict(), "grid": {"ocean": torch.ones(4, 4, dtype=torch.uint8)}})
    loaded = load_model(tmp_path / "ck", "vae")
    for key, value in vae.state_dict().items():
        assert torch.equal(loaded.module.state_dict()[key], value), key
    assert read_meta(tmp_path / "ck")["format"] == "seaice-ldm-checkpoint"


def test_corrupted_weights_are_refused(tmp_path):
    save_checkpoint(tmp_path / "ck", _vae_meta(), {"ema": _vae().state_dict()})
    path = tmp_path / "ck" / "ema.safetensors"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted"):
        load_model(tmp_path / "ck", "vae")


def test_checkpoint_that_does_not_fit_is_refused(tmp_path):
    save_checkpoint(tmp_path / "ck", _vae_meta(channels=(8, 8)), {"ema": _vae(channels=(8, 16)).state_dict()})
    with pytest.raises(CheckpointError, match="does not fit"):
        load_model(tmp_path / "ck", "vae")


def test_missing_and_wrong_kind_and_bad_json(tmp_path):
    with pytest.raises(CheckpointError, match="config.json is missing"):
        load_model(tmp_path / "nothing", "vae")
    save_checkpoint(tmp_path / "ck", _vae_meta(), {"ema": _vae().state_dict()})
    with pytest.raises(CheckpointError, match="holds a 'vae' model, expected 'diffusion'"):
        load_model(tmp_path / "ck", "diffusion")
    (tmp_path / "ck" / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_meta(tmp_path / "ck")


def test_failed_save_leaves_previous_checkpoint_and_no_temporaries(tmp_path, monkeypatch):
    save_checkpoint(tmp_path / "ck", _vae_meta(), {"ema": _vae().state_dict()})
    before = (tmp_path / "ck" / "ema.safetensors").read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("seaice_ldm.checkpoints.format.save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path / "ck", _vae_meta(), {"ema": _vae(channels=(8, 16)).state_dict()})
    assert (tmp_path / "ck" / "ema.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_half_precision_weights_load_as_float32(tmp_path):
    vae = _vae()
    save_checkpoint(tmp_path / "ck", _vae_meta(), {"ema": vae.state_dict()}, dtype=torch.float16)
    state = load_weights(tmp_path / "ck", "ema")
    assert all(v.dtype == torch.float32 for v in state.values())
    key = "log_scale"
    assert torch.equal(state[key], vae.state_dict()[key].half().float())


def test_optimizer_state_round_trip():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    tensors, structure = optimizer_to_safetensors(opt)
    json.dumps(structure)  # JSON-able
    other = torch.optim.AdamW(model.parameters(), lr=1e-3)
    other.load_state_dict(optimizer_from_safetensors(tensors, structure))
    for a, b in zip(opt.state.values(), other.state.values()):
        assert torch.equal(a["exp_avg"], b["exp_avg"]) and torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])


def test_latent_model_must_match_its_vae():
    vae = TrainedModel(torch.nn.Identity(), {"run_id": "abc", "step": 100}, Path("vae"))
    ldm = TrainedModel(torch.nn.Identity(), {"space": "latent", "vae": {"model_id": "abc@90"}}, Path("ldm"))
    with pytest.raises(CheckpointError, match="trained on the latents of VAE abc@90"):
        check_pair(vae, ldm)
    ldm.meta["vae"]["model_id"] = "abc@100"
    check_pair(vae, ldm)


@pytest.mark.parametrize("name", ["vae_censored", "vae_gaussian", "ldm_censored", "ldm_gaussian", "ddm"])
def test_shipped_configs_parse(name):
    kind = "vae" if name.startswith("vae") else "diffusion"
    for folder in (CONFIGS, CONFIGS / "tiny"):
        cfg = load_config(folder / f"{name}.toml", kind)
        assert cfg.out.endswith(name)


def test_config_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[vae]\nlatent_chanels = 4\n')
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['latent_chanels'\] in \[vae\]"):
        load_config(bad, "vae")
    bad.write_text('space = "pixel"\n[unet]\nin_channels = 5\nout_channels = 5\n')
    with pytest.raises(ConfigError, match="space must be 'latent' or 'data'"):
        load_config(bad, "diffusion")
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml", "vae")
    for text, message in [
        ("[optim]\nval_every = 0\n", r"\[optim\] val_every must be at least 1, got 0"),
        ("[optim]\nema_decay = 1.5\n", r"\[optim\] ema_decay must be in \[0, 1\)"),
        ('[data]\nvariables = ["sit", "thickness_of_snow"]\n', r"\[data\] variables: unknown \['thickness_of_snow'\]"),
        ("[unet]\nin_channels = 5\nout_channels = 5\n", r"\[unet\] table belongs in a diffusion config"),
    ]:
        bad.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_config(bad, "vae")
    bad.write_text('[data]\nvariables = ["siconc", "sit"]\n')  # aliases become the canonical names
    assert load_config(bad, "vae").data.variables == ("sic", "sit")


def test_save_refuses_to_replace_a_folder_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "notes.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="exists and is not a checkpoint folder"):
        save_checkpoint(tmp_path / "runs", _vae_meta(), {"ema": _vae().state_dict()})
    assert (tmp_path / "runs" / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


def _ldm_meta() -> dict:
    return {
        "kind": "diffusion",
        "space": "latent",
        "run_id": "test",
        "step": 1,
        "config": {
            "unet": {"in_channels": 4, "out_channels": 4, "channels": [8, 8], "blocks_per_level": 1,
                     "attention_levels": [1], "emb_channels": 16, "dropout": 0.0, "mask_channel": True,
                     "date_conditioning": False},
            "diffusion": {"sigma_data": 1.0, "sigma_max": 80.0, "p_mean": 0.4, "p_std": 1.6},
        },
        "latent_stats": {"mean": [0.1, -0.2, 0.0, 0.3], "std": [0.6, 0.5, 0.7, 0.9]},
        "norm_stats": STATS,
    }


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory) -> Path:
    """A tiny VAE and a tiny latent diffusion checkpoint, written once, copied by each test that edits one."""
    root = tmp_path_factory.mktemp("tiny_checkpoints")
    save_checkpoint(root / "vae", _vae_meta(), {"ema": _vae().state_dict()})
    torch.manual_seed(0)
    save_checkpoint(root / "ldm", _ldm_meta(), {"ema": build_precond(_ldm_meta()).state_dict()})
    return root


def _edited(tiny_checkpoints: Path, tmp_path: Path, name: str, key: str, value) -> Path:
    """A copy of the tiny checkpoint ``name`` whose config.json has ``value`` at the dotted ``key``
    (``...`` deletes the key), written through save_checkpoint, so that its hash matches (a writer's bug, or an
    edit sealed again by hand) and the checks of the values are what refuses it (a plain edit is refused by
    the hash: test_edited_config_json_is_refused_by_its_hash; a format-1 file without a hash is refused as
    unverifiable: test_a_format_1_checkpoint_is_refused_pointing_to_re_export)."""
    meta = json.loads((tiny_checkpoints / name / "config.json").read_text())
    *parents, last = key.split(".")
    table = meta
    for part in parents:
        table = table[part]
    if value is ...:
        del table[last]
    else:
        table[last] = value
    return _sealed(tiny_checkpoints / name, tmp_path / name, meta)


def _sealed(src: Path, folder: Path, meta: dict) -> Path:
    """``src``'s weights with ``meta`` as a checkpoint at ``folder`` (NaN and Infinity as Python's json writes them)."""
    return save_checkpoint(folder, meta, {"ema": load_weights(src, "ema")})


def test_tiny_checkpoints_load(tiny_checkpoints):
    assert load_model(tiny_checkpoints / "vae", "vae").module.cfg.channels == (8, 8)
    ldm = load_model(tiny_checkpoints / "ldm", "diffusion")
    assert ldm.module.sigma_data == 1.0 and ldm.module.net.cfg.attention_levels == (1,)


@pytest.mark.parametrize(("key", "value"), [
    ("config.unet.channels", [8, 0]),
    ("config.unet.channels", []),
    ("config.unet.channels", "8, 8"),
    ("config.unet.channels", [8, 8.5]),
    ("config.unet.in_channels", -4),
    ("config.unet.in_channels", ...),
    ("config.unet.blocks_per_level", True),
    ("config.unet.attention_levels", [2]),
    ("config.unet.attention_levels", [-1]),
    ("config.unet.dropout", 1.0),
    ("config.unet.date_conditioning", "yes"),
    ("config.diffusion.sigma_data", 0),
    ("config.diffusion.sigma_data", -1.0),
    ("config.diffusion.sigma_data", "1.0"),
    ("config.diffusion.sigma_data", float("nan")),
    ("config.diffusion.sigma_data", ...),
    ("config.diffusion.sigma_max", 0.0),
    ("config.diffusion.sigma_max", float("inf")),
    ("config.diffusion.p_std", -1.6),
    ("latent_stats.mean", [0.0, 0.0, 0.0]),
    ("latent_stats.mean", [0.0, 0.0, float("nan"), 0.0]),
    ("latent_stats.std", [0.5, 0.5, 0.5, 0.0]),
    ("latent_stats.std", [0.5, 0.5, 0.5, -0.5]),
    ("latent_stats.std", [0.5, 0.5, 0.5, float("inf")]),
    ("latent_stats.std", ...),
    ("latent_stats", ...),
    ("space", "pixel"),
])
def test_hand_edited_diffusion_config_is_refused_naming_the_key(tiny_checkpoints, tmp_path, key, value):
    folder = _edited(tiny_checkpoints, tmp_path, "ldm", key, value)
    with pytest.raises(CheckpointError, match=rf"checkpoint {re.escape(str(folder))}: .*{re.escape(key)}"):
        load_model(folder, "diffusion")


@pytest.mark.parametrize(("key", "value"), [
    ("config.vae.channels", [8, -8]),
    ("config.vae.channels", 8),
    ("config.vae.latent_channels", 0),
    ("config.vae.in_channels", "5"),
    ("config.vae.decoder", "tobit"),
    ("config.vae.kl_weight", -1e-3),
    ("config.vae.init_log_scale", float("nan")),
    ("config.vae", [8, 8]),
    ("norm_stats.std", [1.0, 0.4, 0.0, 0.1, 0.1]),
    ("units", {"sic": "%", "sit": "m"}),  # fields in other units than the variables'
    ("bounds", {"sic": [0.0, 100.0]}),  # censored at other bounds than the variables'
])
def test_hand_edited_vae_config_is_refused_naming_the_key(tiny_checkpoints, tmp_path, key, value):
    folder = _edited(tiny_checkpoints, tmp_path, "vae", key, value)
    with pytest.raises(CheckpointError, match=rf"checkpoint {re.escape(str(folder))}: .*{re.escape(key)}"):
        load_model(folder, "vae")


def test_data_space_models_need_no_latent_stats_and_older_ones_no_sigma_max(tiny_checkpoints, tmp_path):
    folder = _edited(tiny_checkpoints, tmp_path, "ldm", "latent_stats", ...)
    meta = json.loads((folder / "config.json").read_text())
    meta["space"] = "data"
    del meta["config"]["diffusion"]["sigma_max"]  # checkpoints written before sigma_max was stored
    _sealed(folder, folder, meta)
    assert load_model(folder, "diffusion").meta["space"] == "data"
