"""A checkpoint's config.json is covered by a hash of its own: an edit that would change every output without a
word (the grid's CRS or cell size, the order of the normalisation names, the VAE a latent model belongs to) is
refused, and so is a config.json of the wrong shape, with one paragraph naming the checkpoint and the fix."""

import json
import shutil

import pytest
import torch

from seaice_ldm.checkpoints.build import load_model
from seaice_ldm.checkpoints.format import CheckpointError, load_weights, read_meta, save_checkpoint
from seaice_ldm.models.vae import VAE, VAEConfig

STATS = {"names": ["sit", "sic"], "mean": [1.0, 0.5], "std": [1.0, 0.4]}
GRID = {"name": "custom", "nx": 12, "ny": 8, "dx": 25000.0, "crs": "EPSG:3413", "x0": 0.0, "y0": 0.0}


def _meta() -> dict:
    return {"kind": "vae", "run_id": "abc123", "step": 10, "variables": ["sit", "sic"], "grid": GRID,
            "config": {"vae": {"in_channels": 2, "latent_channels": 4, "channels": [8, 8], "decoder": "censored"}},
            "norm_stats": STATS, "vae": {"model_id": "abc123@10"}}


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    vae = VAE(VAEConfig(in_channels=2, latent_channels=4, channels=(8, 8)), torch.tensor([-1.0, -1.25]),
              torch.tensor([float("inf"), 1.25]))
    return save_checkpoint(tmp_path / "ck", _meta(), {"ema": vae.state_dict()})


def _edit(folder, change):
    meta = json.loads((folder / "config.json").read_text())
    meta = change(meta)
    (folder / "config.json").write_text(json.dumps(meta, indent=2))
    return folder


def test_an_untouched_checkpoint_loads(checkpoint):
    assert read_meta(checkpoint)["grid"] == GRID
    load_model(checkpoint, "vae")


@pytest.mark.parametrize("change", [
    lambda m: {**m, "grid": {**m["grid"], "crs": "EPSG:3995"}},  # labels and lat/lon of every output
    lambda m: {**m, "grid": {**m["grid"], "dx": 50000.0}},  # extent and every area
    lambda m: {**m, "norm_stats": {**m["norm_stats"], "names": ["sic", "sit"]},
               "variables": ["sic", "sit"]},  # thickness read as concentration
    lambda m: {**m, "vae": {"model_id": "other@10"}},  # another VAE would pass the pairing check
    lambda m: {**m, "run_id": "other"},
], ids=["grid crs", "cell size", "normalisation order", "vae id", "run id"])
def test_edited_config_json_is_refused_by_its_hash(checkpoint, change):
    _edit(checkpoint, change)
    with pytest.raises(CheckpointError, match=r"config.json was changed after the checkpoint was written.*"
                                              r"seaice-ldm export RUN FOLDER"):
        load_model(checkpoint, "vae")


@pytest.mark.parametrize("content, message", [
    ("[1, 2, 3]", r"config.json holds a list, not the table of a checkpoint"),
    ('"checkpoint"', r"config.json holds a str"),
])
def test_config_json_that_is_not_a_table_is_refused(checkpoint, content, message):
    (checkpoint / "config.json").write_text(content)
    with pytest.raises(CheckpointError, match=message):
        read_meta(checkpoint)


@pytest.mark.parametrize("change, message", [
    (lambda m: {**m, "format_version": "2"}, r"key format_version must be an integer, got '2'"),
    (lambda m: {k: v for k, v in m.items() if k != "run_id"}, r"lacks the key 'run_id'"),
    (lambda m: {**m, "step": "10"}, r"key 'step' must be a JSON integer"),
    (lambda m: {**m, "grid": {**m["grid"], "rotation": 45}}, r"key 'grid' does not describe a grid"),
    (lambda m: {**m, "grid": {k: v for k, v in m["grid"].items() if k != "nx"}},
     r"key 'grid' does not describe a grid"),
    (lambda m: {**m, "norm_stats": {**m["norm_stats"], "names": ["sic", "sit"]}},
     r"norm_stats.names \['sic', 'sit'\] differ from its variables \['sit', 'sic'\]"),
], ids=["string version", "missing key", "wrong type", "extra grid key", "missing grid key", "names order"])
def test_config_json_of_the_wrong_shape_is_refused_also_without_a_hash(checkpoint, change, message):
    """Format 1 has no hash of its own; export reads it to seal it: what it reads is checked key by key (no
    KeyError or TypeError)."""
    _edit(checkpoint, lambda meta: _format_1(change(meta)))
    with pytest.raises(CheckpointError, match=rf"checkpoint .*ck: config.json .*{message}"):
        read_meta(checkpoint, unsealed_ok=True)


