"""End-to-end tests of the dashboard in headless Chromium (Playwright), against `panel serve dashboard`.

Every test fails on a console error, an uncaught page error or any request that does not go to the
loopback address it opened. Screenshots and ``timings.json`` (each timing beside the same run's
yardstick: ``pipeline.sample`` of 8 latent members) are kept under ``test-artifacts/browser/``.
Speeds are recorded, not asserted (the project keeps speed out of pass/fail tests): the issue's targets
(page open -> first maps <= 3 s, click -> first panel <= 2 s cached and <= yardstick + 1 s new) are read
off ``timings.json``. Only cancellation, a behaviour, is checked against the sampler's own step time.
"""

from __future__ import annotations

import io
import json
import re
import time

import numpy as np
import pytest
import xarray as xr

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
Image = pytest.importorskip("PIL.Image")

pytestmark = pytest.mark.browser

SAMPLE_TIMEOUT = 240_000  # ms: CPU shared with training; the app itself takes a few seconds
UPDATE_TIMEOUT = 60.0  # s
#: Console noise that is not an app error (headless Chromium without GPU).
NOISE = ("GPU stall due to ReadPixels",)
#: The yardstick on the machine where the issue's limits were measured (latent, 8 members, 1 thread).
ISSUE_YARDSTICK = 2.3


def scale(yardstick: float) -> float:
    return max(1.0, yardstick / ISSUE_YARDSTICK)


class PageWatch:
    """Console errors, page errors and requests that leave the loopback host, for one page."""

    def __init__(self, page, host: str = r"127\.0\.0\.1"):
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.host = host
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.errors.append(f"pageerror: {err}"))
        page.on("request", self._request)

    def _console(self, msg) -> None:
        if msg.type == "error" and not any(n in msg.text for n in NOISE):
            self.errors.append(f"console.{msg.type}: {msg.text}")

    def _request(self, request) -> None:
        url = request.url
        if not re.match(rf"^(https?|wss?)://{self.host}[:/]", url) and not url.startswith(("data:", "blob:",
                                                                                           "about:")):
            self.outside.append(url)

    def check(self) -> None:
        assert not self.errors, f"console errors: {self.errors}"
        assert not self.outside, f"requests outside the loopback host: {self.outside}"


def open_dashboard(page, url: str, autosample: bool = False, query: str = "", host: str | None = None) -> PageWatch:
    watch = PageWatch(page) if host is None else PageWatch(page, host)
    args = "&".join(a for a in ("" if autosample else "autosample=0", query) if a)
    page.goto(url + (f"?{args}" if args else ""))
    expect(page.locator(".sl-status")).to_contain_text(re.compile(r"Ready|Sampling|Queued|Done"), timeout=120_000)
    expect(page.locator(".sl-maps canvas").first).to_be_visible(timeout=60_000)
    return watch


#: Whether every map's image was drawn for the frame the browser shows it in (the first draw, before the
#: browser has reported its size, is for a default frame; the redraw at the real size follows, map by map).
DRAWN_FOR_FRAME_JS = """
() => {
  const doc = window.Bokeh.documents[0];
  const models = doc._all_models ? [...doc._all_models.values()] : [...doc.all_models];
  const maps = models.filter(m => m.renderers !== undefined && m.x_range !== undefined
                                  && m.renderers.some(r => r.name === 'sl-field'));
  return maps.length === 3 && maps.every(m => {
    const tag = m.renderers.find(r => r.name === 'sl-field').tags.find(t => t && t.drawn_for_frame);
    return tag && Math.abs(tag.drawn_for_frame[0] - m.inner_width) <= 6 && Math.abs(tag.drawn_for_frame[1] - m.inner_height) <= 6;
  });
}
"""


def wait_maps_sized(page) -> None:
    """Wait until the three maps were drawn for their frames (a change measured before that races the redraw)."""
    page.wait_for_function(DRAWN_FOR_FRAME_JS, timeout=60_000)


def status(page) -> str:
    return page.locator(".sl-status").inner_text()


