"""Bokeh directory-app hooks: start loading the models as soon as `panel serve dashboard` starts.

The load runs in a background thread, so the server answers at once; the first session waits for the
same (locked) load instead of starting its own.
"""

import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _preload(get_pipeline) -> None:
    try:
        get_pipeline()
    except Exception as err:  # the page reports it; the server keeps running
        print(f"seaice-ldm dashboard: models not loaded at start: {err}", file=sys.stderr)


def on_server_loaded(server_context) -> None:
    # Bokeh restores sys.path after running this file, so the repository root is added here, at call time
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from dashboard.state import get_pipeline

    threading.Thread(target=_preload, args=(get_pipeline,), name="seaice-preload", daemon=True).start()
