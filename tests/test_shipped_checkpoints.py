"""The checkpoints that ship in ``checkpoints/``: safe files, small enough, and samples that look like sea ice.

"Looks like sea ice" is tested against properties of the held-out reference states computed here
independently: spatially smooth fields (lag-1 autocorrelation of sic), pack ice exactly at sic = 1 and
open water exactly at 0 with a marginal ice zone between, an ice extent inside the seasonal range, and
thick ice north of Greenland and the Canadian Archipelago, thinner on the Siberian shelves.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from seaice_ldm.evaluation import ice_integrals
from seaice_ldm.options import DECODERS, SampleRequest

ROOT = Path(__file__).resolve().parents[1] / "checkpoints"
MODELS = ("vae_censored", "vae_gaussian", "ldm_censored", "ldm_gaussian", "ddm")

pytestmark = pytest.mark.skipif(not (ROOT / "ldm_censored" / "config.json").exists(), reason="no shipped checkpoints")


@pytest.fixture(scope="module")
def pipe():
    from seaice_ldm import load_pipeline

    return load_pipeline(ROOT, device="cpu")


REQUESTS = {space: SampleRequest(space, members=6, steps=10, sampler="dpmpp2m", seed=1) for space in ("latent", "data")}


@pytest.fixture(scope="module")
def samples(pipe):
    out = {}
    for space, request in REQUESTS.items():
        out.update({(space, d): ds for d, ds in pipe.sample(request, decoders=DECODERS).items()})
    return out


def uncensored_sic(pipe, space: str) -> np.ndarray:
    """The censored generator's sic before censoring (the VAE decoder's mean; the data-space model's output)
    at the ocean cells of the ``samples`` members."""
    from seaice_ldm.data import denormalise
    from seaice_ldm.pipeline.generate import generate

    gen = pipe.generator(space, "censored")
    x = generate(gen, REQUESTS[space], pipe.mask)
    stats = gen.fields_model.stats
    return denormalise(x.numpy(), stats)[:, stats.names.index("sic")][:, pipe.ocean]


def shares_at_bounds(sic: np.ndarray) -> np.ndarray:
    """Shares of ocean cells at sic = 0 (open water) and sic = 1 (pack ice)."""
    sic = sic[np.isfinite(sic)]
    return np.array([(sic == 0).mean(), (sic == 1).mean()])


def lag1_autocorrelation(field: np.ndarray) -> float:
    """Mean correlation of horizontally and vertically adjacent ocean cells of each state (time, y, x)."""
    values = []
    for f in field:
        a = f - np.nanmean(f)
        for x, y in ((a[:, 1:], a[:, :-1]), (a[1:, :], a[:-1, :])):
            ok = np.isfinite(x) & np.isfinite(y)
            values.append(np.corrcoef(x[ok], y[ok])[0, 1])
    return float(np.mean(values))


def region_mean(ds, name: str, lat_range, lon_range) -> float:
    lat, lon = ds["lat"].values, ds["lon"].values
    sel = (lat >= lat_range[0]) & (lat <= lat_range[1]) & (lon >= lon_range[0]) & (lon <= lon_range[1])
    return float(np.nanmean(ds[name].values[:, sel]))


def test_shipped_files_are_safe_and_small():
    files = [p for p in ROOT.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 40e6
    assert not [p for p in files if p.suffix in (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin")]
    for name in MODELS:
        assert {p.name for p in (ROOT / name).iterdir()} == {"config.json", "ema.safetensors", "grid.safetensors"}
    assert (ROOT / "README.md").exists() and (ROOT / "reference.nc").exists()


def test_all_models_load_and_pair(pipe):
    assert set(pipe.available) == {("latent", "censored"), ("latent", "gaussian"), ("data", "censored")}
    assert pipe.synthetic and pipe.reference is not None
    assert set(pipe.reference["time"].dt.year.values) <= {2008, 2009}  # the held-out test years


def test_reference_has_the_properties_the_sample_tests_use(pipe):
    ref = pipe.reference
    assert lag1_autocorrelation(ref["sic"].values) > 0.9
    north_of_greenland = region_mean(ref, "sit", (80, 90), (-120, -30))
    siberian_shelf = region_mean(ref, "sit", (72, 80), (90, 150))
    assert north_of_greenland > 1.5 * siberian_shelf


@pytest.mark.slow  # the samples fixture: four ensembles of the shipped models
@pytest.mark.parametrize("space", ["latent", "data"])
def test_samples_look_like_sea_ice(pipe, samples, space):
    ds = samples[(space, "censored")]
    sic = ds["sic"].values
    ocean = np.isfinite(sic)
    # physical: point masses at both bounds about as large as the reference's (0.44 and 0.33 of the ocean
    # cells), and a marginal ice zone between
    reference = shares_at_bounds(pipe.reference["sic"].values)
    assert np.all(np.abs(shares_at_bounds(sic) / reference - 1) < 0.4), (shares_at_bounds(sic), reference)
    assert ((sic[ocean] > 0.15) & (sic[ocean] < 0.8)).mean() > 0.01
    # not noise: as smooth as sea-ice fields are (white noise would give about 0)
    assert lag1_autocorrelation(sic) > 0.8
    # an extent inside the seasonal range of the synthetic Arctic (about 5 to 14 million km2)
    extent = ice_integrals(ds)["extent"].values
    assert ((extent > 3.0) & (extent < 17.0)).all(), extent
    # thickest ice north of Greenland and the Canadian Archipelago
    assert region_mean(ds, "sit", (80, 90), (-120, -30)) > region_mean(ds, "sit", (72, 80), (90, 150))


@pytest.mark.slow
@pytest.mark.parametrize("space", ["latent", "data"])
def test_the_censored_mean_lies_beyond_the_bounds_where_the_reference_is_at_them(pipe, samples, space):
    """A censored decoder learns to put its mean beyond a bound, about as often as the data sit at it; its point
    output is that mean clipped. The Gaussian decoding leaves the bounds and never sits exactly at them."""
    mean = uncensored_sic(pipe, space)
    beyond = np.array([(mean <= 0).mean(), (mean >= 1).mean()])
    reference = shares_at_bounds(pipe.reference["sic"].values)
    assert np.all(np.abs(beyond / reference - 1) < 0.4), (beyond, reference)
    assert mean.min() < -0.1 and mean.max() > 1.02  # well beyond them, not merely at them
    censored = samples[(space, "censored")]["sic"].values[:, pipe.ocean]
    np.testing.assert_allclose(censored, np.clip(mean, 0, 1), atol=1e-5)
    gaussian = samples[(space, "gaussian")]["sic"].values
    assert ((gaussian < 0) | (gaussian > 1))[np.isfinite(gaussian)].mean() > 0.001
    assert shares_at_bounds(gaussian).max() < 1e-3


@pytest.mark.parametrize("name,margin", [("ldm_censored", 2), ("ldm_gaussian", 2), ("ddm", 8)])
def test_shipped_diffusion_models_run_inside_a_ring_of_land(name, margin):
    """Half a bottleneck cell in both spaces (docs/DESIGN.md, "A ring of land"); the speckle test below rests on it."""
    meta = json.loads((ROOT / name / "config.json").read_text())
    assert meta["config"]["unet"]["margin"] == margin
    stage_1 = meta["init_from"]  # stage 2 (docs/DESIGN.md): warm-started from another run, trained without the ring
    assert stage_1["margin"] == 0 and stage_1["step"] > 0 and stage_1["run_id"] != meta["run_id"]


@pytest.mark.slow
@pytest.mark.parametrize("space", ["latent", "data"])
def test_no_specks_of_ice_in_open_water_at_the_grid_edge(pipe, samples, space):
    """The data-space model trained with plain zero padding put about 1.3 isolated specks of ice per state in
    open water within two cells of the grid's border (where the held-out states have none), so about 8 in
    these 6 members; run inside a ring of land (docs/DESIGN.md) it puts (next to) none there."""
    from seaice_ldm.evaluation.edges import grid_edge, isolated_ice_cells

    sic = samples[(space, "censored")]["sic"].values
    edge = grid_edge(sic.shape[-2:], 2)
    assert isolated_ice_cells(pipe.reference["sic"].values, open_water=True, within=edge).sum() == 0
    assert isolated_ice_cells(sic, open_water=True, within=edge).sum() <= 1


@pytest.mark.slow
def test_the_no_ice_rule_is_a_switch_that_changes_only_open_water(pipe, samples):
    """With the rule off the data-space model leaves thickness in open water (what it learnt); with it on (the
    default of ``samples``) there is none, and nothing else changes."""
    raw = pipe.sample(replace(REQUESTS["data"], no_ice_rule=False), decoders=("censored",))["censored"]
    ruled = samples[("data", "censored")]
    water = (raw["sic"] <= 0).values
    assert (raw["sit"].values[water] > 0.01).mean() > 0.002  # the model's own open water is not empty
    assert np.all(ruled["sit"].values[water] == 0) and np.all(ruled["sid"].values[water] == 0)
    ice = np.isfinite(raw["sic"].values) & ~water
    for name in ("sit", "sid", "siu", "siv", "sic"):
        np.testing.assert_array_equal(ruled[name].values[ice], raw[name].values[ice])
    assert ruled.attrs["no_ice_rule"] != "off" and raw.attrs["no_ice_rule"] == "off"