def _format_1(meta: dict) -> dict:
    """``meta`` as a checkpoint written before config.json carried its own hash."""
    meta = {k: v for k, v in meta.items() if k != "config_sha256"}
    return meta if isinstance(meta.get("format_version"), str) else {**meta, "format_version": 1}


@pytest.mark.parametrize("change", [
    lambda m: m,
    lambda m: {**m, "grid": {**m["grid"], "crs": "EPSG:3995"}},  # every output labelled and placed wrong
    lambda m: {**m, "norm_stats": {**m["norm_stats"], "std": [0.5, 0.4]}},  # thickness halved
], ids=["untouched", "grid crs", "normalisation std"])
def test_a_format_1_checkpoint_is_refused_pointing_to_re_export(checkpoint, tmp_path, change):
    """Without a hash of its own an edit cannot be told from the original: such edits used to change every
    output without a word. Export seals it (format 2), and the sealed copy loads."""
    from seaice_ldm.checkpoints.export import export_checkpoint

    ocean = {"ocean": torch.ones(GRID["ny"], GRID["nx"], dtype=torch.uint8)}
    old = save_checkpoint(tmp_path / "old", _meta(), {"ema": load_weights(checkpoint, "ema"), "grid": ocean})
    _edit(old, lambda meta: _format_1(change(meta)))
    with pytest.raises(CheckpointError, match=r"checkpoint .*old has format version 1: its config.json was written "
                                              r"before it carried a sha256 of its own.*seaice-ldm export .*old "
                                              r"NEW_FOLDER"):
        load_model(old, "vae")
    sealed = export_checkpoint(old, tmp_path / "sealed", "float32")
    meta = read_meta(sealed)
    assert meta["format_version"] == 2 and meta["grid"] == change(_meta())["grid"]
    load_model(sealed, "vae")


@pytest.mark.parametrize("key, value, message", [
    ("bounds", "none", r"key 'bounds' must be a JSON object, got 'none'"),
    ("units", ["m", "1"], r"key 'units' must be a JSON object"),
])
def test_bounds_or_units_that_are_no_table_are_refused_not_a_traceback(checkpoint, key, value, message):
    """`"bounds": "none"` used to end in AttributeError: 'str' object has no attribute 'items' (build.py)."""
    _edit(checkpoint, lambda meta: _format_1({**meta, key: value}))
    with pytest.raises(CheckpointError, match=rf"checkpoint .*ck: config.json {message}"):
        read_meta(checkpoint, unsealed_ok=True)


@pytest.mark.parametrize("bounds", [{"sit": "none"}, {"sit": 5}, {"sic": [0.0]}])
def test_bounds_of_a_variable_of_the_wrong_shape_are_refused_naming_it(checkpoint, tmp_path, bounds):
    meta = {**_meta(), "bounds": bounds}  # sealed: a writer's bug, or an edit sealed again
    folder = save_checkpoint(tmp_path / "odd", meta, {"ema": load_weights(checkpoint, "ema")})
    name = next(iter(bounds))
    with pytest.raises(CheckpointError, match=rf"odd: config.json: bounds.{name} is .*; the model censors at "):
        load_model(folder, "vae")


def test_a_checkpoint_folder_with_a_users_file_is_not_replaced(checkpoint):
    (checkpoint / "notes.txt").write_text("what this run was for")
    with pytest.raises(CheckpointError, match=r"holds files that are not part of its checkpoint \(notes.txt\)"):
        save_checkpoint(checkpoint, _meta(), {"ema": {"w": torch.zeros(2)}})
    assert (checkpoint / "notes.txt").read_text() == "what this run was for"


def test_a_folder_with_someone_elses_config_json_is_not_replaced(tmp_path):
    other = tmp_path / "project"
    other.mkdir()
    (other / "config.json").write_text('{"learning_rate": 0.1}')
    with pytest.raises(CheckpointError, match="is not a checkpoint folder"):
        save_checkpoint(other, _meta(), {"ema": {"w": torch.zeros(2)}})
    assert (other / "config.json").read_text() == '{"learning_rate": 0.1}'


def test_a_copied_checkpoint_still_loads(checkpoint, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(checkpoint, copy)
    assert read_meta(copy) == read_meta(checkpoint)
