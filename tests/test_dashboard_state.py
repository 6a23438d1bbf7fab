"""The dashboard's requests without a browser or trained models: settings, session, queue, cache, budget, cancel.

``FakePipeline`` (``tests/dashboard_fakes.py``) stands in for the models with the *same public protocol* as
``seaice_ldm.pipeline.Pipeline`` (checked here), so these tests run in seconds. Nothing is timed: ordering is
checked with gates (events), not sleeps.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

pn = pytest.importorskip("panel")

from dashboard import selection, session as session_mod, worker  # noqa: E402
from dashboard.app import App  # noqa: E402
from dashboard.config import server_config  # noqa: E402
from dashboard.sampling import SamplingQueue  # noqa: E402
from dashboard_fakes import FakePipeline  # noqa: E402
from seaice_ldm.options import DEFAULT_MEMBERS, DEFAULT_SAMPLER, DEFAULT_STEPS, SampleRequest  # noqa: E402


@pytest.fixture
def queue():
    return SamplingQueue(worker.ResultCache(8))


@pytest.fixture
def pipe():
    return FakePipeline()


def make_app(pipe, queue, budget: float = float("inf"), **settings) -> App:
    config = dataclasses.replace(server_config([], environ={}), budget_s=budget)
    app = App(pipe, config, queue)
    app.settings.param.update(**settings)
    return app


def sampled(app: App, **settings) -> App:
    app.settings.param.update(**settings)
    assert app.session.sample(), app.session.status
    app.session.wait(30)
    assert not app.session.running, app.session.status
    return app


def until(condition, what: str = "condition") -> None:
    """Wait (up to 30 s) for another thread to reach a state; no timing is asserted."""
    event = threading.Event()
    for _ in range(3000):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError(f"{what} never happened")


# ----------------------------------------------------------------------------------------- protocol
def test_fake_has_the_pipeline_protocol():
    """Every public method and property of the real Pipeline exists on the fake, with the same parameters."""
    from seaice_ldm.pipeline import Pipeline

    real = {n: v for n, v in vars(Pipeline).items() if not n.startswith("_")}
    for name, member in real.items():
        fake = inspect.getattr_static(FakePipeline, name, None)
        assert fake is not None, f"FakePipeline lacks Pipeline.{name}"
        if isinstance(member, property):
            assert isinstance(fake, property), name
            continue
        a, b = inspect.signature(member).parameters, inspect.signature(fake).parameters
        assert [(p.name, p.kind, p.default) for p in a.values()] == [(p.name, p.kind, p.default) for p in b.values()], name


def test_every_call_into_the_pipeline_is_one_function():
    """The API swap of issue 27 is one edit: only ``worker.sample_run`` calls the pipeline's sampling."""
    callers = []
    for path in sorted((ROOT / "dashboard").glob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\.sample_decoders\(|pipeline\.sample\(|pipe\.sample\(", line):
                callers.append(f"{path.name}:{n}")
    assert len(callers) == 1 and callers[0].startswith("worker.py"), callers
    assert "def sample_run" in (ROOT / "dashboard" / "worker.py").read_text()


# ----------------------------------------------------------------------------------------- requests
def test_defaults_come_from_the_shared_options(pipe, queue):
    app = make_app(pipe, queue)
    s = app.settings
    assert (s.members, s.steps, s.sampler, s.seed, s.no_ice_rule) == (DEFAULT_MEMBERS, DEFAULT_STEPS, DEFAULT_SAMPLER,
                                                                      0, True)
    assert s.decoder == "censored" and s.variable == "sic" and s.view == "member"
    assert f"Ready on {pipe.device_name}" in app.session.status and not app.store.results


def test_requests_are_sample_requests_and_key_the_cache(pipe, queue):
    """Each run is a frozen SampleRequest (the cache key and queue item); the no-ice switch flows into it."""
    app = make_app(pipe, queue, members=3, seed=4, steps=5, sampler="heun", no_ice_rule=False)
    runs = app.session.runs()
    assert all(isinstance(r.request, SampleRequest) for r in runs)
    assert [(r.space, r.request.decoder, r.decoders) for r in runs] == [
        ("latent", "censored", ("censored",)), ("latent", "gaussian", ("gaussian",)),
        ("data", "censored", ("censored", "gaussian"))]
    assert {r.request.no_ice_rule for r in runs} == {False}
    assert worker.cache_key(pipe, runs[0]) == worker.cache_key(pipe, worker.Run(runs[0].request, ("censored",)))
    sampled(app)
    assert [c[:7] for c in pipe.calls] == [("latent", ("censored",), 3, 5, "heun", 4, None),
                                           ("latent", ("gaussian",), 3, 5, "heun", 4, None),
                                           ("data", ("censored", "gaussian"), 3, 5, "heun", 4, None)]
    assert {c[7] for c in pipe.calls} == {False}
    app.settings.no_ice_rule = True  # another request: not served from the cache
    assert not app.session.serve_cached()
    assert "no_ice_rule" in app.settings.wanted()


def test_sample_gives_both_decoders_and_data_space(pipe, queue):
    app = sampled(make_app(pipe, queue), members=4, seed=3)
    assert set(app.store.results) == {"latent", "data"}
    assert set(app.store.results["latent"]) == {"censored", "gaussian"} == set(app.store.results["data"])
    assert app.store.results["latent"]["censored"].sizes["member"] == 4
    assert "seed 3" in app.session.status and app.session.elapsed > 0


def test_data_space_optional(pipe, queue):
    app = sampled(make_app(pipe, queue), members=2, include_data=False)
    assert set(app.store.results) == {"latent"}
    from dashboard import notes

    assert "not sampled" in notes.panel_state(app.session, app.store, "data")[1]


def test_latent_panel_is_shown_while_data_space_still_samples(pipe, queue):
    """Progressive display: the data-space run never holds the latent panel back; the data panel says so."""
    from dashboard import notes

    pipe.gates["data"] = threading.Event()
    app = make_app(pipe, queue)
    assert app.session.sample()
    try:
        until(lambda: "gaussian" in app.store.results.get("latent", {}), "the latent runs")
        assert set(app.store.results) == {"latent"} and app.session.running
        assert app.store.dataset("latent") is not None and app.store.dataset("data") is None
        assert app.session.progress["latent"][0] == 100 and app.session.progress["data"][0] < 100
        kind, text = notes.panel_state(app.session, app.store, "data")
        assert kind == "busy" and "press Sample" not in text
    finally:
        pipe.gates["data"].set()
    app.session.wait(30)
    assert set(app.store.results) == {"latent", "data"} and not app.session.running


def test_repeated_request_is_served_from_the_cache_in_one_redraw(pipe, queue):
    app = sampled(make_app(pipe, queue), members=3, seed=4)
    first = app.store.results["latent"]["censored"]
    other = make_app(pipe, queue, members=3, seed=4)  # another session asking for the same ensemble
    redraws = []
    other.store.param.watch(lambda e: redraws.append(e.new), "version")
    assert other.session.sample() and not other.session.running  # answered at once, without the queue
    assert len(redraws) == 1  # every panel in one redraw
    assert len(pipe.calls) == 3 and "from the cache" in other.session.status
    assert other.store.results["latent"]["censored"] is first


def test_result_cache_is_bounded_lru():
    cache = worker.ResultCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3 and len(cache) == 2


def test_status_and_progress_say_the_same_step(pipe, queue, monkeypatch):
    """Defect 10: no "99 %" beside "step 1/10"; the panel progress is the step's share of its runs."""
    monkeypatch.setattr(session_mod, "PROGRESS_INTERVAL", 0.0)
    app = make_app(pipe, queue, steps=10, include_data=False)
    seen = []
    app.session.param.watch(lambda e: seen.append((dict(e.new), app.session.status)), "progress")
    sampled(app)
    for progress, status in seen:
        for space, (percent, text) in progress.items():
            m = re.search(r"step (\d+)/(\d+) \((\d+) %\)", text)
            if m:
                step, steps, shown = map(int, m.groups())
                assert shown == round(100 * step / steps)  # the text's own share of its run
                assert percent <= 100 and (percent < 99 or step == steps)
    assert selection.progress_text("LDM (censored)", 1, 10) == "LDM (censored): step 1/10 (10 %)"


def test_first_ensemble_says_sampling_not_press_sample(pipe, queue):
    """Defect 10: while the first ensemble samples, no panel says "press Sample"."""
    from dashboard import legend, notes

    pipe.gates["latent"] = threading.Event()
    app = make_app(pipe, queue)
    assert app.session.sample()
    try:
        until(lambda: pipe.active == 1, "the first run")
        for panel in ("latent", "data"):
            assert "press Sample" not in notes.panel_state(app.session, app.store, panel)[1]
        assert "Sampling the first ensemble" in legend.run_line({}, None, True, "censored", 0)
    finally:
        pipe.gates["latent"].set()
    app.session.wait(30)


def test_error_in_one_space_keeps_the_others(pipe, queue):
    from dashboard import notes

    pipe.fail.add("data")
    app = sampled(make_app(pipe, queue))
    assert set(app.store.results) == {"latent"}
    assert "data out of memory" in notes.panel_state(app.session, app.store, "data")[1]
    assert "Failed" in app.session.status


def test_model_that_did_not_load_disables_only_its_panel(queue):
    from dashboard import notes

    pipe = FakePipeline(data_space=False, errors={("data", "censored"): "CheckpointError: ddm is truncated"})
    app = make_app(pipe, queue)
    assert notes.panel_state(app.session, app.store, "data") == ("error",
                                                                 "Model not loaded: CheckpointError: ddm is truncated")
    sampled(app, members=2)
    assert set(app.store.results) == {"latent"}


@pytest.mark.parametrize("text", ["-5", str(2**31), "abc", "3.7", "", " ", "1e3"])
def test_invalid_seed_is_refused_with_a_message(pipe, queue, text):
    app = make_app(pipe, queue)
    app.settings.seed_input = "12"
    assert app.settings.seed == 12 and app.settings.input_error == ""
    app.settings.seed_input = text
    assert app.settings.seed == 12
    assert "Seed must be a whole number from 0 to 2147483647" in app.settings.input_error
    assert not app.session.sample() and not pipe.calls and "Not sampled" in app.session.status


# ----------------------------------------------------------------------------------------- budget and estimate
def test_over_budget_request_is_refused_with_its_estimate(pipe, queue):
    """Defect 16: a request estimated above the server's budget is refused, and says how long it would take."""
    app = make_app(pipe, queue, budget=60.0, members=256, steps=200)
    seconds = queue.estimate(pipe, app.session.runs())
    assert seconds > 60  # 256 members, 200 steps at the default speed
    assert app.session.over_budget and "Over this server's budget" in app.session.estimate
    assert not app.session.sample() and not pipe.calls
    assert app.session.status.startswith("Refused: Estimate: about") and selection.duration(seconds) in \
        app.session.status
    app.settings.param.update(members=8, steps=10)
    assert not app.session.over_budget and app.session.sample()
    app.session.wait(30)


def test_estimate_comes_from_the_measured_speed(pipe, queue):
    app = make_app(pipe, queue, members=4, steps=5, include_data=False)
    run = app.session.runs()[0]
    before = queue.speed.seconds(run)
    queue.speed.record(run, 2.0)  # a measured run: 2 s for 4 members x 5 evaluations
    assert queue.speed.seconds(run) == pytest.approx(2.0) != pytest.approx(before)
    bigger = worker.Run(dataclasses.replace(run.request, members=8), run.decoders)
    assert queue.speed.seconds(bigger) == pytest.approx(4.0)
    heun = worker.Run(dataclasses.replace(run.request, sampler="heun"), run.decoders)
    assert queue.speed.seconds(heun) == pytest.approx(2.0 * 9 / 5)  # Heun: 2 evaluations per step, last one saved


# ----------------------------------------------------------------------------------------- the queue
def test_queue_is_first_come_first_served_with_places(queue):
    pipe = FakePipeline()
    pipe.gates["latent"] = threading.Event()
    apps = [make_app(pipe, queue, seed=10 + i, include_data=False) for i in range(4)]
    places: dict[int, list[int]] = {i: [] for i in range(4)}
    for i, app in enumerate(apps):
        app.session.param.watch(lambda e, i=i: places[i].append(e.new), "queue_position")
        assert app.session.sample()
        if i == 0:
            until(lambda: pipe.active == 1, "first job started")
    assert [a.session.queue_position for a in apps] == [0, 1, 2, 3]
    assert all("in line" in a.session.status for a in apps[1:])
    pipe.gates["latent"].set()
    for app in apps:
        app.session.wait(30)
    assert [c[5] for c in pipe.calls[::2]] == [10, 11, 12, 13]
    assert places[3][:3] == [3, 2, 1] and pipe.max_active == 1


def test_own_new_request_replaces_the_queued_one(queue):
    pipe = FakePipeline()
    pipe.gates["latent"] = threading.Event()
    a, b, c = (make_app(pipe, queue, seed=s, include_data=False) for s in (1, 2, 3))
    for app in (a, b, c):
        app.session.sample()
        until(lambda: pipe.active == 1, "first job started")
    b.settings.seed = 22
    assert b.session.sample()
    assert b.session.queue_position == 1 and c.session.queue_position == 2  # b kept its place
    assert not b.session.sample()  # a double click is not queued twice
    pipe.gates["latent"].set()
    for app in (a, b, c):
        app.session.wait(30)
    assert [call[5] for call in pipe.calls[::2]] == [1, 22, 3]


def test_cancel_stops_the_running_request_within_one_step(queue):
    """Defect 16: the Cancel control stops a running request at its next sampler step; the page says where."""
    pipe = FakePipeline()
    app = make_app(pipe, queue, steps=50, include_data=False)
    other = make_app(pipe, queue, seed=9, include_data=False)
    pipe.on_step = lambda space, i: (i == 3 and space == "latent" and not app.session.cancelled_at
                                     and app.session.cancel())
    app.session.sample()
    other.session.sample()
    app.session.wait(30)
    other.session.wait(30)
    asked, stopped = app.session.cancelled_at["asked_at"], app.session.cancelled_at["stopped_at"]
    assert stopped - asked <= 1 and stopped < 50
    assert app.session.status == f"Cancelled: asked after {asked} sampler steps, stopped after {stopped}."
    assert not app.store.results and not app.session.running
    assert other.store.results["latent"]["censored"].attrs["seed"] == 9  # the queue went on


def test_closing_a_session_cancels_its_run_and_its_queued_request(queue):
    pipe = FakePipeline()
    pipe.gates["latent"] = threading.Event()
    a, b, c = (make_app(pipe, queue, seed=s, include_data=False) for s in (1, 2, 3))
    for app in (a, b, c):
        app.session.sample()
        until(lambda: pipe.active == 1, "first job started")
    b.session.on_session_destroyed(None)
    assert c.session.queue_position == 1  # moved up at once
    pipe.gates["latent"].set()
    a.session.wait(30)
    c.session.wait(30)
    assert [call[5] for call in pipe.calls[::2]] == [1, 3]


def test_background_jobs_give_way_to_sessions(queue):
    """The seasonal cycle's jobs run only when no session waits, and give way at their next step."""
    pipe = FakePipeline()
    app = make_app(pipe, queue, seed=5, include_data=False)
    started, user_queued = threading.Event(), threading.Event()

    def on_step(space, i):
        if pipe.calls[-1][5] == 77 and i == 2:  # the background job holds here until a session's request waits
            started.set()
            assert user_queued.wait(30)
    pipe.on_step = on_step
    bg = worker.Job("seasonal", pipe, worker.plan(pipe.available, SampleRequest(members=2, steps=40, seed=77), False),
                    priority=worker.BACKGROUND)
    done = threading.Event()
    bg.listener = lambda kind, info: done.set() if kind == "done" else None
    queue.submit(bg)
    assert started.wait(30)
    app.session.sample()
    user_queued.set()
    app.session.wait(30)
    assert done.wait(30)  # and the background job finished afterwards
    user_call = next(i for i, c in enumerate(pipe.calls) if c[5] == 5)
    assert any(c[5] == 77 for c in pipe.calls[user_call + 1:])  # resumed after the session's request
    seeds = [s for s, _ in queue.started]
    assert seeds.count("seasonal") >= 2  # preempted once, started again


# ----------------------------------------------------------------------------------------- server settings
def test_server_settings_from_args_and_environment(tmp_path):
    env = {"SEAICE_LDM_CHECKPOINTS": str(tmp_path / "env"), "SEAICE_DASHBOARD_BUDGET_S": "30"}
    assert server_config([], environ=env).checkpoints == tmp_path / "env"
    assert server_config([], environ=env).budget_s == 30.0
    args = server_config(["--checkpoints", str(tmp_path / "arg"), "--budget", "5", "--other"], environ=env)
    assert args.checkpoints == tmp_path / "arg" and args.budget_s == 5.0  # an argument wins
    assert server_config([], environ={}).checkpoints == ROOT / "checkpoints"


def test_shared_pipeline_loads_once_with_strict_false(tmp_path):
    loads = []

    def loader(path, device=None, precision="float32", strict=True):
        loads.append((path, device, precision, strict))
        threading.Event().wait(0.05)
        return FakePipeline()

    config = server_config(["--checkpoints", str(tmp_path)], environ={})
    threads = [threading.Thread(target=worker.get_pipeline, args=(config, loader)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and loads[0] == (tmp_path, None, "auto", False)
    assert worker.get_pipeline(config, loader) is worker.get_pipeline(config, loader)


# ----------------------------------------------------------------------------------------- the refiner
def test_refining_is_asked_only_with_a_refiner_and_only_of_the_latent_runs():
    from types import SimpleNamespace

    from dashboard import notes
    from dashboard.settings import Settings

    without = Settings(date_conditioned=True, refine=True)
    assert without.base_request().refine is False and without.wanted()["refine"] is False
    with_refiner = Settings(date_conditioned=True, can_refine=True, refine=True)
    available = {("latent", "censored"), ("latent", "gaussian"), ("data", "censored")}
    runs = worker.plan(available, with_refiner.base_request())
    assert [(r.request.space, r.request.refine) for r in runs] == [("latent", True), ("latent", True), ("data", False)]
    store = SimpleNamespace(settings=with_refiner, shown={"refine": True})
    assert notes.panel_label(store, "latent") == "LDM (censored) + refiner"
    assert notes.panel_label(store, "data") == "data-space DM (censored)"
    assert selection.request_differences({"refine": True}, {"refine": False}) == ["refiner on (shown: off)"]


def test_the_refiner_box_and_badge_are_off_without_a_refiner_and_a_pipeline_with_one_turns_them_on():
    from dashboard import legend

    plain = App(FakePipeline(), server_config())
    assert plain.settings.can_refine is False
    assert "refiner" not in legend.badges_html(plain)
    pipe = FakePipeline()
    pipe.refiner = object()
    refining = App(pipe, server_config())
    assert refining.settings.can_refine is True
    assert "+ refiner (optional)</span>" in legend.badges_html(refining)  # the header names every model loaded


def test_refined_runs_are_timed_apart_from_plain_latent_runs():
    book = worker.SpeedBook()
    plain = worker.Run(SampleRequest("latent", members=4, steps=10), ("censored",))
    refined = worker.Run(SampleRequest("latent", members=4, steps=10, refine=True), ("censored",))
    before = book.seconds(plain)
    book.record(refined, 40.0)  # 1 s per member and evaluation
    assert book.seconds(plain) == before and book.seconds(refined) == 40.0
