"""A pipeline stand-in for the browser tests: held-out states resampled to any named grid.

Used by ``fieldset_app.py``

The models are trained on the 128 x 128 grid, so to measure how the maps scale to ``arctic12km``
(512 x 512) this app serves the real page (``dashboard.layout.create_app`` and ``DashboardState``) with
a stand-in pipeline whose "ensembles" are shipped held-out reference states (synthetic), bilinearly
resampled to the grid named by ``SEAICE_TEST_GRID`` (default ``arctic12km``) and masked with that grid's
land. ``SEAICE_TEST_MEMBERS_MAX`` caps the members it holds (default 16).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scipy import ndimage  # noqa: E402

from seaice_ldm.data import VARIABLE_NAMES, get_grid, load_land_mask, make_dataset  # noqa: E402


class _Device:
    type = "cpu"

    def __str__(self) -> str:
        return "cpu"


def _fill(field: np.ndarray) -> np.ndarray:
    """NaN (land) cells take the value of the nearest finite cell, so interpolation does not spread NaN."""
    bad = ~np.isfinite(field)
    if not bad.any():
        return field
    index = ndimage.distance_transform_edt(bad, return_distances=False, return_indices=True)
    return field[tuple(index)]


def resample(states: xr.Dataset, grid) -> dict[str, np.ndarray]:
    """(time, y, x) fields of ``states`` bilinearly resampled onto ``grid`` (same extent), clipped to bounds."""
    factor = grid.nx / states.sizes["x"]
    land = load_land_mask(grid).land
    out = {}
    for name in VARIABLE_NAMES:
        values = np.asarray(states[name].values, dtype=np.float32)
        fine = np.stack([ndimage.zoom(_fill(v), factor, order=1, mode="nearest") for v in values])
        if name in ("sic", "sid"):
            fine = np.clip(fine, 0.0, 1.0)
        elif name == "sit":
            fine = np.clip(fine, 0.0, None)
        fine[:, land] = np.nan
        out[name] = fine.astype(np.float32)
    return out


class FieldSetPipeline:
    """Pipeline stand-in: 'samples' are held-out states on the chosen grid (Gaussian = small unclipped noise)."""

    def __init__(self, grid_name: str = "arctic12km", max_members: int = 16):
        self.grid = get_grid(grid_name)
        self.device = _Device()
        self.synthetic = True
        self.date_conditioned = False
        self.errors = {}
        self.generators = {}
        self.available = [("latent", "censored"), ("latent", "gaussian"), ("data", "censored")]
        self.land = load_land_mask(self.grid).land
        self.ocean = ~self.land
        with xr.open_dataset(ROOT / "checkpoints" / "reference.nc") as ref:
            ref = ref.load()
        n = min(max_members, ref.sizes["time"])
        step = max(ref.sizes["time"] // n, 1)
        chosen = ref.isel(time=slice(0, step * n, step))
        self.fields = resample(chosen, self.grid)
        self.times = chosen["time"].values
        self.reference = make_dataset(self.fields, self.grid, time=self.times, land=self.land,
                                      attrs={"title": "held-out states, resampled (synthetic)", "synthetic": "yes"})

    device_name = "cpu: held-out states resampled (test stand-in)"

    def coords(self):
        return self.grid.coords(land=self.land)

    def sample(self, request, decoders=None, callback=None, batch_size=None):
        """Like ``Pipeline.sample``: one Dataset for ``decoders=None``, else ``{decoder: Dataset}``."""
        out = self._sample(request.space, decoders or (request.decoder,), request.members, request.steps,
                           request.sampler, request.seed, callback)
        return out[request.decoder] if decoders is None else out

    def _sample(self, space, decoders, members, steps, sampler, seed, callback):
        start = time.perf_counter()
        for i in range(steps):
            if callback is not None:
                callback({"batch": 0, "batches": 1, "i": i, "n": steps})
        n = len(self.times)
        index = (np.arange(members) + seed * 3 + (0 if space == "latent" else 1)) % n
        rng = np.random.default_rng(seed + (0 if space == "latent" else 7))
        out = {}
        for decoder in decoders:
            fields = {k: v[index].copy() for k, v in self.fields.items()}
            if decoder == "gaussian":
                for k in fields:
                    fields[k] += rng.normal(0.0, 0.02, fields[k].shape).astype(np.float32)
            ds = make_dataset(fields, self.grid, member=np.arange(members), land=self.land,
                              attrs={"title": "resampled held-out states (synthetic)", "synthetic": "yes"})
            ds.attrs.update(space=space, decoder=decoder, sampler=sampler, steps=steps, seed=seed, device="cpu",
                            seconds=time.perf_counter() - start)
            out[decoder] = ds
        return out
