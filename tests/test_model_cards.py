"""The model cards quote the evaluation report as it is written, and say how each stage ended."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from seaice_ldm.checkpoints.format import read_meta
from seaice_ldm.workflow.cards import ending, scores, stage_change

ROOT = Path(__file__).resolve().parents[1]
LDM = "LDM (censored)"


def hand_report() -> dict:
    """A report with known numbers, in the layout `seaice-ldm evaluate` writes."""
    return {
        "setup": {"test_states": 3, "members": 4, "sampler": "dpmpp2m", "steps": 10},
        "reference": {"yearly_power": {"sit": {"2000": 0.7, "2001": 1.8}},
                      "lines": {"share": 0.5, "lines_per_state": 6.0},
                      "integrals": {"miz_area": {"mean": 1.0, "std": 0.5}}},
        "generators": {LDM: {"crps_per_state": {"sit": [0.1, 0.2, 0.6]}, "bound_violation": {"sit": 0.0},
                             "integrals": {"miz_area": {"mean": 1.1, "std": 0.4}},
                             "lines": {"share": 0.25, "lines_per_state": 3.5}}},
        "smoothness_pooled": {LDM: {"sit": {"value": 0.9, "low": 0.6, "high": 1.2}}},
    }


def test_a_diffusion_card_quotes_the_mean_crps_over_states_the_pooled_smoothness_and_the_lines():
    meta = {"kind": "diffusion", "variables": ["sit"]}
    text = "\n".join(scores("ldm_censored", meta, hand_report()))
    assert "fair CRPS sit 0.3." in text  # (0.1 + 0.2 + 0.6) / 3
    assert "sit 0.9 [0.6, 1.2] (0.7-1.8)" in text
    assert "0.25 of high-damage pack cells in lines, 3.5 lines per state (reference 0.5 and 6)" in text
    assert "MIZ area 1.10 ± 0.40 10⁶ km² (reference 1.00)" in text


def test_the_shipped_cards_read_the_shipped_report():
    """The report's layout and the cards' reading of it stay in step (a card once read a key the report had
    dropped); the CRPS quoted is the mean over the report's states."""
    report = json.loads((ROOT / "docs" / "report" / "report.json").read_text())
    for name in ("ldm_censored", "ldm_gaussian", "ddm"):
        meta = read_meta(ROOT / "checkpoints" / name)
        text = "\n".join(scores(name, meta, report))
        label = {"ldm_censored": LDM, "ldm_gaussian": "LDM (gaussian)", "ddm": "data-space DM (censored)"}[name]
        sic = statistics.fmean(report["generators"][label]["crps_per_state"]["sic"])
        assert f"sic {sic:.3g}," in text and "Damage lines:" in text and "Small-scale power" in text


def test_a_first_stage_ended_for_the_next_one_is_not_called_an_interim_export():
    said = ending(15100, False, 14600, 20000, handed_over=True)
    assert "ended at step 15100 for the next stage" in said and "14600" in said and "interim" not in said
    assert "interim export at step 15100" in ending(15100, False, 14600, 20000)
    assert ending(20000, False, 19000, 20000, handed_over=True) == "it ran to the 20000-step cap"


def test_a_key_the_first_stage_predates_is_a_change_only_when_it_leaves_its_default():
    meta = {"kind": "vae", "init_from": {"changed": {"bound_penalty": {"from": None, "to": "squared"},
                                                     "fit_scale": {"from": 0.05, "to": [0.05, 0.025]}}}}
    said = stage_change(meta)
    assert "fit_scale = [0.05, 0.025]" in said and "bound_penalty" not in said
    meta["init_from"]["changed"]["bound_penalty"]["to"] = "linear"
    assert "`bound_penalty = linear` (stage 1: None)" in stage_change(meta)


def test_a_decoder_only_stage_names_the_vae_whose_encoder_it_keeps(tmp_path):
    from seaice_ldm.workflow.cards import warm_start_line

    meta = {"kind": "vae", "config": {"freeze_encoder": True},
            "init_from": {"run": str(tmp_path / "gone"), "run_id": "abc", "step": 3200, "wall_time_s": 600.0,
                          "converged": True, "last_improvement_step": 2400, "steps_cap": 6000,
                          "changed": {"decoder": {"from": "gaussian", "to": "censored"}}}}
    said = warm_start_line(meta, "configs")[0]
    assert said.startswith(f"- Encoder: that of `{tmp_path / 'gone'}` (3200 steps, 10 min, run `abc`; it stopped by")
    assert "`decoder = censored` (stage 1: gaussian)" in said and "Stage 1:" not in said


def test_a_frontier_of_other_weights_than_the_shipped_latent_model_says_so():
    from seaice_ldm.workflow.cards import frontier_lines

    frontier = {"setup": {"members": 4, "test_states": 3, "sampler": "dpmpp2m", "steps": 10}, "chosen": "small",
                "candidates": {"small": {"path": "runs/a", "steps_trained": 12000, "channels": [32], "parameters": 1e6,
                                         "gflop_per_state": 7.4, "crps": {"sic": 0.1, "sit": 0.3},
                                         "relative_crps": 1.0}}}
    assert "Measured on earlier weights" in "\n".join(frontier_lines(frontier, {"init_from": {"step": 10250}}))
    assert "earlier" not in "\n".join(frontier_lines(frontier, {"init_from": {"step": 12000}}))


def test_a_card_names_the_config_file_of_its_run_folder():
    from seaice_ldm.workflow.cards import config_file

    assert config_file("runs/vae_censored", "configs") == "configs/vae_censored.toml"
    assert config_file("runs/ablation/cens_on_gaussian_encoder", "configs") == (
        "configs/ablation/cens_on_gaussian_encoder.toml")
    assert config_file("/data/out/runs/ldm_censored", "preset default") == "preset default/ldm_censored.toml"


def test_a_stage_whose_source_folder_now_holds_other_weights_reads_the_recorded_end(tmp_path):
    """A decoder-only stage from an exported VAE that was then replaced by its own export: the folder on disk is
    another run's, so the card says how the source ended from what the stage recorded, and that nothing changed."""
    from seaice_ldm.workflow.cards import stage_one, warm_start_line

    (tmp_path / "config.json").write_text(json.dumps({"run_id": "new", "step": 1800, "history": []}))
    meta = {"kind": "vae", "config": {"freeze_encoder": True},
            "init_from": {"run": str(tmp_path), "run_id": "old", "step": 3200, "converged": True,
                          "last_improvement_step": 2400, "steps_cap": 6000, "changed": {}}}
    assert stage_one(meta) is None
    said = warm_start_line(meta, "configs")[0]
    assert "it stopped by this rule at step 3200 (the last improvement that large was at step 2400)" in said
    assert "with the same loss, a fresh optimiser" in said
