"""Nothing the program did not write is replaced without --overwrite (it records what it wrote), a replace that
cannot be one atomic swap never leaves the path empty, SIGTERM cleans up like Ctrl-C, and an impossible output
is refused before any work (issue 26: the lost-data cases and the 'found only after sampling' cases)."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from seaice_ldm.cli import main
from seaice_ldm.data import DataError, open_dataset, write_dataset
from seaice_ldm.data import atomic

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = str(ROOT / "checkpoints")


@pytest.fixture
def no_sampling(monkeypatch):
    import seaice_ldm.pipeline as pipeline

    def forbidden(*args, **kwargs):
        raise AssertionError("models were loaded before the output was checked")

    monkeypatch.setattr(pipeline, "load_pipeline", forbidden)


# --- ownership ----------------------------------------------------------------------------------------------


def test_a_users_store_with_cf_attributes_and_notes_is_not_replaced(tiny, tmp_path):
    """The store carries the package's CF attributes (saved through its own reader), yet is the user's."""
    ours = write_dataset(tiny, tmp_path / "ours.zarr")
    mine = tmp_path / "mine.zarr"
    open_dataset(ours).to_zarr(mine, consolidated=False)
    (mine / "notes.txt").write_text("which run this was")
    with pytest.raises(DataError, match=r"mine.zarr is an existing folder that seaice-ldm did not write.*--overwrite"):
        write_dataset(tiny.isel(time=slice(0, 2)), mine)
    assert (mine / "notes.txt").read_text() == "which run this was"
    write_dataset(tiny.isel(time=slice(0, 2)), mine, overwrite=True)
    assert open_dataset(mine).sizes["time"] == 2


def test_an_output_store_a_file_was_added_to_is_not_replaced(tiny, tmp_path):
    path = write_dataset(tiny, tmp_path / "ens.zarr")
    write_dataset(tiny.isel(time=slice(0, 3)), path)  # unchanged since written: replaced
    (path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="did not write"):
        write_dataset(tiny, path)
    assert (path / "notes.txt").exists()


def test_a_netcdf_file_the_program_did_not_write_is_not_replaced(tiny, tmp_path):
    mine = tmp_path / "obs.nc"
    tiny.to_netcdf(mine)
    before = mine.read_bytes()
    with pytest.raises(DataError, match=r"obs.nc is an existing file that seaice-ldm did not write"):
        write_dataset(tiny, mine)
    assert mine.read_bytes() == before
    ours = write_dataset(tiny, tmp_path / "ens.nc")
    write_dataset(tiny.isel(time=slice(0, 2)), ours)  # its own output: replaced
    assert open_dataset(ours).sizes["time"] == 2
    with open(ours, "ab") as fh:  # changed by someone since
        fh.write(b"\0")
    with pytest.raises(DataError, match="did not write"):
        write_dataset(tiny, ours)


def test_sample_over_a_users_file_is_refused_before_sampling(tiny, tmp_path, capsys, no_sampling):
    mine = tmp_path / "obs.nc"
    tiny.to_netcdf(mine)
    assert main(["sample", "--out", str(mine), "--checkpoints", CHECKPOINTS]) == 2
    assert "obs.nc is an existing file that seaice-ldm did not write" in capsys.readouterr().err


# --- replace without an atomic swap -----------------------------------------------------------------------


def test_an_interrupt_between_the_two_renames_never_leaves_the_path_empty(tiny, tmp_path, monkeypatch):
    """macOS, NFS: no atomic swap. Ctrl-C right after the old store was renamed aside used to leave nothing."""
    path = write_dataset(tiny, tmp_path / "ens.zarr")
    monkeypatch.setattr(atomic, "exchange", lambda a, b: False)
    real_replace = os.replace

    def replace(src, dst):
        real_replace(src, dst)
        if Path(src) == path:  # the old store is aside now: Ctrl-C arrives
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(atomic.os, "replace", replace)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            write_dataset(tiny.isel(time=slice(0, 2)), path)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert path.is_dir() and open_dataset(path).sizes["time"] == 2  # the new store got in before the interrupt


def test_a_store_set_aside_by_a_hard_kill_is_put_back(tiny, tmp_path):
    path = write_dataset(tiny, tmp_path / "ens.zarr")
    aside = tmp_path / ".ens.zarr.0123abcd.old"
    os.replace(path, aside)  # the process died between the two renames
    atomic.restore_set_aside(path)
    xr.testing.assert_identical(open_dataset(path), tiny)


# --- SIGTERM and start-up ------------------------------------------------------------------------------------


def _run(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})


def test_sigterm_during_a_write_raises_and_cleans_up(tiny, tmp_path, monkeypatch):
    from seaice_ldm.interrupts import Terminated, terminate_like_interrupt

    real = xr.Dataset.to_netcdf

    def killed_midway(self, path, *args, **kwargs):
        real(self.isel(time=slice(0, 1)), path, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(xr.Dataset, "to_netcdf", killed_midway)
    previous = signal.getsignal(signal.SIGTERM)
    terminate_like_interrupt()
    try:
        with pytest.raises(Terminated):
            write_dataset(tiny, tmp_path / "ens.nc")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # a fresh interpreter synthesises a year of states
def test_sigterm_during_a_write_cleans_up_like_ctrl_c(tmp_path):
    """What `timeout` and batch schedulers send: it used to kill the process and leave a hidden partial file."""
    done = _run("""
        import os, signal, sys
        import xarray as xr
        from seaice_ldm.cli import main
        real = xr.Dataset.to_netcdf
        def killed_midway(self, path, *args, **kwargs):
            real(self.isel(time=slice(0, 1)), path, *args, **kwargs)  # part of the file is on disk
            os.kill(os.getpid(), signal.SIGTERM)
            return real(self, path, *args, **kwargs)
        xr.Dataset.to_netcdf = killed_midway
        sys.exit(main(["data", "synth", "--out", "syn.nc", "--years", "1"]))
    """, tmp_path)
    assert done.returncode == 143, done.stderr
    assert "terminated (SIGTERM); nothing half-written was left behind" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_start_up_imports_nothing_heavy_before_the_interrupt_handlers(tmp_path):
    """Ctrl-C in the first second used to land in the imports of the module: a 40-line traceback."""
    done = _run("""
        import sys
        import seaice_ldm.cli
        heavy = sorted(m for m in ("numpy", "pandas", "xarray", "torch", "pyproj") if m in sys.modules)
        print(heavy)
    """, tmp_path)
    assert done.stdout.strip() == "[]", done.stderr


def test_an_interrupt_while_the_command_starts_is_one_line(monkeypatch, capsys):
    import seaice_ldm.cli as cli

    def interrupted():
        raise KeyboardInterrupt  # Ctrl-C while the parser imports the library

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["data", "check", "x.nc"]) == 130
    assert capsys.readouterr().err == "seaice-ldm: interrupted; nothing half-written was left behind\n"


# --- impossible outputs, before any work ------------------------------------------------------------------------


@pytest.mark.parametrize("out, message", [
    ("{tmp}/a_file.txt/ens.nc", r"a_file.txt is a file, not a folder"),
    ("/proc/ens.nc", r"cannot write into /proc \(.*\); choose another output path"),
])
def test_an_impossible_output_is_refused_before_sampling(tmp_path, capsys, no_sampling, out, message):
    (tmp_path / "a_file.txt").write_text("x")
    code = main(["sample", "--out", out.format(tmp=tmp_path), "--checkpoints", CHECKPOINTS])
    assert code == 2
    assert __import__("re").search(message, capsys.readouterr().err)


def test_guidance_without_a_date_is_refused_not_recorded(tmp_path, capsys, no_sampling):
    assert main(["sample", "--guidance", "2", "--out", str(tmp_path / "s.nc"), "--checkpoints", CHECKPOINTS]) == 2
    assert "--guidance applies to date-conditioned sampling only" in capsys.readouterr().err
    assert not (tmp_path / "s.nc").exists()


def test_data_synth_too_large_for_the_machine_is_refused_before_allocating(tmp_path, capsys, monkeypatch):
    from seaice_ldm.data import sizes

    monkeypatch.setattr(sizes, "available_memory", lambda: 16 * sizes.GIB)
    code = main(["data", "synth", "--years", "150", "--grid", "arctic12km", "--out", str(tmp_path / "big.nc")])
    assert code == 2
    assert "150 synthetic years on arctic12km (512 x 512) needs about 534.7 GiB" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
