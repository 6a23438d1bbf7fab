"""What the dashboard shows, checked without a browser against numbers computed here (issue 25's defects 1-15).

Each test names the defect of issue 25 it holds. Maps, tables and tools are built from a ``FakePipeline`` (same
protocol as the real one) or on the real 128 x 128 grid with the shipped held-out states.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pyproj
import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

pn = pytest.importorskip("panel")
hv = pytest.importorskip("holoviews")

from dashboard import layers, links, mapcontent, notes, numbers, selection, styles  # noqa: E402
from dashboard.app import App  # noqa: E402
from dashboard.config import server_config  # noqa: E402
from dashboard.sampling import SamplingQueue  # noqa: E402
from dashboard.settings import Settings  # noqa: E402
from dashboard_fakes import FakePipeline  # noqa: E402
from seaice_ldm.data import GRIDS, REGIONS, region_box  # noqa: E402
from seaice_ldm.evaluation import along_distance, contour_lines, edge_probability, ice_integrals  # noqa: E402

from dashboard import layout  # noqa: E402,F401  (loads the Bokeh extension, as the app does)


def make_app(pipe=None, **settings) -> App:
    pipe = pipe or FakePipeline()
    app = App(pipe, server_config([], environ={}), SamplingQueue())
    app.settings.param.update(**settings)
    return app


def sampled(app: App, **settings) -> App:
    app.settings.param.update(**settings)
    assert app.session.sample(), app.session.status
    app.session.wait(30)
    return app


def header(app: App, panel: str) -> str:
    from dashboard.maps import PanelHeader

    return PanelHeader(panel=panel, settings=app.settings, store=app.store, session=app.session).html()


def tables(app: App) -> str:
    from dashboard.summary import NumbersView

    return NumbersView(settings=app.settings, store=app.store, session=app.session).tables()


# ----------------------------------------------------------------------------------------- 1, 8, 13: dates
def test_1_a_new_date_moves_no_panel_alone_and_every_panel_and_table_says_so():
    app = sampled(make_app(FakePipeline(date_conditioned=True), date=dt.date(2020, 7, 10)), members=4)
    july = app.store.reference_choice()
    app.settings.date = dt.date(2020, 3, 12)  # the date box changes; nothing is sampled
    assert app.store.shown_date() == "2020-07-10"
    assert app.store.reference_choice() == july  # the reference stays with the ensembles: like with like
    warning = notes.mismatch(app.session, app.store)
    assert "12 Mar 2020" in warning and "10 Jul 2020" in warning and "press Sample" in warning
    for panel in ("latent", "data", "reference"):
        assert "sl-warning" in header(app, panel) and "12 Mar 2020" in header(app, panel)
    assert tables(app).count("12 Mar 2020 (shown: 10 Jul 2020)") == 3
    sampled(app)
    assert notes.mismatch(app.session, app.store) == "" and "sl-warning" not in header(app, "latent")
    doy = dt.date(2020, 3, 12).timetuple().tm_yday
    chosen = [app.store.dates[i] for i in app.store.reference_choice().indices]
    assert selection.doy_distance(chosen, doy).max() < 10  # the reference moved with the new ensembles


def test_1_difference_and_iiee_compare_the_ensembles_with_their_own_date():
    app = sampled(make_app(FakePipeline(date_conditioned=True), date=dt.date(2020, 7, 10)), members=3)
    before = app.store.field("reference", "sic")
    app.settings.date = dt.date(2020, 1, 5)
    np.testing.assert_array_equal(app.store.field("reference", "sic"), before)  # Sample − reference: July vs July
    app.settings.mode = "difference"
    diff, _ = mapcontent.field_and_style(app.store, "latent", "difference")
    np.testing.assert_allclose(diff, app.store.field("latent", "sic") - before)


def test_8_any_day_of_the_year_with_the_nearest_reference_and_its_own_date():
    app = make_app(FakePipeline(date_conditioned=True), date=dt.date(2031, 3, 15))  # years beyond the reference
    assert app.settings.base_request().date == "2031-03-15"
    choice = app.store.reference_choice()
    day = app.store.dates[choice.indices[0]]
    distances = selection.doy_distance(app.store.dates, dt.date(2031, 3, 15).timetuple().tm_yday)
    assert distances[choice.indices[0]] == distances.min()
    assert selection.day_label(day) in choice.what and str(day.year) in notes.when(app.store, "reference")


def test_8_a_links_date_fills_the_date_box():
    app = make_app(FakePipeline(date_conditioned=True))
    app.apply_query({"date": [b"2008-09-15"]})
    assert app.settings.date == dt.date(2008, 9, 15) and app.settings.season == "date"
    top, _ = layout.request_widgets(app)
    date = next(w for row in top if isinstance(row, pn.Row) for w in row if isinstance(w, pn.widgets.DatePicker))
    assert date.value == dt.date(2008, 9, 15)


def test_1_all_seasons_shows_each_members_day_and_a_reference_like_it():
    app = sampled(make_app(FakePipeline(date_conditioned=True), season="all"), members=6, seed=2)
    assert app.store.shown_date() == "random"
    days = 1.0 + np.asarray(dataclasses.replace(app.settings.base_request()).days_of_year())
    for member in (0, 3):
        app.settings.member = member
        assert app.store.member_day(member) == pytest.approx(days[member])
        assert f"member's day {selection.doy_label(days[member])}" in notes.panel_title(app.store, "latent")
        ref = app.store.dates[app.store.reference_choice().indices[0]]
        assert selection.doy_distance([ref], days[member])[0] == selection.doy_distance(app.store.dates,
                                                                                          days[member]).min()
    app.settings.view = "mean"
    assert len(app.store.reference_choice().indices) == app.store.reference.sizes["time"]


def test_13_a_few_reference_states_beside_a_same_day_ensemble_carry_a_visible_warning():
    app = sampled(make_app(FakePipeline(date_conditioned=True), date=dt.date(2020, 7, 10)), members=16)
    app.settings.view = "spread"
    choice = app.store.reference_choice()
    assert 1 <= len(choice.indices) < 16
    assert f"{len(choice.indices)} held-out state" in choice.warning and "same-day ensemble of 16" in choice.warning
    assert choice.warning in header(app, "reference") or "same-day ensemble" in header(app, "reference")
    app.settings.view = "member"
    assert notes.reference_warning(app.store) == ""


# ----------------------------------------------------------------------------------------- 5: P and mean contours
def test_5_the_probability_view_draws_the_true_median_edge_in_its_own_colours():
    app = sampled(make_app(), members=8, view="prob")
    lines = mapcontent.lines_for(app.store, "latent", "fields")
    styles_drawn = {st.label: pts for pts, st in lines}
    p50 = styles_drawn[styles.LINES["p50"].label]
    sic = np.asarray(app.store.dataset("latent")["sic"].values)
    expected = contour_lines(edge_probability(sic), app.store.x, app.store.y, 0.5)
    np.testing.assert_allclose(p50, expected)
    mean_edge = styles_drawn[styles.LINES["mean_edge"].label]
    assert mean_edge.shape != p50.shape or not np.allclose(mean_edge, p50, equal_nan=True)  # not the same line
    assert styles.LINES["p50"].core != styles.LINES["mean_edge"].core  # drawn differently, labelled differently
    assert styles.style_for("sic", "prob").cmap != styles.style_for("sic", "member").cmap
    assert styles.style_for("sic", "miz").cmap not in (styles.style_for("sic", "member").cmap,
                                                       styles.style_for("sic", "prob").cmap)
    from dashboard import legend

    key = legend.legend_html("prob", "fields", "sic", (), "numbers")
    assert "P(sic &gt; 0.15) = 0.5" in key or "P(sic > 0.15) = 0.5" in key


def test_5_mean_field_contours_are_labelled_as_the_mean():
    app = sampled(make_app(), members=4, view="mean")
    labels = {st.label for _, st in mapcontent.lines_for(app.store, "latent", "fields")}
    assert labels == {styles.LINES["mean_edge"].label, styles.LINES["mean_miz"].label}
    assert all("mean" in label for label in labels)
    app.settings.view = "member"
    assert "mean" not in " ".join(st.label for _, st in mapcontent.lines_for(app.store, "latent", "fields"))


# ----------------------------------------------------------------------------------------- 4: spaghetti
@pytest.mark.slow  # rasterises every member's edge for three panels (about 2 s)
def test_4_spaghetti_is_a_share_of_members_on_one_scale_for_every_panel():
    pipe = FakePipeline(grid=GRIDS["arctic50km"])
    app = sampled(make_app(pipe), members=4)
    frame = mapcontent.Frame(region_box("Pan-Arctic", app.store.x, app.store.y), 200, 200)
    for panel, n in (("latent", 4), ("reference", 1)):
        image = mapcontent.edge_density(app.store, panel, frame)
        share = np.asarray(image.dimension_values(2, flat=False))
        finite = share[np.isfinite(share)]
        assert finite.size and finite.max() <= 1.0 and np.allclose(finite * n, np.round(finite * n))
        assert finite.min() == pytest.approx(1.0 / n)
    assert styles.density_style().clim == (0.0, 1.0)
    # text has a halo, not a box over the lines
    halo, text = layers.text_layers([(0.0, 0.0, "Barents Sea", "sea")], styles.text_sizes(400))
    assert "background_fill_alpha" not in text.opts.get().kwargs and "background_fill_color" not in text.opts.get().kwargs


# ----------------------------------------------------------------------------------------- 6, 7: numbers and flags
def test_6_area_counts_only_ice_and_flags_grow_with_the_distance_past_a_tolerance():
    app = sampled(make_app(), members=4, decoder="gaussian")
    ds = app.store.dataset("data")
    sic = np.asarray(ds["sic"].values, dtype=float)
    assert np.nanmin(sic) < 0 and np.nanmax(sic) > 1  # the unclipped samples leave the bounds
    area = np.asarray(ds["cell_area"].values)
    by_hand = [np.nansum(np.where(s > 0.15, np.minimum(s, 1.0), 0.0) * area) * 1e-12 for s in sic]
    plain = [np.nansum(s * area) * 1e-12 for s in sic]
    summary = numbers.panel_numbers(ds, "sic", None)
    assert summary["area"][0] == pytest.approx(np.mean(by_hand)) and summary["area"][0] != pytest.approx(np.mean(plain))
    style = styles.style_for("sic", "member")
    flags = styles.flag_field(np.array([-0.001, -0.1, -0.5, 0.5, 1.015, 1.2, np.nan]), style)
    assert np.isnan(flags[[0, 3, 4, 6]]).all()  # within the tolerance (0.02) or inside: not flagged
    assert flags[1] == pytest.approx(-0.1 / 0.3) and flags[2] == pytest.approx(-0.5 / 0.3)
    assert flags[5] == pytest.approx(0.2 / 0.3)
    alphas = [int(c[-2:], 16) for c in styles.flag_palette()]
    half = len(alphas) // 2
    assert alphas[0] > alphas[half - 1] and alphas[-1] > alphas[half]  # opacity grows with the distance


def test_7_the_spread_range_comes_from_the_data():
    app = sampled(make_app(), members=8, view="spread")
    top = app.store.spread_limit("sic")
    every = np.concatenate([f[np.isfinite(f)].ravel() for p in ("latent", "data", "reference")
                            if (f := app.store.field(p, "sic", "spread")) is not None])
    assert np.mean(every > top) <= 0.01 and top <= 1.05 * every.max()
    assert styles.style_for("sic", "spread", top).clim == (0.0, top)


def test_15_the_table_gives_the_sample_sd_and_names_what_it_compares():
    app = sampled(make_app(), members=5)
    ds = app.store.dataset("latent")
    extent = ice_integrals(ds)["extent"].values
    summary = numbers.panel_numbers(ds, "sic", None)
    assert summary["extent"][1] == pytest.approx(np.std(extent, ddof=1))
    html = tables(app)
    assert "sample sd over 5 states (n − 1)" in html and "IIEE vs the reference" in html


# ----------------------------------------------------------------------------------------- 2: joint view
def test_2_joint_view_has_each_pairs_own_axes_and_draws_the_bound_masses():
    from dashboard import joint

    app = sampled(make_app(), members=4)
    ref = app.store.dataset("reference")
    sic, sid = joint.pair_values(ref, "sid")
    masses = {name: share for name, share, _, _ in joint.bound_masses(sic, sid, "sid")}
    assert masses["sic = 0, sid = 0"] == pytest.approx(np.mean((sic == 0) & (sid == 0)))
    assert masses["sic = 1"] == pytest.approx(np.mean(sic == 1))
    lo, hi = joint.axis_range(sid, "sid")
    assert -0.2 <= lo < 0 and 1 < hi <= 1.2  # damage's own axis, not thickness's 0-7.5
    lo_t, hi_t = joint.axis_range(joint.pair_values(ref, "sit")[1], "sit")
    assert hi_t > 3
    plot, caption = joint.joint_plot(ref, "reference", "sid", "Reference")
    rendered = hv.renderer("bokeh").get_plot(plot).state
    assert (rendered.y_range.start, rendered.y_range.end) == pytest.approx((lo, hi))
    assert "sic = 0, sid = 0" in caption and "%" in caption  # shares in the caption, under the plot
    marks = [el for el in plot if isinstance(el, hv.Points)]
    assert marks and len(marks[0]) == sum(1 for share in masses.values() if share > 0)
    sizes = marks[0].dimension_values("size")
    shares = marks[0].dimension_values("share")
    assert np.all(np.diff(sizes[np.argsort(shares)]) >= 0)  # a larger mass, a larger mark


def test_15_joint_view_hides_the_map_legend():
    app = make_app()
    page = layout.create_app(app)
    legend = next(o for o in page.main[0].objects if getattr(o, "name", "") == "map-legend")
    assert legend.visible
    app.settings.mode = "joint"
    assert not legend.visible


# ----------------------------------------------------------------------------------------- 3, 12, 14: maps
def test_3_maps_are_responsive_with_text_readable_on_a_projector():
    app = sampled(make_app(FakePipeline(grid=GRIDS["arctic50km"])), members=2)
    from dashboard.maps import MapsView

    view = MapsView(settings=app.settings, store=app.store, session=app.session)
    overlay = view._overlay("latent", region_box("Pan-Arctic", app.store.x, app.store.y), 480, 480)
    opts = overlay.opts.get().kwargs
    assert opts["responsive"] is True and "frame_width" not in opts and "width" not in opts
    assert all(v >= 14 for k, v in styles.text_sizes(480).items())  # was 9 px graticule, 9.5 px sea names
    assert all(v >= 11 for v in styles.text_sizes(300).values())
    assert styles.text_sizes(480, present=True)["sea"] > styles.text_sizes(480)["sea"]


@pytest.mark.parametrize("region", list(REGIONS))
def test_12_14_labels_stay_inside_the_map_never_overlap_and_regions_get_graticule_labels(region):
    grid = GRIDS["arctic50km"]
    box = region_box(region, grid.x, grid.y, grid.crs)
    sizes = styles.text_sizes(400)
    per_px = (box[1] - box[0]) / 400
    rows = layers.label_rows(box, 400, sizes, grid.crs)
    extents = []
    for x, y, text, kind in rows:
        hw, hh = layers._extent(text, sizes[kind], per_px)
        b = (x - hw, x + hw, y - hh, y + hh)
        assert box[0] < b[0] and b[1] < box[1] and box[2] < b[2] and b[3] < box[3], (text, b, box)
        extents.append(b)
    for i, a in enumerate(extents):
        for b in extents[i + 1:]:
            assert not (a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]), (a, b)
    texts = [t for _, _, t, k in rows if k == "graticule"]
    assert sum(t.endswith("N") for t in texts) >= 1 and sum(not t.endswith("N") for t in texts) >= 1, texts
    if region != "Pan-Arctic":  # the fine graticule: a region shows at least two parallels and three meridians
        assert sum(t.endswith("N") for t in texts) >= 2 and sum(not t.endswith("N") for t in texts) >= 3, texts
    # every graticule label sits on its own line: its position projected back by pyproj has that latitude or
    # longitude
    to_lonlat = pyproj.Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    for x, y, text, kind in rows:
        if kind != "graticule":
            continue
        lon, lat = to_lonlat.transform(x, y)
        value = float(text.rstrip("°NEW").rstrip("°"))
        if text.endswith("N"):
            assert lat == pytest.approx(value, abs=0.05), (text, lat)
        else:
            signed = 180.0 if value == 180.0 else (-value if text.endswith("W") else value)
            assert abs((lon - signed + 180.0) % 360.0 - 180.0) < 0.05, (text, lon)


@pytest.mark.parametrize("region", list(REGIONS))
def test_14_the_scale_bar_is_its_true_length(region):
    grid = GRIDS["arctic50km"]
    box = region_box(region, grid.x, grid.y, grid.crs)
    path, (_, _, text), _ = layers.scale_bar(box, 400, grid.crs)
    km = float(text.split()[0])
    true = along_distance(np.array([path[1], path[2]]), grid.crs)[-1]
    assert true == pytest.approx(km, rel=0.02)


def test_14_region_boxes_hold_their_marginal_ice_zone_through_the_year():
    import xarray as xr

    reference = ROOT / "checkpoints" / "reference.nc"
    if not reference.exists():
        pytest.skip("no shipped reference states")
    with xr.open_dataset(reference) as ds:
        sic = ds["sic"].load()
    grid = GRIDS["arctic50km"]
    pipe = FakePipeline(grid=grid)
    pipe.reference = sic.to_dataset()
    app = make_app(pipe)
    boxes = app.store.region_boxes()
    xx, yy = np.meshgrid(grid.x, grid.y)
    miz = ((sic > 0.15) & (sic < 0.8)).values
    from dashboard.store import REGION_REACH
    from seaice_ldm.evaluation import nearest_region

    libs = {name: region_box(name, grid.x, grid.y, grid.crs) for name, r in REGIONS.items() if r is not None}
    own = nearest_region(grid.x, grid.y, libs)
    for name, lib in libs.items():
        cx, cy, half = (lib[0] + lib[1]) / 2, (lib[2] + lib[3]) / 2, (lib[1] - lib[0]) / 2
        near = miz.any(axis=0) & own[name] & (np.abs(xx - cx) <= REGION_REACH * half) & \
            (np.abs(yy - cy) <= REGION_REACH * half)
        x0, x1, y0, y1 = boxes[name]
        assert np.all((xx[near] >= x0) & (xx[near] <= x1) & (yy[near] >= y0) & (yy[near] <= y1)), name
    march = [i for i, t in enumerate(sic["time"].values) if str(t)[5:7] == "03"]
    lat = np.asarray(app.store.lat)
    lon = np.asarray(app.store.lon)
    bering = miz[march].any(axis=0) & (lat < 64) & ((lon > 160) | (lon < -160))
    assert bering.any()  # the March Bering ice edge ...
    x0, x1, y0, y1 = boxes["Chukchi/Bering"]
    assert np.all((xx[bering] >= x0) & (xx[bering] <= x1) & (yy[bering] >= y0) & (yy[bering] <= y1))  # ... in view


def test_12_drift_arrows_and_their_key_are_cased():
    app = sampled(make_app(FakePipeline(grid=GRIDS["arctic50km"])), members=2, arrows=True, variable="speed")
    frame = mapcontent.Frame(region_box("Pan-Arctic", app.store.x, app.store.y), 400, 400)
    glyphs, key = mapcontent.arrows(app.store, "latent", frame)
    assert key is not None and key[2] == "0.1 m/s"
    casing, core = glyphs
    assert casing.opts.get().kwargs["color"] == styles.ARROW_CASING == "#ffffff" and len(core) > 1
    halo, text = layers.text_layers([(*key, "key")], styles.text_sizes(400))
    assert list(halo.dimension_values("text")) == ["0.1 m/s"]  # the key's text has the white halo under it


# ----------------------------------------------------------------------------------------- 15: colours and inputs
def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)], dtype=float)


def test_15_no_ice_is_its_own_colour_and_drift_components_say_grid():
    ends = [styles.cmap_for("siu")[128], styles.cmap_for("sid")[0], styles.cmap_for("speed")[0],
            styles.cmap_for("sid")[12], styles.cmap_for("speed")[12]]
    for colour in ends:
        assert np.abs(_rgb(styles.NO_ICE_COLOUR) - _rgb(colour)).sum() > 150, colour
    assert "grid x" in styles.variable_label("siu") and "grid y" in styles.variable_label("siv")
    assert styles.style_for("siu", "member").label.startswith("siu along grid x")


def test_15_the_seed_error_is_styled_as_an_error():
    css = (ROOT / "dashboard" / "theme.css").read_text()
    rule = css[css.index(".sl-input-error"):].split("}")[0]
    assert "color: #b00020" in rule and "font-weight: 600" in rule


def test_15_a_link_with_steps_above_the_slider_keeps_the_control_in_range():
    app = make_app()
    app.apply_query({"steps": [b"100"]})
    assert app.settings.steps == 100 and not app.settings.notices
    _, details = layout.request_widgets(app)
    steps = next(w for w in details if getattr(w, "label", "") == "Steps")
    assert steps.value == 100 and steps.fixed_end >= 100 and steps.start <= 100


def test_15_the_download_carries_the_date_as_a_time_coordinate(tmp_path):
    import xarray as xr

    app = sampled(make_app(FakePipeline(date_conditioned=True), date=dt.date(2020, 3, 15)), members=2)
    path = tmp_path / "ens.nc"
    path.write_bytes(app.netcdf_bytes().getvalue())
    with xr.open_dataset(path) as ds:
        assert ds["time"].values == np.datetime64("2020-03-15")
        assert ds["sic"].dims == ("source", "member", "y", "x")


# ----------------------------------------------------------------------------------------- 9: the URL
def test_9_every_setting_round_trips_through_the_link():
    s = Settings(date_conditioned=True, date=dt.date(2008, 6, 28))
    s.defaults = s.values()
    changed = {"date": dt.date(2008, 3, 15), "members": 16, "seed": 3, "sampler": "heun", "steps": 100,
               "include_data": False, "no_ice_rule": False, "decoder": "gaussian", "variable": "sit", "view": "miz",
               "member": 5, "arrows": True, "reference_mode": "nearest", "region": "Fram Strait", "mode": "spaghetti",
               "pair": "sid", "tool": "transect", "transect": (-400000.0, 1200000.0, 300000.0, 900000.0),
               "present": True, "refine": True}
    assert set(changed) == {f.param for f in links.FIELDS}  # every setting of the link table is exercised
    s.param.update(**changed)
    query = s.query()
    fresh = Settings(date_conditioned=True, date=dt.date(2008, 6, 28))
    from urllib.parse import parse_qs, urlsplit

    args = {k: [v.encode() for v in vs] for k, vs in parse_qs(urlsplit(query).query).items()}
    fresh.apply_query(args)
    assert not fresh.notices
    assert {k: getattr(fresh, k) for k in changed} == changed
    s.season = "all"
    assert "date=all" in s.query()


def test_9_the_page_shows_its_own_link_and_follows_the_settings():
    from dashboard.linkbar import LinkBar

    app = make_app(FakePipeline(date_conditioned=True))
    bar = LinkBar(settings=app.settings)
    app.settings.variable = "sid"
    assert bar.box.value.endswith(app.settings.query()) and "variable=sid" in bar.box.value
    model = bar.box.get_root()
    codes = [cb.code for cbs in model.js_property_callbacks.values() for cb in cbs]
    assert any("history.replaceState" in code for code in codes)  # the address bar follows the box


# ----------------------------------------------------------------------------------------- 11: redraw together
def test_11_the_maps_redraw_together_inside_one_held_update(monkeypatch):
    from contextlib import contextmanager

    from dashboard import maps

    app = sampled(make_app(), members=2)
    view = maps.MapsView(settings=app.settings, store=app.store, session=app.session)
    held, events = [], []

    @contextmanager
    def hold(*args, **kwargs):
        held.append(True)
        yield
        held.pop()

    monkeypatch.setattr(maps.pn.io, "hold", hold)
    for panel, stream in view.redraws.items():
        stream.add_subscriber(lambda panel=panel, **kw: events.append((panel, bool(held))))
    app.settings.variable = "sit"
    assert sorted(p for p, _ in events) == ["data", "latent", "reference"] and all(h for _, h in events)
    events.clear()
    app.settings.decoder = "gaussian"  # the reference does not depend on the decoder: it is not redrawn
    assert sorted(p for p, _ in events) == ["data", "latent"]


# ----------------------------------------------------------------------------------------- issue 26: variables
def test_26_only_the_models_variables_and_pairs_are_offered_and_a_gap_is_named():
    app = sampled(make_app(FakePipeline(variables=("sit", "sic"))), members=2)
    assert app.settings.param.variable.objects == ["sit", "sic"]
    assert app.settings.param.pair.objects == ["sit"]
    assert app.store.variables["latent"] == {"sit", "sic"} and "sid" in app.store.variables["reference"]
    app.settings.variable = "sit"
    assert app.store.field("latent", "sid") is None  # asked anyway (a stale link): no field, and the panel says why
    app.settings.param.variable.objects = ["sit", "sic", "sid"]
    app.settings.variable = "sid"
    kind, text = notes.panel_state(app.session, app.store, "latent")
    assert kind == "error" and text == "sid not in this model (it has sit, sic)"
    from dashboard.transect import transect_values

    _, values = transect_values(app.store, (-1e6, 0.0, 1e6, 0.0))
    assert set(values["latent"]) == {"sit", "sic"} and set(values["reference"]) == {"sit", "sic", "sid"}


# ----------------------------------------------------------------------------------------- MIZ tools
def test_transect_values_are_the_cells_crossed():
    app = sampled(make_app(), members=3)
    from dashboard.transect import transect_values

    distance, values = transect_values(app.store, (-1.5e6, 100_000.0, 1.5e6, 100_000.0))
    sic = np.asarray(app.store.dataset("latent")["sic"].values)
    row = int(np.argmin(np.abs(app.store.y - 100_000.0)))
    col = int(np.argmin(np.abs(app.store.x - 0.0)))
    middle = int(np.argmin(np.abs(np.linspace(-1.5e6, 1.5e6, len(distance)))))
    np.testing.assert_allclose(values["latent"]["sic"][:, middle], sic[:, row, col])
    assert distance[0] == 0 and distance[-1] > 2900  # km, about the 3000 km of the line (true length)


def test_probe_lists_every_members_value_and_the_mass_at_the_bounds():
    from dashboard import probe

    app = sampled(make_app(), members=6)
    cell = probe.cell_of(app.store, float(app.store.x[20]), float(app.store.y[16]))
    assert cell == (16, 20)
    values = probe.point_values(app.store, "sic", cell)
    np.testing.assert_array_equal(values["latent"], app.store.dataset("latent")["sic"].values[:, 16, 20])
    counts = probe.at_bounds(np.array([0.0, 0.0, 0.3, 1.0]), "sic")
    assert counts == {"= 0": 2, "= 1": 1}
    app.store.probe = (float(app.store.x[20]), float(app.store.y[16]))
    view = probe.ProbeView(settings=app.settings, store=app.store).view()
    table = view.objects[1].object
    assert 'data-cell="16,20"' in table and table.count("<tr data-panel") == 3


def test_region_widths_match_the_library_per_member():
    from dashboard import regional
    from seaice_ldm.evaluation import miz_width_in_box

    app = sampled(make_app(FakePipeline(grid=GRIDS["arctic50km"])), members=3)
    widths = regional.region_widths(app.store)
    box = app.store.region_boxes()["Barents Sea"]
    sic = np.asarray(app.store.dataset("latent")["sic"].values)
    expected = [miz_width_in_box(s, app.store.x, app.store.y, app.store.cell_area, box) / 1e3 for s in sic]
    np.testing.assert_allclose(widths["latent"]["Barents Sea"], expected)


def test_seasonal_cycle_file_round_trip_and_background_months(tmp_path):
    from dashboard import seasonal

    pipe = FakePipeline(date_conditioned=True)
    config = dataclasses.replace(server_config([], environ={}), cache_dir=tmp_path, seasonal_members=2,
                                 seasonal_steps=2, checkpoints=tmp_path)
    queue = SamplingQueue()
    cycles = seasonal.SeasonalCycles(pipe, config, queue)
    assert not cycles.complete and cycles.reference is not None
    cycles.start()
    import threading

    done = threading.Event()
    cycles.subscribe(lambda: done.set() if cycles.complete else None)
    assert done.wait(60)
    months = {(c[6] or "")[5:7] for c in pipe.calls}
    assert months == {f"{m:02d}" for m in range(1, 13)}  # one ensemble per month, for its 15th
    path = tmp_path / cycles.filename
    assert path.exists()
    again = seasonal.SeasonalCycles(pipe, config, queue)
    assert again.complete and again.source == str(path)
    cycle = again.cycles()["latent/censored"]
    assert int(cycle["count"].sel(month=3)) == 2


def test_11_a_frame_nudged_by_a_few_pixels_keeps_its_map_a_real_resize_or_a_new_content_redraws():
    from dashboard.maps import NUDGE_PX, nudged

    box = (-3.2e6, 3.2e6, -3.2e6, 3.2e6)
    drawn = (2, box, 411, 416)
    # a colour bar's new labels: 2 px less height, the box refitted to the new aspect (0.4 % taller)
    assert nudged(drawn, (2, (-3.2e6, 3.2e6, -3.2234e6, 3.2234e6), 411, 414))
    assert not nudged(drawn, (3, box, 411, 416))  # new content (the tick) always redraws
    assert not nudged(drawn, (2, box, 411, 416 + NUDGE_PX + 5))  # the browser resized the map
    assert not nudged(drawn, (2, (-2.0e6, 2.0e6, -2.0e6, 2.0e6), 411, 416))  # zoomed in



def test_plot_titles_count_the_states_they_pool_whatever_the_dimension_order():
    ref = xr.Dataset({"sic": (("y", "x", "time"), np.zeros((128, 128, 3)))})  # was "(128 × cells)": a grid size
    ens = xr.Dataset({"sic": (("member", "y", "x"), np.zeros((8, 4, 4)))})
    assert notes.count_title(ref, "reference") == "Reference: 3 states"
    assert notes.count_title(ens, "latent").endswith(": 8 members")
    assert notes.count_title(ref.isel(time=[0]), "reference") == "Reference: 1 state"


def test_14_a_region_change_reaches_every_map_though_their_streams_still_report_the_old_box():
    """The maps' range streams keep the ranges the browser last reported (ranges set by the server are not
    reported back): after a region change, every redraw still reports the pan-Arctic box. That used to be taken
    for a user's zoom, so only the first map showed Fram Strait, and any later redraw went back to pan-Arctic."""
    from dashboard.maps import ViewBox, fit_aspect

    grid = GRIDS["arctic50km"]
    boxes = {r: region_box(r, grid.x, grid.y, grid.crs) for r in ("Pan-Arctic", "Fram Strait")}
    view = ViewBox(boxes)
    panels = ("latent", "data", "reference")
    start = (-3.2e6, 3.2e6, -3.2e6, 3.2e6)  # what the figures first report, before any box was fitted
    for p in panels:
        view.resolve(p, "Pan-Arctic", start[:2], start[2:], 400, 300)
    fram = fit_aspect(boxes["Fram Strait"], 400, 300)
    for p in panels:  # the region change, then many redraws (variables, views): the streams never move
        assert view.resolve(p, "Fram Strait", start[:2], start[2:], 400, 300) == fram
    for _ in range(20):
        for p in panels:
            assert view.resolve(p, "Fram Strait", start[:2], start[2:], 400, 300) == fram
    zoom = (fram[0] + 1e5, fram[1] - 1e5, fram[2] + 1e5, fram[3] - 1e5)  # the user zooms one map (linked)
    assert view.resolve("data", "Fram Strait", zoom[:2], zoom[2:], 400, 300) == fit_aspect(zoom, 400, 300)
    for p in panels:  # the others follow, and an echo of the zoom is no new zoom
        assert view.resolve(p, "Fram Strait", zoom[:2], zoom[2:], 400, 300) == fit_aspect(zoom, 400, 300)
    back = view.resolve("latent", "Pan-Arctic", zoom[:2], zoom[2:], 400, 300)
    assert back == fit_aspect(boxes["Pan-Arctic"], 400, 300)
