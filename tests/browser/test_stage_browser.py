"""Issue 25 on stage, in headless Chromium against `panel serve dashboard`: maps that fill the screen at 1280x800,
1600x1000 and 1920x1080, panels that never compare different dates without saying so, the MIZ tools, the state
in the URL, the budget and the cancel control. Every test fails on console errors and on requests that leave
127.0.0.1; screenshots go to ``test-artifacts/browser/`` (``stage_*.png``)."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
PlaywrightTimeout = playwright_api.TimeoutError

from test_dashboard_browser import (SAMPLE_TIMEOUT, PageWatch, click_sample, open_dashboard, record_timing,  # noqa: E402
                                    wait_done, wait_maps_sized)

pytestmark = pytest.mark.browser

SIZES = {"1280x800": (1280, 800), "1600x1000": (1600, 1000), "1920x1080": (1920, 1080)}
#: The page's Bokeh documents: per map figure, its width and the font sizes of its text layer.
TEXT_JS = """
() => {
  const doc = window.Bokeh.documents[0];
  const models = doc._all_models ? [...doc._all_models.values()] : [...doc.all_models];
  const out = [];
  for (const m of models) {
    if (m.renderers === undefined || m.x_range === undefined) continue;
    const text = m.renderers.find(r => r.name === 'sl-map-text');
    if (!text) continue;
    const data = text.data_source.data;
    const spec = text.glyph.text_font_size;  // a column of the source (one size per label) or one value
    const field = spec && spec.field !== undefined ? spec.field : null;
    const sizes = field !== null ? ((data.get ? data.get(field) : data[field]) || []) : [spec && spec.value];
    out.push({title: m.title ? m.title.text : '', sizes: [...sizes].map(s => parseFloat(s)).filter(isFinite),
              title_size: m.title ? parseFloat(m.title.text_font_size) : 0});
  }
  return out;
}
"""
#: Record, per animation frame, which maps' field images changed (a map's image source is named sl-field).
FRAMES_JS = """
() => {
  if (!window.__slFrames) {
    window.__slFrame = 0;
    const tick = () => { window.__slFrame += 1; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    window.__slFrames = [];
    const doc = window.Bokeh.documents[0];
    const models = doc._all_models ? [...doc._all_models.values()] : [...doc.all_models];
    const sources = new Map();
    for (const m of models) {
      if (m.renderers === undefined || m.x_range === undefined) continue;
      const field = m.renderers.find(r => r.name === 'sl-field');
      if (field) sources.set(field.data_source.id, m.title ? m.title.text.split('\\n')[0] : '?');
    }
    doc.on_change((e) => {
      const id = e.model ? e.model.id : null;
      if (id && sources.has(id)) window.__slFrames.push([window.__slFrame, sources.get(id)]);
    });
  }
  window.__slFrames.length = 0;
  return true;
}
"""


def open_at(browser, url: str, size: str, query: str = "autosample=0"):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    watch = open_dashboard(page, url, autosample="autosample=0" not in query, query=query.replace("autosample=0", "")
                           .strip("&"))
    return context, page, watch


def stage_shot(page, artifacts, name: str) -> None:
    page.mouse.move(2, 2)
    page.wait_for_timeout(600)
    page.screenshot(path=str(artifacts / f"stage_{name}.png"))


def map_boxes(page) -> list[dict]:
    figures = page.locator(".sl-maps .bk-Figure")
    return [figures.nth(i).bounding_box() for i in range(figures.count())]


def pick_date(page, day: str, height: int | None = None) -> None:
    """Choose a date in the date box's calendar (flatpickr): month from its menu, year typed, then the day."""
    import datetime as dt

    d = dt.date.fromisoformat(day)
    page.locator(".sl-date input:visible").first.click()
    calendar = page.locator(".flatpickr-calendar.open")
    expect(calendar).to_be_visible(timeout=10_000)
    if height is not None:  # the whole calendar inside the window (it was cut off at 1280x800)
        box = calendar.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, box
    calendar.locator(".numInput.cur-year").fill(str(d.year))
    calendar.locator(".numInput.cur-year").press("Enter")
    calendar.locator(".flatpickr-monthDropdown-months").select_option(str(d.month - 1))
    calendar.locator(f'.flatpickr-day[aria-label="{d:%B} {d.day}, {d.year}"]').first.click()


def settled(page, seconds: float = 1.5) -> None:
    """Wait until the page's Bokeh document has had no change for ``seconds`` (a redraw has landed)."""
    page.evaluate("() => { window.__slLast = performance.now(); window.Bokeh.documents[0].on_change(() => "
                  "{ window.__slLast = performance.now(); }); }")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        page.wait_for_timeout(300)
        idle = page.evaluate("() => performance.now() - window.__slLast")
        if idle > seconds * 1000:
            return
    raise AssertionError("the page never settled")


# ----------------------------------------------------------------------------------------- 3: maps fill the screen
@pytest.mark.parametrize("size", list(SIZES))
def test_3_maps_fill_the_main_area_with_readable_text(browser, dashboard_url, artifacts, size):
    width, height = SIZES[size]
    context, page, watch = open_at(browser, dashboard_url, size, query="")
    try:
        wait_done(page)
        settled(page)
        main = page.locator("#main").bounding_box()
        boxes = map_boxes(page)
        assert len(boxes) == 3, boxes
        span = max(b["x"] + b["width"] for b in boxes) - min(b["x"] for b in boxes)
        assert span >= 0.8 * main["width"], (span, main)
        if size == "1920x1080":
            assert all(b["width"] >= 480 for b in boxes), boxes
        for b in boxes:  # every map whole inside the viewport
            assert b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= width + 1 and b["y"] + b["height"] <= height + 1, b
        texts = page.evaluate(TEXT_JS)
        assert len(texts) == 3 and all(min(t["sizes"]) >= (11 if size == "1280x800" else 13) for t in texts), texts
        assert all(t["title_size"] >= 14 for t in texts)
        # the controls a presenter needs are above the fold
        for selector in (".sl-sample button", ".sl-cancel button", ".sl-date input:visible", ".sl-members", ".sl-variable",
                         ".sl-view select", ".sl-region select", ".sl-mode", ".sl-present"):
            box = page.locator(selector).first.bounding_box()
            assert box is not None and box["y"] + box["height"] <= height, (selector, box)
        stage_shot(page, artifacts, f"maps_{size}")
        record_timing(artifacts, f"stage_map_widths_{size}", [round(b["width"]) for b in boxes])
        # collapsing the sidebar gives the maps the room
        page.locator("#sidebar-toggle").click()
        page.wait_for_timeout(1500)
        settled(page)
        wider = map_boxes(page)
        assert all(w["width"] > b["width"] + 50 for w, b in zip(wider, boxes)), (wider, boxes)
        stage_shot(page, artifacts, f"maps_{size}_sidebar_collapsed")
        watch.check()
    finally:
        context.close()


def test_3_presentation_mode_has_larger_text_and_fewer_controls(browser, dashboard_url, artifacts):
    context, page, watch = open_at(browser, dashboard_url, "1280x800", query="")
    try:
        wait_done(page)
        settled(page)
        before = max(t["title_size"] for t in page.evaluate(TEXT_JS))
        expect(page.locator(".sl-seed input")).to_be_visible()
        page.locator(".sl-present").get_by_role("button").click()
        expect(page.locator(".sl-seed input")).to_be_hidden(timeout=30_000)
        settled(page)
        assert max(t["title_size"] for t in page.evaluate(TEXT_JS)) > before
        assert "present=1" in page.url
        stage_shot(page, artifacts, "presentation_1280x800")
        watch.check()
    finally:
        context.close()


# ----------------------------------------------------------------------------------------- 1: like with like
def test_1_a_new_date_without_sampling_warns_every_panel_and_table(browser, dashboard_url, artifacts):
    context, page, watch = open_at(browser, dashboard_url, "1280x800", query="")
    try:
        wait_done(page)
        reference = page.locator(".sl-head-reference .sl-panel-state")
        expect(reference).to_contain_text(re.compile(r"\d{4}"), timeout=30_000)  # its date, drawn after the status
        before = reference.inner_text()
        pick_date(page, "2011-03-15", height=800)  # any day, beyond the reference's year too
        expect(page.locator(".sl-date input:visible").first).to_have_value("2011-03-15")
        for panel in ("latent", "data", "reference"):
            expect(page.locator(f".sl-head-{panel} .sl-warning")).to_contain_text("15 Mar 2011", timeout=30_000)
        expect(page.locator(".sl-tables .sl-warning")).to_have_count(3, timeout=30_000)
        assert reference.inner_text() == before  # the reference stays with the ensembles' date
        stage_shot(page, artifacts, "date_mismatch_warned")
        click_sample(page)
        wait_done(page)
        expect(page.locator(".sl-head-latent .sl-warning")).to_have_count(0, timeout=60_000)
        expect(reference).to_contain_text("Mar 2008", timeout=30_000)  # the nearest held-out day, with its date
        expect(reference).to_contain_text("nearest 15 Mar")
        expect(page.locator(".sl-estimate")).to_be_visible()
        watch.check()
    finally:
        context.close()


# ----------------------------------------------------------------------------------------- 9: URL
def test_9_settings_round_trip_through_the_url_a_reload_and_the_copy_button(browser, dashboard_url, artifacts):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    try:
        watch = open_dashboard(page, dashboard_url)
        page.locator(".sl-variable").get_by_role("button", name="sid", exact=True).click()
        page.locator(".sl-view select").select_option(label="Ensemble mean")
        page.locator(".sl-region select").select_option("Fram Strait")
        page.locator(".sl-mode").get_by_role("button", name="Ice-edge spaghetti").click()
        page.wait_for_function("() => window.location.search.includes('mode=spaghetti')", timeout=30_000)
        args = parse_qs(urlsplit(page.url).query)
        assert args["variable"] == ["sid"] and args["view"] == ["mean"] and args["region"] == ["Fram Strait"]
        page.locator(".sl-copy-link button").click()
        expect(page.locator(".sl-copy-link button")).to_contain_text("Copied", timeout=10_000)
        copied = page.evaluate("() => navigator.clipboard.readText()")
        assert parse_qs(urlsplit(copied).query) == parse_qs(urlsplit(page.url).query)
        page.reload()
        expect(page.locator(".sl-maps canvas").first).to_be_visible(timeout=120_000)
        expect(page.locator(".sl-view select")).to_have_value("Ensemble mean", timeout=60_000)
        expect(page.locator(".sl-region select")).to_have_value("Fram Strait")
        expect(page.locator(".sl-variable").get_by_role("button", name="sid", exact=True)).to_have_class(
            re.compile("active|solid"))
        watch.check()
    finally:
        context.close()


# ----------------------------------------------------------------------------------------- 4: MIZ tools
def test_4_transect_drawn_on_a_map(browser, dashboard_url, artifacts):
    context, page, watch = open_at(browser, dashboard_url, "1600x1000", query="")
    try:
        wait_done(page)
        page.locator(".sl-tools").get_by_text("Transect", exact=True).click()
        expect(page.locator(".sl-transect-note")).to_be_visible(timeout=60_000)
        page.locator(".sl-draw").get_by_role("button").click()
        expect(page.locator(".sl-draw .bk-active")).to_have_count(1, timeout=10_000)
        canvas = page.locator(".sl-map-latent canvas").first.bounding_box()
        # two clicks, A then B; under CI load the first pair was once lost while the maps redrew after the toggle,
        # so a user's second try is allowed (one), and the line must then come through the URL
        for attempt in range(2):
            settled(page)
            page.mouse.click(canvas["x"] + 0.62 * canvas["width"], canvas["y"] + 0.55 * canvas["height"])
            page.wait_for_timeout(700)
            page.mouse.click(canvas["x"] + 0.85 * canvas["width"], canvas["y"] + 0.70 * canvas["height"])
            try:
                page.wait_for_function("() => window.location.search.includes('transect=')", timeout=30_000)
                break
            except PlaywrightTimeout:
                if attempt == 1:
                    raise
                if not page.locator(".sl-draw .bk-active").count():
                    page.locator(".sl-draw").get_by_role("button").click()
        note = page.locator(".sl-transect-note")
        expect(note).not_to_contain_text("A default line", timeout=60_000)
        assert float(note.get_attribute("data-length")) > 100
        for variable in ("sic", "sit", "sid"):
            expect(page.locator(f".sl-transect-{variable} canvas").first).to_be_visible(timeout=60_000)
        settled(page)
        page.locator(".sl-tools").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "stage_transect.png"), full_page=True)
        watch.check()
    finally:
        context.close()


