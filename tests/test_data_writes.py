"""Writes that survive Ctrl-C and crashes: no hang, no partial file, no deleted user folder, and an output
folder replaced with no moment in which neither the old nor the new one is there (fault injection)."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr

from seaice_ldm.data import DataError, open_dataset, write_dataset
from seaice_ldm.data import atomic

# Sends SIGINT to itself right after xarray's netCDF writer took one of its combined locks while the file is
# open (the 10th lock taken): a KeyboardInterrupt there leaves the lock held and close() then waits forever.
CTRL_C_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import xarray.backends.locks as locks
    from seaice_ldm.data import Grid, make_dataset, write_dataset

    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as in a terminal, even in a background job
    grid = Grid("custom", 12, 10, 50_000.0)
    ds = make_dataset({"sic": np.full((4, 10, 12), 0.5)}, grid, time=np.arange(4).astype("datetime64[D]"),
                      land=np.zeros((10, 12), bool))
    original, calls = locks.acquire, []

    def acquire(lock, blocking=True):
        got = original(lock, blocking)
        calls.append(1)
        if len(calls) == 10:
            os.kill(os.getpid(), signal.SIGINT)
        return got

    locks.acquire = acquire
    out = sys.argv[1]
    try:
        write_dataset(ds, out)
    except KeyboardInterrupt:
        print("interrupted", sorted(os.listdir(os.path.dirname(out))))
        sys.exit(0)
    print("not interrupted")
""")


@pytest.mark.slow  # a fresh interpreter imports xarray and netCDF4 (seconds)
def test_ctrl_c_while_xarray_holds_the_netcdf_lock_neither_hangs_nor_leaves_a_file(tmp_path):
    out = tmp_path / "out" / "sample.nc"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        run = subprocess.run([sys.executable, "-c", CTRL_C_SCRIPT, str(out)], capture_output=True, text=True,
                             timeout=120, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("write_dataset hung after Ctrl-C (lock left held)")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "interrupted []"  # no output, no temporary file


def test_interrupt_during_zarr_write_keeps_the_old_store(tiny, tmp_path, monkeypatch):
    path = write_dataset(tiny, tmp_path / "ens.zarr")

    def interrupted(self, store, *args, **kwargs):
        os.makedirs(store)
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_zarr", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_dataset(tiny.isel(time=slice(0, 2)), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ens.zarr.seaice-ldm.json", "ens.zarr"]
    xr.testing.assert_identical(open_dataset(path), tiny)


def test_a_users_folder_is_never_replaced(tiny, tmp_path):
    mine = tmp_path / "mystuff.zarr"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(DataError, match="mystuff.zarr is an existing folder that seaice-ldm did not write"):
        write_dataset(tiny, mine)
    assert (mine / "thesis.tex").read_text() == "years of work"


def test_an_earlier_output_store_is_replaced(tiny, tmp_path):
    path = write_dataset(tiny, tmp_path / "ens.zarr")
    write_dataset(tiny.isel(time=slice(0, 2)), path)
    assert open_dataset(path).sizes["time"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ens.zarr.seaice-ldm.json", "ens.zarr"]  # no temporaries


def test_failure_between_the_two_renames_keeps_the_old_store(tiny, tmp_path, monkeypatch):
    """Where no atomic swap exists: the old store is renamed aside and must come back if the new one cannot move in."""
    path = write_dataset(tiny, tmp_path / "ens.zarr")
    monkeypatch.setattr(atomic, "exchange", lambda a, b: False)
    real_replace, calls = os.replace, []

    def replace(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the new store onto the path, after the old one was moved aside
            raise OSError("disk quota exceeded")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(OSError, match="quota"):
        write_dataset(tiny.isel(time=slice(0, 2)), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ens.zarr.seaice-ldm.json", "ens.zarr"]
    xr.testing.assert_identical(open_dataset(path), tiny)


def test_replace_is_one_atomic_swap_where_the_system_has_one(tmp_path, monkeypatch):
    old, new = tmp_path / "out.zarr", tmp_path / "new.tmp"
    for folder, text in ((old, "old"), (new, "new")):
        folder.mkdir()
        (folder / "zarr.json").write_text(text)
    if not atomic.exchange(old, new):
        pytest.skip("no renameat2(RENAME_EXCHANGE) on this file system")
    atomic.exchange(old, new)  # swap back
    seen = []

    def no_rename(*args):  # the swap must not go through a window of separate renames
        seen.append(old.exists())
        raise AssertionError("os.replace used although an atomic swap is available")

    monkeypatch.setattr(atomic.os, "replace", no_rename)
    atomic.replace_directory(new, old)
    assert (old / "zarr.json").read_text() == "new" and not new.exists() and seen == []


@pytest.fixture
def terminal_ctrl_c():
    """Ctrl-C as in a terminal: a background job (``pytest &``) starts with SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_deferred_interrupt_raises_after_the_block(terminal_ctrl_c):
    done = []
    with pytest.raises(KeyboardInterrupt):
        with atomic.deferred_interrupt():
            os.kill(os.getpid(), signal.SIGINT)
            done.append(np.sum(np.arange(10)))  # still runs: the interrupt waits for the block's end
    assert done == [45]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
