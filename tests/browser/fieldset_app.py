"""The dashboard on a chosen grid without models: `panel serve tests/browser/fieldset_app.py` (browser tests).

The page is the real one (``dashboard.layout.create_app`` and ``DashboardState``); the pipeline is
``fieldset.FieldSetPipeline`` (held-out synthetic states resampled to ``SEAICE_TEST_GRID``, default
``arctic12km``; at most ``SEAICE_TEST_MEMBERS_MAX`` members, default 16). The class lives in its own module:
Bokeh clears an app file's globals after each session, which would break objects defined here.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parents[1]):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import panel as pn  # noqa: E402

from dashboard import worker  # noqa: E402
from dashboard.layout import create_app  # noqa: E402
from dashboard.state import DashboardState  # noqa: E402
from fieldset import FieldSetPipeline  # noqa: E402

grid = os.environ.get("SEAICE_TEST_GRID", "arctic12km")
members = int(os.environ.get("SEAICE_TEST_MEMBERS_MAX", "16"))
state = DashboardState(worker.get_pipeline(loader=lambda *a, **k: FieldSetPipeline(grid, members)))
pn.state.on_session_destroyed(state.on_session_destroyed)
pn.state.onload(state.sample)
create_app(state).servable()