def test_4_miz_probability_map(browser, dashboard_url, artifacts):
    context, page, watch = open_at(browser, dashboard_url, "1600x1000", query="view=miz")
    try:
        wait_done(page)
        settled(page)
        for panel_title in page.evaluate(TEXT_JS):
            assert "P(MIZ)" in panel_title["title"]
        expect(page.locator(".sl-map-legend")).to_contain_text("P(sic > 0.15) = 0.5")
        stage_shot(page, artifacts, "miz_probability")
        watch.check()
    finally:
        context.close()


def test_4_seasonal_cycle_opens_from_its_file(browser, dashboard_url, artifacts):
    context, page, watch = open_at(browser, dashboard_url, "1600x1000", query="tool=seasonal")
    try:
        wait_done(page)
        note = page.locator(".sl-cycle-note")
        expect(note).to_be_visible(timeout=60_000)
        if note.get_attribute("data-months") != "12":
            pytest.skip("no seasonal-cycle file for these checkpoints (python -m dashboard.seasonal writes one)")
        for quantity in ("extent", "miz_area", "miz_width"):
            expect(page.locator(f".sl-cycle-{quantity} canvas").first).to_be_visible(timeout=60_000)
        settled(page)
        page.locator(".sl-tools").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "stage_seasonal_cycle.png"), full_page=True)
        watch.check()
    finally:
        context.close()


