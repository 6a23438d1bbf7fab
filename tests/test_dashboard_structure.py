"""The dashboard as a HoloViz app (issue 25, "What to build" 7): small classes, no private library attributes, no
thread at import, and each library workaround in ``dashboard/compat.py`` with its test."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = sorted((ROOT / "dashboard").glob("*.py"))
LIBRARIES = ("panel", "bokeh", "holoviews", "param", "tornado")


@pytest.mark.parametrize("path", DASHBOARD, ids=lambda p: p.name)
def test_no_class_over_250_lines(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            lines = node.end_lineno - node.lineno + 1
            assert lines <= 250, f"{path.name}: class {node.name} has {lines} lines"


@pytest.mark.parametrize("path", DASHBOARD, ids=lambda p: p.name)
def test_no_private_attribute_of_another_object(path):
    """``x._name`` only on ``self``/``cls`` (the dashboard's own classes); nothing private imported from a library."""
    tree = ast.parse(path.read_text())
    wrong = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            if not (isinstance(base, ast.Name) and base.id in ("self", "cls")):
                wrong.append(f"line {node.lineno}: .{node.attr}")
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LIBRARIES:
            wrong += [f"line {node.lineno}: import {a.name}" for a in node.names if a.name.startswith("_")]
    assert not wrong, f"{path.name}: {wrong}"


@pytest.mark.slow  # a fresh interpreter imports panel, holoviews and every dashboard module (about 9 s)
def test_importing_the_dashboard_starts_no_thread():
    modules = [p.stem for p in DASHBOARD if p.stem not in ("main", "app_hooks")]
    code = ("import sys, threading; sys.path.insert(0, %r); before = threading.active_count(); "
            "import importlib; [importlib.import_module('dashboard.' + m) for m in %r]; "
            "import dashboard.app_hooks; print(threading.active_count() - before)") % (str(ROOT), modules)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "0"


# ----------------------------------------------------------------------------------------- compat, one test each
def test_compat_pins_the_versions_it_was_written_for():
    import bokeh
    import panel

    from dashboard import compat

    assert compat.PINNED == {"bokeh": bokeh.__version__, "panel": panel.__version__}, (
        "a library changed: check each workaround in dashboard/compat.py and update PINNED")


def test_compat_loopback_aliases_and_trailing_slash():
    from bokeh.application import Application
    from bokeh.server.tornado import BokehTornado

    from dashboard import compat

    app = BokehTornado({"/dashboard": Application()}, extra_websocket_origins=["localhost:5999"])
    assert compat.allow_loopback_aliases() >= 2
    assert {"localhost:5999", "127.0.0.1:5999", "[::1]:5999"} <= app.websocket_origins
    assert compat.redirect_trailing_slash() >= 1
    assert any(getattr(rule.matcher, "regex", None) and rule.matcher.regex.pattern.startswith("/dashboard")
               for rules in app.default_router.rules for rule in getattr(rules.target, "rules", []))


def test_compat_ipv6_hosts_get_an_empty_location():
    """Panel 1.9.4's own Location cannot parse ``[::1]:PORT``; the workaround hands the page an empty one."""
    from panel.io.location import Location

    from dashboard import compat

    from bokeh.server.contexts import _RequestProxy  # the request Bokeh hands a session (test only)
    from tornado.httputil import HTTPHeaders, HTTPServerRequest

    request = HTTPServerRequest(method="GET", uri="/dashboard", headers=HTTPHeaders({"Host": "[::1]:5006"}))
    with pytest.raises(ValueError):  # the bug: if this stops raising, the workaround can go
        Location.from_request(_RequestProxy(request))
    assert isinstance(compat.page_location("[::1]:5006"), Location)
    assert compat.page_location("127.0.0.1:5006") is True
