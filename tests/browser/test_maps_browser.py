"""The maps in headless Chromium: layout at laptop sizes, geography, regions, spaghetti and joint views, timings.

Two servers: the real dashboard (``dashboard_url``, models from the checkpoints) and the same page served by
``tests/browser/fieldset_app.py`` with held-out states resampled to a 128 x 128 and a 512 x 512 grid, so
that the redraw times of a region, variable and view change can be compared between the two grid sizes
(``test-artifacts/browser/timings.json``). Every test fails on console errors and on any request that does
not go to 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
Image = pytest.importorskip("PIL.Image")

from conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, _free_port, start_panel, stop_panel, wait_until_serving  # noqa: E402,E501
from seaice_ldm.data import get_grid  # noqa: E402
from seaice_ldm.data.regions import region_box  # noqa: E402
from test_dashboard_browser import PageWatch  # noqa: E402

pytestmark = pytest.mark.browser

SIZES = {"1280x800": {"width": 1280, "height": 800}, "1600x1000": {"width": 1600, "height": 1000}}
GRIDS = {"128": "arctic50km", "512": "arctic12km"}
APP = ROOT / "tests" / "browser" / "fieldset_app.py"

#: Bokeh's document seen from the page: every map figure and the named renderers on it.
MODELS_JS = """
() => {
  const doc = window.Bokeh.documents[0];
  const models = doc._all_models ? [...doc._all_models.values()] : [...doc.all_models];
  const length = (r) => {
    const data = r.data_source && r.data_source.data;
    if (!data) return 0;
    const col = data.get ? (data.get('xs') || data.get('x') || data.get('image')) : (data.xs || data.x || data.image);
    if (!col) return 0;
    let n = 0;
    for (const item of col) { n += (item && item.length !== undefined) ? item.length : 1; }
    return n;
  };
  const finite = (r) => {
    const data = r.data_source && r.data_source.data;
    const col = data && (data.get ? data.get('image') : data.image);
    if (!col || !col.length) return 0;
    let n = 0;
    for (const v of col[0]) { if (Number.isFinite(v) && v > 0) n += 1; }
    return n;
  };
  const out = [];
  for (const m of models) {
    if (m.renderers === undefined || m.x_range === undefined) continue;  // figures only
    const named = {};
    for (const r of m.renderers) {
      if (!r.name) continue;
      named[r.name] = {points: length(r), finite: finite(r), visible: r.visible};
    }
    if (!named['sl-field'] && !named['sl-joint']) continue;
    out.push({title: m.title ? m.title.text : '', named,
              x: [m.x_range.start, m.x_range.end], y: [m.y_range.start, m.y_range.end]});
  }
  return out;
}
"""


# ----------------------------------------------------------------------------------------- servers
def _serve(args: list[str], env: dict, log_path: Path, url: str, timeout: float = 240.0):
    proc, log = start_panel(args, env, log_path)
    try:
        wait_until_serving(proc, url, timeout, log_path, request_timeout=120)
    except RuntimeError:
        stop_panel(proc, log)
        raise
    return proc, log


@pytest.fixture(scope="module")
def fieldset_urls(artifacts):
    """`panel serve tests/browser/fieldset_app.py` on a 128 x 128 and a 512 x 512 grid (one server each)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    if not (ROOT / "checkpoints" / "reference.nc").exists():
        pytest.skip("needs checkpoints/reference.nc")
    servers, urls = [], {}
    try:
        for key, grid in GRIDS.items():
            port = _free_port()
            env = dict(os.environ, PYTHONUNBUFFERED="1", SEAICE_TEST_GRID=grid, SEAICE_TEST_MEMBERS_MAX="16")
            url = f"http://127.0.0.1:{port}/fieldset_app"
            servers.append(_serve([str(APP), "--port", str(port), "--address", "127.0.0.1",
                                   "--allow-websocket-origin", f"127.0.0.1:{port}"], env,
                                  artifacts / f"server_fieldset_{key}.log", url))
            urls[key] = url
        yield urls
    finally:
        for proc, log in servers:
            stop_panel(proc, log)


# ----------------------------------------------------------------------------------------- helpers
def record(artifacts, key: str, value) -> None:
    path = artifacts / "timings.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = value
    path.write_text(json.dumps(data, indent=2))


def open_page(browser, url: str, size: dict, query: str = ""):
    context = browser.new_context(viewport=size)
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(url + query, timeout=240_000)
    return context, page, watch


def wait_done(page, timeout: float = 240_000) -> None:
    expect(page.locator(".sl-status")).to_contain_text(re.compile(r"^Done"), timeout=timeout)