def wait_done(page, seed: int | None = None, timeout: float = SAMPLE_TIMEOUT) -> str:
    pattern = r"^Done: .*" + (rf"seed {seed}\b" if seed is not None else "")
    expect(page.locator(".sl-status")).to_contain_text(re.compile(pattern), timeout=timeout)
    return status(page)


def maps_image(page) -> np.ndarray:
    png = page.locator(".sl-maps").screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def panel_diffs(a: np.ndarray, b: np.ndarray) -> list[float]:
    """Mean absolute pixel difference in each third (one map per third) of the maps pane."""
    if a.shape != b.shape:
        return [255.0] * 3
    w = a.shape[1] // 3
    return [float(np.abs(a[:, i * w:(i + 1) * w] - b[:, i * w:(i + 1) * w]).mean()) for i in range(3)]


def wait_maps_changed(page, before: np.ndarray, panels=(0, 1, 2), threshold: float = 0.3,
                      timeout: float = UPDATE_TIMEOUT, settle: float = 0.5, interval: float = 0.4) -> np.ndarray:
    """Poll until every map in ``panels`` differs from ``before``; returns the new image."""
    deadline = time.monotonic() + timeout
    while True:
        time.sleep(interval)
        after = maps_image(page)
        diffs = panel_diffs(before, after)
        if all(diffs[i] > threshold for i in panels):
            if settle:
                time.sleep(settle)  # let the last patches land
                return maps_image(page)
            return after
        if time.monotonic() > deadline:
            raise AssertionError(f"maps did not change within {timeout} s (per-panel differences {diffs})")


def click_sample(page) -> float:
    button = page.locator(".sl-sample button")
    expect(button).to_be_enabled(timeout=SAMPLE_TIMEOUT)
    start = time.monotonic()
    button.click()
    return start


def set_seed(page, seed) -> None:
    box = page.locator(".sl-seed input")
    box.fill(str(seed))
    box.press("Enter")
    expect(page.locator(".sl-status")).to_be_visible()


def untick_data(page) -> None:
    page.locator(".sl-include-data input").uncheck()


def oob(page, panel: str) -> str:
    return page.locator(f".sl-table-{panel} td[data-oob]").get_attribute("data-oob")


def sample_and_wait(page, seed: int) -> tuple[float, str]:
    set_seed(page, seed)
    start = click_sample(page)
    text = wait_done(page, seed)
    return time.monotonic() - start, text


def shot(page, artifacts, name: str) -> None:
    """A full-page screenshot for the artefacts (mouse moved off the widgets so no tooltip covers them)."""
    page.mouse.move(2, 1890)
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / name))


def record_timing(artifacts, key: str, value) -> None:
    path = artifacts / "timings.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = value
    path.write_text(json.dumps(data, indent=2))


def server_log(artifacts) -> str:
    return (artifacts / "server.log").read_text(errors="replace")


def app_errors(artifacts) -> list[str]:
    """Tracebacks in the server log that come from the app (a file of this repository) or bad input.

    Bokeh's own race when a browser closes a websocket before its session exists is not the app's.
    """
    blocks = server_log(artifacts).split("Traceback (most recent call last):")[1:]
    from conftest import ROOT

    return [b[:1500] for b in blocks if str(ROOT / "dashboard") in b or "seaice_ldm" in b
            or "UnicodeDecodeError" in b or "dashboard/main.py" in b]


