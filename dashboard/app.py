"""One page's objects: its settings, results store, session (requests) and the shared seasonal cycles.

:class:`App` wires them from a loaded pipeline and the server's settings; ``layout.create_app`` composes the
page from it. No thread starts here: the sampler's thread starts with the first queued job.
"""

from __future__ import annotations

from dashboard import export
from dashboard.generators import panel_variables
from dashboard.sampling import SamplingQueue, shared_queue
from dashboard.session import Session
from dashboard.settings import DISPLAY_VARIABLES, PAIRS, Settings, default_date, needs
from dashboard.store import ResultStore, reference_dates


class App:
    """Settings, results and requests of one page."""

    def __init__(self, pipeline, config, queue: SamplingQueue | None = None, cycles=None):
        self.pipeline, self.config = pipeline, config
        self.queue = queue if queue is not None else shared_queue(config)
        have = set().union(*panel_variables(pipeline, None).values()) or {"sic"}
        variables = [v for v in DISPLAY_VARIABLES if needs(v) <= have]
        pairs = [p for p in PAIRS if {"sic", p} <= have]
        self.settings = Settings(date_conditioned=bool(getattr(pipeline, "date_conditioned", False)),
                                 can_refine=getattr(pipeline, "refiner", None) is not None,
                                 variables=variables, pairs=pairs, date=default_date(reference_dates(pipeline.reference)))
        self.settings.defaults = self.settings.values()
        self.store = ResultStore(pipeline, self.settings)
        self.session = Session(pipeline, self.settings, self.store, self.queue, budget_s=config.budget_s)
        self.cycles = cycles
        self.synthetic = bool(getattr(pipeline, "synthetic", False))
        self.device = pipeline.device_name

    def apply_query(self, args) -> bool | None:
        """Apply a link's arguments (see ``dashboard.links``); returns its ``autosample`` (None when absent)."""
        autosample = self.settings.apply_query(args)
        self.session.update_estimate()
        return autosample

    # ------------------------------------------------------------------ download
    def ensemble_dataset(self):
        return export.ensemble_dataset(self.store.results, self.synthetic, getattr(self.pipeline, "grid", None))

    def download_filename(self) -> str:
        return export.download_filename(self.store.shown or self.settings.wanted())

    def netcdf_bytes(self):
        return export.netcdf_bytes(self.ensemble_dataset())

