"""PNG figures of the evaluation report (matplotlib, no display needed); maps are cartopy GeoAxes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from seaice_ldm.data import MIZ_LOWER, MIZ_UPPER, VARIABLES, drift_speed, sample_dim  # noqa: E402
from seaice_ldm.evaluation.metrics import ice_integrals  # noqa: E402
from seaice_ldm.palette import colour_map, line_style  # noqa: E402


SYNTHETIC = "synthetic data, not observations"


def _data_note(results: dict[str, Any]) -> str:
    """What the states are, for the figure titles: synthetic only where the checkpoints say so."""
    return f" ({SYNTHETIC})" if results["setup"].get("synthetic") else ""


def _present(ds: xr.Dataset, names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` that ``ds`` can draw (speed needs both velocity components)."""
    return tuple(n for n in names if (n in ds) or (n == "speed" and "siu" in ds and "siv" in ds))


def _sources(sets: dict[str, xr.Dataset]) -> dict[str, xr.Dataset]:
    """Reference first, then generators (reconstructions have their own table, not maps)."""
    return {k: v for k, v in sets.items() if not k.startswith("reconstruction")}


def _map_axes(nrows: int, ncols: int, figsize) -> tuple:
    """A grid of cartopy GeoAxes in the grid's projection (EPSG:3413 as NorthPolarStereo)."""
    from seaice_ldm.data.geography import cartopy_crs

    return plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, layout="constrained",
                        subplot_kw={"projection": cartopy_crs("EPSG:3413")})


def _row_label(ax, label: str) -> None:
    """A generator's name left of its first map (GeoAxes show no y label)."""
    ax.text(-0.04, 0.5, label, transform=ax.transAxes, rotation=90, va="center", ha="right", fontsize=9)


def _geography(ax) -> None:
    """The shipped Natural Earth coastline (projected by cartopy) and the graticule of the dashboard's maps."""
    import cartopy.crs as ccrs

    from seaice_ldm.data.geography import MERIDIAN_STEP, PARALLELS, projected_coastline

    coast = projected_coastline("EPSG:3413")  # already in the axes' projection, NaN between the lines:
    # drawn in data coordinates (cartopy would re-project it through shapely, which warns on the NaNs)
    ax.plot(coast[:, 0], coast[:, 1], color="#1b2630", lw=0.5, transform=ax.transData)
    ax.gridlines(crs=ccrs.PlateCarree(), xlocs=np.arange(-180.0, 181.0, MERIDIAN_STEP), ylocs=list(PARALLELS),
                 color="#5f6b75", linewidth=0.4, linestyle="--", alpha=0.8)


def _map(ax, ds: xr.Dataset, name: str, index: int):
    var = VARIABLES.get(name)
    if name == "speed":
        field = drift_speed(ds).isel({sample_dim(ds): index})
        (vmin, vmax), units = (0.0, 0.3), "m s-1"
    else:
        field = ds[name].isel({sample_dim(ds): index})
        (vmin, vmax), units = var.display_range, var.units
    x, y = ds["x"].values, ds["y"].values
    dx = float(x[1] - x[0])
    extent = (x[0] - dx / 2, x[-1] + dx / 2, y[0] - dx / 2, y[-1] + dx / 2)
    cm = colour_map(name).with_extremes(bad="0.75")  # land in grey
    image = ax.imshow(field.values, origin="lower", extent=extent, cmap=cm, vmin=vmin, vmax=vmax,
                      interpolation="nearest", transform=ax.projection)
    ax.set_extent(extent, crs=ax.projection)
    if "sic" in ds:
        sic = ds["sic"].isel({sample_dim(ds): index}).values
        ax.contour(x, y, np.ma.masked_invalid(sic), levels=[MIZ_LOWER, MIZ_UPPER],
                   colors=["#ff7f0e", "#d62728"], linewidths=0.6, transform=ax.projection)
    _geography(ax)
    return image, units


def samples_figure(sets: dict[str, xr.Dataset], path: Path, note: str = "") -> None:
    """First member of each generator (and a reference state) for sit, sic, sid and speed."""
    sources = _sources(sets)
    columns = _present(sets["reference"], ("sit", "sic", "sid", "speed"))
    fig, axes = _map_axes(len(sources), len(columns), (3.0 * len(columns), 2.8 * len(sources)))
    for row, (label, ds) in enumerate(sources.items()):
        for col, name in enumerate(columns):
            image, units = _map(axes[row, col], ds, name, 0)
            if row == 0:
                axes[row, col].set_title(f"{name} [{units}]")
            if row == len(sources) - 1:
                fig.colorbar(image, ax=axes[:, col], orientation="horizontal", shrink=0.8, pad=0.01)
        _row_label(axes[row, 0], label)
    fig.suptitle(f"Generated states next to held-out reference states{note}; "
                 f"MIZ contours {MIZ_LOWER} / {MIZ_UPPER}")
    fig.savefig(path, dpi=80)
    plt.close(fig)