# ----------------------------------------------------------------------------------------- tests
def test_page_opens_with_maps_drawn(page, dashboard_url, artifacts, yardstick):
    """The server sampled the default ensemble at start: a new page shows it at once, no Sample needed."""
    watch = PageWatch(page)
    start = time.monotonic()
    page.goto(dashboard_url)
    expect(page.locator(".sl-run")).to_contain_text("8-member ensemble", timeout=60_000)
    expect(page.locator(".sl-maps canvas").first).to_be_visible(timeout=60_000)
    page.wait_for_function("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    opened = time.monotonic() - start
    record_timing(artifacts, "page_open_to_first_maps_s", {"s": round(opened, 2), "yardstick_s": round(yardstick, 2)})
    text = wait_done(page)
    assert "8 members" in text and "seed 0" in text and "from the cache" in text
    expect(page.locator(".sl-header")).to_contain_text("SYNTHETIC")
    expect(page.locator(".sl-header")).to_contain_text(re.compile(r"Device: (cpu|cuda)"))
    shot(page, artifacts, "01_opened_with_maps.png")
    watch.check()


def _first_panel_time(page, before: np.ndarray, start: float) -> float:
    """Seconds from ``start`` until the latent map (the first third) has changed from ``before``."""
    wait_maps_changed(page, before, panels=(0,), settle=0, interval=0.05, timeout=SAMPLE_TIMEOUT / 1000)
    return time.monotonic() - start


def test_click_to_first_panel_repeated_and_new(page, dashboard_url, artifacts, yardstick):
    watch = open_dashboard(page, dashboard_url)
    expect(page.locator(".sl-run")).to_contain_text("No ensemble yet")
    wait_maps_sized(page)
    page.wait_for_timeout(800)
    empty = maps_image(page)
    # the default request: sampled when the server started, so it comes from the cache
    start = click_sample(page)
    repeated = _first_panel_time(page, empty, start)
    assert "from the cache" in wait_done(page, 0)
    page.wait_for_timeout(800)
    before = maps_image(page)
    # a new request: the latent panel is drawn before the data-space model has finished
    set_seed(page, 4242)
    start = click_sample(page)
    new = _first_panel_time(page, before, start)
    text_at_first_panel = status(page)
    wait_done(page, 4242)
    total = time.monotonic() - start
    record_timing(artifacts, "click_to_first_panel_repeated_s", {"s": round(repeated, 2),
                                                                   "yardstick_s": round(yardstick, 2)})
    record_timing(artifacts, "click_to_first_panel_new_s", {"s": round(new, 2), "yardstick_s": round(yardstick, 2),
                                                              "all_panels_done_s": round(total, 2)})
    assert not text_at_first_panel.startswith("Done"), text_at_first_panel  # progressive: more on the way
    shot(page, artifacts, "02_new_request.png")
    watch.check()


def test_four_sessions_finish_in_click_order(browser, dashboard_url, artifacts, yardstick):
    contexts = [browser.new_context(viewport={"width": 1680, "height": 1900}) for _ in range(4)]
    pages = [c.new_page() for c in contexts]
    try:
        watches = [open_dashboard(p, dashboard_url) for p in pages]
        seeds = [501, 502, 503, 504]
        for p, seed in zip(pages, seeds):
            set_seed(p, seed)
            untick_data(p)
        places: dict[int, set[str]] = {i: set() for i in range(4)}

        def see_place(i: int, text: str) -> None:
            m = re.search(r"Queued: (\d+)\w\w in line", text)
            if m:
                places[i].add(m.group(1))

        t0 = time.monotonic()
        for i, (p, seed) in enumerate(zip(pages, seeds)):
            click_sample(p)
            # the next page clicks only once the server has this click: separate websockets give no order
            # between them (a CI run under load saw a click made 300 ms later arrive first), so the order
            # the queue receives is the click order, which it must keep
            expect(p.locator(".sl-status")).to_contain_text(re.compile(rf"Queued|Sampling|seed {seed}\b"),
                                                            timeout=30_000)
            see_place(i, status(p))  # under load, an early page may be sampling before the last one clicks
        finished: dict[int, float] = {}
        deadline = time.monotonic() + SAMPLE_TIMEOUT / 1000
        while len(finished) < 4 and time.monotonic() < deadline:
            for i, p in enumerate(pages):
                if i in finished:
                    continue
                text = status(p)
                see_place(i, text)
                if text.startswith("Done") and f"seed {seeds[i]}" in text:
                    finished[i] = time.monotonic() - t0
            time.sleep(0.1)
        order = sorted(finished, key=finished.get)
        record_timing(artifacts, "four_sessions_finish_s", {"s": [round(finished.get(i, -1), 2) for i in range(4)],
                                                            "places_seen": {i: sorted(v) for i, v in places.items()},
                                                            "yardstick_s": round(yardstick, 2)})
        assert order == [0, 1, 2, 3], finished
        for i in (1, 2, 3):  # every waiting session was shown its place
            assert places[i], f"session {i} never saw its place in the queue"
        assert "3" in places[3] or "2" in places[3]
        for p, seed in zip(pages, seeds):
            expect(p.locator(".sl-run")).to_contain_text(f"seed {seed}")
        shot(pages[3], artifacts, "06_fourth_session.png")
        for w in watches:
            w.check()
    finally:
        for c in contexts:
            c.close()


def test_closing_a_tab_cancels_its_run(browser, dashboard_url, artifacts, yardstick):
    """A closed tab's 64-member run stops within one sampler step: the next session starts at once."""
    big, small = (browser.new_context(viewport={"width": 1680, "height": 1900}) for _ in range(2))
    try:
        a, b = big.new_page(), small.new_page()
        open_dashboard(a, dashboard_url, query="members=64&steps=40&seed=777&data=0")
        watch_b = open_dashboard(b, dashboard_url)
        set_seed(b, 778)
        untick_data(b)
        click_sample(a)
        expect(a.locator(".sl-status")).to_contain_text("Sampling", timeout=SAMPLE_TIMEOUT)
        a.wait_for_timeout(1000)
        click_sample(b)
        expect(b.locator(".sl-status")).to_contain_text("Queued: 1st in line", timeout=30_000)
        closed = time.monotonic()
        big.close()  # the tab goes away mid-run
        expect(b.locator(".sl-status")).to_contain_text(re.compile(r"Sampling|Done"), timeout=SAMPLE_TIMEOUT)
        started = time.monotonic() - closed
        wait_done(b, 778)
        # one step of the 64-member run: 8x the members of the yardstick, one of its 10 steps
        step = yardstick * 64 / 8 / 10
        record_timing(artifacts, "closed_tab_next_session_starts_s", {"s": round(started, 2),
                                                                       "one_step_of_closed_run_s": round(step, 2),
                                                                       "yardstick_s": round(yardstick, 2)})
        # the whole 64-member, 40-step run would take about 32 yardsticks; it stopped after at most one step
        # (plus the session close being noticed by the server and the page being told)
        assert started <= 2 * step + 3.0 * scale(yardstick), (started, step)
        log = server_log(artifacts)
        assert "on_session_destroyed" not in log or "failed" not in log, log[-2000:]
        assert "name 'state' is not defined" not in log
        watch_b.check()
    finally:
        small.close()


@pytest.mark.parametrize("value", ["-5", str(2**31), "abc", "3.7", ""])
def test_invalid_seed_is_refused_at_the_widget(page, dashboard_url, artifacts, value):
    watch = open_dashboard(page, dashboard_url)
    set_seed(page, 21)
    set_seed(page, value)
    message = page.locator(".sl-input-error")
    # 30 s: on a loaded 2-core machine the server took more than 10 s to answer the widget
    expect(message).to_contain_text("Seed must be a whole number from 0 to 2147483647", timeout=30_000)
    expect(page.locator(".sl-sample button")).to_be_disabled()
    if value == "abc":
        shot(page, artifacts, "07_invalid_seed.png")
    set_seed(page, 22)
    expect(message).to_have_count(0, timeout=10_000) if message.count() == 0 else expect(message).to_be_hidden()
    expect(page.locator(".sl-sample button")).to_be_enabled()
    assert not app_errors(artifacts)
    watch.check()


def test_link_arguments_apply_or_give_a_notice(page, dashboard_url, artifacts):
    watch = open_dashboard(page, dashboard_url, query="members=16&seed=33&steps=5&sampler=heun&variable=sit"
                                                       "&view=mean&foo=1&data=maybe")
    expect(page.locator(".sl-seed input")).to_have_value("33")
    expect(page.locator(".sl-sampler select")).to_have_value("heun")
    expect(page.locator(".sl-notice")).to_contain_text("foo")
    expect(page.locator(".sl-notice")).to_contain_text("data=")
    expect(page.locator(".sl-view select")).to_have_value("Ensemble mean")
    shot(page, artifacts, "08_link_arguments.png")
    watch.check()


@pytest.mark.parametrize("suffix", ["/", "?autosample=%ff", "/?seed=%ff%fe&members=%00"])
def test_odd_urls_give_a_working_page(page, dashboard_url, artifacts, suffix):
    watch = PageWatch(page)
    page.goto(dashboard_url + suffix)
    expect(page.locator(".sl-status")).to_contain_text(re.compile(r"Ready|Sampling|Queued|Done"), timeout=120_000)
    expect(page.locator(".sl-maps canvas").first).to_be_visible(timeout=60_000)
    expect(page.locator(".sl-header")).to_contain_text("SYNTHETIC")
    if "%ff" in suffix:
        expect(page.locator(".sl-notice")).to_be_visible()
    assert not app_errors(artifacts)
    assert "UnicodeDecodeError" not in server_log(artifacts)
    watch.check()


def test_ipv6_loopback_works(page, dashboard_url, artifacts):
    url = dashboard_url.replace("127.0.0.1", "[::1]")
    watch = PageWatch(page, host=r"\[::1\]")
    page.goto(url + "?autosample=0")
    expect(page.locator(".sl-status")).to_contain_text(re.compile(r"Ready|Done"), timeout=120_000)
    expect(page.locator(".sl-maps canvas").first).to_be_visible(timeout=60_000)
    watch.check()


def test_wheel_over_maps_scrolls_the_page(page, dashboard_url, artifacts):
    watch = open_dashboard(page, dashboard_url)
    page.set_viewport_size({"width": 1280, "height": 700})
    # the tools under the maps are laid out after the maps: until then the main area has nothing to scroll
    page.wait_for_function("() => { const m = document.querySelector('#main');"
                           " return m && m.scrollHeight > m.clientHeight + 400; }", timeout=60_000)
    box = page.locator(".sl-maps").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 6, box["y"] + box["height"] / 2)
    before = page.evaluate("() => window.scrollY + (document.scrollingElement || document.body).scrollTop")
    page.mouse.wheel(0, 400)
    page.wait_for_timeout(800)
    after = page.evaluate("() => window.scrollY + (document.scrollingElement || document.body).scrollTop")
    main = page.evaluate("() => { const m = document.querySelector('#main') || document.querySelector('main');"
                         " return m ? m.scrollTop : 0 }")
    assert after > before or main > 0, "the wheel over a map did not scroll the page"
    watch.check()