def map_models(page) -> list[dict]:
    return [m for m in page.evaluate(MODELS_JS) if "sl-field" in m["named"]]


def figures_in_viewport(page, size: dict, selector: str = ".sl-maps .bk-Figure") -> list[dict]:
    boxes = [page.locator(selector).nth(i).bounding_box() for i in range(page.locator(selector).count())]
    return [b for b in boxes if b and b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= size["width"] + 1
            and b["y"] + b["height"] <= size["height"] + 1]


def colour_share(png: bytes, colour: tuple[int, int, int], tol: int = 40) -> float:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    return float((np.abs(rgb - np.array(colour)).max(axis=-1) <= tol).mean())


def check_geography(page, min_labels: int = 11) -> list[dict]:
    """Three map figures, each with a coastline, a graticule and labels (graticule, seas) in the visible range."""
    maps = map_models(page)
    assert len(maps) == 3, [m["title"] for m in maps]
    for m in maps:
        for name, least in (("sl-coastline", 11), ("sl-graticule", 11), ("sl-map-text", min_labels)):
            assert name in m["named"] and m["named"][name]["points"] >= least and m["named"][name]["visible"], (m, name)
    return maps


#: Record every Bokeh document change with its time (page clock) and model type, once per page.
CHANGES_JS = """
() => {
  if (!window.__slChanges) {
    window.__slChanges = [];
    window.Bokeh.documents[0].on_change((e) => {
      window.__slChanges.push([performance.now(), e.model ? e.model.type : e.constructor.name]);
    });
  }
  return performance.now();
}
"""
#: the model changes a redraw consists of (status text and widget changes are left out); switching to the
#: joint view also builds or shows its GridPlot and lays out its figures
DRAWN = ("ColumnDataSource", "Range1d", "Title", "ColorBar", "LinearColorMapper", "GridPlot", "Figure")


def timed(page, action, timeout: float = 90.0, quiet: float = 1.5) -> float:
    """Seconds from ``action`` to the last map change (data, ranges, titles, colour bars) of the redraw it
    caused: Bokeh's document change events, read in the page, once no such change came for ``quiet`` s."""
    start = page.evaluate(CHANGES_JS)
    action()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)
        now, last = page.evaluate(
            "([t0, kinds]) => [performance.now(), Math.max(-1, ...window.__slChanges.filter("
            "c => c[0] > t0 && kinds.includes(c[1])).map(c => c[0]))]", [start, list(DRAWN)])
        if last > 0 and now - last > quiet * 1000:
            return (last - start) / 1000
    raise AssertionError(f"the maps did not settle within {timeout} s")


def in_box(m: dict, box: tuple[float, float, float, float], tol: float = 1.0) -> bool:
    """The map shows the region's box: all of it (the dashboard grows a box to hold its MIZ through the year and
    fits it to the frame's aspect), and not much more than twice its width."""
    x0, x1 = m["x"]
    y0, y1 = m["y"]
    holds = x0 <= box[0] + tol and x1 >= box[1] - tol and y0 <= box[2] + tol and y1 >= box[3] - tol
    return holds and (x1 - x0) <= 2.5 * (box[1] - box[0]) + tol


def wait_maps(page, ok, check=None, timeout: float = 60.0) -> list[dict]:
    """Wait until ``ok(map)`` holds for every map (a redraw on the 512 x 512 grid can land after a quiet pause)."""
    deadline = time.monotonic() + timeout
    while True:
        maps = (check or map_models)(page)
        if all(ok(m) for m in maps) or time.monotonic() > deadline:
            assert all(ok(m) for m in maps), maps
            return maps
        page.wait_for_timeout(500)


def wait_in_box(page, box, check=None) -> list[dict]:
    return wait_maps(page, lambda m: in_box(m, box), check)


def shot(page, artifacts, name: str) -> None:
    page.mouse.move(2, 2)
    page.wait_for_timeout(400)
    page.screenshot(path=str(artifacts / name))


