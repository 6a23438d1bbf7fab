"""Nothing the program did not write is replaced without --overwrite (it records what it wrote), a replace that
cannot be one atomic swap never leaves the path empty, SIGTERM cleans up like Ctrl-C, and an impossible output
is refused before any work (issue 26: the lost-data cases and the 'found only after sampling' cases)."""

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

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


def _stub_report(monkeypatch):
    """The report's renderers replaced by one-line files: what is tested is which folder is replaced."""
    import seaice_ldm.evaluation.figures as figures
    import seaice_ldm.evaluation.markdown as markdown

    monkeypatch.setattr(figures, "save_figures", lambda results, sets, folder: (folder / "samples.png").write_bytes(b"png"))
    monkeypatch.setattr(markdown, "report_markdown", lambda results: "# report\n")


def test_evaluate_does_not_delete_what_a_user_added_to_its_report_folder(tmp_path, capsys, monkeypatch):
    """`evaluate --out rep` run twice used to replace rep whole, deleting rep/my_notes.md added in between."""
    import seaice_ldm.evaluation.run as run

    _stub_report(monkeypatch)
    rep = tmp_path / "rep"
    run.write_report({"claims": []}, {}, rep)
    run.write_report({"claims": []}, {}, rep)  # its own, unchanged: replaced
    (rep / "my_notes.md").write_text("my reading")

    def forbidden(*args, **kwargs):
        raise AssertionError("models were loaded before the report folder was checked")

    monkeypatch.setattr(run, "load_pipeline", forbidden)
    assert main(["evaluate", "--checkpoints", CHECKPOINTS, "--out", str(rep)]) == 2
    assert re.search(r"output .*rep is an existing folder that seaice-ldm did not write \(or that was changed "
                     r"since\); refusing to replace it: .*pass --overwrite", capsys.readouterr().err)
    assert (rep / "my_notes.md").read_text() == "my reading"
    legacy = tmp_path / "legacy"  # a report folder without the program's record (copied, or from an older version)
    legacy.mkdir()
    (legacy / "report.json").write_text("{}")
    with pytest.raises(DataError, match=r"legacy is an existing folder that seaice-ldm did not write"):
        run.write_report({"claims": []}, {}, legacy)
    run.write_report({"claims": []}, {}, rep, overwrite=True)  # asked for: replaced whole
    assert sorted(p.name for p in rep.iterdir()) == ["report.json", "report.md", "samples.png"]


def test_cards_does_not_overwrite_a_users_readme(tmp_path, capsys):
    """`cards --checkpoints DIR` used to replace DIR/README.md whatever it held."""
    import shutil

    folder = tmp_path / "models"
    shutil.copytree(ROOT / "checkpoints" / "vae_censored", folder / "vae_censored")
    (folder / "README.md").write_text("# my notes\n")
    assert main(["cards", "--checkpoints", str(folder)]) == 2
    assert re.search(r"models/README.md is an existing file that seaice-ldm did not write.*--overwrite",
                     capsys.readouterr().err)
    assert (folder / "README.md").read_text() == "# my notes\n"
    assert not (folder / "model_cards").exists()  # refused before any work
    assert main(["cards", "--checkpoints", str(folder), "--overwrite"]) == 0
    assert (folder / "README.md").read_text().startswith("# Models in models")
    assert main(["cards", "--checkpoints", str(folder)]) == 0  # its own README and figure: rewritten
    (folder / "model_cards" / "vae_censored_loss.png").write_bytes(b"my own figure")
    assert main(["cards", "--checkpoints", str(folder)]) == 2
    assert "vae_censored_loss.png is an existing file that seaice-ldm did not write" in capsys.readouterr().err


def test_benchmark_json_over_a_users_file_is_refused_before_the_benchmark(tmp_path, capsys, monkeypatch):
    """`benchmark --json b.json` used to overwrite any existing b.json after the benchmark."""
    import seaice_ldm.evaluation.benchmark as benchmark
    from seaice_ldm.data.ownership import record_output

    def forbidden(*args, **kwargs):
        raise AssertionError("the benchmark ran before its --json output was checked")

    monkeypatch.setattr(benchmark, "load_pipeline", forbidden)
    mine = tmp_path / "b.json"
    mine.write_text('{"my": "results"}')
    assert main(["benchmark", "--checkpoints", CHECKPOINTS, "--json", str(mine)]) == 2
    assert re.search(r"b.json is an existing file that seaice-ldm did not write.*pass --overwrite",
                     capsys.readouterr().err)
    assert mine.read_text() == '{"my": "results"}'
    record_output(mine)  # as the benchmark records what it wrote: its own file is replaced without asking
    assert benchmark.check_json(mine) == mine
    mine.write_text('{"edited": 1}')
    with pytest.raises(DataError, match="did not write"):
        benchmark.check_json(mine)
    assert benchmark.check_json(mine, overwrite=True) == mine


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