def test_4_linked_hover_shows_every_members_value(browser, dashboard_url, artifacts):
    context, page, watch = open_at(browser, dashboard_url, "1600x1000", query="tool=probe")
    try:
        wait_done(page)
        settled(page)
        canvas = page.locator(".sl-map-data canvas").first.bounding_box()
        page.mouse.move(canvas["x"] + 0.70 * canvas["width"], canvas["y"] + 0.48 * canvas["height"])
        page.mouse.move(canvas["x"] + 0.71 * canvas["width"], canvas["y"] + 0.49 * canvas["height"])
        table = page.locator(".sl-probe-table")
        expect(table).to_be_visible(timeout=60_000)
        expect(table.locator("tr[data-panel]")).to_have_count(3)
        settled(page)
        page.screenshot(path=str(artifacts / "stage_hover.png"), full_page=True)
        watch.check()
    finally:
        context.close()


def test_4_miz_width_histograms_per_region(browser, dashboard_url, artifacts):
    context, page, watch = open_at(browser, dashboard_url, "1600x1000", query="tool=regions")
    try:
        wait_done(page)
        expect(page.locator(".sl-region-hist .bk-Canvas")).to_have_count(6, timeout=120_000)  # one plot per region (a plot draws on several canvas layers)
        settled(page)
        page.locator(".sl-tools").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "stage_miz_width_regions.png"), full_page=True)
        watch.check()
    finally:
        context.close()


