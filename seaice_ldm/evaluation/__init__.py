"""Evaluation of generated sea-ice states: physical metrics, power spectra and proper scores.

The metrics, spectra and scores are pure functions on numpy arrays and ``xarray`` data sets in the
canonical layout (docs/DESIGN.md), with no torch; ``report``, ``benchmark`` and ``reference`` sit on top
of the pipeline and drive ``seaice-ldm evaluate`` and ``seaice-ldm benchmark``.
"""

from .cover import excess, excess_share, ice_area
from .edges import (
    contour_lines,
    edge_length,
    edge_probability,
    grid_edge,
    ice_mask,
    iiee,
    iiee_sic,
    isolated_ice_cells,
    isolated_pack_gaps,
    miz_area,
    miz_width,
)
from .metrics import (
    DEFAULT_BOUNDS,
    VARIABLE_NAMES,
    bound_share,
    bound_violation_share,
    ice_integrals,
    miz_error,
    miz_mask,
    ocean_fields,
    ocean_mask,
    ocean_values,
    reconstruction_errors,
    wasserstein_per_variable,
)
from .miz_regions import box_mask, miz_box, miz_probability, miz_width_in_box, miz_widths_by_region, nearest_region
from .scores import crps_fair, energy_distance_fields, energy_score, ensemble_crps
from .seasonal import (cycle_from_months, cycle_from_numbers, cycle_from_states, mid_month_dates,
                       state_numbers)
from .spectra import mean_spectrum, periodogram_2d, radial_power_spectrum, small_scale_ratio, spectrum_boxes
from .transects import along_distance, sample_along, transect_points

__all__ = [
    # added for the dashboard (issue 25): cover, miz, seasonal, transects
    "excess", "excess_share", "ice_area", "box_mask", "miz_box", "miz_probability", "miz_width_in_box",
    "miz_widths_by_region", "nearest_region", "cycle_from_months", "cycle_from_numbers", "cycle_from_states", "mid_month_dates",
    "state_numbers",
    "along_distance", "sample_along", "transect_points",
    "contour_lines",
    "edge_length",
    "edge_probability",
    "grid_edge",
    "ice_mask",
    "iiee",
    "iiee_sic",
    "isolated_ice_cells",
    "isolated_pack_gaps",
    "miz_area",
    "miz_width",
    "DEFAULT_BOUNDS",
    "VARIABLE_NAMES",
    "bound_share",
    "bound_violation_share",
    "crps_fair",
    "energy_distance_fields",
    "energy_score",
    "ensemble_crps",
    "ice_integrals",
    "mean_spectrum",
    "spectrum_boxes",
    "miz_error",
    "miz_mask",
    "ocean_fields",
    "ocean_mask",
    "ocean_values",
    "periodogram_2d",
    "radial_power_spectrum",
    "reconstruction_errors",
    "small_scale_ratio",
    "wasserstein_per_variable",
]
