import numpy as np
import pytest
import xarray as xr
from scipy.ndimage import gaussian_filter

from seaice_ldm.evaluation.spectra import (
    mean_spectrum,
    ocean_boxes,
    periodogram_2d,
    radial_power_spectrum,
    small_scale_ratio,
    spectrum_boxes,
)

N = 64
DX = 10_000.0  # m
DX_KM = DX / 1000.0
INDEX = np.arange(N)


def cosine(kx_index, ky_index, amplitude=1.0):
    """cos(2 pi (kx x + ky y)) with integer wavenumbers in cycles per domain."""
    return amplitude * np.cos(2 * np.pi * (kx_index * INDEX[None, :] + ky_index * INDEX[:, None]) / N)


def noise_fields(n, std=2.0, seed=0):
    return np.random.default_rng(seed).normal(scale=std, size=(n, N, N))


def as_dataarray(fields):
    return xr.DataArray(fields, dims=("member", "y", "x"), coords={"x": INDEX * DX, "y": INDEX * DX})


def test_wavenumber_axis_in_cycles_per_km():
    k, _ = radial_power_spectrum(cosine(3, 0), DX)
    assert len(k) == N // 2
    assert k[0] == pytest.approx(1 / (N * DX_KM))
    assert k[-1] == pytest.approx(1 / (2 * DX_KM))  # Nyquist


@pytest.mark.parametrize("window", [True, False])
@pytest.mark.parametrize(("kx", "ky", "ring"), [(8, 0, 8), (0, 5, 5), (6, 8, 10)])
def test_cosine_power_peaks_at_its_wavenumber(window, kx, ky, ring):
    k, power = radial_power_spectrum(cosine(kx, ky), DX, window=window)
    assert np.argmax(power) == ring - 1
    assert k[np.argmax(power)] == pytest.approx(np.hypot(kx, ky) / (N * DX_KM))


@pytest.mark.parametrize("with_land", [False, True])
def test_parseval_unwindowed(with_land):
    field = noise_fields(1)[0] + 3.0
    if with_land:
        field[:20, :10] = np.nan
    kx, ky, psd = periodogram_2d(field, DX, window=False)
    dkx, dky = kx[1], ky[1]
    ocean = field[np.isfinite(field)]
    assert psd.sum() * dkx * dky == pytest.approx(ocean.var(), rel=1e-10)


def test_radial_average_of_cosine_keeps_its_variance():
    # energy of an unwindowed on-grid cosine sits in one annulus: power * count * dk^2 = A^2 / 2
    amplitude = 1.5
    k, power = radial_power_spectrum(cosine(3, 4, amplitude), DX, window=False)
    freq = np.fft.fftfreq(N) * N
    count = sum(1 for i in freq for j in freq if round(np.hypot(i, j)) == 5)
    dk = k[0]
    assert power[4] * count * dk**2 == pytest.approx(amplitude**2 / 2, rel=1e-10)
    assert np.all(np.delete(power, 4) < 1e-20)


@pytest.mark.parametrize("with_land", [False, True])
def test_white_noise_is_flat_at_its_variance(with_land):
    std = 2.0
    fields = noise_fields(24, std)
    if with_land:
        fields[:, :20, :24] = np.nan
    k, power = mean_spectrum(as_dataarray(fields))
    level = std**2 * DX_KM**2  # (units)^2 km^2
    assert np.mean(power) == pytest.approx(level, rel=0.05)
    assert np.all(np.abs(power[1:] / level - 1) < 0.3)


def test_mean_spectrum_is_mean_of_single_spectra():
    fields = noise_fields(3)
    k, power = mean_spectrum(as_dataarray(fields), dx=DX)
    singles = [radial_power_spectrum(f, DX)[1] for f in fields]
    np.testing.assert_allclose(power, np.mean(singles, axis=0), rtol=1e-12)
    k_inferred, power_inferred = mean_spectrum(as_dataarray(fields))  # dx from the x coordinate
    np.testing.assert_allclose(k_inferred, k)
    np.testing.assert_allclose(power_inferred, power)


def test_smoothing_lowers_small_scale_ratio():
    fields = noise_fields(4)
    smooth = np.stack([gaussian_filter(f, sigma=2.0, mode="wrap") for f in fields])
    k, p_ref = mean_spectrum(as_dataarray(fields))
    _, p_gen = mean_spectrum(as_dataarray(smooth))
    assert small_scale_ratio(k, p_gen, p_ref) < 0.5
    assert small_scale_ratio(k, p_ref, p_ref) == pytest.approx(1.0)


def test_ocean_boxes_hold_no_land_and_do_not_overlap():
    ocean = np.ones((40, 50), dtype=bool)
    ocean[10:20, 5:45] = False
    boxes = ocean_boxes(ocean, 8)
    taken = np.zeros_like(ocean, dtype=int)
    for box in boxes:
        assert ocean[box].all()
        taken[box] += 1
    assert taken.max() == 1
    # rows 0-9 and 20-39 are free: floor(50/8) boxes in the top band, 2 x 6 below
    assert len(boxes) == 6 + 12


def test_land_free_boxes_see_a_one_cell_blur_of_the_reference(synthetic_2y):
    """Blurring the synthetic states by one cell must show up as a clear loss of small-scale power; with
    the whole field the coast's step dominates that band and hides it (0.83-0.91 before boxes were used)."""
    from scipy.ndimage import gaussian_filter

    ref = synthetic_2y.isel(time=slice(0, 730, 30))
    blurred = ref.copy()
    for name in ("sit", "sic"):
        values = ref[name].values
        filled = np.where(np.isfinite(values), values, 0.0)
        blurred[name] = ref[name].copy(data=np.where(np.isfinite(values),
                                                     gaussian_filter(filled, sigma=(0, 1, 1)), np.nan))
    boxes = spectrum_boxes(ref["sic"])
    assert len(boxes) >= 4
    for name in ("sit", "sic"):
        k, p_ref = mean_spectrum(ref[name], boxes=boxes)
        _, p_blur = mean_spectrum(blurred[name], boxes=boxes)
        assert small_scale_ratio(k, p_blur, p_ref) < 0.15
        assert small_scale_ratio(k, p_ref, p_ref) == pytest.approx(1.0)
