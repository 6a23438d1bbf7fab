"""Workarounds of library behaviour, each with the version it was written against and a test
(``tests/test_dashboard_compat.py``). Only public Panel/Bokeh API is used.

- Bokeh 3.9.2: the default websocket allowlist is ``localhost:PORT`` only, so a page opened at
  ``http://127.0.0.1:PORT`` or ``http://[::1]:PORT`` loads but its websocket is refused (a blank page):
  :func:`allow_loopback_aliases` adds the loopback aliases of an allowed ``localhost`` origin, nothing else.
- Bokeh 3.9.2 / Panel 1.9.4: at ``/dashboard/`` Bokeh serves the page but Panel's relative asset paths point to
  ``/dashboard/static/...``, which 404 (an unstyled, broken page): :func:`redirect_trailing_slash`.
- Panel 1.9.4: ``Location.from_request`` splits the host on every ``:``, so an IPv6 host (``[::1]:PORT``) fails to
  build the page ("too many values to unpack"): :func:`page_location` hands the template an empty ``Location``
  for such hosts (public ``servable(location=...)``); the browser fills it in when it connects.
"""

from __future__ import annotations

import gc
import re

PINNED = {"bokeh": "3.9.2", "panel": "1.9.4"}


def _tornado_apps():
    from bokeh.server.tornado import BokehTornado

    found = []
    for o in gc.get_objects():
        try:  # a dead weak proxy among the objects raises on inspection
            if isinstance(o, BokehTornado):
                found.append(o)
        except ReferenceError:
            continue
    return found


def allow_loopback_aliases() -> int:
    """Add ``127.0.0.1:PORT`` and ``[::1]:PORT`` wherever ``localhost:PORT`` may open a websocket (and back)."""
    added = 0
    for app in _tornado_apps():
        origins = app.websocket_origins
        for origin in list(origins):
            host, _, port = origin.rpartition(":")
            if host in ("localhost", "127.0.0.1", "[::1]") and port:
                new = {f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"} - origins
                origins.update(new)
                added += len(new)
    return added


def redirect_trailing_slash() -> int:
    """``/dashboard/`` -> ``/dashboard`` (query kept), before Bokeh's own routes."""
    from tornado.web import RequestHandler

    class NoTrailingSlash(RequestHandler):
        def get(self) -> None:
            query = self.request.query
            self.redirect(self.request.path.rstrip("/") + (f"?{query}" if query else ""), permanent=False)

    n = 0
    for app in _tornado_apps():
        patterns = [(re.escape(path) + "/+", NoTrailingSlash) for path in app.app_paths if path not in ("", "/")]
        if patterns:
            app.add_handlers(r".*", patterns)
            n += len(patterns)
    return n


def page_location(host: str):
    """The ``location`` argument of ``template.servable`` for a page requested at ``host``: an empty
    ``Location`` for an IPv6 host (Panel 1.9.4 cannot parse it), else True (Panel's own)."""
    if not host.startswith("["):
        return True
    from panel.io.location import Location

    return Location()
