"""The dashboard's netCDF download: every ensemble of the last request in one file.

Dims ``(source, member, y, x)``; a dated ensemble carries its date as a scalar CF ``time`` coordinate (and an
all-seasons one each member's ``day_of_year``).
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

from seaice_ldm.options import DECODERS, SPACES


def ensemble_dataset(results: dict, synthetic: bool, grid=None) -> xr.Dataset | None:
    """All ensembles of ``results`` ({space: {decoder: Dataset}}) in one Dataset with a ``source`` dimension."""
    parts, names = [], []
    for space in SPACES:
        for decoder in DECODERS:
            ds = results.get(space, {}).get(decoder)
            if ds is not None:
                parts.append(ds)
                names.append(f"{space}_{decoder}")
    if not parts:
        return None
    keep = ("sampler", "steps", "seed", "date", "device", "grid_name")
    combined = xr.concat([p.drop_attrs(deep=False) for p in parts], dim="source", coords="minimal",
                         compat="override", join="override")
    combined = combined.assign_coords(source=("source", names, {"long_name": "generator (space_decoder)"}))
    for attr, kind in (("space", str), ("decoder", str), ("diffusion_model", str), ("vae_model", str),
                       ("seconds", float)):
        values = [kind(p.attrs.get(attr, "")) if kind is str else float(p.attrs.get(attr, np.nan)) for p in parts]
        combined = combined.assign_coords({f"source_{attr}": ("source", values, {"long_name": f"generator {attr}"})})
    date = parts[0].attrs.get("date", "")
    if len(str(date)) == 10 and str(date)[4] == "-":  # a dated ensemble: its date as a CF time coordinate
        combined = combined.assign_coords(time=((), np.datetime64(str(date), "ns"),
                                                {"long_name": "date the ensemble was sampled for",
                                                 "standard_name": "time"}))
    attrs = {k: parts[0].attrs[k] for k in keep if k in parts[0].attrs}
    attrs.update({
        "title": parts[0].attrs.get("title", "Generated sea-ice states"),
        "source": "seaice-ldm dashboard: latent and data-space diffusion ensembles",
        "comment": ("Models trained on SYNTHETIC Arctic data, not observations. " if synthetic else "")
        + "'censored' = censored decoder (latent) or clipped to the physical bounds (data space).",
        "synthetic": "yes" if synthetic else "no",
    })
    if grid is None:  # a pipeline without a grid (test fakes): the attributes only
        return combined.assign_attrs(attrs)
    from seaice_ldm.data import with_cf

    return with_cf(combined, grid, attrs)


def download_filename(request: dict) -> str:
    r = request
    date = f"_{r['date']}" if r.get("date") else ""
    return f"seaice-ldm_ensemble_{r['members']}m_seed{r['seed']}_{r['sampler']}{r['steps']}{date}.nc"


def netcdf_bytes(ds: xr.Dataset | None) -> io.BytesIO | None:
    """``ds`` as netCDF-4 bytes (written with the library's atomic writer)."""
    if ds is None:
        return None
    from seaice_ldm.data import write_dataset

    with tempfile.TemporaryDirectory(prefix="seaice-dashboard-") as tmp:
        path = Path(tmp) / "ensemble.nc"
        write_dataset(ds, path)
        return io.BytesIO(path.read_bytes())