# ----------------------------------------------------------------------------------------- 16: budget and cancel
def test_16_a_request_over_the_budget_is_refused_with_its_estimate(browser, dashboard_url, artifacts):
    context, page, watch = open_at(browser, dashboard_url, "1280x800", query="autosample=0&members=256&steps=200")
    try:
        expect(page.locator(".sl-estimate")).to_contain_text("Over this server's budget", timeout=60_000)
        click_sample(page)
        status = page.locator(".sl-status")
        expect(status).to_contain_text(re.compile(r"^Refused: Estimate: about [\d.]+ (min|h)"), timeout=30_000)
        expect(page.locator(".sl-run")).to_contain_text("No ensemble yet")
        stage_shot(page, artifacts, "over_budget_refused")
        watch.check()
    finally:
        context.close()


def test_16_cancel_stops_the_running_request_within_one_sampler_step(browser, dashboard_url, artifacts, yardstick):
    context, page, watch = open_at(browser, dashboard_url, "1280x800",
                                   query="autosample=0&members=64&steps=40&seed=991&data=0")
    try:
        click_sample(page)
        status = page.locator(".sl-status")
        expect(status).to_contain_text(re.compile(r"step [2-9]|step \d\d"), timeout=SAMPLE_TIMEOUT)
        start = time.monotonic()
        page.locator(".sl-cancel button").click()
        expect(status).to_contain_text("Cancelled: asked after", timeout=SAMPLE_TIMEOUT)
        seconds = time.monotonic() - start
        asked = int(status.get_attribute("data-asked-at"))  # .sl-status is the div that carries the attributes
        stopped = int(status.get_attribute("data-stopped-at"))
        record_timing(artifacts, "cancel_to_stopped_s", {"s": round(seconds, 2), "asked_at_step": asked,
                                                         "stopped_at_step": stopped, "yardstick_s": round(yardstick, 2)})
        assert stopped - asked <= 1 and stopped < 2 * 40  # stopped at the next sampler step
        expect(page.locator(".sl-cancel button")).to_be_disabled()
        stage_shot(page, artifacts, "cancelled")
        watch.check()
    finally:
        context.close()


# ----------------------------------------------------------------------------------------- 11: together
def test_11_the_three_maps_change_in_the_same_frame(browser, dashboard_url, artifacts):
    context, page, watch = open_at(browser, dashboard_url, "1600x1000", query="")
    try:
        wait_done(page)
        wait_maps_sized(page)
        settled(page)
        page.evaluate(FRAMES_JS)
        page.locator(".sl-variable").get_by_role("button", name="sit", exact=True).click()
        settled(page)
        frames = page.evaluate("() => window.__slFrames")
        panels = {title for _, title in frames}
        assert len(panels) == 3, frames
        assert len({frame for frame, _ in frames}) == 1, frames  # one animation frame: never one map before another
        watch.check()
    finally:
        context.close()
