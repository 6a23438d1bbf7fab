"""Entry point of ``panel serve dashboard`` (Bokeh directory-app format: this file runs per session).

The models load once per server process (``dashboard.state.get_pipeline``); every session gets its own
``DashboardState``. ``?autosample=0`` in the URL (or ``SEAICE_DASHBOARD_AUTOSAMPLE=0``) opens the page
without sampling a first ensemble.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `dashboard` is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

import panel as pn  # noqa: E402

from dashboard.layout import create_app, error_page  # noqa: E402
from dashboard.state import DashboardState, get_pipeline  # noqa: E402


def _autosample() -> bool:
    arg = pn.state.session_args.get("autosample", [b""])[0].decode() if pn.state.session_args else ""
    if arg:
        return arg not in ("0", "false", "no")
    return os.environ.get("SEAICE_DASHBOARD_AUTOSAMPLE", "1") not in ("0", "false", "no")


try:
    pipeline = get_pipeline()
except Exception as err:  # no models: say so on the page instead of a traceback
    error_page(f"{type(err).__name__}: {err}").servable()
else:
    state = DashboardState(pipeline)
    app = create_app(state)
    pn.state.on_session_destroyed(lambda context: state.cancel())
    if _autosample():
        pn.state.onload(state.sample)
    app.servable()
