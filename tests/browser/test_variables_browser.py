"""Issue 26's dashboard side in Chromium: checkpoints trained on sit and sic only (tiny models, trained here with
the ``seaice-ldm`` command) offer exactly those variables and the one joint pair they make, and the server takes
its checkpoints folder from ``panel serve dashboard --args --checkpoints DIR``."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

from conftest import CHROMIUM, ROOT, _free_port, start_panel, stop_panel, wait_for_log, wait_until_serving  # noqa: E402,E501
from test_dashboard_browser import PageWatch  # noqa: E402

pytestmark = pytest.mark.browser
TINY = ROOT / "configs" / "tiny"
VARIABLES = '["sit", "sic"]'


def _two_variable_config(name: str, out: Path) -> Path:
    text = (TINY / f"{name}.toml").read_text()
    text = text.replace("[data]\n", f"[data]\nvariables = {VARIABLES}\n", 1)
    if name.startswith("vae"):
        text = text.replace("[vae]\n", "[vae]\nin_channels = 2\n", 1)
    if name == "ddm":
        text = re.sub(r"in_channels = \d+", "in_channels = 2", text)
        text = re.sub(r"out_channels = \d+", "out_channels = 2", text)
    path = out / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def two_variable_checkpoints(tmp_path_factory):
    """Tiny VAEs, latent models and a data-space model on sit and sic, exported, with the shipped held-out states."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    if not (ROOT / "checkpoints" / "reference.nc").exists():
        pytest.skip("needs checkpoints/reference.nc")
    from seaice_ldm.cli import main

    root = tmp_path_factory.mktemp("sit_sic")
    runs, ship = root / "runs", root / "checkpoints"
    configs = {name: _two_variable_config(name, root) for name in
               ("vae_censored", "vae_gaussian", "ldm_censored", "ldm_gaussian", "ddm")}
    for decoder in ("censored", "gaussian"):
        assert main(["train", "vae", "--config", str(configs[f"vae_{decoder}"]), "--out", str(runs / f"vae_{decoder}"),
                     "--steps", "12"]) == 0
        assert main(["train", "diffusion", "--space", "latent", "--config", str(configs[f"ldm_{decoder}"]),
                     "--vae", str(runs / f"vae_{decoder}"), "--out", str(runs / f"ldm_{decoder}"), "--steps", "8"]) == 0
    assert main(["train", "diffusion", "--space", "data", "--config", str(configs["ddm"]), "--out", str(runs / "ddm"),
                 "--steps", "4"]) == 0
    for name in configs:
        assert main(["export", str(runs / name), str(ship / name), "--dtype", "float16"]) == 0
    shutil.copy(ROOT / "checkpoints" / "reference.nc", ship / "reference.nc")
    return ship


@pytest.fixture(scope="module")
def two_variable_url(two_variable_checkpoints, artifacts):
    port = _free_port()
    log_path = artifacts / "server_sit_sic.log"
    env = {k: v for k, v in os.environ.items() if k != "SEAICE_LDM_CHECKPOINTS"}
    env.update(PYTHONUNBUFFERED="1", SEAICE_DASHBOARD_SEASONAL="0")
    proc, log = start_panel(["dashboard", "--port", str(port), "--args", "--checkpoints", str(two_variable_checkpoints)],
                            env, log_path)
    url = f"http://127.0.0.1:{port}/dashboard"
    try:
        wait_until_serving(proc, url + "?autosample=0", 300, log_path)
        wait_for_log(log_path, "default ensemble ready", 300)
        yield url
    finally:
        stop_panel(proc, log)


def test_26_only_the_models_variables_and_pair_are_offered(page, two_variable_url, two_variable_checkpoints,
                                                           artifacts):
    watch = PageWatch(page)
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.goto(two_variable_url)
    expect(page.locator(".sl-status")).to_contain_text(re.compile(r"^Done"), timeout=240_000)
    log = (artifacts / "server_sit_sic.log").read_text(errors="replace")
    assert f"checkpoints {two_variable_checkpoints}" in log  # the folder came from --args --checkpoints
    buttons = page.locator(".sl-variable button")
    assert [buttons.nth(i).inner_text() for i in range(buttons.count())] == ["sit", "sic"]
    expect(page.locator(".sl-arrows input")).to_be_disabled()  # no drift in these models
    page.locator(".sl-mode").get_by_role("button", name="Joint distribution").click()
    pairs = page.locator(".sl-pair button")
    expect(pairs).to_have_count(1, timeout=30_000)
    assert pairs.first.inner_text() == "sic vs sit"
    expect(page.locator(".sl-joint canvas").first).to_be_visible(timeout=120_000)
    page.locator(".sl-mode").get_by_role("button", name="Fields").click()
    page.locator(".sl-variable").get_by_role("button", name="sit", exact=True).click()
    expect(page.locator(".sl-head-latent .sl-panel-state")).not_to_contain_text("not in this model", timeout=30_000)
    page.wait_for_timeout(2000)
    page.screenshot(path=str(artifacts / "stage_sit_sic_models.png"))
    watch.check()


def test_26_a_stale_link_asking_for_sid_is_named_not_blank(page, two_variable_url, artifacts):
    watch = PageWatch(page)
    page.goto(two_variable_url + "?variable=sid&pair=sid")
    expect(page.locator(".sl-notice")).to_contain_text("variable='sid' ignored", timeout=240_000)
    expect(page.locator(".sl-notice")).to_contain_text("pair='sid' ignored")
    watch.check()