# ----------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("size", list(SIZES))
def test_real_dashboard_three_maps_fit_with_geography(browser, dashboard_url, artifacts, size):
    """The page as a user opens it: three map panels inside the viewport, each with coast and graticule."""
    context, page, watch = open_page(browser, dashboard_url, SIZES[size], "?autosample=0")
    try:
        expect(page.locator(".sl-maps canvas").first).to_be_visible(timeout=120_000)
        page.wait_for_timeout(1500)
        inside = figures_in_viewport(page, SIZES[size])
        assert len(inside) == 3, inside
        check_geography(page)
        expect(page.locator(".sl-map-legend")).to_be_visible()
        legend = page.locator(".sl-map-legend").bounding_box()
        assert legend["y"] + legend["height"] <= SIZES[size]["height"], legend  # no scrolling for the legend
        expect(page.locator(".sl-header")).to_contain_text("SYNTHETIC")
        # the histograms, tables and spectra below the maps fit the main area: no column cut off at the right
        expect(page.locator(".sl-table-reference")).to_be_attached(timeout=60_000)
        expect(page.locator(".sl-tables")).to_be_attached(timeout=60_000)
        page.wait_for_timeout(1000)
        overflow = page.evaluate("() => { const m = document.querySelector('#main'); return m.scrollWidth - m.clientWidth; }")
        assert overflow <= 1, f"the main area scrolls sideways by {overflow} px at {size}"
        shot(page, artifacts, f"10_real_{size}.png")
        watch.check()
    finally:
        context.close()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("grid", list(GRIDS))
def test_regions_spaghetti_joint_and_timings(browser, fieldset_urls, artifacts, size, grid):
    view = SIZES[size]
    context, page, watch = open_page(browser, fieldset_urls[grid], view)
    tag = f"{grid}_{size}"
    grid_obj = get_grid(GRIDS[grid])
    try:
        wait_done(page)
        page.wait_for_timeout(1500)
        assert len(figures_in_viewport(page, view)) == 3
        maps = check_geography(page)
        assert all(m["named"]["sl-field"]["finite"] > 100 for m in maps)  # fields drawn
        assert all(m["named"]["sl-coastline"]["points"] > 1000 for m in maps)
        # the field image is rasterised to the screen: never more pixels than the plot has, whatever the grid
        shot(page, artifacts, f"20_pan_arctic_{tag}.png")
        # coast pixels (dark) and graticule labels are on the canvas of each map
        for i in range(3):
            png = page.locator(".sl-maps .bk-Figure").nth(i).screenshot()
            assert colour_share(png, (0x1b, 0x26, 0x30), tol=30) > 0.002

        timings = {}
        # region: every map zooms to Fram Strait (shared ranges), re-rasterised there
        timings["region"] = timed(page, lambda: page.locator(".sl-region select").select_option("Fram Strait"))
        fram = region_box("Fram Strait", grid_obj.x, grid_obj.y, grid_obj.crs)
        # a regional box has the fine graticule: two parallels, five meridians and the scale bar's label
        wait_in_box(page, fram, lambda p: check_geography(p, min_labels=7))
        shot(page, artifacts, f"21_fram_strait_{tag}.png")
        # variable and view changes in that region
        timings["variable"] = timed(page, lambda: page.locator(".sl-variable").get_by_role(
            "button", name="sid", exact=True).click())
        timings["view"] = timed(page, lambda: page.locator(".sl-view select").select_option(
            label="Ensemble mean"))
        wait_in_box(page, fram)  # the region stays through those changes
        timings["region_back"] = timed(page, lambda: page.locator(".sl-region select").select_option(
            "Pan-Arctic"))
        wait_in_box(page, region_box("Pan-Arctic", grid_obj.x, grid_obj.y, grid_obj.crs))
        shot(page, artifacts, f"22_sid_mean_{tag}.png")

        # spaghetti: a line-density image of every member's edge, with the reference and P = 0.5 edges on top
        timed(page, lambda: page.locator(".sl-variable").get_by_role("button", name="sic", exact=True).click())
        timings["spaghetti"] = timed(page, lambda: page.locator(".sl-mode").get_by_role(
            "button", name="Ice-edge spaghetti").click())
        # pixels crossed by member edges
        wait_maps(page, lambda m: "ice edges" in m["title"] and m["named"]["sl-field"]["finite"] > 50)
        shot(page, artifacts, f"23_spaghetti_{tag}.png")

        # joint distribution of (sic, sit) over all ocean cells of all members, per panel
        timings["joint"] = timed(page, lambda: page.locator(".sl-mode").get_by_role(
            "button", name="Joint distribution").click())
        expect(page.locator(".sl-joint")).to_be_visible()
        page.wait_for_timeout(800)
        joints = [m for m in page.evaluate(MODELS_JS) if "sl-joint" in m["named"]]
        assert len(joints) == 3 and all(j["named"]["sl-joint"]["finite"] > 50 for j in joints), joints
        assert len(figures_in_viewport(page, view, ".sl-joint .bk-Figure")) == 3
        shot(page, artifacts, f"24_joint_{tag}.png")
        page.locator(".sl-mode").get_by_role("button", name="Fields").click()
        page.wait_for_timeout(500)

        record(artifacts, f"maps_{tag}", {k: round(v, 2) for k, v in timings.items()})
        watch.check()
    finally:
        context.close()
