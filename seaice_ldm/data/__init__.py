"""Data layer: variables and bounds, grids, land masks, synthetic states, loaders, normalisation, splits.

Nothing here imports torch: the layer produces xarray Datasets and numpy arrays in the canonical layout
of docs/DESIGN.md.
"""

from .canonical import canonical_coords, cf_encoding, check_canonical, make_dataset, variable_attrs, with_cf
from .derived import drift_speed, no_ice_rule, sea_ice_extent
from .dims import SAMPLE_DIMS, SPATIAL_DIMS, sample_dim
from .geography import (
    build_coastline,
    cartopy_crs,
    configure_cartopy,
    graticule,
    graticule_spacing,
    load_coastline,
    project_lonlat,
    projected_coastline,
    sea_labels,
)
from .grid import DEFAULT_GRID, GRIDS, Grid, get_grid, grid_from_dataset
from .io import check_output, write_dataset
from .landmask import build_land_mask, build_masks, save_land_mask
from .arrays import to_arrays
from .clipping import DEFAULT_TOLERANCE, clip_to_bounds
from .land import LAND_MASK_CONVENTIONS, land_of
from .opening import DataNote, open_dataset
from .validation import validate_dataset
from .normalisation import NormStats, compute_norm_stats, denormalise, normalise, normalised_bounds, same_normalisation
from .shipped_masks import LandMask, load_land_mask
from .regions import PAN_ARCTIC, REGIONS, region_box
from .splits import dataset_years, describe_split, split_by_year, split_years
from .summary import check_path, summarize
from .synthetic import synthesize
from .variables import (
    EXTENT_THRESHOLD,
    MIZ_LOWER,
    MIZ_UPPER,
    VARIABLE_NAMES,
    VARIABLES,
    DataError,
    Variable,
    bounds_array,
    canonical_name,
    unit_factor,
)

__all__ = [
    "canonical_coords", "cf_encoding", "check_canonical", "make_dataset", "variable_attrs", "with_cf",
    "drift_speed", "no_ice_rule", "sea_ice_extent",
    "SAMPLE_DIMS", "SPATIAL_DIMS", "sample_dim",
    "build_coastline", "cartopy_crs", "configure_cartopy", "graticule", "graticule_spacing", "load_coastline",
    "project_lonlat", "projected_coastline", "sea_labels",
    "PAN_ARCTIC", "REGIONS", "region_box",
    "DEFAULT_GRID", "GRIDS", "Grid", "get_grid", "grid_from_dataset",
    "check_output", "write_dataset",
    "LandMask", "build_land_mask", "build_masks", "load_land_mask", "save_land_mask",
    "DEFAULT_TOLERANCE", "LAND_MASK_CONVENTIONS", "DataNote", "clip_to_bounds", "land_of", "open_dataset",
    "to_arrays", "validate_dataset",
    "NormStats", "compute_norm_stats", "denormalise", "normalise", "normalised_bounds", "same_normalisation",
    "dataset_years", "describe_split", "split_by_year", "split_years",
    "check_path", "summarize",
    "synthesize",
    "EXTENT_THRESHOLD", "MIZ_LOWER", "MIZ_UPPER",
    "VARIABLE_NAMES", "VARIABLES", "DataError", "Variable", "bounds_array", "canonical_name", "unit_factor",
]
