"""Unit tests of the dashboard's state, queue and views, without a browser and without trained models.

``FakePipeline`` stands in for the models with the *same public protocol* as
``seaice_ldm.pipeline.Pipeline`` (checked by ``test_fake_has_the_pipeline_protocol``), so these tests run
in seconds on any machine. Nothing here times anything: ordering is checked with gates (events), not sleeps.
"""

from __future__ import annotations

import datetime as dt
import inspect
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pn = pytest.importorskip("panel")
hv = pytest.importorskip("holoviews")

from dashboard import selection, worker  # noqa: E402
from dashboard import state as state_mod  # noqa: E402
from dashboard import views  # noqa: E402
from dashboard.state import DashboardState  # noqa: E402
from seaice_ldm.data.grid import GRIDS, Grid  # noqa: E402
from seaice_ldm.options import DEFAULT_MEMBERS, DEFAULT_SAMPLER, DEFAULT_STEPS, MAX_SEED  # noqa: E402


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
                 date_conditioned: bool = False, errors: dict | None = None):
        self.grid = grid or Grid("custom", 32, 32, 200_000.0)
        self.device = FakeDevice()
        self.errors = dict(errors or {})
        xx, yy = np.meshgrid(self.grid.x, self.grid.y)
        self._r = np.hypot(xx, yy) / np.abs(self.grid.x).max()
        self.ocean = self._r < 0.85
        self.ocean[: self.grid.ny // 6, : self.grid.nx // 3] = False  # a "continent"
        self.generators = {("latent", "censored"): None, ("latent", "gaussian"): None}
        if data_space:
            self.generators[("data", "censored")] = None
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

    def coords(self):
        return dict(self.grid.coords(land=~self.ocean))

    @property
    def bf16(self) -> bool:
        return False

    @property
    def device_name(self) -> str:
        return "cpu: fake"

    def generator(self, space, decoder):
        return self.generators[("data", "censored") if space == "data" else (space, decoder)]

    def sample(self, request, decoders=None, callback=None, batch_size=None):
        r = request
        out = self.sample_decoders(r.space, decoders or (r.decoder,), r.members, r.steps, r.sampler, r.seed,
                                   batch_size, callback, r.date, r.guidance, r.no_ice_rule)
        return out if decoders else out[r.decoder]

    def sample_decoders(self, space, decoders=("censored", "gaussian"), members=8, steps=10, sampler="dpmpp2m",
                        seed=0, batch_size=None, callback=None, date=None, guidance=1.0, no_ice_rule=True):
        if date is not None and not self._date_conditioned:
            raise ValueError("not date-conditioned")
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.calls.append((space, tuple(decoders), members, steps, sampler, seed, date))
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
            for decoder in decoders:
                fields = self._fields(seed + shift + (0 if space == "latent" else 1), members,
                                      unclipped=decoder == "gaussian")
                out[decoder] = self._dataset(fields, ("member", "y", "x"), {"member": np.arange(members)}, {
                    "space": space, "decoder": decoder, "sampler": sampler, "steps": steps, "seed": seed,
                    "date": {None: "all seasons", "random": "all seasons, random dates"}.get(date, date),
                    "device": "cpu", "seconds": 0.01, "title": "fake (synthetic)"})
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


@pytest.fixture
def queue():
    return worker.SamplingQueue(worker.ResultCache(8))


@pytest.fixture
def pipe():
    return FakePipeline()


def _state(pipe, queue, **params) -> DashboardState:
    return DashboardState(pipe, queue=queue, **params)


def _until(condition, what: str = "condition") -> None:
    """Wait (up to 30 s) for another thread to reach a state; no timing is asserted."""
    event = threading.Event()
    for _ in range(3000):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError(f"{what} never happened")


def _sampled(state: DashboardState, **request) -> DashboardState:
    state.param.update(**request)
    assert state.sample()
    state.wait(30)
    assert not state.running, state.status
    return state


# ----------------------------------------------------------------------------------------- protocol
def test_fake_has_the_pipeline_protocol():
    """Every public method and property of the real Pipeline exists on the fake, with the same parameters."""
    from seaice_ldm.pipeline import Pipeline

    real = {n: v for n, v in vars(Pipeline).items() if not n.startswith("_")}
    assert real, "Pipeline has no public API?"
    for name, member in real.items():
        fake = inspect.getattr_static(FakePipeline, name, None)
        assert fake is not None, f"FakePipeline lacks Pipeline.{name}"
        if isinstance(member, property):
            assert isinstance(fake, property), name
            continue
        a, b = inspect.signature(member).parameters, inspect.signature(fake).parameters
        assert [(p.name, p.kind, p.default) for p in a.values()] == [(p.name, p.kind, p.default) for p in b.values()], name
    init = [p for p in inspect.signature(Pipeline.__init__).parameters if p != "self"]
    fake = FakePipeline()
    for attribute in init:  # what the constructor stores, the fake has (reference, errors, device ...)
        if attribute not in ("generators", "precision"):
            assert hasattr(fake, attribute), attribute


# ----------------------------------------------------------------------------------------- state
def test_defaults_come_from_the_shared_options(pipe, queue):
    s = _state(pipe, queue)
    assert (s.members, s.steps, s.sampler, s.seed) == (DEFAULT_MEMBERS, DEFAULT_STEPS, DEFAULT_SAMPLER, 0)
    assert s.decoder == "censored" and s.variable == "sic" and s.view == "member"
    assert "CPU" in s.status and not s.results
    assert s.reference_date == selection.reference_dates(pipe.reference)[10]  # the middle reference date


def test_sample_gives_both_decoders_and_data_space(pipe, queue):
    s = _sampled(_state(pipe, queue), members=4, seed=3, steps=5, sampler="heun")
    assert set(s.results) == {"latent", "data"}
    assert set(s.results["latent"]) == {"censored", "gaussian"}
    assert set(s.results["data"]) == {"censored", "gaussian"}
    assert s.results["latent"]["censored"].sizes["member"] == 4
    assert s.progress == 100 and s.version == 3 and s.elapsed > 0  # one version per arriving run
    assert "seed 3" in s.status and "heun" in s.status and "all seasons" in s.status
    # latent decoders are sampled separately from the same seed, first; data space once for both, last
    assert pipe.calls == [("latent", ("censored",), 4, 5, "heun", 3, None),
                          ("latent", ("gaussian",), 4, 5, "heun", 3, None),
                          ("data", ("censored", "gaussian"), 4, 5, "heun", 3, None)]
    assert s.param.member.bounds == (0, 3)


def test_data_space_optional(pipe, queue):
    s = _sampled(_state(pipe, queue), members=2, include_data=False)
    assert set(s.results) == {"latent"}
    assert "not sampled" in s.panel_note("data")


def test_latent_panel_is_shown_while_data_space_still_samples(pipe, queue):
    """Progressive display: the data-space run never holds the latent panel back."""
    pipe.gates["data"] = threading.Event()
    s = _state(pipe, queue)
    assert s.sample()
    try:
        for _ in range(300):  # the latent runs finish; the data-space run waits at its gate
            if "gaussian" in s.results.get("latent", {}):
                break
            threading.Event().wait(0.01)
        assert set(s.results) == {"latent"} and s.running
        assert s.panel_dataset("latent") is not None and s.panel_dataset("data") is None
        assert s.panel_progress["latent"] == 100 and s.panel_progress["data"] < 100
        assert s.panel_note("data").startswith("sampling…")
        assert (s.latent_version, s.data_version) == (2, 1)  # data: emptied once by the new request
    finally:
        pipe.gates["data"].set()
    s.wait(30)
    assert set(s.results) == {"latent", "data"} and not s.running


def test_repeated_request_is_served_from_the_cache(pipe, queue):
    s = _sampled(_state(pipe, queue), members=3, seed=4)
    first = s.results["latent"]["censored"]
    assert len(pipe.calls) == 3
    other = _state(pipe, queue)  # another session asking for the same ensemble
    other.param.update(members=3, seed=4)
    redraws = []
    other.param.watch(lambda e: redraws.append(e.new), "version")
    assert other.sample() and not other.running  # answered at once, without the queue
    assert len(redraws) == 1  # every panel in one redraw
    assert len(pipe.calls) == 3 and "from the cache" in other.status
    assert other.results["latent"]["censored"] is first
    _sampled(other, seed=5)  # a new request samples again
    assert len(pipe.calls) == 6


def test_result_cache_is_bounded_lru():
    cache = worker.ResultCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3 and len(cache) == 2


def test_progress_reaches_page_in_steps(pipe, queue, monkeypatch):
    """Deterministic: besides throttled updates, the first and last step of every run always reach the page."""
    monkeypatch.setattr(state_mod, "PROGRESS_INTERVAL", 1e9)  # only the forced updates
    s = _state(pipe, queue)
    seen, panels = [], []
    s.param.watch(lambda e: seen.append(e.new), "progress")
    s.param.watch(lambda e: panels.append(dict(e.new)), "panel_progress")
    _sampled(s, steps=20)
    assert seen == [33, 67, 99, 100]  # end of each of the three runs (the start of the first is 0 already)
    assert {"latent": 100, "data": 0} in panels and panels[-1] == {"latent": 100, "data": 100}


def test_error_in_one_space_keeps_the_others(pipe, queue):
    pipe.fail.add("data")
    s = _sampled(_state(pipe, queue))
    assert set(s.results) == {"latent"}
    assert "data out of memory" in s.panel_note("data") and "Failed" in s.status
    assert s.panel_dataset("latent") is not None


def test_model_that_did_not_load_disables_only_its_panel(queue):
    pipe = FakePipeline(data_space=False, errors={("data", "censored"): "CheckpointError: ddm/ema.safetensors "
                                                                          "is truncated"})
    s = _state(pipe, queue)
    assert s.panel_note("data") == "Model not loaded: CheckpointError: ddm/ema.safetensors is truncated"
    from dashboard import maps

    hv.renderer("bokeh").get_plot(maps.MapArea(s).map_overlay("data"))  # the panel draws its message, no exception
    _sampled(s, members=2)
    assert set(s.results) == {"latent"} and s.panel_dataset("latent") is not None
    assert "Model not loaded" in s.panel_note("data")


@pytest.mark.parametrize("text", ["-5", str(2**31), "abc", "3.7", "", " ", "1e3"])
def test_invalid_seed_is_refused_with_a_message(pipe, queue, text):
    s = _state(pipe, queue)
    s.seed_input = "12"
    assert s.seed == 12 and s.input_error == ""
    s.seed_input = text
    assert s.seed == 12  # unchanged, and the page says why
    assert "Seed must be a whole number from 0 to 2147483647" in s.input_error
    assert not s.sample() and not pipe.calls and "Not sampled" in s.status
    s.seed_input = "13"
    assert s.seed == 13 and s.input_error == ""


def test_query_arguments_apply_or_are_ignored_with_a_notice(pipe, queue):
    s = _state(pipe, queue)
    auto = s.apply_query({"members": [b"16"], "seed": [b"42"], "steps": [b"5"], "sampler": [b"heun"],
                          "variable": [b"sit"], "view": [b"mean"], "date": [b"2020-03-05"],
                          "autosample": [b"0"]})
    assert auto is False and s.notices == []
    assert (s.members, s.seed, s.steps, s.sampler, s.variable, s.view) == (16, 42, 5, "heun", "sit", "mean")
    assert s.reference_date == dt.date(2020, 3, 5) and s.seed_input == "42"
    s2 = _state(pipe, queue)
    auto = s2.apply_query({"autosample": [b"\xff"], "seed": [b"-5"], "members": [b"abc"], "sampler": [b"x\xfe"],
                           "region": [b"barents"], "foo": [b"1"], "date": [b"March"]})
    assert auto is None
    assert (s2.members, s2.seed, s2.sampler) == (DEFAULT_MEMBERS, 0, DEFAULT_SAMPLER)
    text = " ".join(s2.notices)
    for word in ("autosample", "seed", "members", "sampler", "region", "foo", "date"):
        assert word in text, word


def test_date_conditioned_models_sample_for_the_reference_date(queue):
    pipe = FakePipeline(date_conditioned=True)
    s = _state(pipe, queue)
    assert s.date_supported and s.conditioned
    s.reference_date = dt.date(2020, 3, 9)
    _sampled(s, members=4)
    assert {c[-1] for c in pipe.calls} == {"2020-03-09"}
    assert s.panel_title("latent").endswith("· 2020-03-09") and s.panel_title("data").endswith("· 2020-03-09")
    s.view = "mean"  # like with like: held-out states within the season window around the date
    ref, text = s.reference_selection()
    days = selection.day_of_year_distance(selection.reference_dates(ref), dt.date(2020, 3, 9))
    assert len(days) >= 2 and days.max() <= selection.SEASON_WINDOW_DAYS and "03-09" not in text
    assert "±21 d of 03-09" in s.panel_title("reference")
    s.conditioned = False  # all seasons: every held-out state
    _sampled(s, members=4)
    assert pipe.calls[-1][-1] == "random" and s.panel_title("latent").endswith("· all seasons")
    assert s.reference_selection()[0].sizes["time"] == pipe.reference.sizes["time"]
    assert s.panel_title("reference").endswith("· all seasons")


def test_unconditional_models_sample_all_seasons(pipe, queue):
    s = _state(pipe, queue)
    assert not s.date_supported and not s.conditioned
    s.apply_query({"date": [b"2020-03-05"]})  # sets the reference date only
    _sampled(s, members=2)
    assert pipe.calls[0][-1] is None and s.panel_title("latent").endswith("· all seasons")
    assert s.panel_title("reference").endswith("· 2020-03-13")  # the held-out state nearest the date


def test_reference_by_date_and_nearest(pipe, queue):
    s = _sampled(_state(pipe, queue), members=4)
    s.reference_date = dt.date(2020, 1, 20)
    assert s.reference_index == 1  # 2020-01-19
    ds, text = s.reference_selection()
    assert ds.sizes["time"] == 1 and "2020-01-19" in text
    s.reference_mode = "nearest"
    assert s.reference_index == s.nearest_reference()
    s.view = "mean"
    assert "nearest to the latent ensemble mean" in s.panel_note("reference")
    assert s.reference_selection()[0].sizes["time"] == 4
    s.view = "member"
    assert "nearest to the latent member" in s.panel_note("reference")


def test_no_reference_and_no_data_model(queue):
    s = _state(FakePipeline(reference=False, data_space=False), queue)
    assert s.reference_selection() is None and s.panel_dataset("reference") is None
    assert not s.can_sample("data")
    assert "no data-space model" in s.panel_note("data")
    _sampled(s, members=2)
    assert set(s.results) == {"latent"}


def test_netcdf_download_roundtrip(pipe, queue, tmp_path):
    s = _state(pipe, queue)
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


# ----------------------------------------------------------------------------------------- queue
def test_queue_is_first_come_first_served_with_places(queue):
    pipe = FakePipeline()
    pipe.gates["latent"] = threading.Event()
    sessions = [_state(pipe, queue) for _ in range(4)]
    places: dict[int, list[int]] = {i: [] for i in range(4)}
    for i, s in enumerate(sessions):
        s.param.watch(lambda e, i=i: places[i].append(e.new), "queue_position")
        s.param.update(seed=10 + i, include_data=False)
        assert s.sample()
        if i == 0:
            _until(lambda: pipe.active == 1, "first job started")
    # the first holds the sampler (at its gate); the others wait, each told its place
    assert [s.queue_position for s in sessions] == [0, 1, 2, 3]
    assert all("in line" in s.status for s in sessions[1:])
    pipe.gates["latent"].set()
    for s in sessions:
        s.wait(30)
    assert [c[5] for c in pipe.calls[::2]] == [10, 11, 12, 13]  # finished in click order
    assert [owner for owner, _ in queue.started] == [s.session_id for s in sessions]
    assert places[3][:3] == [3, 2, 1]  # the last session saw its place come down
    assert pipe.max_active == 1


def test_own_new_request_replaces_the_queued_one(queue):
    pipe = FakePipeline()
    pipe.gates["latent"] = threading.Event()
    a, b, c = (_state(pipe, queue) for _ in range(3))
    for s, seed in ((a, 1), (b, 2), (c, 3)):
        s.param.update(seed=seed, include_data=False)
        s.sample()
        _until(lambda: pipe.active == 1, "first job started")
    b.seed = 22
    assert b.sample()
    assert b.queue_position == 1 and c.queue_position == 2  # b kept its place
    assert not b.sample()  # the same request again (a double click) is not queued twice
    pipe.gates["latent"].set()
    for s in (a, b, c):
        s.wait(30)
    assert [call[5] for call in pipe.calls[::2]] == [1, 22, 3]
    assert b.results["latent"]["censored"].attrs["seed"] == 22


def test_closing_a_session_cancels_its_run_within_one_step(queue):
    pipe = FakePipeline()
    s, other = _state(pipe, queue), _state(pipe, queue)
    s.param.update(steps=50, include_data=False)
    other.param.update(seed=9, include_data=False)
    pipe.on_step = lambda space, i: (i == 3 and s.on_session_destroyed(None))  # the tab closes at step 3
    s.sample()
    other.sample()
    other.wait(30)
    s.wait(30)
    steps_of_s = [i for (space, i), call in zip(pipe.steps_run, pipe.steps_run) if i < 50][:5]
    assert steps_of_s == [0, 1, 2, 3, 0]  # the step running when it closed was the last one
    assert s.status == "Cancelled." and not s.results and not s.running
    assert other.results["latent"]["censored"].attrs["seed"] == 9


def test_closing_a_session_removes_its_queued_request(queue):
    pipe = FakePipeline()
    pipe.gates["latent"] = threading.Event()
    a, b, c = (_state(pipe, queue) for _ in range(3))
    for s, seed in ((a, 1), (b, 2), (c, 3)):
        s.param.update(seed=seed, include_data=False)
        s.sample()
        _until(lambda: pipe.active == 1, "first job started")
    b.on_session_destroyed(None)
    assert c.queue_position == 1  # moved up at once
    pipe.gates["latent"].set()
    a.wait(30)
    c.wait(30)
    assert [call[5] for call in pipe.calls[::2]] == [1, 3]


def test_shared_pipeline_loads_once_with_strict_false(monkeypatch):
    loads = []

    def loader(path, device=None, precision="float32", strict=True):
        loads.append((path, device, precision, strict))
        threading.Event().wait(0.05)
        return FakePipeline()

    monkeypatch.setattr(worker, "_PIPELINE", None)
    threads = [threading.Thread(target=worker.get_pipeline, args=(loader,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and loads[0][2:] == (worker.PRECISION, False)
    assert worker.get_pipeline(loader) is worker.get_pipeline(loader)
    monkeypatch.setattr(worker, "_PIPELINE", None)


def test_parse_int_and_queue_text():
    assert selection.parse_int(" 7 ", "Seed", 0, MAX_SEED) == (7, "")
    for bad in ("", "abc", "3.7", "-1", str(MAX_SEED + 1), True):
        assert selection.parse_int(bad, "Seed", 0, MAX_SEED)[0] is None
    assert selection.queue_text(2, 8.6) == "Queued: 2nd in line, about 9 s before yours starts"
    assert [selection.ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st"]


# ----------------------------------------------------------------------------------------- views
def test_view_fields(pipe, queue):
    s = _sampled(_state(pipe, queue), members=4)
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


def test_panel_views_render_with_bokeh(pipe, queue):
    from dashboard import maps

    s = _state(pipe, queue)
    area = maps.MapArea(s)
    renderer = hv.renderer("bokeh")
    # before sampling: placeholders, not errors
    for panel in ("latent", "data", "reference"):
        renderer.get_plot(area.map_overlay(panel))
        renderer.get_plot(views.panel_histogram(s, panel))
    _sampled(s, members=3)
    for variable in views.DISPLAY_VARIABLES:
        for view in views.VIEWS:
            s.param.update(variable=variable, view=view, arrows=True)
            for panel in ("latent", "data", "reference"):
                overlay = area.map_overlay(panel)
                assert isinstance(overlay, hv.Overlay)
                assert views.panel_table(s, panel).startswith('<div class="sl-table"')
            renderer.get_plot(overlay)
    renderer.get_plot(views.spectra_plot(s))
    renderer.get_plot(views.panel_histogram(s, "data"))


def test_table_bound_shares_match_an_independent_count(pipe, queue):
    """The table's out-of-bound and at-bound shares are those of the shown data, counted here by hand."""
    s = _sampled(_state(pipe, queue), members=4)
    for decoder in ("censored", "gaussian"):
        s.decoder = decoder
        ds = s.panel_dataset("data")
        sic = ds["sic"].values[:, pipe.ocean]
        outside = float(np.mean((sic < 0) | (sic > 1)))
        at = float(np.mean((sic == 0) | (sic == 1)))
        summary = views.integrals_summary(ds, "sic")
        assert summary["outside"]["sic"] == pytest.approx(outside)
        assert summary["at_bounds"]["sic"] == pytest.approx(at)
        table = views.panel_table(s, "data")
        assert f"data-oob='{outside}'" in table or f'data-oob="{outside}"' in table or outside == 0.0
    assert outside > 0.01  # the Gaussian panel really has values outside, so the check above is not vacuous


def test_app_builds_in_python(pipe, queue):
    """The whole page builds and the widgets drive the state (no browser, no server)."""
    from dashboard.layout import create_app

    s = _state(pipe, queue)
    app = create_app(s)
    widgets = {getattr(w, "name", None): w for w in app.sidebar.objects}
    widgets["Members"].value = 2
    widgets["View"].value = "mean"
    assert s.members == 2 and s.view == "mean"
    widgets["Seed"].value = "abc"
    assert s.input_error and widgets["Seed"].value == "abc"
    button = next(w for w in app.sidebar.objects if isinstance(w, pn.widgets.Button))
    assert button.disabled  # an invalid seed turns Sample off
    widgets["Seed"].value = "5"
    assert not button.disabled and s.seed == 5
    assert widgets["Season"].disabled  # the fake is not date-conditioned
    button.clicks += 1
    s.wait(30)
    assert s.results["latent"]["censored"].sizes["member"] == 2
    download = next(w for w in app.sidebar.objects if isinstance(w, pn.widgets.FileDownload))
    assert download.filename.startswith("seaice-ldm_ensemble_2m_seed5")


def test_region_moves_the_shared_map_ranges_and_a_zoom_survives_a_variable_change(queue):
    """Region choice sets the three maps' (shared) Bokeh ranges to the library's box; a user zoom is kept
    when the variable changes, and choosing the region again goes back to its box."""
    from dashboard import layout, maps  # noqa: F401  (layout loads the Bokeh extension, as the app does)
    from seaice_ldm.data.regions import region_box

    grid = GRIDS["arctic50km"]
    s = _sampled(_state(FakePipeline(grid=grid), queue), members=2)
    column = maps.map_area(s)
    area = column.map_area
    figures = column.objects[1].objects[0].object
    plot = hv.renderer("bokeh").get_plot(figures)
    overlays = [list(sub.subplots.values())[0] for sub in plot.subplots.values()]

    def ranges():
        got = {(o.handles["x_range"].start, o.handles["x_range"].end, o.handles["y_range"].start,
                o.handles["y_range"].end) for o in overlays}
        assert len(got) == 1, got  # shared by the three maps
        return got.pop()

    pan = region_box("Pan-Arctic", grid.x, grid.y, grid.crs)
    assert ranges() == pytest.approx(pan)
    for dmap in figures:  # the browser reports its first ranges; the streams keep them until the user moves
        dmap.event(x_range=pan[:2], y_range=pan[2:])
    area.settings.region = "Fram Strait"
    fram = region_box("Fram Strait", grid.x, grid.y, grid.crs)
    assert ranges() == pytest.approx(fram)
    s.variable = "sit"  # the streams still hold the Pan-Arctic ranges: not a user zoom, the region stays
    assert ranges() == pytest.approx(fram)
    # a user zoom on one map (the browser moves the shared ranges, that map's RangeXY reports them), then a
    # variable change: the zoom stays on all three
    zoom = (fram[0] + 50e3, fram[1] - 50e3, fram[2] + 50e3, fram[3] - 50e3)
    overlays[0].handles["x_range"].update(start=zoom[0], end=zoom[1])
    overlays[0].handles["y_range"].update(start=zoom[2], end=zoom[3])
    figures[0].event(x_range=zoom[:2], y_range=zoom[2:])
    assert ranges() == pytest.approx(zoom)
    s.variable = "sid"
    assert ranges() == pytest.approx(zoom)
    area.settings.region = "Pan-Arctic"
    assert ranges() == pytest.approx(region_box("Pan-Arctic", grid.x, grid.y, grid.crs))


def test_map_modes_switch_between_maps_and_joint_view_once_rendered(pipe, queue):
    """On a rendered page (Bokeh models exist), the joint view replaces the maps and back, without errors."""
    from bokeh.document import Document

    from dashboard import layout, maps  # noqa: F401

    column = maps.map_area(_sampled(_state(pipe, queue), members=2))
    root = column.get_root(Document())
    maps_box, joint_box = column.objects[1], column.objects[2]

    def shown():
        return [box._models[root.ref["id"]][0].visible for box in (maps_box, joint_box)]  # the Bokeh models

    assert shown() == [True, False]
    column.map_area.settings.mode = "joint"
    assert shown() == [False, True]
    column.map_area.settings.mode = "fields"
    assert shown() == [True, False]


def test_joint_panels_are_titled_by_panel_and_sample_count(pipe, queue):
    from dashboard import layout, maps  # noqa: F401

    column = maps.map_area(_sampled(_state(pipe, queue), members=2))
    column.map_area.settings.mode = "joint"
    plot = hv.renderer("bokeh").get_plot(column.objects[2].objects[0].object)
    titles = [sub.subplots and list(sub.subplots.values())[0].state.title.text for sub in plot.subplots.values()]
    assert titles == ["Latent: 2 members", "Data space: 2 members", "Reference: 1 state"], titles


def test_each_result_redraws_only_its_own_panels_and_the_hidden_joint_view_waits(pipe, queue):
    """The data-space result redraws the data map, not the latent one; the joint view (hidden) is neither
    built nor computed until shown, then shows the current results and follows the state."""
    from dashboard import layout, maps  # noqa: F401

    from bokeh.document import Document

    s = _sampled(_state(pipe, queue), members=2)
    column = maps.map_area(s)
    area = column.map_area
    column.get_root(Document())  # a rendered page: Bokeh models exist
    assert column.objects[2].objects == []  # the joint view is built the first time it is shown
    drawn, joint = [], []
    draw, points = area.map_overlay, area.joint_points

    def counting_draw(panel, **kw):
        drawn.append(panel)
        return draw(panel, **kw)

    def counting_points(panel):
        joint.append(panel)
        return points(panel)

    area.map_overlay, area.joint_points = counting_draw, counting_points
    pipe.gates["data"] = threading.Event()
    s.seed_input = "77"
    assert s.sample()
    try:  # the worker reaches the data run's gate once the latent results are shown (no server: in its thread)
        _until(lambda: any(call[0] == "data" and call[5] == 77 for call in pipe.calls), "the data-space run")
        first = list(drawn)
        assert "latent" in first and "data" in first  # a new request empties the data panel at once
    finally:
        pipe.gates["data"].set()
    s.wait(30)
    assert sorted(drawn[len(first):]) == ["data", "reference"], drawn  # not the latent map
    assert joint == []  # hidden: nothing computed
    area.settings.mode = "joint"
    assert sorted(set(joint)) == ["data", "latent", "reference"]
    n = len(joint)
    s.decoder = "gaussian"
    assert len(joint) > n  # shown: follows the state


def test_a_new_page_draws_each_map_once(pipe, queue):
    """HoloViews re-triggers a new plot's range stream after the first draw; the maps skip that second draw
    (it cost a quarter of a page's build time), and the text and contour lines are one glyph each."""
    from dashboard import layout, maps  # noqa: F401

    from bokeh.document import Document
    from bokeh.models import GlyphRenderer

    s = _sampled(_state(pipe, queue), members=2)
    column = maps.map_area(s)
    area = column.map_area
    drawn = []
    draw = area.map_overlay

    def counting_draw(panel, **kw):
        drawn.append(panel)
        return draw(panel, **kw)

    area.map_overlay = counting_draw
    root = column.get_root(Document())
    assert sorted(drawn) == ["data", "latent", "reference"], drawn
    names = [r.name for r in root.select({"type": GlyphRenderer})]
    assert names.count("sl-map-text") == 3 and names.count("sl-lines") == 3, names
    s.variable = "sit"  # later changes still redraw
    assert len(drawn) == 6, drawn


def test_dashboard_spectra_do_not_see_the_coast():
    """A smooth ramp over the ocean of the real grid, land NaN: over the land-free boxes its small-scale power
    is that of the ramp alone (tiny); over the whole field (land filled) the coast's step dominates."""
    from seaice_ldm.evaluation import mean_spectrum

    grid = GRIDS["arctic50km"]
    land = DashboardState(FakePipeline(grid=grid, reference=False), queue=worker.SamplingQueue()).land
    xx, _ = np.meshgrid(grid.x, grid.y)
    ramp = np.where(land, np.nan, 0.5 + xx / (4 * np.abs(grid.x).max())).astype(np.float32)
    ds = xr.Dataset({"sic": (("member", "y", "x"), ramp[None])}, coords={"x": grid.x, "y": grid.y})
    k, boxed = views.spectrum(ds, "sic")
    k_all, whole = mean_spectrum(ds["sic"])
    small = k > k.max() / 2
    assert boxed[small].mean() < 1e-2 * whole[k_all > k_all.max() / 2].mean()  # measured: 3e-3
