"""Browser-test fixtures: a `panel serve dashboard` server on a free port and Debian's Chromium.

Playwright cannot download its own browser here, so the tests use ``/usr/bin/chromium`` with the
launch arguments from the ecosystem notes (no sandbox, no GPU, no background networking). The
server runs from the repository root exactly as a user would start it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("SEAICE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1680, "height": 1900}
SERVER_START_TIMEOUT = 180


def _checkpoints() -> Path:
    return Path(os.environ.get("SEAICE_LDM_CHECKPOINTS", ROOT / "checkpoints"))


def _has_models() -> bool:
    root = _checkpoints()
    return any((root / name / "config.json").exists() for name in ("ldm_censored", "ldm_gaussian", "ddm"))


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SEAICE_DASHBOARD_URL"):  # an already running dashboard: only Chromium is needed
        reasons = [] if Path(CHROMIUM).exists() else [f"Chromium not found at {CHROMIUM}"]
        if reasons:
            for item in items:
                if "browser" in item.keywords:
                    item.add_marker(pytest.mark.skip(reason=reasons[0]))
        return
    reasons = []
    if not Path(CHROMIUM).exists():
        reasons.append(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    if not _has_models():
        reasons.append(f"no trained models in {_checkpoints()} (the dashboard needs the shipped checkpoints)")
    if shutil.which("panel") is None and not (Path(sys.executable).parent / "panel").exists():
        reasons.append("the `panel` command is not installed")
    if reasons:
        skip = pytest.mark.skip(reason="; ".join(reasons))
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def dashboard_url(artifacts):
    """Start `panel serve dashboard` on a free port (cwd: repository root) and wait until it answers.

    ``SEAICE_DASHBOARD_URL`` points the tests at an already running dashboard instead.
    """
    if os.environ.get("SEAICE_DASHBOARD_URL"):
        yield os.environ["SEAICE_DASHBOARD_URL"].rstrip("/")
        return
    if not Path(CHROMIUM).exists() or not _has_models():
        pytest.skip("browser tests need Chromium and the shipped checkpoints")
    port = _free_port()
    panel_cmd = Path(sys.executable).parent / "panel"
    cmd = [str(panel_cmd) if panel_cmd.exists() else "panel", "serve", "dashboard", "--port", str(port),
           "--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}"]
    log = open(artifacts / "server.log", "w")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/dashboard"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"panel serve exited with {proc.returncode}; see {artifacts / 'server.log'}")
            try:
                with urllib.request.urlopen(url + "?autosample=0", timeout=60) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"panel serve did not answer within {SERVER_START_TIMEOUT} s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": VIEWPORT, "accept_downloads": True}
