"""Entry point of ``panel serve dashboard`` (Bokeh directory-app format: this file runs per session).

The models load once per server process (``dashboard.worker.get_pipeline``; the server starts loading them and
sampling the default ensemble at start, see ``app_hooks.py``); every session gets its own ``App``. URL
arguments set every control (``dashboard.links``); invalid ones are listed on the page; ``?autosample=0`` (or
``SEAICE_DASHBOARD_AUTOSAMPLE=0``) opens the page without a first ensemble.
``panel serve dashboard --args --checkpoints DIR --budget 60`` chooses the models and the request budget.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `dashboard` is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

import panel as pn  # noqa: E402

from dashboard import compat  # noqa: E402
from dashboard.app import App  # noqa: E402
from dashboard.config import server_config  # noqa: E402
from dashboard.layout import create_app, error_page  # noqa: E402
from dashboard.sampling import shared_queue  # noqa: E402
from dashboard.seasonal import shared_cycles  # noqa: E402
from dashboard.worker import get_pipeline  # noqa: E402


def _request():
    return getattr(getattr(pn.state.curdoc, "session_context", None), "request", None)


def build() -> None:
    config = server_config(sys.argv[1:])
    try:
        pipeline = get_pipeline(config)
    except Exception as err:  # no model at all: say so on the page instead of a traceback
        error_page(f"{type(err).__name__}: {err}", str(config.checkpoints)).servable()
        return
    queue = shared_queue(config)
    app = App(pipeline, config, queue, shared_cycles(pipeline, config, queue))
    request = _request()
    autosample = app.apply_query(getattr(request, "arguments", None))
    if autosample is None:
        autosample = config.autosample
    # a bound method, not a lambda over a module global: Bokeh clears this module's globals before it calls
    # session-destroyed callbacks
    pn.state.on_session_destroyed(app.session.on_session_destroyed)
    # the default ensemble was sampled when the server started: the page opens with it already drawn
    if autosample and not app.session.serve_cached():
        pn.state.onload(app.session.sample)
    template = create_app(app)
    doc = pn.state.curdoc
    host = str(getattr(request, "host", "") or "")
    with doc.models.freeze():  # one walk of the model graph for the whole page
        template.servable(location=compat.page_location(host))


build()
