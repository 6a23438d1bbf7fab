"""Two training processes (DDP over gloo on the CPU): a non-finite loss on one rank ends every rank, at once
and with the same error, instead of leaving the others waiting in an all-reduce."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow  # two fresh interpreters import torch and join a process group


class NaNOnRank(torch.nn.Module):
    """A loss module whose loss becomes NaN on one rank from its ``bad_call``-th call on."""

    def __init__(self, rank: int, bad_rank: int, bad_call: int) -> None:
        super().__init__()
        self.model = torch.nn.Conv2d(2, 2, 1)
        self.rank, self.bad_rank, self.bad_call, self.calls = rank, bad_rank, bad_call, 0

    def forward(self, x, mask, day_of_year=None):
        self.calls += 1
        loss = (self.model(x) - x).square().mean()
        if self.rank == self.bad_rank and self.calls >= self.bad_call:
            loss = loss * float("nan")
        return {"loss": loss}


def _rank(rank: int, init_file: str, out: str, results) -> None:
    import torch.distributed as dist

    from seaice_ldm.training.config import OptimConfig
    from seaice_ldm.training.distributed import DistInfo
    from seaice_ldm.training.loop import TrainingData, train

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    states = torch.randn(16, 2, 8, 8, generator=torch.Generator().manual_seed(0))
    data = TrainingData(states[:12], states[12:], torch.ones(1, 1, 8, 8))
    cfg = OptimConfig(steps=40, batch_size=2, val_every=20, checkpoint_every=20, log_every=5, warmup_steps=0)
    try:
        train(NaNOnRank(rank, bad_rank=1, bad_call=3), data, cfg, out, {"kind": "test"},
              DistInfo(rank, 2, torch.device("cpu")), resume=False, progress=False)
        results.put((rank, "finished"))
    except FloatingPointError as err:
        results.put((rank, f"FloatingPointError: {err}"))
    finally:
        dist.destroy_process_group()


def test_a_non_finite_loss_on_one_rank_ends_every_rank(tmp_path):
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    out = tmp_path / "run"
    ranks = [context.Process(target=_rank, args=(r, str(tmp_path / "init"), str(out), results)) for r in (0, 1)]
    for p in ranks:
        p.start()
    for p in ranks:
        p.join(timeout=240)
    hung = [r for r, p in enumerate(ranks) if p.is_alive()]
    for p in ranks:
        if p.is_alive():
            p.kill()
    assert not hung, f"rank(s) {hung} still waiting: a hang"
    outcome = dict(results.get(timeout=5) for _ in ranks)
    for rank in (0, 1):  # the same error on both, at the first read-back after the NaN (step 5)
        assert outcome[rank].startswith("FloatingPointError: the loss became non-finite between steps 0 and 5")
        assert "over 2 rank(s)" in outcome[rank]
    assert not Path(out).exists()  # no checkpoint of NaN weights was written