def members_figure(sets: dict[str, xr.Dataset], path: Path, name: str = "sic", n: int = 4, note: str = "",
                   reconstructions: bool = False) -> None:
    """Several members (or states) of one variable per source (and the reconstructions when asked)."""
    sources = sets if reconstructions else _sources(sets)
    fig, axes = _map_axes(len(sources), n, (2.6 * n, 2.5 * len(sources)))
    for row, (label, ds) in enumerate(sources.items()):
        count = ds.sizes[sample_dim(ds)]
        for col in range(n):
            image, units = _map(axes[row, col], ds, name, int(col * count / n))
        _row_label(axes[row, 0], label)
    fig.colorbar(image, ax=axes, shrink=0.6, label=f"{name} [{units}]")
    fig.suptitle(f"{VARIABLES[name].long_name}: members of each generator and reference states{note}")
    fig.savefig(path, dpi=80)
    plt.close(fig)


def histograms_figure(sets: dict[str, xr.Dataset], path: Path) -> None:
    """Cell-value histograms (log counts): the mass exactly at the bounds is the point of censoring."""
    names = _present(sets["reference"], ("sic", "sit", "sid"))
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), layout="constrained", squeeze=False)
    axes = axes[0]
    for ax, name in zip(axes, names):
        lo, hi = VARIABLES[name].display_range
        bins = np.linspace(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo), 61)
        for label, ds in sets.items():
            values = ds[name].values
            values = values[np.isfinite(values)]
            ax.hist(values, bins=bins, histtype="step", density=True, label=label, log=True, **line_style(label))
        ax.axvline(lo, color="k", lw=0.5, ls=":")
        if VARIABLES[name].upper is not None:
            ax.axvline(VARIABLES[name].upper, color="k", lw=0.5, ls=":")
        ax.set_xlabel(f"{name} [{VARIABLES[name].units}]")
    axes[0].set_ylabel("density (log)")
    axes[-1].legend(fontsize=7)
    fig.suptitle("Distribution of ocean cell values; dotted lines: physical bounds")
    fig.savefig(path, dpi=80)
    plt.close(fig)


def spectra_figure(results: dict[str, Any], path: Path) -> None:
    """Radially averaged power spectra per variable, all sources on one panel each."""
    names = list(results["reference"]["spectra"])
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.6), layout="constrained", squeeze=False)
    axes = axes[0]
    curves = {"reference": results["reference"]["spectra"], **{k: g["spectra"] for k, g in results["generators"].items()}}
    for ax, name in zip(axes, names):
        for label, spectra in curves.items():
            k, p = spectra[name]
            ax.loglog(k, p, label=label, lw=2 if label == "reference" else 1, **line_style(label))
        ax.set_title(name)
        ax.set_xlabel("wavenumber [cycles / km]")
    axes[0].set_ylabel("power spectral density")
    axes[-1].legend(fontsize=7)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def integrals_figure(sets: dict[str, xr.Dataset], path: Path) -> None:
    """Distributions of extent, area, volume and MIZ area per source."""
    sources = {k: ice_integrals(v) for k, v in _sources(sets).items()}
    keys = tuple(k for k in ("extent", "area", "volume", "miz_area") if k in next(iter(sources.values())))
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 4), layout="constrained")
    for ax, key in zip(axes, keys):
        data = [v[key].values for v in sources.values()]
        ax.boxplot(data, tick_labels=list(sources))
        ax.tick_params(axis="x", labelrotation=60, labelsize=7)
        ax.set_title(f"{key} [{next(iter(sources.values()))[key].attrs.get('units', '')}]")
    fig.savefig(path, dpi=80)
    plt.close(fig)


def save_figures(results: dict[str, Any], sets: dict[str, xr.Dataset], folder: Path) -> None:
    note = _data_note(results)
    samples_figure(sets, folder / "samples.png", note=note)
    members_figure(sets, folder / "samples_sic.png", "sic", note=note)
    if "sid" in sets["reference"]:  # damage lines: the reference, the reconstructions and every generator
        members_figure(sets, folder / "samples_sid.png", "sid", note=note, reconstructions=True)
    histograms_figure(sets, folder / "histograms.png")
    spectra_figure(results, folder / "spectra.png")
    integrals_figure(sets, folder / "integrals.png")
