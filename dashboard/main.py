"""Entry point of ``panel serve dashboard`` (Bokeh directory-app format: this file runs per session).

The models load once per server process (``dashboard.worker.get_pipeline``; the server starts loading
them and sampling the default ensemble at start, see ``app_hooks.py``); every session gets its own
``DashboardState``. URL arguments (``?members=16&seed=3&date=2008-03-15`` ...) set the controls, and
invalid ones are listed on the page; ``?autosample=0`` (or ``SEAICE_DASHBOARD_AUTOSAMPLE=0``) opens the
page without a first ensemble.
"""

import contextlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `dashboard` is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

import panel as pn  # noqa: E402

from dashboard.layout import create_app, error_page  # noqa: E402
from dashboard.state import DashboardState  # noqa: E402
from dashboard.worker import get_pipeline  # noqa: E402


def _session_args() -> dict:
    try:
        return dict(pn.state.session_args or {})
    except Exception:  # no request (e.g. run outside a server)
        return {}


def build() -> None:
    try:
        pipeline = get_pipeline()
    except Exception as err:  # no model at all: say so on the page instead of a traceback
        error_page(f"{type(err).__name__}: {err}").servable()
        return
    state = DashboardState(pipeline)
    autosample = state.apply_query(_session_args())
    if autosample is None:
        autosample = os.environ.get("SEAICE_DASHBOARD_AUTOSAMPLE", "1") not in ("0", "false", "no")
    # a bound method, not a lambda over a module global: Bokeh clears this module's globals before it
    # calls session-destroyed callbacks ("name 'state' is not defined")
    pn.state.on_session_destroyed(state.on_session_destroyed)
    # the default ensemble was sampled when the server started: the page opens with it already drawn
    if autosample and not state.serve_cached():
        pn.state.onload(state.sample)
    app = create_app(state)
    if state.link_region is not None and not _apply_region(app, state.link_region):
        state.notices = [*state.notices, f"region={state.link_region!r} ignored (no region selector on this page)"]
    _ipv6_location()
    doc = pn.state.curdoc
    # one freeze around the whole page: Bokeh then walks the model graph once, not once per added root
    # (36 walks of about 1,000 models; this halves the time to build a page)
    with doc.models.freeze() if doc is not None else contextlib.nullcontext():
        app.servable()


def _ipv6_location() -> None:
    """Give Panel the page's Location when the host is an IPv6 literal (``[::1]:PORT``).

    Panel 1.9 splits the host on every ``:`` and fails to build the page ("too many values to unpack"),
    which left ``http://[::1]:PORT`` blank. The location is parsed with a stand-in host, then given the
    real one; the browser sends its own location when it connects.
    """
    doc = pn.state.curdoc
    request = getattr(getattr(doc, "session_context", None), "request", None)
    host = getattr(request, "host", "") or ""
    if not host.startswith("["):
        return
    from panel.io.location import Location, _get_location_params
    from panel.util import edit_readonly

    hostname, _, port = host.rpartition(":")
    params = _get_location_params(request.protocol, f"localhost:{port}" if port else "localhost", request.uri)
    params.update(hostname=hostname, href=params.get("href", "").replace("//localhost", f"//{hostname}", 1))
    location = Location()
    with edit_readonly(location):
        location.param.update(**{k: v for k, v in params.items() if k in location.param})
    pn.state._locations[doc] = location


def _apply_region(app, region: str) -> bool:
    """Hand a link's region to the map area (it owns the region choice); False if there is none."""
    stack = list(getattr(app, "main", []))
    while stack:
        obj = stack.pop()
        area = getattr(obj, "map_area", None)
        if area is not None and hasattr(getattr(area, "settings", None), "region"):
            area.settings.region = region
            return True
        stack.extend(getattr(obj, "objects", []))
    return False


build()
