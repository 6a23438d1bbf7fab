"""Configs documented and strict (issue 26): every key in the README's reference table, generated from the
dataclasses; unknown or ignored keys are errors or named warnings; the presets of ``train all`` ship inside the
package and hold the same recipes as ``configs/``; --help states every default."""

import argparse
import re
import tomllib
import warnings
from pathlib import Path

import pytest

from seaice_ldm.cli import build_parser
from seaice_ldm.data.source import DataConfig
from seaice_ldm.training.config import (KEY_DOCS, ConfigError, ConfigWarning, config_fields, config_from_dict,
                                        config_reference, follow_data, resolve_fit_scales)
from seaice_ldm.workflow.presets import MODELS, load_preset, preset_folder

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- config-reference: start -->", "<!-- config-reference: end -->"


# --- the reference table -----------------------------------------------------------------------------------


def test_every_config_key_is_documented_and_every_documented_key_exists():
    keys = set(config_fields())
    assert not keys - set(KEY_DOCS), f"document these keys in training/config.py KEY_DOCS: {sorted(keys - set(KEY_DOCS))}"
    assert not set(KEY_DOCS) - keys, f"KEY_DOCS names keys no config has: {sorted(set(KEY_DOCS) - keys)}"


def test_the_readme_holds_the_generated_reference():
    text = (ROOT / "README.md").read_text()
    assert START in text and END in text, "README.md lacks the config reference markers"
    shown = text.split(START)[1].split(END)[0].strip()
    assert shown == config_reference(), ("README.md's config reference is out of date: replace it with the output "
                                         "of `python -m seaice_ldm.training.config`")


def test_the_reference_lists_every_table_key_once():
    rows = [line for line in config_reference().splitlines()[2:]]
    names = [re.match(r"\| ([^|]+) \| `(\w+)`", row).groups() for row in rows]
    assert len(names) == len(set(names)) == len(config_fields())


# --- unknown and ignored keys ----------------------------------------------------------------------------


@pytest.mark.parametrize("data, message", [
    ({"path": "obs.nc", "years": 4}, r"\[data\] years describe the embedded synthetic data set .* remove it"),
    ({"path": "obs.nc", "grid": "arctic50km", "seed": 1},
     r"\[data\] grid, seed describe the embedded synthetic data set and have no meaning with path = 'obs.nc'"),
    ({"path": "obs.nc", "val_years": -1}, r"\[data\] val_years must be an integer >= 0"),
    ({"path": "obs.nc", "variables": []}, r"\[data\] variables: empty or repeated names"),
])
def test_data_keys_that_would_be_ignored_or_are_wrong_are_errors(data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"data": data}, "vae")


def test_a_file_config_records_no_synthetic_grid_name():
    """The checkpoint used to record grid = "arctic50km" beside the file's real custom grid."""
    cfg = config_from_dict({"data": {"path": "obs.nc"}}, "vae").data
    assert (cfg.grid, cfg.years, cfg.seed, cfg.variables) == (None, None, None, None)
    synthetic = config_from_dict({}, "vae").data
    assert (synthetic.grid, synthetic.years, synthetic.seed) == ("arctic50km", 10, 0)


def test_records_of_older_versions_still_read():
    old = {"path": "obs.nc", "variables": ["sit", "sic"], "years": 10, "grid": "arctic50km", "seed": 0,
           "val_years": 1, "test_years": 2}
    assert DataConfig.from_record(old) == DataConfig(path="obs.nc", variables=("sit", "sic"))


def test_a_vae_run_for_a_data_space_model_is_an_error():
    with pytest.raises(ConfigError, match=r"vae_checkpoint = 'runs/vae' has no meaning for space = 'data'"):
        config_from_dict({"space": "data", "vae_checkpoint": "runs/vae"}, "diffusion")