def test_an_interrupt_between_the_two_renames_leaves_no_hidden_copy(tiny, tmp_path, monkeypatch, capsys):
    """The interrupt held back during the renames used to be raised before the old store was deleted: a hidden
    `.ens.zarr.<hex>.old` copy stayed while the command said nothing half-written was left behind."""
    path = write_dataset(tiny, tmp_path / "ens.zarr")
    monkeypatch.setattr(atomic, "exchange", lambda a, b: False)
    real_replace = os.replace

    def replace(src, dst):
        real_replace(src, dst)
        if Path(src) == path:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(atomic.os, "replace", replace)
    monkeypatch.setattr("seaice_ldm.data.synthesize", lambda **kw: tiny.isel(time=slice(0, 2)))
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert main(["data", "synth", "--out", str(path)]) == 130
    finally:
        signal.signal(signal.SIGINT, previous)
    assert "interrupted; nothing half-written was left behind" in capsys.readouterr().err
    assert open_dataset(path).sizes["time"] == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".ens.zarr.seaice-ldm.json") == ["ens.zarr"]


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


def test_the_console_script_imports_only_itself_before_it_can_catch_an_interrupt(tmp_path):
    """Ctrl-C about 50 ms after start-up used to land in `seaice_ldm/__init__.py` importing the options and
    importlib.metadata (for the version): a 17-19 line traceback before any handler could run."""
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["seaice-ldm"] == "seaice_ldm.console:main"
    done = _run("""
        import sys
        before = set(sys.modules)
        import seaice_ldm.console
        print(sorted(m for m in set(sys.modules) - before if m.startswith("seaice_ldm") or m == "importlib.metadata"))
    """, tmp_path)
    assert done.stdout.strip() == "['seaice_ldm', 'seaice_ldm.console']", done.stderr


def test_an_interrupt_while_the_command_line_is_imported_is_one_line(tmp_path):
    done = _run("""
        import sys

        class CtrlC:  # Ctrl-C arrives while the command line module is being imported
            def find_spec(self, name, path=None, target=None):
                if name == "seaice_ldm.cli":
                    raise KeyboardInterrupt

        sys.meta_path.insert(0, CtrlC())
        from seaice_ldm.console import main
        sys.exit(main(["data", "check", "x.nc"]))
    """, tmp_path)
    assert done.returncode == 130
    assert done.stderr == "seaice-ldm: interrupted; nothing half-written was left behind\n"


def test_an_interrupt_that_a_c_extension_turns_into_an_import_error_is_one_line(monkeypatch, capsys):
    """numpy's C module imports `datetime` through PyCapsule_Import, which reports a Ctrl-C at that moment as
    'could not import module "datetime"': this used to end in numpy's 40-line ImportError advice."""
    import seaice_ldm.cli as cli

    def numpy_interrupted():
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            raise ImportError('PyCapsule_Import could not import module "datetime"') from None

    monkeypatch.setattr(cli, "build_parser", numpy_interrupted)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert cli.main(["data", "check", "x.nc"]) == 130
    finally:
        signal.signal(signal.SIGINT, previous)
    assert capsys.readouterr().err == "seaice-ldm: interrupted; nothing half-written was left behind\n"

    def really_missing():
        raise ImportError("No module named 'nothere'")

    monkeypatch.setattr(cli, "build_parser", really_missing)  # without an interrupt it is not hidden
    with pytest.raises(ImportError, match="nothere"):
        cli.main(["data", "check", "x.nc"])


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


@pytest.mark.parametrize("json_out, message", [
    ("/proc/b.json", r"--json: output /proc/b.json: cannot write into /proc \(.*\); choose another output path"),
    ("{tmp}", r"--json: .* is a folder; give a file name"),
])
def test_benchmark_json_that_cannot_be_written_is_refused_before_the_benchmark(tmp_path, capsys, monkeypatch,
                                                                               json_out, message):
    """`benchmark --json /proc/b.json` used to fail with raw OS text after 17 s of benchmark."""
    import seaice_ldm.evaluation.benchmark as benchmark

    monkeypatch.setattr(benchmark, "load_pipeline", lambda *a, **k: pytest.fail("the benchmark ran first"))
    assert main(["benchmark", "--checkpoints", CHECKPOINTS, "--json", json_out.format(tmp=tmp_path)]) == 2
    assert re.search(message, capsys.readouterr().err)


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
