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
def yardstick(artifacts) -> float:
    """Seconds of ``pipeline.sample`` for 8 latent members (default steps and sampler, the dashboard's
    precision and one torch thread), measured here before the server starts: the scale of every timing."""
    if not _has_models():
        pytest.skip("no trained models")
    import json

    code = ("import time, torch; torch.set_num_threads(1); from seaice_ldm import load_pipeline, SampleRequest as R; "
            "p = load_pipeline(%r, precision='auto'); p.sample(R(members=2, steps=2)); "
            "t = time.perf_counter(); p.sample(R(space='latent', decoder='censored', members=8)); "
            "print(time.perf_counter() - t)" % str(_checkpoints()))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, OMP_NUM_THREADS="1"), check=True)
    seconds = float(out.stdout.strip().splitlines()[-1])
    path = artifacts / "timings.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data["yardstick_latent_8_members_s"] = round(seconds, 3)
    path.write_text(json.dumps(data, indent=2))
    return seconds


def wait_for_log(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{text!r} not in {path} within {timeout} s")
        time.sleep(0.2)


def start_panel(args: list[str], env: dict, log_path: Path):
    """``panel serve ARGS`` from the repository root, its output in ``log_path``: (process, open log)."""
    log = open(log_path, "w")
    panel_cmd = Path(sys.executable).parent / "panel"
    proc = subprocess.Popen([str(panel_cmd) if panel_cmd.exists() else "panel", "serve", *args], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    return proc, log


def wait_until_serving(proc, url: str, timeout: float, log_path: Path, request_timeout: float = 60) -> None:
    """Poll ``url`` until it answers 200; an error naming the log if the server exits or stays silent."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"panel serve exited with {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=request_timeout) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"panel serve did not answer within {timeout} s; see {log_path}")
        time.sleep(0.5)


def stop_panel(proc, log) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture(scope="session")
def dashboard_url(artifacts, yardstick):
    """Start `panel serve dashboard` on a free port (cwd: repository root) and wait until it answers.

    ``SEAICE_DASHBOARD_URL`` points the tests at an already running dashboard instead.
    """
    if os.environ.get("SEAICE_DASHBOARD_URL"):
        yield os.environ["SEAICE_DASHBOARD_URL"].rstrip("/")
        return
    if not Path(CHROMIUM).exists() or not _has_models():
        pytest.skip("browser tests need Chromium and the shipped checkpoints")
    port = _free_port()
    # a budget above the tests' largest request (64 members x 40 steps); the budget test asks for far more
    env = dict(os.environ, PYTHONUNBUFFERED="1", SEAICE_DASHBOARD_BUDGET_S=os.environ.get("SEAICE_DASHBOARD_BUDGET_S",
                                                                                         "900"))
    # exactly the README's command (plus a port): the default websocket allowlist, so 127.0.0.1 and [::1]
    # pages only work because the app allows the loopback aliases itself (app_hooks.py)
    proc, log = start_panel(["dashboard", "--port", str(port)], env, artifacts / "server.log")
    url = f"http://127.0.0.1:{port}/dashboard"
    try:
        wait_until_serving(proc, url + "?autosample=0", SERVER_START_TIMEOUT, artifacts / "server.log")
        # the server samples the default ensemble once at start (app_hooks.py); pages opened after find it
        wait_for_log(artifacts / "server.log", "default ensemble ready", SERVER_START_TIMEOUT)
        log_text = (artifacts / "server.log").read_text(errors="replace")
        code = f"code from {ROOT / 'dashboard'}, seaice_ldm from {ROOT / 'seaice_ldm'}"
        assert code in log_text, f"the server did not run this checkout's code ({code}):\n{log_text[-2000:]}"
        yield url
    finally:
        stop_panel(proc, log)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": VIEWPORT, "accept_downloads": True}


def pytest_itemcollected(item):
    """Every test in this folder is in the browser tier (tests/conftest.py), marked or not."""
    if item.get_closest_marker("browser") is None:
        item.add_marker(pytest.mark.browser)
