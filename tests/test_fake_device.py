"""Sampling and training on a fake GPU (``tests/fake_device.py``): every tensor must reach the device and stay
there, or the run fails as it would on a real one. First the fake itself is shown to catch a stray tensor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tiny_models as tiny
from fake_device import DEVICE, StrayCPUTensor, fake_cuda, host_tensors
from seaice_ldm.diffusion.loss import EDMLoss
from seaice_ldm.options import DECODERS, SampleRequest
from seaice_ldm.pipeline import Pipeline
from seaice_ldm.training.config import OptimConfig
from seaice_ldm.training.distributed import DistInfo
from seaice_ldm.training.loop import TrainingData, train

pytestmark = pytest.mark.usefixtures("one_thread")


class ForgetfulNorm(torch.nn.Module):
    """A layer that keeps a tensor as a plain attribute: ``.to(device)`` does not move it (a classic bug)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 2, 3, padding=1)
        self.scale = torch.ones(1, 2, 1, 1)

    def forward(self, x):
        return self.conv(x) * self.scale


def test_the_fake_device_catches_a_stray_cpu_tensor(monkeypatch):
    with fake_cuda(monkeypatch) as mode:
        x = torch.ones(3).to(DEVICE)
        assert x.device == DEVICE and x.is_cuda and torch.ones(3).device.type == "cpu"
        assert (x * torch.tensor(2.0)).device == DEVICE  # a host scalar may mix, as on CUDA
        with pytest.raises(StrayCPUTensor, match="mixes"):
            x + torch.ones(3)
        layer = ForgetfulNorm().to(DEVICE)
        assert host_tensors(mode, layer) == []  # parameters moved; the plain attribute is not one of them
        with pytest.raises(StrayCPUTensor, match="mixes"):
            layer(torch.zeros(1, 2, 4, 4, device=DEVICE))
        with pytest.raises(StrayCPUTensor, match="ran on the CPU"):
            ForgetfulNorm()(torch.zeros(1, 2, 4, 4))  # a model that never reached the device
        host = torch.ones(2)
        moved = host.to(DEVICE)
        assert moved.device == DEVICE and host.device.type == "cpu" and moved.cpu().device.type == "cpu"


def _pipeline_on_device(capability) -> Pipeline:
    generators = {g.spec.key: g for g in (tiny.latent_generator("censored"), tiny.latent_generator("gaussian", 5),
                                           tiny.data_generator(date_conditioning=True))}
    for generator in generators.values():
        for model in generator.models():
            model.module.to(DEVICE)
    return Pipeline(generators, tiny.ocean(), tiny.GRID, DEVICE, precision="auto")


def test_sampling_keeps_every_tensor_on_the_device(monkeypatch):
    with fake_cuda(monkeypatch, capability=(7, 5)) as mode:  # a T4: no native bf16, so "auto" is float32
        pipe = _pipeline_on_device((7, 5))
        assert pipe.precision == "float32"
        latent = pipe.sample(SampleRequest("latent", members=3, steps=2), decoders=DECODERS)
        data = pipe.sample(SampleRequest("data", members=3, steps=2, sampler="heun", date="2008-03-15",
                                         guidance=2.0), decoders=DECODERS, batch_size=2)
        reconstructed = pipe.reconstruct(data["censored"].rename(member="time"))
        for generator in pipe.generators.values():
            assert host_tensors(mode, *(m.module for m in generator.models())) == []
        assert mode.checked > 100  # the sampling really ran through the checks
    for ds in (*latent.values(), *data.values(), reconstructed):
        assert np.isfinite(ds["sic"].values[:, tiny.ocean()]).all()
        assert ds.attrs["device"] == "cuda:0: Fake GPU"
    assert latent["censored"].attrs["precision"] == "float32"


def _training_data() -> TrainingData:
    g = torch.Generator().manual_seed(0)
    states = torch.randn(12, 2, 16, 16, generator=g) * tiny.mask()
    return TrainingData(states[:8], states[8:], tiny.mask(), torch.arange(8.0) * 40, torch.arange(4.0) * 90)


def test_training_keeps_data_model_and_optimiser_on_the_device(monkeypatch, tmp_path):
    loss = EDMLoss(tiny.data_generator(date_conditioning=True).diffusion.module.requires_grad_(True).train(),
                   ocean_only=True, p_mean=0.0, p_std=1.0, date_dropout=0.5)
    cfg = OptimConfig(steps=2, batch_size=4, val_every=2, val_batches=1, checkpoint_every=2, log_every=1)
    moves = []
    with fake_cuda(monkeypatch, capability=(7, 5)) as mode:
        real_move = mode._move
        monkeypatch.setattr(mode, "_move", lambda name, args, kwargs: moves.append(
            (name, tuple(args[0].shape), mode.on_device(args[0]))) or real_move(name, args, kwargs))
        state = train(loss, _training_data(), cfg, tmp_path / "run", {"kind": "diffusion"},
                      DistInfo(0, 1, DEVICE), resume=False, progress=False)
        assert host_tensors(mode, loss.model) == []
        assert mode.checked > 100
    assert state.step == 2 and np.isfinite(state.history[-1]["val_loss"])
    batches = [m for m in moves if m[1][1:] == (2, 16, 16) and not m[2] and m[0] != "cpu"]
    assert len(batches) <= 2, batches  # the training and validation states went to the device once, at the start
