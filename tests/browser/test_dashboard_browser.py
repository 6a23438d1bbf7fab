"""End-to-end tests of the dashboard in headless Chromium (Playwright), against `panel serve dashboard`.

Every test fails on a console error, an uncaught page error or any request that does not go to
127.0.0.1. Screenshots are kept under ``test-artifacts/browser/`` (git-ignored).
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


class PageWatch:
    """Console errors, page errors and requests that leave 127.0.0.1, for one page."""

    def __init__(self, page):
        self.errors: list[str] = []
        self.outside: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.errors.append(f"pageerror: {err}"))
        page.on("request", self._request)

    def _console(self, msg) -> None:
        if msg.type == "error" and not any(n in msg.text for n in NOISE):
            self.errors.append(f"console.{msg.type}: {msg.text}")

    def _request(self, request) -> None:
        url = request.url
        if not re.match(r"^(https?|wss?)://127\.0\.0\.1[:/]", url) and not url.startswith(("data:", "blob:",
                                                                                            "about:")):
            self.outside.append(url)

    def check(self) -> None:
        assert not self.errors, f"console errors: {self.errors}"
        assert not self.outside, f"requests outside 127.0.0.1: {self.outside}"


def open_dashboard(page, url: str, autosample: bool = False) -> PageWatch:
    watch = PageWatch(page)
    page.goto(url + ("" if autosample else "?autosample=0"))
    expect(page.locator(".sl-status")).to_contain_text(re.compile(r"Ready|Sampling|Queued|Done"), timeout=120_000)
    expect(page.locator(".sl-maps canvas").first).to_be_visible(timeout=60_000)
    return watch


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
                      timeout: float = UPDATE_TIMEOUT) -> np.ndarray:
    """Poll until every map in ``panels`` differs from ``before``; returns the new image."""
    deadline = time.monotonic() + timeout
    while True:
        time.sleep(0.4)
        after = maps_image(page)
        diffs = panel_diffs(before, after)
        if all(diffs[i] > threshold for i in panels):
            time.sleep(0.5)  # let the last patches land
            return maps_image(page)
        if time.monotonic() > deadline:
            raise AssertionError(f"maps did not change within {timeout} s (per-panel differences {diffs})")


def click_sample(page) -> float:
    button = page.locator(".sl-sample button")
    expect(button).to_be_enabled(timeout=SAMPLE_TIMEOUT)
    start = time.monotonic()
    button.click()
    return start


def set_seed(page, seed: int) -> None:
    box = page.locator(".sl-seed input")
    box.fill(str(seed))
    box.press("Enter")
    expect(page.locator(".sl-status")).to_be_visible()


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


# ----------------------------------------------------------------------------------------- tests
def test_page_loads_offline_and_ready(page, dashboard_url, artifacts):
    start = time.monotonic()
    watch = open_dashboard(page, dashboard_url, autosample=True)
    ready = time.monotonic() - start
    header = page.locator(".sl-header")
    expect(header).to_contain_text("SYNTHETIC")
    expect(header).to_contain_text(re.compile(r"Device: (CPU|CUDA)"))
    expect(page.locator(".sl-run")).to_be_visible()
    # the page samples a first ensemble by itself, off the event loop
    text = wait_done(page)
    record_timing(artifacts, "page_ready_s", round(ready, 2))
    record_timing(artifacts, "first_ensemble_done_s", round(time.monotonic() - start, 2))
    assert "8 members" in text and "seed 0" in text and "dpmpp2m" in text and "10 steps" in text
    page.wait_for_timeout(1500)
    shot(page, artifacts, "01_loaded_autosample.png")
    watch.check()


def test_sample_draws_new_maps(page, dashboard_url, artifacts):
    watch = open_dashboard(page, dashboard_url)
    expect(page.locator(".sl-run")).to_contain_text("No ensemble yet")
    page.wait_for_timeout(1000)
    shot(page, artifacts, "02a_before_sampling.png")
    empty = maps_image(page)

    set_seed(page, 5)
    start = click_sample(page)
    # while it runs: a progress bar, and the button is disabled (a second click starts nothing)
    expect(page.locator("progress.sl-progress")).to_be_visible(timeout=10_000)
    expect(page.locator(".sl-sample button")).to_be_disabled(timeout=10_000)
    text = wait_done(page, 5)
    maps_changed = wait_maps_changed(page, empty, panels=(0, 1))
    click_to_drawn = time.monotonic() - start
    record_timing(artifacts, "click_to_drawn_8_members_s", round(click_to_drawn, 2))
    record_timing(artifacts, "status_after_sample", text)
    assert "8 members" in text
    expect(page.locator(".sl-run")).to_contain_text("seed 5")
    shot(page, artifacts, "02b_sampled_seed5.png")

    # hover shows the value with lat/lon; zooming one map zooms all three (linked axes)
    box = page.locator(".sl-maps").bounding_box()
    centre = (box["x"] + box["width"] / 6 + 20, box["y"] + 60 + 180)
    page.mouse.move(*centre)
    tooltip = page.locator(".bk-Tooltip", has_text="lat").first
    expect(tooltip).to_be_visible(timeout=10_000)
    expect(tooltip).to_contain_text("value")
    page.screenshot(path=str(artifacts / "02d_hover.png"), clip={"x": box["x"], "y": box["y"], "width": 700,
                                                                  "height": 480})
    before_zoom = maps_image(page)
    page.mouse.wheel(0, -200)
    wait_maps_changed(page, before_zoom, panels=(0, 1, 2))
    page.mouse.move(2, 1890)
    page.wait_for_timeout(800)
    zoomed = maps_image(page)
    page.screenshot(path=str(artifacts / "02e_linked_zoom.png"), clip={"x": box["x"], "y": box["y"],
                                                                        "width": box["width"], "height": box["height"]})
    # reset the view for the next ensemble (the reset tool of the shared toolbar)
    page.locator(".sl-maps .bk-ClickButton[title='Reset']").first.click()
    wait_maps_changed(page, zoomed, panels=(0, 1, 2))

    # a second ensemble (another seed) redraws the generated maps
    elapsed, text = sample_and_wait(page, 6)
    wait_maps_changed(page, maps_changed, panels=(0, 1))
    record_timing(artifacts, "click_to_done_second_ensemble_s", round(elapsed, 2))
    shot(page, artifacts, "02c_sampled_seed6.png")
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


def test_variable_and_view_update_all_panels(page, dashboard_url, artifacts):
    watch = open_dashboard(page, dashboard_url)
    sample_and_wait(page, 4)
    page.wait_for_timeout(800)
    before = maps_image(page)

    page.locator(".sl-variable").get_by_role("button", name="sit", exact=True).click()
    after = wait_maps_changed(page, before, panels=(0, 1, 2))
    for panel in ("latent", "data", "reference"):
        expect(page.locator(f".sl-table-{panel}")).to_contain_text("Out of bounds (sit)")
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
    note = page.locator(".sl-small", has_text="Held-out state")
    first = note.first.inner_text()
    page.locator(".sl-ref-mode").get_by_role("button", name="Nearest to sample").click()
    expect(note.first).to_contain_text("nearest to the latent member", timeout=30_000)
    assert note.first.inner_text() != first
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
        for name in ("sit", "sic", "sid", "siu", "siv"):
            assert name in ds
        assert {"x", "y", "lat", "lon", "cell_area", "land"} <= set(ds.coords)
        censored = ds["sic"].sel(source="latent_censored")
        assert float(censored.min()) >= 0.0 and float(censored.max()) <= 1.0
    watch.check()


def test_two_sessions_sample_at_once(browser, dashboard_url, artifacts):
    contexts = [browser.new_context(viewport={"width": 1680, "height": 1900}, accept_downloads=True)
                for _ in range(2)]
    pages = [c.new_page() for c in contexts]
    try:
        watches = [open_dashboard(p, dashboard_url) for p in pages]
        a, b = pages
        set_seed(a, 11)
        a.locator(".sl-members input").count()  # noqa: B018 (the slider is left at its default)
        set_seed(b, 12)
        click_sample(a)
        click_sample(b)
        # while both sample, the pages stay responsive: a display change is applied at once
        t0 = time.monotonic()
        b.locator(".sl-variable").get_by_role("button", name="sit", exact=True).click()
        expect(b.locator(".sl-table-reference")).to_contain_text("Out of bounds (sit)", timeout=20_000)
        record_timing(artifacts, "display_change_while_sampling_s", round(time.monotonic() - t0, 2))
        text_a = wait_done(a, 11)
        text_b = wait_done(b, 12)
        assert "seed 11" in text_a and "seed 12" not in text_a
        assert "seed 12" in text_b and "seed 11" not in text_b
        expect(a.locator(".sl-run")).to_contain_text("seed 11")
        expect(b.locator(".sl-run")).to_contain_text("seed 12")
        a.wait_for_timeout(1000)
        # still their own after both finished
        assert "seed 11" in status(a) and "seed 12" in status(b)
        shot(a, artifacts, "06a_session_a.png")
        shot(b, artifacts, "06b_session_b.png")
        for w in watches:
            w.check()
    finally:
        for c in contexts:
            c.close()
