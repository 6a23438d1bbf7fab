"""Rules every model is trained under: noise levels from the data, and when to stop."""

import math

import pytest
import torch
from scipy.stats import norm

from seaice_ldm.diffusion.coverage import FINE_SIGMA, SIGMA_MAX_FACTOR, noise_levels_for
from seaice_ldm.training.config import OptimConfig
from seaice_ldm.training.loop import RunState, _load_optimizer, parameter_groups


@pytest.mark.parametrize("spread", [5.0, 30.0, 61.4])
def test_noise_levels_put_five_percent_beyond_each_end(spread):
    levels = noise_levels_for(spread)
    dist = norm(levels.p_mean, levels.p_std)  # ln sigma ~ N(p_mean, p_std^2)
    assert dist.sf(math.log(spread)) == pytest.approx(0.05, abs=1e-3)
    assert dist.cdf(math.log(FINE_SIGMA)) == pytest.approx(0.05, abs=1e-3)
    assert levels.sigma_max == pytest.approx(max(80.0, SIGMA_MAX_FACTOR * spread), abs=0.1)
    # a start N(0, sigma_max^2) keeps sigma_max / sqrt(sigma_max^2 + s^2) of the leading mode's spread
    assert levels.sigma_max / math.hypot(levels.sigma_max, spread) > 0.98


def history(losses):
    return RunState(history=[{"step": 100 * (i + 1), "val_loss": v} for i, v in enumerate(losses)])


@pytest.mark.parametrize(("losses", "stops"), [
    ([1.0, 0.9, 0.8, 0.7], False),  # still improving
    ([1.0, 0.9, 0.895, 0.894, 0.893], True),  # under 1 % better than 0.9 for 3 validations
    ([1.0, 0.9, 0.895, 0.894, 0.85], False),  # improved again
    ([-2.0, -2.1, -2.105, -2.11, -2.112], True),  # negative losses (NLL): relative to |best|
    ([-2.0, -1.9, -1.8, -1.7], True),  # getting worse counts as no improvement
    ([1.0], False),
])
def test_stopping_rule(losses, stops):
    assert history(losses).converged(OptimConfig(patience=3, min_delta=0.01)) is stops


def test_patience_zero_trains_for_the_fixed_number_of_steps():
    assert not history([1.0, 1.0, 1.0, 1.0, 1.0]).converged(OptimConfig(patience=0))


def test_absolute_threshold_for_losses_that_cross_zero():
    cfg = OptimConfig(patience=2, min_delta=0.0, min_improvement=0.01)
    assert history([0.05, 0.0, -0.03, -0.035, -0.038]).converged(cfg)  # under 0.01 better than -0.03 twice
    assert not history([0.05, 0.0, -0.03, -0.035, -0.045]).converged(cfg)


def test_last_improvement_is_the_last_validation_that_beat_the_threshold():
    cfg = OptimConfig(patience=3, min_delta=0.01)
    # 0.995 and 0.992 are each under 1 % better than 1.0; 0.985 is 1.5 % better, so it counts
    assert history([1.2, 1.0, 0.995, 0.992, 0.985, 0.984]).last_improvement(cfg) == 4
    assert history([]).last_improvement(cfg) == -1


class _Scaled(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(3))
        self.log_scale = torch.nn.Parameter(torch.zeros(2))


def _adam_step(model, cfg):
    opt = torch.optim.AdamW(parameter_groups(model, cfg), lr=cfg.lr, weight_decay=0.0)
    for group in opt.param_groups:
        group["lr"] = cfg.lr * group["lr_factor"]
    (model.weight.sum() * 2.0 + model.log_scale.sum() * 0.3).backward()
    opt.step()
    return opt


def test_log_scales_step_faster_by_the_configured_factor():
    """Adam's first step moves every parameter by lr (m/sqrt(v) = sign of the gradient): lr x factor for
    the log-scales, lr for the rest."""
    cfg = OptimConfig(lr=1e-3, scale_lr_factor=10.0)
    model = _Scaled()
    _adam_step(model, cfg)
    assert torch.allclose(model.weight.detach(), torch.full((3,), 1.0 - 1e-3), atol=1e-7)
    assert torch.allclose(model.log_scale.detach(), torch.full((2,), -1e-2), atol=1e-7)
    assert len(parameter_groups(_Scaled(), OptimConfig())) == 1  # factor 1: one group, as before


def test_resume_into_other_groups_keeps_each_parameters_moments():
    """A one-group AdamW state (an older run) loads into the two-group optimiser: moments follow parameters."""
    model = _Scaled()
    old = _adam_step(model, OptimConfig(lr=1e-3))
    new = torch.optim.AdamW(parameter_groups(model, OptimConfig(lr=1e-3, scale_lr_factor=10.0)))
    _load_optimizer(new, old.state_dict(), model)
    for p in (model.weight, model.log_scale):
        assert torch.equal(new.state[p]["exp_avg"], old.state[p]["exp_avg"])
        assert torch.equal(new.state[p]["exp_avg_sq"], old.state[p]["exp_avg_sq"])
    assert [g["lr_factor"] for g in new.param_groups] == [1.0, 10.0]
