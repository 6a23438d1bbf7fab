"""Sampling an ensemble (``seaice_ldm.pipeline``): per-member seeds, the guided denoiser, batches that adapt to
memory, float32 decoding, and the Datasets ``Pipeline.sample`` hands out; on tiny untrained models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tiny_models as tiny
from seaice_ldm.data import VARIABLES
from seaice_ldm.options import SampleRequest
from seaice_ldm.pipeline import Pipeline, SamplingError
from seaice_ldm.checkpoints.build import bounds_tensors
from seaice_ldm.diffusion.sdedit import sdedit
from seaice_ldm.options import REFINE_EVALUATIONS, REFINE_RHO, REFINE_SIGMA_MIN
from seaice_ldm.pipeline.generate import MemberNoise, generate, guided_denoiser, sample_batch

CHURNED_HEUN = {"churn": 20.0, "s_tmin": 0.05}  # Heun with noise added at every step: a stochastic sampler
CLOSE = {"rtol": 1e-5, "atol": 1e-4}  # the same noise; only rounding differs between batch sizes


pytestmark = pytest.mark.usefixtures("one_thread")


def _generate(gen, request, batch_size, **options):
    return generate(gen, request, tiny.mask(), batch_size=batch_size, **options)


@pytest.mark.parametrize("space", ["data", "latent"])
@pytest.mark.parametrize("sampler, options", [("dpmpp2m", {}), ("heun", CHURNED_HEUN)], ids=["dpmpp2m", "heun-churn"])
def test_the_same_seeds_give_the_same_ensemble_at_batch_sizes_1_3_and_8(space, sampler, options):
    gen = tiny.data_generator() if space == "data" else tiny.latent_generator()
    request = SampleRequest(space, members=8, steps=4, sampler=sampler, seed=11)
    one, three, eight = (_generate(gen, request, b, **options) for b in (1, 3, 8))
    torch.testing.assert_close(three, one, **CLOSE)
    torch.testing.assert_close(eight, one, **CLOSE)
    other = _generate(gen, SampleRequest(space, members=8, steps=4, sampler=sampler, seed=12), 8, **options)
    assert (other - one).abs().amax() > 0.1  # another seed, another ensemble
    if options:  # the churn noise is really drawn per member: a deterministic run differs
        assert (_generate(gen, request, 8) - one).abs().amax() > 1e-3


def test_each_member_has_its_own_seed():
    """The first members of a larger ensemble are the smaller ensemble; no two members share noise."""
    gen = tiny.data_generator()
    five = _generate(gen, SampleRequest("data", members=5, steps=3, seed=4), 5)
    eight = _generate(gen, SampleRequest("data", members=8, steps=3, seed=4), 8)
    torch.testing.assert_close(eight[:5], five, **CLOSE)
    seeds = SampleRequest("data", members=64, seed=4).member_seeds()
    assert len(set(seeds)) == 64 and seeds[:5] == SampleRequest("data", members=5, seed=4).member_seeds()
    noise = MemberNoise(seeds[:3], torch.device("cpu")).randn((2, 4))
    alone = MemberNoise(seeds[1:2], torch.device("cpu")).randn((2, 4))
    assert torch.equal(noise[1:2], alone)


class OutOfMemoryAbove(torch.nn.Module):
    """A denoiser that runs out of memory on batches larger than ``limit``, like a GPU would."""

    def __init__(self, inner: torch.nn.Module, limit: int) -> None:
        super().__init__()
        self.inner, self.limit, self.batches = inner, limit, []
        self.net = inner.net

    def forward(self, x, sigma, mask=None, day_of_year=None):
        if len(x) > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self.batches.append(len(x))
        return self.inner(x, sigma, mask, day_of_year)


def test_a_batch_that_runs_out_of_memory_is_halved_and_the_ensemble_is_unchanged():
    gen = tiny.data_generator()
    request = SampleRequest("data", members=8, steps=2, seed=3)
    expected = _generate(gen, request, 1)
    small = OutOfMemoryAbove(gen.diffusion.module, limit=2)
    gen.diffusion.module = small
    got = _generate(gen, request, 8)
    torch.testing.assert_close(got, expected, **CLOSE)
    assert small.batches == [2] * 2 * 4  # 8 and 4 ran out of memory: 4 batches of 2, 2 steps each
    small.limit = 0
    with pytest.raises(torch.cuda.OutOfMemoryError):  # nothing fits: the error is not swallowed
        _generate(gen, request, 8)


def test_guided_denoiser_is_classifier_free_guidance():
    """D = D_u + w (D_c - D_u), with D_c and D_u from separate calls of the network (date, date dropped)."""
    gen = tiny.data_generator(date_conditioning=True)
    precond, mask = gen.diffusion.module, tiny.mask().expand(3, -1, -1, -1)
    x, sigma = torch.randn(3, 2, 16, 16, generator=torch.Generator().manual_seed(0)), torch.full((3,), 2.0)
    days = torch.tensor([10.0, 100.0, 200.0])
    cond, uncond = precond(x, sigma, mask, days), precond(x, sigma, mask, torch.full((3,), float("nan")))
    for w in (0.0, 1.0, 2.5):
        expected = cond if w == 1.0 else uncond + w * (cond - uncond)
        torch.testing.assert_close(guided_denoiser(precond, mask, days, w)(x, sigma), expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(guided_denoiser(precond, mask, None, 2.5)(x, sigma), precond(x, sigma, mask))


def test_latents_are_decoded_in_float32_when_the_sampler_runs_in_bf16():
    gen = tiny.latent_generator()
    seen = []
    decode = gen.vae.module.decode

    def spy(z, mask):
        seen.append((z.dtype, torch.is_autocast_enabled("cpu")))
        return decode(z, mask)

    gen.vae.module.decode = spy
    request = SampleRequest("latent", members=2, steps=2)
    out = sample_batch(gen, request, MemberNoise(request.member_seeds(), torch.device("cpu")), None, tiny.mask(),
                       "bfloat16")
    assert seen == [(torch.float32, False)] and out.dtype == torch.float32


def _pipeline(precision="float32") -> Pipeline:
    generators = {g.spec.key: g for g in (tiny.latent_generator("censored"), tiny.latent_generator("gaussian", 5),
                                           tiny.data_generator())}
    return Pipeline(generators, tiny.ocean(), tiny.GRID, torch.device("cpu"), precision=precision)


def test_one_data_space_run_serves_both_decoders(monkeypatch):
    import seaice_ldm.pipeline as pipeline

    runs = []
    real = pipeline.generate
    monkeypatch.setattr(pipeline, "generate", lambda gen, *a, **k: runs.append(gen.spec.key) or real(gen, *a, **k))
    pipe = _pipeline()
    request = SampleRequest("data", members=3, steps=2, seed=1, no_ice_rule=False)
    both = pipe.sample(request, decoders=("censored", "gaussian"))
    assert runs == [("data", "censored")]
    for name in ("sit", "sic"):  # the censored point output is the Gaussian one clipped to the bounds
        var = VARIABLES[name]
        expected = np.clip(both["gaussian"][name].values, var.lower, var.upper)
        np.testing.assert_array_equal(both["censored"][name].values, expected)
    assert (both["gaussian"]["sic"].values < 0).any()  # random weights: the clip had work to do
    single = pipe.sample(request)
    np.testing.assert_array_equal(single["sic"].values, both["censored"]["sic"].values)
    latent = pipe.sample(SampleRequest("latent", members=3, steps=2, seed=1), decoders=("censored", "gaussian"))
    assert runs[2:] == [("latent", "censored"), ("latent", "gaussian")]  # a model of its own for each decoder
    assert latent["gaussian"].attrs["vae_model"] == "vae_gaussian"


def test_every_ensemble_says_how_it_was_made():
    ds = _pipeline().sample(SampleRequest("latent", "censored", members=2, steps=2, sampler="euler", seed=9))
    made = {k: ds.attrs[k] for k in ("space", "decoder", "sampler", "seed", "steps", "date", "precision")}
    assert made == {"space": "latent", "decoder": "censored", "sampler": "euler", "seed": 9, "steps": 2,
                    "date": "all seasons", "precision": "float32"}
    assert ds.attrs["device"].startswith("cpu: ") and "SeedSequence([seed, i])" in ds.attrs["seed_rule"]
    assert ds.attrs["diffusion_model"] == "ldm_censored" and ds.attrs["vae_model"] == "vae_censored"


def test_requests_that_cannot_be_served_are_refused():
    pipe = _pipeline()
    with pytest.raises(SamplingError, match="not date-conditioned"):
        pipe.sample(SampleRequest("data", members=2, steps=2, date="2008-03-15"))
    with pytest.raises(TypeError, match="SampleRequest"):
        pipe.sample({"space": "data"})
    del pipe.generators[("latent", "gaussian")]
    with pytest.raises(SamplingError, match="no trained latent-space model for the gaussian decoder"):
        pipe.sample(SampleRequest("latent", "gaussian", members=2, steps=2))


def test_a_refined_ensemble_is_the_sdedit_pass_over_each_decoded_member_with_its_own_noise():
    """Each member: the latent sample decoded, clipped to the bounds with land 0 (a training state's form), noised
    from its own generator after the sampler's draws, and denoised by the refiner; at any batch size."""
    gen, refiner, mask = tiny.latent_generator(), tiny.refiner(), tiny.mask()
    request = SampleRequest("latent", members=3, steps=2, seed=4, refine=True)
    noise = MemberNoise(request.member_seeds(), torch.device("cpu"))
    decoded = sample_batch(gen, request, noise, None, mask, "float32")
    lower, upper = (b[:, None, None] for b in bounds_tensors(tiny.STATS))
    ocean = mask.expand(3, -1, -1, -1)
    start = torch.clamp(decoded, lower, upper) * ocean
    expected = sdedit(lambda y, s: refiner.module(y, s, ocean), start, noise.randn_like(decoded), 2.5,
                      REFINE_EVALUATIONS, REFINE_SIGMA_MIN, rho=REFINE_RHO)
    for batch in (1, 3):
        got = generate(gen, request, mask, batch_size=batch, refiner=refiner)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert not torch.allclose(got, generate(gen, SampleRequest("latent", members=3, steps=2, seed=4), mask))


def test_refining_is_asked_of_the_latent_path_and_needs_a_refiner():
    pipe = _pipeline()
    with pytest.raises(SamplingError, match="this pipeline has none"):
        pipe.sample(SampleRequest("latent", members=2, steps=2, refine=True))
    with pytest.raises(ValueError, match="refine applies to the latent path"):
        SampleRequest("data", refine=True)
    pipe.refiner = tiny.refiner()
    ds = pipe.sample(SampleRequest("latent", members=2, steps=2, refine=True))
    assert ds.attrs["refiner_model"] == "refiner" and ds.attrs["source"].endswith("refined in data space")
    assert "from sigma 2.5" in ds.attrs["refiner_pass"]
    assert pipe.sample(SampleRequest("latent", members=2, steps=2)).attrs["refiner_model"] == "none"


class _FullIce(torch.nn.Module):
    """A denoiser whose every answer is concentration 1 (normalised with ``tiny.STATS``) and thickness as asked."""

    def forward(self, y: torch.Tensor, sigma: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.stack([y[:, 0], torch.full_like(y[:, 1], (1.0 - 0.5) / 0.4)], dim=1)


def test_a_refiner_that_redraws_concentration_keeps_it_where_the_given_state_has_no_thickness():
    """A hand-built edge: no thickness in the west half (sic 0.1), 2 m in the east (sic 0.6); a refiner whose
    denoiser wants full ice everywhere. The pass ends at sigma 0 on its denoiser's answer, so the east becomes
    sic 1 and the west keeps 0.1: no ice without thickness."""
    from pathlib import Path

    from seaice_ldm.checkpoints.build import TrainedModel
    from seaice_ldm.pipeline.generate import refine_batch, refiner_pass

    sit = torch.where(torch.arange(16) < 8, 0.0, 2.0).expand(16, 16)
    sic = torch.where(torch.arange(16) < 8, 0.1, 0.6).expand(16, 16)
    given = torch.stack([(sit - 1.0) / 1.0, (sic - 0.5) / 0.4])[None]  # tiny.STATS: sit 1 +- 1, sic 0.5 +- 0.4
    refiner = tiny.refiner(variables=("sic",))
    full_ice = TrainedModel(_FullIce(), refiner.meta, Path("refiner"))
    noise = MemberNoise([3], torch.device("cpu"))
    out = refine_batch(full_ice, given, noise, torch.ones(1, 1, 16, 16), "float32")
    got_sic = out[0, 1] * 0.4 + 0.5
    torch.testing.assert_close(got_sic[:, :8], torch.full((16, 8), 0.1), rtol=0, atol=1e-6)
    torch.testing.assert_close(got_sic[:, 8:], torch.full((16, 8), 1.0), rtol=0, atol=1e-6)
    torch.testing.assert_close(out[0, 0], given[0, 0], rtol=0, atol=0)
    assert "sic kept as given where there is no thickness" in refiner_pass(refiner)
    assert "kept as given" not in refiner_pass(tiny.refiner())  # a refiner of every field redraws thickness too


def test_a_refiner_of_one_variable_leaves_the_others_as_the_latent_path_gave_them():
    gen, mask = tiny.latent_generator(), tiny.mask()
    request = SampleRequest("latent", members=3, steps=2, seed=4, refine=True)
    plain = generate(gen, SampleRequest("latent", members=3, steps=2, seed=4), mask)
    refined = generate(gen, request, mask, refiner=tiny.refiner(variables=("sic",)))
    lower, upper = (b[0].item() for b in bounds_tensors(tiny.STATS))
    torch.testing.assert_close(refined[:, 0], torch.clamp(plain[:, 0], lower, upper) * mask[0, 0], rtol=0, atol=0)
    assert not torch.allclose(refined[:, 1], plain[:, 1])