def test_decoder_toggle_changes_maps_and_out_of_bound_share(page, dashboard_url, artifacts):
    watch = open_dashboard(page, dashboard_url)
    sample_and_wait(page, 3)
    page.wait_for_timeout(800)
    censored = maps_image(page)
    oob_censored = {p: float(oob(page, p)) for p in ("latent", "data")}
    assert oob_censored == {"latent": 0.0, "data": 0.0}  # censored / clipped: never outside the bounds

    page.locator(".sl-decoder").get_by_role("button", name="Gaussian").click()
    expect(page.locator(".sl-table-data td[data-oob]")).not_to_have_attribute("data-oob", "0.0", timeout=30_000)
    gaussian = wait_maps_changed(page, censored, panels=(0, 1))
    oob_gaussian = {p: float(oob(page, p)) for p in ("latent", "data")}
    assert oob_gaussian["data"] > 0.0 and oob_gaussian["latent"] > 0.0, oob_gaussian
    expect(page.locator(".sl-run")).to_contain_text("gaussian")
    # the reference panel does not depend on the decoder
    assert panel_diffs(censored, gaussian)[2] < 0.3
    shot(page, artifacts, "03_gaussian_decoder.png")

    page.locator(".sl-decoder").get_by_role("button", name="Censored").click()
    expect(page.locator(".sl-table-data td[data-oob]")).to_have_attribute("data-oob", "0.0", timeout=30_000)
    watch.check()


