"""Unit tests of the dashboard's state and views, without a browser and without trained models.

A small fake pipeline (same method signatures as ``seaice_ldm.pipeline.Pipeline``) stands in for the
models, so these tests run in a second on any machine.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pn = pytest.importorskip("panel")
hv = pytest.importorskip("holoviews")

from dashboard import state as state_mod  # noqa: E402
from dashboard import views  # noqa: E402
from dashboard.state import DashboardState  # noqa: E402
from seaice_ldm.data.grid import GRIDS, Grid  # noqa: E402


class FakeDevice:
    type = "cpu"

    def __str__(self) -> str:
        return "cpu"


class FakePipeline:
    """Deterministic stand-in for ``Pipeline``: fields from the seed, Gaussian = unclipped, callbacks per step."""

    def __init__(self, grid: Grid | None = None, reference: bool = True, data_space: bool = True,
                 delay: float = 0.0):
        self.grid = grid or Grid("custom", 32, 32, 200_000.0)
        self.device = FakeDevice()
        self.synthetic = True
        xx, yy = np.meshgrid(self.grid.x, self.grid.y)
        self._r = np.hypot(xx, yy) / np.abs(self.grid.x).max()
        self.ocean = self._r < 0.85
        self.ocean[: self.grid.ny // 6, : self.grid.nx // 3] = False  # a "continent"
        self.available = [("latent", "censored"), ("latent", "gaussian")] + ([("data", "censored")] if data_space else [])
        self.delay = delay
        self.calls: list[tuple] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        self.reference = self._reference() if reference else None

    def coords(self):
        coords = dict(self.grid.coords(land=~self.ocean))
        return coords

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
        times = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-21"))
        return self._dataset(fields, ("time", "y", "x"), {"time": times}, {"title": "reference (synthetic)"})

    def sample_decoders(self, space, decoders=("censored", "gaussian"), members=8, steps=10, sampler="dpmpp2m",
                        seed=0, batch_size=None, callback=None):
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.calls.append((space, tuple(decoders), members, steps, sampler, seed))
        try:
            start = time.perf_counter()
            for i in range(steps):
                if self.delay:
                    time.sleep(self.delay)
                if callback is not None:
                    callback({"batch": 0, "batches": 1, "i": i, "n": steps})
            out = {}
            for decoder in decoders:
                fields = self._fields(seed + (0 if space == "latent" else 1), members, unclipped=decoder == "gaussian")
                out[decoder] = self._dataset(fields, ("member", "y", "x"), {"member": np.arange(members)}, {
                    "space": space, "decoder": decoder, "sampler": sampler, "steps": steps, "seed": seed,
                    "device": "cpu", "seconds": time.perf_counter() - start, "title": "fake (synthetic)"})
            return out
        finally:
            with self._lock:
                self.active -= 1


@pytest.fixture
def pipe():
    return FakePipeline()


def _sampled(state: DashboardState, **request) -> DashboardState:
    state.param.update(**request)
    assert state.sample()
    state.wait(30)
    assert not state.running, state.status
    return state


# ----------------------------------------------------------------------------------------- state
def test_defaults_and_ready_status(pipe):
    s = DashboardState(pipe)
    assert (s.members, s.steps, s.sampler, s.seed) == (8, 10, "dpmpp2m", 0)  # from the benchmark
    assert s.decoder == "censored" and s.variable == "sic" and s.view == "member"
    assert "CPU" in s.status and not s.results
    assert s.reference_date == dt.date(2020, 1, 11)  # the middle reference date
    assert s.coast.ndim == 2 and s.coast.shape[1] == 2


def test_sample_gives_both_decoders_and_data_space(pipe):
    s = _sampled(DashboardState(pipe), members=4, seed=3, steps=5, sampler="heun")
    assert set(s.results) == {"latent", "data"}
    assert set(s.results["latent"]) == {"censored", "gaussian"}
    assert set(s.results["data"]) == {"censored", "gaussian"}
    assert s.results["latent"]["censored"].sizes["member"] == 4
    assert s.progress == 100 and s.version == 1 and s.elapsed > 0
    assert "seed 3" in s.status and "heun" in s.status
    # latent decoders are sampled separately from the same seed; data space once for both
    assert pipe.calls == [("latent", ("censored",), 4, 5, "heun", 3), ("latent", ("gaussian",), 4, 5, "heun", 3),
                          ("data", ("censored", "gaussian"), 4, 5, "heun", 3)]
    assert s.param.member.bounds == (0, 3)


def test_data_space_optional(pipe):
    s = _sampled(DashboardState(pipe), members=2, include_data=False)
    assert set(s.results) == {"latent"}
    assert "not sampled" in s.panel_note("data")


def test_second_click_while_running_is_ignored():
    pipe = FakePipeline(delay=0.05)
    s = DashboardState(pipe)
    s.steps = 6
    assert s.sample()
    assert s.running
    assert not s.sample() and not s.sample()
    s.wait(30)
    assert len(pipe.calls) == 3  # one run of each model, not a pile
    assert not s.running


def test_sessions_are_independent_and_serialised():
    pipe = FakePipeline(delay=0.02)
    a, b = DashboardState(pipe), DashboardState(pipe)
    a.param.update(seed=1, members=3)
    b.param.update(seed=2, members=5)
    assert a.sample() and b.sample()
    a.wait(60)
    b.wait(60)
    assert a.results["latent"]["censored"].attrs["seed"] == 1
    assert b.results["latent"]["censored"].attrs["seed"] == 2
    assert a.results["latent"]["censored"].sizes["member"] == 3
    assert b.results["latent"]["censored"].sizes["member"] == 5
    assert pipe.max_active == 1  # one sampling at a time per process
    assert a.results is not b.results


def test_progress_reaches_page_in_steps():
    pipe = FakePipeline(delay=0.03)
    s = DashboardState(pipe)
    seen = []
    s.param.watch(lambda e: seen.append(e.new), "progress")
    s.steps = 20
    s.sample()
    s.wait(30)
    assert seen[-1] == 100
    assert len(set(seen)) >= 3 and all(0 <= p <= 100 for p in seen)


def test_error_is_reported_not_raised(pipe):
    def boom(*a, **k):
        raise RuntimeError("out of memory")

    pipe.sample_decoders = boom
    s = DashboardState(pipe)
    s.sample()
    s.wait(30)
    assert not s.running and "out of memory" in s.error and "failed" in s.status


def test_cancel_stops_run():
    pipe = FakePipeline(delay=0.05)
    s = DashboardState(pipe)
    s.steps = 100
    s.sample()
    time.sleep(0.1)
    s.cancel()
    s.wait(30)
    assert not s.running and s.status == "Cancelled." and not s.results


def test_decoder_toggle_isolates_decoder(pipe):
    s = _sampled(DashboardState(pipe))
    censored = s.panel_dataset("latent")
    s.decoder = "gaussian"
    gaussian = s.panel_dataset("latent")
    assert censored.attrs["decoder"] == "censored" and gaussian.attrs["decoder"] == "gaussian"
    assert len(pipe.calls) == 3  # toggling does not sample again
    t_c = views.integrals_summary(censored, "sic")
    t_g = views.integrals_summary(gaussian, "sic")
    assert t_c["outside"]["sic"] == 0.0 and t_g["outside"]["sic"] > 0.0
    assert t_c["at_bounds"]["sic"] > 0.0


def test_reference_by_date_and_nearest(pipe):
    s = _sampled(DashboardState(pipe), members=4)
    s.reference_date = dt.date(2020, 1, 3)
    assert s.reference_index == 2
    ds, text = s.reference_selection()
    assert ds.sizes["time"] == 1 and "2020-01-03" in text
    s.view = "mean"
    ds, text = s.reference_selection()
    assert ds.sizes["time"] == 4 and "nearest in time" in text
    s.reference_date = dt.date(2020, 1, 1)
    ds, _ = s.reference_selection()
    assert list(ds.time.values.astype("datetime64[D]").astype(str)) == ["2020-01-01", "2020-01-02", "2020-01-03",
                                                                       "2020-01-04"]
    s.reference_mode = "nearest"
    index = s.reference_index
    assert index == s.nearest_reference()
    assert "nearest to the latent ensemble mean" in s.panel_note("reference")
    assert s.reference_selection()[0].sizes["time"] == 4
    s.view = "member"
    assert "nearest to the latent member" in s.panel_note("reference")


def test_no_reference_and_no_data_model():
    s = DashboardState(FakePipeline(reference=False, data_space=False))
    assert s.reference_selection() is None and s.panel_dataset("reference") is None
    assert not s.can_sample("data")
    assert "no data-space model" in s.panel_note("data")
    _sampled(s, members=2)
    assert set(s.results) == {"latent"}


def test_netcdf_download_roundtrip(pipe, tmp_path):
    s = DashboardState(pipe)
    assert s.netcdf_bytes() is None
    _sampled(s, members=3, seed=7)
    data = s.netcdf_bytes().getvalue()
    assert data[:4] == b"\x89HDF"  # netCDF-4
    path = tmp_path / s.download_filename()
    path.write_bytes(data)
    assert path.name == "seaice-ldm_ensemble_3m_seed7_dpmpp2m10.nc"
    with xr.open_dataset(path) as ds:
        assert list(ds["source"].values) == ["latent_censored", "latent_gaussian", "data_censored", "data_gaussian"]
        assert ds["sic"].dims == ("source", "member", "y", "x")
        assert ds.attrs["seed"] == 7 and ds.attrs["synthetic"] == "yes"
        assert ds["sic"].attrs["grid_mapping"] == "crs"


# ----------------------------------------------------------------------------------------- views
def test_view_fields(pipe):
    s = _sampled(DashboardState(pipe), members=4)
    ds = s.panel_dataset("latent")
    member = views.view_field(ds, "sic", "member", 2)
    np.testing.assert_array_equal(member, ds["sic"].isel(member=2).values)
    mean = views.view_field(ds, "sic", "mean")
    np.testing.assert_allclose(mean, ds["sic"].mean("member").values, rtol=1e-6)
    spread = views.view_field(ds, "sit", "spread")
    assert np.nanmin(spread) >= 0
    prob = views.view_field(ds, "sit", "prob")
    assert np.nanmin(prob) >= 0 and np.nanmax(prob) <= 1
    assert np.all(np.isnan(prob[~pipe.ocean]))
    speed = views.view_field(ds, "speed", "member", 0)
    np.testing.assert_allclose(speed, np.hypot(ds["siu"][0], ds["siv"][0]), rtol=1e-6)


def test_styles_fixed_ranges_and_bound_colours():
    sic = views.style_for("sic", "member")
    assert sic.clim == (0.0, 1.0) and sic.low_colour == views.BELOW_COLOUR and sic.high_colour == views.ABOVE_COLOUR
    sit = views.style_for("sit", "mean")
    assert sit.low_colour == views.BELOW_COLOUR and sit.high_colour == sit.cmap[-1]  # no upper bound
    siu = views.style_for("siu", "member")
    assert siu.clim[0] < 0 < siu.clim[1] and siu.low_colour == siu.cmap[0]
    assert views.style_for("sic", "prob").clim == (0.0, 1.0)
    for v in views.DISPLAY_VARIABLES:
        assert len(views.style_for(v, "member").cmap) == 256


def test_histogram_shows_mass_at_bounds():
    v = np.array([0.0] * 50 + [1.0] * 30 + [0.5] * 20 + [-0.05] * 5)
    h = views.histogram_data(v, "sic")
    assert h["at"]["lower"] == (0.0, 50 / 105) and h["at"]["upper"] == (1.0, 30 / 105)
    assert 0.0 in np.round(h["edges"], 12) and 1.0 in np.round(h["edges"], 12)
    assert h["edges"][0] < 0 and h["edges"][-1] > 1
    assert np.isclose(h["share"].sum(), 25 / 105)


def test_vector_angles_are_grid_angles():
    x = y = np.arange(12) * 1.0
    u = np.zeros((12, 12))
    v = np.ones((12, 12))
    xs, ys, angle, mag = views.vector_data(u, v, x, y, every=4)
    assert len(xs) == 9
    np.testing.assert_allclose(angle, np.pi / 2)
    np.testing.assert_allclose(mag, 1.0)


def test_contours_and_coastline_are_single_paths():
    x = y = np.linspace(-1, 1, 40)
    xx, yy = np.meshgrid(x, y)
    sic = 1 - np.hypot(xx, yy)
    lines = views.contour_lines(sic, x, y, 0.15)
    assert lines.shape[1] == 2 and len(lines) > 10
    np.testing.assert_allclose(np.hypot(*lines[np.isfinite(lines[:, 0])].T), 0.85, atol=0.02)
    assert views.contour_lines(np.full((40, 40), np.nan), x, y, 0.15).shape == (0, 2)


def test_panel_views_render_with_bokeh(pipe):
    s = DashboardState(pipe)
    renderer = hv.renderer("bokeh")
    # before sampling: placeholders, not errors
    for panel in ("latent", "data", "reference"):
        renderer.get_plot(views.panel_map(s, panel))
        renderer.get_plot(views.panel_histogram(s, panel))
    _sampled(s, members=3)
    for variable in views.DISPLAY_VARIABLES:
        for view in views.VIEWS:
            s.param.update(variable=variable, view=view, arrows=True)
            for panel in ("latent", "data", "reference"):
                overlay = views.panel_map(s, panel)
                assert isinstance(overlay, hv.Overlay)
                assert views.panel_table(s, panel).startswith('<div class="sl-table"')
            renderer.get_plot(overlay)
    renderer.get_plot(views.spectra_plot(s))
    renderer.get_plot(views.panel_histogram(s, "data"))


def test_table_out_of_bound_share_changes_with_decoder(pipe):
    s = _sampled(DashboardState(pipe), members=4)
    censored = views.panel_table(s, "data")
    s.decoder = "gaussian"
    gaussian = views.panel_table(s, "data")
    assert "data-oob='0.0'" in censored
    assert "data-oob='0.0'" not in gaussian and "Out of bounds (sic)" in gaussian


def test_real_grid_coastline_from_shipped_mask():
    grid = GRIDS["arctic50km"]
    s = DashboardState(FakePipeline(grid=grid, reference=False))
    assert np.isnan(s.coast[:, 0]).any() and np.nanmax(np.abs(s.coast)) <= np.abs(grid.x).max() + grid.dx


def test_app_builds_in_python(pipe):
    """The whole page builds and the widgets drive the state (no browser, no server)."""
    from dashboard.layout import create_app

    s = DashboardState(pipe)
    app = create_app(s)
    widgets = {getattr(w, "name", None): w for w in app.sidebar.objects}
    widgets["Members"].value = 2
    widgets["View"].value = "mean"
    assert s.members == 2 and s.view == "mean"
    button = next(w for w in app.sidebar.objects if isinstance(w, pn.widgets.Button))
    button.clicks += 1
    s.wait(30)
    assert s.results["latent"]["censored"].sizes["member"] == 2
    download = next(w for w in app.sidebar.objects if isinstance(w, pn.widgets.FileDownload))
    assert download.filename.startswith("seaice-ldm_ensemble_2m")


def test_shared_pipeline_loads_once(monkeypatch):
    loads = []

    def loader(path, device=None):
        loads.append((path, device))
        time.sleep(0.05)
        return FakePipeline()

    monkeypatch.setattr(state_mod, "_PIPELINE", None)
    threads = [threading.Thread(target=state_mod.get_pipeline, args=(loader,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1
    assert state_mod.get_pipeline(loader) is state_mod.get_pipeline(loader)
    monkeypatch.setattr(state_mod, "_PIPELINE", None)
