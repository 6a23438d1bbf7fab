"""FLOPs per generated state: the counter against hand counts, and the cost formula."""

import pytest
import torch

from seaice_ldm.evaluation.flops import count_flops, flop_ratio_by_grid, generation_cost, unet_flops
from seaice_ldm.models.unet import UNet, UNetConfig
from seaice_ldm.models.vae import VAE, VAEConfig
from seaice_ldm.diffusion.samplers import evaluations


def test_one_convolution_against_a_hand_count():
    conv = torch.nn.Conv2d(7, 11, kernel_size=3, padding=1)
    # 2 FLOPs per multiply-add: 2 * C_in * C_out * k * k * H * W
    assert count_flops(conv, torch.zeros(1, 7, 20, 24)) == 2 * 7 * 11 * 3 * 3 * 20 * 24


def test_attention_is_counted():
    q = torch.zeros(1, 2, 50, 16)
    # Q K^T and (softmax) V: two batched products of 2 * n * n * d each, per head
    flops = count_flops(torch.nn.functional.scaled_dot_product_attention, q, q, q)
    assert flops == 2 * (2 * 50 * 50 * 16) * 2


def test_cost_per_state_is_evaluations_times_network_plus_decoder():
    net = UNet(UNetConfig(4, 4, (8, 16), 1, (1,), date_conditioning=True))
    bound = torch.full((5,), float("inf"))
    vae = VAE(VAEConfig(latent_channels=4, channels=(8, 16)), -bound, bound)
    cost = generation_cost(net, 32, 32, "heun", 10, vae)
    assert cost.nfe == evaluations("heun", 10) == 19  # Heun: 2 per step, the last step Euler
    assert cost.network_flops == unet_flops(net, 16, 16)
    assert cost.total == 19 * cost.network_flops + cost.decoder_flops
    assert generation_cost(net, 32, 32, "heun", 10, vae, guidance=True).network_flops == 2 * cost.network_flops


def test_ratio_by_grid_grows_with_the_grid_only_through_attention():
    lat = UNetConfig(4, 4, (8, 16), 1, (1,))
    dat = UNetConfig(5, 5, (8, 8, 16), 1, (2,))
    vae = VAEConfig(latent_channels=4, channels=(8, 16))
    table = flop_ratio_by_grid(lat, dat, vae, {"small": (32, 32), "large": (64, 64)}, "dpmpp2m", 10)
    # convolutions scale with the number of cells (4x from 32 to 64), attention with its square (16x)
    for key in ("data_gflop", "latent_gflop"):
        assert 4.0 <= table["large"][key] / table["small"][key] < 16.0
    assert table["small"]["ratio"] == pytest.approx(table["small"]["data_gflop"] / table["small"]["latent_gflop"])


def test_the_refiners_counted_cost_is_what_its_pass_computes():
    """refiner_cost against the FLOPs counted while the pass itself runs on one state."""
    import tiny_models as tiny
    from seaice_ldm.evaluation.flops import refiner_cost
    from seaice_ldm.options import SampleRequest
    from seaice_ldm.pipeline.generate import MemberNoise, refine_batch

    refiner = tiny.refiner()
    noise = MemberNoise(SampleRequest(members=1).member_seeds(), torch.device("cpu"))
    decoded = torch.zeros(1, 2, *tiny.GRID.shape)
    ran = count_flops(lambda: refine_batch(refiner, decoded, noise, tiny.mask(), "float32"))
    assert ran == refiner_cost(refiner.module.net, *tiny.GRID.shape) > 0