def test_refine_box_refines_the_latent_panel_only(page, dashboard_url, artifacts):
    """The shipped checkpoints hold a refiner: ticking the box samples the latent path refined, and says so."""
    watch = open_dashboard(page, dashboard_url)
    box = page.locator(".sl-refine input")
    expect(box).to_be_enabled()
    box.check()
    sample_and_wait(page, 6)
    expect(page.locator(".sl-head-latent")).to_contain_text("refined in data space", timeout=SAMPLE_TIMEOUT)
    expect(page.locator(".sl-head-data")).not_to_contain_text("refined")
    shot(page, artifacts, "refined_latent.png")
    watch.check()


def test_variable_and_view_update_all_panels(page, dashboard_url, artifacts):
    watch = open_dashboard(page, dashboard_url)
    sample_and_wait(page, 4)
    page.wait_for_timeout(800)
    before = maps_image(page)

    page.locator(".sl-variable").get_by_role("button", name="sit", exact=True).click()
    after = wait_maps_changed(page, before, panels=(0, 1, 2))
    for panel in ("latent", "data", "reference"):
        expect(page.locator(f".sl-table-{panel}")).to_contain_text("Outside the bounds (sit)")
    shot(page, artifacts, "04a_variable_sit.png")

    page.locator(".sl-variable").get_by_role("button", name="speed", exact=True).click()
    after = wait_maps_changed(page, after, panels=(0, 1, 2))
    page.locator(".sl-arrows input").check()
    after = wait_maps_changed(page, after, panels=(0, 1, 2), threshold=0.1)  # thin arrows: few pixels change
    shot(page, artifacts, "04b_speed_arrows.png")

    page.locator(".sl-view select").select_option(label="Ensemble mean")
    after = wait_maps_changed(page, after, panels=(0, 1, 2))
    shot(page, artifacts, "04c_speed_mean_arrows.png")

    page.locator(".sl-arrows input").uncheck()
    page.locator(".sl-variable").get_by_role("button", name="sic", exact=True).click()
    page.locator(".sl-view select").select_option(label="Ensemble spread (std)")
    after = wait_maps_changed(page, after, panels=(0, 1, 2))
    shot(page, artifacts, "04d_sic_spread.png")

    page.locator(".sl-view select").select_option(label="P(sic > 0.15)")
    after = wait_maps_changed(page, after, panels=(0, 1, 2))
    shot(page, artifacts, "04e_probability.png")

    page.locator(".sl-view select").select_option(label="One member")
    page.locator(".sl-variable").get_by_role("button", name="sid", exact=True).click()
    after = wait_maps_changed(page, after, panels=(0, 1, 2))
    shot(page, artifacts, "04f_sid_member.png")
    watch.check()


