"""The server's settings: environment variables and ``panel serve dashboard --args ...``, read in one place.

| argument (after ``--args``) | environment variable | default |
|---|---|---|
| ``--checkpoints DIR`` | ``SEAICE_LDM_CHECKPOINTS`` | ``checkpoints/`` of the repository |
| ``--device cpu|cuda`` | ``SEAICE_LDM_DEVICE`` | cuda when there is one, else cpu |
| ``--budget SECONDS`` | ``SEAICE_DASHBOARD_BUDGET_S`` | 120: a request estimated to hold the sampler longer is refused |
| | ``SEAICE_DASHBOARD_CACHE`` | 24 finished sampler runs kept in memory |
| | ``SEAICE_DASHBOARD_TORCH_THREADS`` | 1 |
| | ``SEAICE_DASHBOARD_PRECISION`` | ``auto`` (bf16 where the device computes it natively) |
| | ``SEAICE_DASHBOARD_AUTOSAMPLE`` | 1: a page opens with the default ensemble |
| | ``SEAICE_DASHBOARD_SEASONAL_MEMBERS`` | 8 members per month for the seasonal cycle |
| | ``SEAICE_DASHBOARD_SEASONAL`` | 1: sample a missing seasonal cycle in the background (0: only a file's) |
| | ``SEAICE_DASHBOARD_CACHE_DIR`` | ``~/.cache/seaice-ldm/dashboard``: seasonal cycles computed here |

An argument wins over its environment variable. Bokeh runs ``app_hooks.py`` and ``main.py`` with the
``--args`` as ``sys.argv[1:]``, so both read the same settings with :func:`server_config`.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHECKPOINTS = REPO_ROOT / "checkpoints"
DEFAULT_BUDGET_S = 120.0


@dataclass(frozen=True)
class ServerConfig:
    checkpoints: Path
    device: str | None
    budget_s: float
    cache_size: int
    torch_threads: int
    precision: str
    autosample: bool
    seasonal_members: int
    seasonal_steps: int
    seasonal_background: bool
    cache_dir: Path


def _flag(text: str) -> bool:
    return text.strip().lower() not in ("0", "false", "no", "off")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="panel serve dashboard --args", add_help=False)
    p.add_argument("--checkpoints", help="checkpoints folder (default: $SEAICE_LDM_CHECKPOINTS or checkpoints/)")
    p.add_argument("--device", help="cpu or cuda (default: $SEAICE_LDM_DEVICE, else cuda when available)")
    p.add_argument("--budget", type=float, help="seconds of sampling above which a request is refused")
    return p


def server_config(argv: list[str] | None = None, environ: dict | None = None) -> ServerConfig:
    """The settings from ``argv`` (the ``--args`` of ``panel serve``; unknown ones are ignored) and ``environ``."""
    env = os.environ if environ is None else environ
    args, _ = parser().parse_known_args(list(argv or []))
    budget = args.budget if args.budget is not None else float(env.get("SEAICE_DASHBOARD_BUDGET_S") or DEFAULT_BUDGET_S)
    return ServerConfig(
        checkpoints=Path(args.checkpoints or env.get("SEAICE_LDM_CHECKPOINTS") or DEFAULT_CHECKPOINTS),
        device=args.device or env.get("SEAICE_LDM_DEVICE") or None,
        budget_s=budget,
        cache_size=int(env.get("SEAICE_DASHBOARD_CACHE") or 24),
        torch_threads=int(env.get("SEAICE_DASHBOARD_TORCH_THREADS") or 1),
        precision=env.get("SEAICE_DASHBOARD_PRECISION") or "auto",
        autosample=_flag(env.get("SEAICE_DASHBOARD_AUTOSAMPLE", "1")),
        seasonal_members=int(env.get("SEAICE_DASHBOARD_SEASONAL_MEMBERS") or 8),
        seasonal_steps=int(env.get("SEAICE_DASHBOARD_SEASONAL_STEPS") or 10),
        seasonal_background=_flag(env.get("SEAICE_DASHBOARD_SEASONAL", "1")),
        cache_dir=Path(env.get("SEAICE_DASHBOARD_CACHE_DIR") or Path.home() / ".cache" / "seaice-ldm" / "dashboard"),
    )