@pytest.mark.parametrize("values, message", [
    ({"space": "data", "diffusion": {"refiner": True}}, r"refiner = true needs sigma_max"),
    ({"space": "latent", "diffusion": {"refiner": True, "sigma_max": 2.5}}, r"refiner = true is a data-space model"),
    ({"space": "data", "diffusion": {"crop": 64}}, r"crop = 64: only a refiner trains on crops"),
    ({"space": "data", "diffusion": {"refiner": True, "sigma_max": 2.5, "crop": 0}}, r"crop = 0: only a refiner"),
    ({"space": "data", "diffusion": {"refine_variables": ["sid"]}}, r"refine_variables: only a refiner"),
])
def test_a_refiner_is_a_data_space_model_with_a_start_level(values, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(values, "diffusion")


@pytest.mark.parametrize("values, message", [
    ({"space": "data", "unet": {"date_conditioning": False}, "diffusion": {"date_dropout": 0.3}},
     r"\[diffusion\] date_dropout is ignored: \[unet\] date_conditioning is false"),
    ({"optim": {"min_delta": 0.02}}, r"\[optim\] min_delta ignored: patience = 0"),
])
def test_keys_without_effect_are_named_warnings(values, message):
    kind = "diffusion" if "space" in values else "vae"
    with pytest.warns(ConfigWarning, match=message):
        config_from_dict(values, kind)


def test_channel_counts_follow_the_data_and_a_stated_one_must_agree():
    cfg = config_from_dict({"space": "data", "unet": {"channels": [8, 16], "attention_levels": []}}, "diffusion")
    follow_data(cfg.unet, ("in_channels", "out_channels"), 2, "unet", "the variables")
    assert (cfg.unet.in_channels, cfg.unet.out_channels) == (2, 2)
    stated = config_from_dict({"space": "data", "unet": {"in_channels": 5, "out_channels": 5}}, "diffusion")
    with pytest.raises(ConfigError, match=r"\[unet\] in_channels = 5, but the variables give 2 channels; remove "
                                          r"in_channels from \[unet\]"):
        follow_data(stated.unet, ("in_channels", "out_channels"), 2, "unet", "the variables")

    fits = config_from_dict({"vae": {"fit_scale": [0.05, 0.025, 0.05]}}, "vae")
    assert fits.vae.fit_scale == (0.05, 0.025, 0.05)
    with pytest.raises(ConfigError, match=r"\[vae\] fit_scale lists 3 values, but the variables give 5 variables"):
        follow_data(fits.vae, ("in_channels",), 5, "vae", "the variables")

    named = config_from_dict({"vae": {"fit_scale": 0.05, "fit_scale_by_variable": {"sic": 0.025}}}, "vae")
    resolve_fit_scales(named.vae, ["sit", "sic", "sid"])
    assert named.vae.fit_scale == (0.05, 0.025, 0.05)
    without_sic = config_from_dict({"vae": {"fit_scale": 0.05, "fit_scale_by_variable": {"sic": 0.025}}}, "vae")
    with pytest.warns(ConfigWarning, match=r"names \['sic'\], which the data do not hold"):
        resolve_fit_scales(without_sic.vae, ["sit", "siu"])
    assert without_sic.vae.fit_scale == (0.05, 0.05)
    with pytest.raises(ConfigError, match=r"fit_scale_by_variable names \['sicc'\], which are not sea-ice variables"):
        config_from_dict({"vae": {"fit_scale": 0.05, "fit_scale_by_variable": {"sicc": 0.025}}}, "vae")
    with pytest.raises(ConfigError, match="needs fit_scale > 0"):
        config_from_dict({"vae": {"fit_scale_by_variable": {"sic": 0.025}}}, "vae")


# --- presets ------------------------------------------------------------------------------------------------


def test_presets_ship_inside_the_package():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "presets/*/*.toml" in pyproject["tool"]["setuptools"]["package-data"]["seaice_ldm"]
    for name in ("tiny", "default"):
        folder = preset_folder(name)
        assert folder.is_relative_to(ROOT / "seaice_ldm") and {f"{m}.toml" for m in MODELS} <= {
            p.name for p in folder.glob("*.toml")}


def test_the_default_preset_has_the_shipped_recipe_stages_included():
    preset = load_preset("default")
    assert [s.name for s in preset.stages_of("ddm")] == ["ddm", "ddm_margin"]
    assert [s.name for s in preset.stages_of("vae_censored")] == ["vae_censored"]  # a decoder-only stage
    assert [s.name for s in preset.stages_of("ldm_censored")] == ["ldm_censored", "ldm_censored_margin"]
    assert [s.name for s in preset.stages_of("vae_gaussian")] == ["vae_gaussian", "vae_gaussian_sic",
                                                                   "vae_gaussian_decoder"]
    # the censored VAE starts from the Gaussian one's stage 2, so it trains after it, and its latent model after it
    order = [s.name for s in preset.stages]
    assert order.index("vae_gaussian_sic") < order.index("vae_censored") < order.index("ldm_censored")
    assert preset.last("vae_censored").values["init_from"] == "vae_gaussian_sic"
    script = (ROOT / "scripts" / "train_default_checkpoints.sh").read_text()
    for stage in preset.stages:  # every stage the shipped models went through, and no other
        assert f"configs/{stage.name}.toml" in script


def _recipe(values: dict) -> dict:
    """What a config says about the model and its training, without what train all sets itself."""
    out = {k: v for k, v in values.items() if k not in ("out", "vae_checkpoint", "init_from", "data", "unet")}
    out["unet"] = {k: v for k, v in values.get("unet", {}).items() if k not in ("in_channels", "out_channels")}
    out["split"] = {k: values.get("data", {}).get(k) for k in ("val_years", "test_years")}
    out["links"] = [Path(values[k]).name for k in ("vae_checkpoint", "init_from") if values.get(k)]
    return out


@pytest.mark.parametrize("preset, configs", [("tiny", ROOT / "configs" / "tiny"), ("default", ROOT / "configs")])
def test_presets_hold_the_recipes_of_the_configs(preset, configs):
    """The lead may change configs/*.toml: this keeps the preset files in step (copy the change over)."""
    for stage in load_preset(preset).stages:
        mine = tomllib.loads(stage.path.read_text())
        theirs = tomllib.loads((configs / stage.path.name).read_text())
        assert _recipe(mine) == _recipe(theirs), f"{stage.path} differs from {configs / stage.path.name}"


def test_a_folder_of_copied_configs_is_a_preset_with_the_replaced_keys_named(tmp_path):
    for path in (ROOT / "configs").glob("*.toml"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "ldm_censored_m.toml").unlink()  # the frontier's candidate belongs to no shipped model
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConfigWarning)
        preset = load_preset(tmp_path)
    assert [s.name for s in preset.stages_of("ldm_gaussian")] == ["ldm_gaussian", "ldm_gaussian_margin"]
    assert any("out, " in str(w.message) or "replaced: train all sets" in str(w.message) for w in caught)


