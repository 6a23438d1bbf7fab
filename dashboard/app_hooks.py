"""Bokeh directory-app hooks: at server start, load the models, sample the default ensemble, build one page.

All of it runs in a thread started by ``on_server_loaded`` (not at import), so the server answers at once; the
first session waits for the same (locked) load instead of starting its own, and finds the default ensemble in
the result cache, so the page opens with maps already drawn. Then the seasonal cycle is read from its file or
queued as background work (it gives way to any session's request).
"""

import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGV = list(sys.argv[1:])  # Bokeh runs this file with `--args` as sys.argv, and restores it afterwards


def _preload() -> None:
    from dashboard.app import App
    from dashboard.config import server_config
    from dashboard.sampling import shared_queue
    from dashboard.seasonal import shared_cycles
    from dashboard.worker import get_pipeline

    import seaice_ldm
    from dashboard import app as app_module

    config = server_config(ARGV)
    print(f"seaice-ldm dashboard: code from {Path(app_module.__file__).parent}, seaice_ldm from "
          f"{Path(seaice_ldm.__file__).parent}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    try:
        pipeline = get_pipeline(config)
    except Exception as err:  # the page reports it; the server keeps running
        print(f"seaice-ldm dashboard: models not loaded from {config.checkpoints}: {err}", file=sys.stderr)
        return
    for (space, decoder), message in getattr(pipeline, "errors", {}).items():
        print(f"seaice-ldm dashboard: {space}/{decoder} not loaded: {message}", file=sys.stderr)
    queue = shared_queue(config)
    cycles = shared_cycles(pipeline, config, queue)
    app = App(pipeline, config, queue, cycles)
    finished = threading.Event()
    runs = app.session.runs()
    from dashboard.worker import Job

    job = Job("server start", pipeline, runs,
              listener=lambda kind, info: finished.set() if kind in ("done", "cancelled") else None)
    queue.submit(job)
    finished.wait()
    _warm_page(pipeline, config, queue, cycles)
    print(f"seaice-ldm dashboard: default ensemble ready {time.perf_counter() - start:.1f} s after start "
          f"(checkpoints {config.checkpoints})", file=sys.stderr, flush=True)
    if config.seasonal_background:
        cycles.start()
    state = f"from {cycles.source}" if cycles.complete else "queued" if cycles.started else "not sampled (no file)"
    print(f"seaice-ldm dashboard: seasonal cycle {state}", file=sys.stderr, flush=True)


def _warm_page(pipeline, config, queue, cycles) -> None:
    """Build one page into a throwaway document, so the first visitor's page is as fast as the next ones."""
    from bokeh.document import Document
    from panel.io.state import set_curdoc

    from dashboard.app import App
    from dashboard.layout import create_app

    start = time.perf_counter()
    try:
        doc = Document()
        with set_curdoc(doc):
            app = App(pipeline, config, queue, cycles)
            app.session.serve_cached()
            create_app(app).server_doc(doc)
        print(f"seaice-ldm dashboard: page warmed up in {time.perf_counter() - start:.1f} s", file=sys.stderr,
              flush=True)
    except Exception as err:  # only a warm-up: the first page is then just slower
        print(f"seaice-ldm dashboard: page warm-up failed: {type(err).__name__}: {err}", file=sys.stderr)


def on_server_loaded(server_context) -> None:
    # Bokeh restores sys.path after running this file, so the repository root is added here, at call time
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from dashboard import compat

    for fix in (compat.allow_loopback_aliases, compat.redirect_trailing_slash):
        try:
            fix()
        except Exception as err:  # never stop the server for this
            print(f"seaice-ldm dashboard: {fix.__name__} failed: {err}", file=sys.stderr)
    threading.Thread(target=_preload, name="seaice-preload", daemon=True).start()
