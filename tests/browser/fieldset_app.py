"""The dashboard on a chosen grid without models: `panel serve tests/browser/fieldset_app.py` (browser tests).

The page is the real one (``dashboard.layout.create_app`` of a ``dashboard.app.App``); the pipeline is
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

from dashboard.app import App  # noqa: E402
from dashboard.config import server_config  # noqa: E402
from dashboard.layout import create_app  # noqa: E402
from dashboard.sampling import shared_queue  # noqa: E402
from dashboard.worker import get_pipeline  # noqa: E402
from fieldset import FieldSetPipeline  # noqa: E402

grid = os.environ.get("SEAICE_TEST_GRID", "arctic12km")
members = int(os.environ.get("SEAICE_TEST_MEMBERS_MAX", "16"))
config = server_config([])
app = App(get_pipeline(config, loader=lambda *a, **k: FieldSetPipeline(grid, members)), config, shared_queue(config))
pn.state.on_session_destroyed(app.session.on_session_destroyed)
pn.state.onload(app.session.sample)
create_app(app).servable()