def test_a_preset_stage_that_belongs_to_no_model_is_refused(tmp_path):
    for path in preset_folder("tiny").glob("*.toml"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "ddm_extra.toml").write_text('space = "data"\ninit_from = "nothing"\n')
    with pytest.raises(ConfigError, match=r"ddm_extra.toml belong to no model"):
        load_preset(tmp_path)


def test_a_preset_stage_may_start_from_another_models_stage_but_not_in_a_circle(tmp_path):
    for path in preset_folder("tiny").glob("*.toml"):
        (tmp_path / path.name).write_text(path.read_text())
    first = tmp_path / "vae_censored.toml"
    first.write_text('init_from = "vae_gaussian"\nfreeze_encoder = true\n' + first.read_text())
    preset = load_preset(tmp_path)
    assert preset.models == ("vae_gaussian", "vae_censored", "ldm_censored", "ldm_gaussian", "ddm")
    assert [s.name for s in preset.stages_of("vae_gaussian")] == ["vae_gaussian"]  # not continued by vae_censored
    first.write_text(first.read_text().replace('init_from = "vae_gaussian"', 'init_from = "vae_other"'))
    with pytest.raises(ConfigError, match="vae_censored.toml continues 'vae_other', which is no stage"):
        load_preset(tmp_path)
    first.write_text(first.read_text().replace('init_from = "vae_other"', 'init_from = "vae_gaussian"'))
    other = tmp_path / "vae_gaussian.toml"
    other.write_text('init_from = "vae_censored"\nfreeze_encoder = true\n' + other.read_text())
    with pytest.raises(ConfigError, match="start from each other in a circle"):
        load_preset(tmp_path)


def test_a_preset_may_hold_a_refiner_and_it_must_be_one(tmp_path):
    for path in preset_folder("tiny").glob("*.toml"):
        (tmp_path / path.name).write_text(path.read_text())
    assert "refiner" not in load_preset(tmp_path).models
    refiner = 'space = "data"\n[diffusion]\nrefiner = true\nsigma_max = 2.5\np_mean = -0.9\np_std = 1.2\n'
    (tmp_path / "refiner.toml").write_text(refiner)
    preset = load_preset(tmp_path)
    assert preset.models == (*MODELS, "refiner") and preset.last("refiner").kind == "diffusion"
    (tmp_path / "refiner.toml").write_text('space = "data"\n')
    with pytest.raises(ConfigError, match=r"refiner.toml: the refiner's config must say \[diffusion\] refiner = true"):
        load_preset(tmp_path)


# --- --help states every default --------------------------------------------------------------------------


def _parsers(parser: argparse.ArgumentParser, prefix=()):
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, prefix + (name,))


def test_help_states_every_default():
    missing = []
    for prefix, parser in _parsers(build_parser()):
        text = parser.format_help()
        for action in parser._actions:
            if not action.option_strings or action.required or isinstance(
                    action, (argparse._HelpAction, argparse._StoreTrueAction, argparse._SubParsersAction)):
                continue
            formatter = parser._get_formatter()
            shown = formatter._expand_help(action) if action.help else ""
            if "default" not in shown:
                missing.append(f"{' '.join(prefix)} {action.option_strings[0]}")
        assert "(default: %(default)s)" not in text
    assert not missing, f"options whose --help does not state the default: {missing}"


def test_help_of_checkpoints_names_the_folder_it_defaults_to():
    for command in ("sample", "evaluate", "benchmark"):
        parser = dict(_parsers(build_parser()))[(command,)]
        assert "default: ./checkpoints" in " ".join(parser.format_help().split())
