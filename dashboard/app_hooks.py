"""Bokeh directory-app hooks: load the models and sample the default ensemble when the server starts.

Both run in a background thread, so the server answers at once; the first session waits for the same
(locked) load instead of starting its own, and finds the default ensemble in the result cache, so the
page opens with maps already drawn.
"""

import gc
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _preload() -> None:
    from dashboard.state import default_request
    from dashboard.worker import QUEUE, get_pipeline

    start = time.perf_counter()
    try:
        pipeline = get_pipeline()
    except Exception as err:  # the page reports it; the server keeps running
        print(f"seaice-ldm dashboard: models not loaded at start: {err}", file=sys.stderr)
        return
    for (space, decoder), message in getattr(pipeline, "errors", {}).items():
        print(f"seaice-ldm dashboard: {space}/{decoder} not loaded: {message}", file=sys.stderr)
    finished = threading.Event()
    QUEUE.warm_up(pipeline, default_request(pipeline),
                  listener=lambda kind, info: finished.set() if kind in ("done", "cancelled") else None)
    finished.wait()
    _warm_page(pipeline)
    print(f"seaice-ldm dashboard: default ensemble ready {time.perf_counter() - start:.1f} s after start",
          file=sys.stderr, flush=True)


def _warm_page(pipeline) -> None:
    """Build one page into a throwaway document, so the first visitor's page is as fast as the next ones.

    A server's first page took about 40 % longer to build than later ones (first use of HoloViews'
    option trees, Bokeh's model classes, the cached geography layers...).
    """
    from bokeh.document import Document
    from panel.io.state import set_curdoc

    from dashboard.layout import create_app
    from dashboard.state import DashboardState

    start = time.perf_counter()
    try:
        doc = Document()
        with set_curdoc(doc):
            state = DashboardState(pipeline)
            state.serve_cached()
            create_app(state).server_doc(doc)
        print(f"seaice-ldm dashboard: page warmed up in {time.perf_counter() - start:.1f} s",
              file=sys.stderr, flush=True)
    except Exception as err:  # only a warm-up: the first page is then just slower
        print(f"seaice-ldm dashboard: page warm-up failed: {type(err).__name__}: {err}", file=sys.stderr)


def _allow_loopback_aliases() -> None:
    """Let ``http://[::1]:PORT`` connect wherever ``localhost:PORT`` / ``127.0.0.1:PORT`` may.

    Bokeh's default websocket allowlist is ``localhost:PORT``; a page opened at the IPv6 loopback address
    then loads but its websocket is refused, leaving a blank page. Only loopback aliases are added.
    """
    from bokeh.server.tornado import BokehTornado

    for app in (o for o in gc.get_objects() if isinstance(o, BokehTornado)):
        origins = app.websocket_origins
        for origin in list(origins):
            host, _, port = origin.rpartition(":")
            if host in ("localhost", "127.0.0.1", "[::1]") and port:
                origins.update({f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"})


def _redirect_trailing_slash() -> None:
    """``/dashboard/`` -> ``/dashboard`` (query kept). At ``/dashboard/`` Bokeh serves the page, but Panel's
    relative asset paths then point to ``/dashboard/static/extensions/...``, which 404: an unstyled,
    broken page."""
    import re

    from bokeh.server.tornado import BokehTornado
    from tornado.web import RequestHandler

    class NoTrailingSlash(RequestHandler):
        def get(self) -> None:
            query = self.request.query
            self.redirect(self.request.path.rstrip("/") + (f"?{query}" if query else ""), permanent=False)

    for app in (o for o in gc.get_objects() if isinstance(o, BokehTornado)):
        patterns = [(re.escape(path) + "/+", NoTrailingSlash) for path in app.app_paths if path not in ("", "/")]
        if patterns:
            app.add_handlers(r".*", patterns)  # inserted before Bokeh's own (wildcard-host) routes


def on_server_loaded(server_context) -> None:
    # Bokeh restores sys.path after running this file, so the repository root is added here, at call time
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    for fix in (_allow_loopback_aliases, _redirect_trailing_slash):
        try:
            fix()
        except Exception as err:  # never stop the server for this
            print(f"seaice-ldm dashboard: {fix.__name__} failed: {err}", file=sys.stderr)
    threading.Thread(target=_preload, name="seaice-preload", daemon=True).start()
