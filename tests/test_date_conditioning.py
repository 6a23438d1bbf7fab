"""Date-conditioned denoisers: dropping the date gives the unconditional network exactly."""

import math

import torch

from seaice_ldm.diffusion.precond import EDMPrecond
from seaice_ldm.models.unet import UNet, UNetConfig, date_features


def _nets():
    torch.manual_seed(0)
    cond = UNet(UNetConfig(3, 3, (8, 16), 1, (1,), date_conditioning=True))
    plain = UNet(UNetConfig(3, 3, (8, 16), 1, (1,)))
    plain.load_state_dict({k: v for k, v in cond.state_dict().items() if not k.startswith("date_mlp")})
    for p in cond.parameters():  # the zero-initialised output layer would hide every difference
        torch.nn.init.normal_(p, std=0.2) if p.ndim > 1 else None
    plain.load_state_dict({k: v for k, v in cond.state_dict().items() if not k.startswith("date_mlp")})
    return cond, plain


def test_date_features_are_the_annual_phase_and_zero_without_a_date():
    f = date_features(torch.tensor([0.0, 365.25 / 4, float("nan")]))
    assert torch.allclose(f[0], torch.tensor([0.0, 1.0, 1.0]), atol=1e-6)
    assert torch.allclose(f[1], torch.tensor([1.0, 0.0, 1.0]), atol=1e-6)
    assert torch.equal(f[2], torch.zeros(3))


def test_dropped_date_gives_the_unconditional_network():
    cond, plain = _nets()
    x, mask = torch.randn(2, 3, 16, 16), torch.ones(1, 1, 16, 16)
    c = torch.full((2,), math.log(0.5) / 4)
    expected = plain(x, c, mask)
    assert torch.equal(cond(x, c, mask), expected)  # no date at all
    assert torch.allclose(cond(x, c, mask, torch.full((2,), float("nan"))), expected, atol=0, rtol=0)


def test_a_date_changes_the_output_and_is_periodic():
    cond, _ = _nets()
    precond = EDMPrecond(cond)
    x, mask = torch.randn(1, 3, 16, 16), torch.ones(1, 1, 16, 16)
    march, september = precond(x, 2.0, mask, torch.tensor([73.0])), precond(x, 2.0, mask, torch.tensor([256.0]))
    assert (march - september).abs().max() > 1e-3
    next_march = precond(x, 2.0, mask, torch.tensor([73.0 + 365.25]))
    assert torch.allclose(march, next_march, atol=1e-5)
