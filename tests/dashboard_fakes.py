"""A stand-in for ``seaice_ldm.pipeline.Pipeline`` with the same public protocol (checked by
``tests/test_dashboard_state.py::test_fake_has_the_pipeline_protocol``), for dashboard tests without models."""

from __future__ import annotations

import datetime as dt
import threading
from types import SimpleNamespace

import numpy as np
import xarray as xr

from seaice_ldm.data.grid import Grid


class FakeDevice:
    type = "cpu"

    def __str__(self) -> str:
        return "cpu"


class FakePipeline:
    """Deterministic stand-in for ``Pipeline``: fields from the seed (and date), Gaussian = unclipped.

    ``gates[space]`` (a threading.Event) holds a run of that space before its first step until set;
    ``on_step(space, i)`` is called before each step's callback; ``fail`` = spaces whose sampling raises.
    """

    def __init__(self, grid: Grid | None = None, reference: bool = True, data_space: bool = True,
                 date_conditioned: bool = False, errors: dict | None = None, variables: tuple | None = None):
        self.grid = grid or Grid("custom", 32, 32, 200_000.0)
        self.device = FakeDevice()
        self.errors = dict(errors or {})
        xx, yy = np.meshgrid(self.grid.x, self.grid.y)
        self._r = np.hypot(xx, yy) / np.abs(self.grid.x).max()
        self.ocean = self._r < 0.85
        self.ocean[: self.grid.ny // 6, : self.grid.nx // 3] = False  # a "continent"
        # like the real generators: each model's normalisation statistics name its variables
        self.variables = tuple(variables or ("sit", "sic", "sid", "siu", "siv"))
        model = SimpleNamespace(vae=None, diffusion=SimpleNamespace(stats=SimpleNamespace(names=self.variables)))
        self.generators = {("latent", "censored"): model, ("latent", "gaussian"): model}
        if data_space:
            self.generators[("data", "censored")] = model
        self._date_conditioned = date_conditioned
        self.calls: list[tuple] = []
        self.steps_run: list[tuple[str, int]] = []
        self.gates: dict[str, threading.Event] = {}
        self.on_step = None
        self.fail: set[str] = set()
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        self.reference = self._reference() if reference else None

    # ------------------------------------------------------------ the Pipeline protocol
    @property
    def available(self) -> list[tuple[str, str]]:
        return sorted(self.generators)

    @property
    def synthetic(self) -> bool:
        return True

    @property
    def date_conditioned(self) -> bool:
        return self._date_conditioned

    @property
    def bf16(self) -> bool:
        return False

    @property
    def device_name(self) -> str:
        return "cpu (fake)"

    def generator(self, space, decoder):
        from seaice_ldm.options import generator_for

        return self.generators[generator_for(space, decoder).key]

    def coords(self):
        return dict(self.grid.coords(land=~self.ocean))

    def sample(self, request, decoders=None, callback=None, batch_size=None):
        out = self._sample(request, decoders or (request.decoder,), callback)
        return out[request.decoder] if decoders is None else out

    def _sample(self, request, decoders, callback):
        space, members, steps, sampler, seed = (request.space, request.members, request.steps, request.sampler,
                                                request.seed)
        date, no_ice_rule = request.date, request.no_ice_rule
        if date is not None and not self._date_conditioned:
            raise ValueError("not date-conditioned")
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.calls.append((space, tuple(decoders), members, steps, sampler, seed, date, no_ice_rule))
        try:
            if space in self.gates:
                assert self.gates[space].wait(30), "gate never opened"
            if space in self.fail:
                raise RuntimeError(f"{space} out of memory")
            for i in range(steps):
                self.steps_run.append((space, i))
                if self.on_step is not None:
                    self.on_step(space, i)
                if callback is not None:
                    callback({"batch": 0, "batches": 1, "i": i, "n": steps})
            out = {}
            shift = 0 if date in (None, "random") else dt.date.fromisoformat(date).timetuple().tm_yday
            days = None
            if date == "random":  # like the pipeline: each member's day, from the seed alone
                from seaice_ldm.options import SampleRequest

                days = SampleRequest(members=members, seed=seed, date="random").days_of_year()
            for decoder in decoders:
                fields = self._fields(seed + shift + (0 if space == "latent" else 1), members,
                                      unclipped=decoder == "gaussian")
                fields = {k: v for k, v in fields.items() if k in self.variables}
                out[decoder] = self._dataset(fields, ("member", "y", "x"), {"member": np.arange(members)}, {
                    "space": space, "decoder": decoder, "sampler": sampler, "steps": steps, "seed": seed,
                    "date": {None: "all seasons", "random": "all seasons, random dates"}.get(date, date),
                    "device": "cpu", "seconds": 0.01, "title": "fake (synthetic)",
                    "no_ice_rule": "sit, sid, siu, siv set to 0 where sic <= 0" if no_ice_rule else "off"})
                if days is not None:
                    out[decoder] = out[decoder].assign_coords(day_of_year=("member", 1.0 + days))
            return out
        finally:
            with self._lock:
                self.active -= 1

    def reconstruct(self, states, decoder="censored", batch_size=32):
        return states.copy()

    # ------------------------------------------------------------ fake data
    def _fields(self, seed: int, n: int, unclipped: bool) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        noise = rng.normal(size=(n, *self.ocean.shape)).astype(np.float32)
        offset = rng.uniform(-0.15, 0.15, size=(n, 1, 1))
        sic = 1.4 - 1.6 * self._r[None] + offset + 0.15 * noise
        sit = 3.0 * sic + 0.3 * noise
        sid = 0.3 + 0.3 * noise
        siu = -0.1 * (self.grid.y[None, :, None] / 3e6) + 0.02 * noise
        siv = 0.1 * (self.grid.x[None, None, :] / 3e6) + 0.02 * noise
        out = {"sit": sit, "sic": sic, "sid": sid, "siu": siu * np.ones_like(sic), "siv": siv * np.ones_like(sic)}
        if not unclipped:
            out["sic"] = np.clip(out["sic"], 0, 1)
            out["sid"] = np.clip(out["sid"], 0, 1)
            out["sit"] = np.clip(out["sit"], 0, None)
        for v in out.values():
            v[:, ~self.ocean] = np.nan
        return {k: v.astype(np.float32) for k, v in out.items()}

    def _dataset(self, fields, dims, extra_coords, attrs):
        ds = xr.Dataset({k: (dims, v, {"units": "1"}) for k, v in fields.items()},
                        coords={**extra_coords, **self.coords()})
        ds.attrs.update(attrs)
        return ds

    def _reference(self) -> xr.Dataset:
        fields = self._fields(12345, 20, unclipped=False)
        times = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-12-31"), 18)[:20]
        return self._dataset(fields, ("time", "y", "x"), {"time": times}, {"title": "reference (synthetic)"})
