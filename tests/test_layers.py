"""The import direction of every layer, read from the source with ``ast`` (nothing is imported).

    options, palette, interrupts (pure names and colours; SIGTERM like Ctrl-C; importable by all) -> data
        -> models -> diffusion -> checkpoints
        -> training                 (writes checkpoints; never imported by inference)
        -> pipeline -> evaluation   (inference)
        -> workflow (train all, presets, model cards) -> cli, the package facade -> console (the script)
    dashboard: the public API only (seaice_ldm, .options, .palette, .data, .evaluation, .pipeline)

A module may import its own layer and the layers its layer lists below, never one further up or aside.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "seaice_ldm"

BASE = {"options", "palette", "interrupts"}
BELOW = {
    "options": set(),
    "palette": {"options"},
    "interrupts": set(),
    "data": BASE,
    "models": BASE | {"data"},
    "diffusion": BASE | {"data", "models"},
    "checkpoints": BASE | {"data", "models", "diffusion"},
    "training": BASE | {"data", "models", "diffusion", "checkpoints"},
    "pipeline": BASE | {"data", "models", "diffusion", "checkpoints"},
    "evaluation": BASE | {"data", "models", "diffusion", "checkpoints", "pipeline"},
    "workflow": BASE | {"data", "models", "diffusion", "checkpoints", "training", "pipeline", "evaluation"},
    "cli": BASE | {"data", "models", "diffusion", "checkpoints", "training", "pipeline", "evaluation", "workflow",
                   "package"},
    "package": BASE | {"pipeline"},  # seaice_ldm/__init__.py: the facade over load_pipeline
    "console": BASE | {"cli"},  # the console script: catches an interrupt while the command line is imported
}
DASHBOARD_API = {"seaice_ldm", "seaice_ldm.options", "seaice_ldm.palette", "seaice_ldm.data", "seaice_ldm.evaluation",
                 "seaice_ldm.pipeline"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    """``seaice_ldm.data.grid`` -> ``data``; ``seaice_ldm.cli`` -> ``cli``; ``seaice_ldm`` -> ``package``."""
    parts = module.split(".")
    return "package" if len(parts) == 1 else parts[1]


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports anywhere (lazy imports in functions too).

    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module, else of ``pkg``.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _is_module(candidate) else base)
    return found


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def package_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def own_imports(path: Path) -> set[str]:
    return {m for m in imported_modules(path) if m == "seaice_ldm" or m.startswith("seaice_ldm.")}


def test_every_module_belongs_to_a_layer():
    unknown = sorted(module_name(p) for p in package_modules() if layer_of(module_name(p)) not in BELOW)
    assert not unknown, f"modules outside the known layers (add them to a layer in docs/DESIGN.md): {unknown}"


@pytest.mark.parametrize("path", package_modules(), ids=lambda p: module_name(p))
def test_imports_point_down(path):
    layer = layer_of(module_name(path))
    wrong = sorted(m for m in own_imports(path) if layer_of(m) != layer and layer_of(m) not in BELOW[layer])
    assert not wrong, f"{module_name(path)} ({layer}) imports a layer above or beside it: {wrong}"


def test_no_import_cycles_between_modules():
    """No module reaches itself through explicit imports (e.g. grid <-> landmask, checkpoint -> package)."""
    graph = {module_name(p): {m for m in own_imports(p) if _is_module(m)} for p in package_modules()}
    cycles = []

    def visit(node: str, stack: list[str], done: set[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in stack:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in done:
                visit(nxt, stack + [nxt], done)
        done.add(node)

    done: set[str] = set()
    for start in sorted(graph):
        if start not in done:
            visit(start, [start], done)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("path", sorted((ROOT / "dashboard").glob("*.py")), ids=lambda p: p.name)
def test_dashboard_uses_the_public_api_only(path):
    wrong = sorted(m for m in own_imports(path) if m not in DASHBOARD_API)
    assert not wrong, f"dashboard/{path.name} imports library internals: {wrong}"


def test_the_analysis_sees_known_edges():
    """The checks above are only as good as the import parser: it must see absolute, relative and lazy imports."""
    assert "seaice_ldm.checkpoints.generators" in own_imports(PACKAGE / "pipeline" / "__init__.py")
    assert "seaice_ldm.data.grid" in own_imports(PACKAGE / "data" / "opening.py")  # `from .grid import ...`
    assert "seaice_ldm.pipeline" in own_imports(PACKAGE / "__init__.py")  # lazy, inside __getattr__
    assert layer_of("seaice_ldm.training.loop") == "training" and layer_of("seaice_ldm") == "package"


@pytest.mark.slow  # a subprocess loads the shipped models; test_imports_point_down checks the same statically
def test_loading_a_pipeline_imports_no_training_code():
    checkpoints = ROOT / "checkpoints"
    if not any((checkpoints / name / "config.json").exists() for name in ("ddm", "ldm_censored", "ldm_gaussian")):
        pytest.skip("no shipped models in checkpoints/")
    code = ("import seaice_ldm, sys; seaice_ldm.load_pipeline(sys.argv[1], device='cpu'); "
            "print(sorted(m for m in sys.modules if m.startswith('seaice_ldm.training')))")
    out = subprocess.run([sys.executable, "-c", code, str(checkpoints)], capture_output=True, text=True,
                         timeout=300, check=True, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.stdout.strip() == "[]"