def test_reference_choice(page, dashboard_url, artifacts):
    watch = open_dashboard(page, dashboard_url)
    if page.locator(".sl-ref-mode").count() == 0:
        pytest.skip("no reference states shipped")
    sample_and_wait(page, 2)
    page.wait_for_timeout(800)
    before = maps_image(page)
    note = page.locator(".sl-head-reference .sl-panel-state")
    first = note.inner_text()
    page.locator(".sl-ref-mode").get_by_role("button", name="Nearest to sample").click()
    expect(note).to_contain_text("nearest the latent member", timeout=30_000)
    assert note.inner_text() != first
    diffs = panel_diffs(before, maps_image(page))
    assert diffs[0] < 0.3 and diffs[1] < 0.3  # only the reference panel may change
    shot(page, artifacts, "05_reference_nearest.png")
    watch.check()


def test_download_returns_valid_netcdf(page, dashboard_url, artifacts):
    watch = open_dashboard(page, dashboard_url)
    sample_and_wait(page, 9)
    with page.expect_download(timeout=60_000) as info:
        page.locator(".sl-download").get_by_text("Download ensemble (netCDF)").click()
    download = info.value
    path = artifacts / download.suggested_filename
    download.save_as(path)
    assert path.name.startswith("seaice-ldm_ensemble_8m_seed9")
    assert path.read_bytes()[:4] == b"\x89HDF"
    with xr.open_dataset(path) as ds:
        assert ds["sic"].dims == ("source", "member", "y", "x")
        assert ds.sizes["member"] == 8
        assert "latent_censored" in list(ds["source"].values)
        assert int(ds.attrs["seed"]) == 9 and ds.attrs["synthetic"] == "yes"
        assert {"x", "y", "lat", "lon", "cell_area", "land"} <= set(ds.coords)
    watch.check()
