"""Each concept spelt once, in the library and the dashboard: the generators' labels and colours
(``options.GENERATORS``, ``options.SPACE_LABELS``), the colour maps (``palette.py``) and the rule that finds the
sample dimension of a Dataset (``data/dims.py``). A second spelling anywhere else fails here.

Read from the source with ``ast``: string constants that are not docstrings, imports, calls and subscripts.
Prose that mentions an LDM passes; a label, a colour or a rule written out again does not.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from seaice_ldm.options import GENERATORS, SPACE_LABELS

ROOT = Path(__file__).parents[1]
FILES = sorted(p.relative_to(ROOT).as_posix() for p in [*(ROOT / "seaice_ldm").rglob("*.py"),
                                                          *(ROOT / "dashboard").glob("*.py")])
LABEL_HOME, COLOUR_HOMES, DIMS_HOME = "seaice_ldm/options.py", {"seaice_ldm/options.py",
                                                                "seaice_ldm/palette.py"}, "seaice_ldm/data/dims.py"
LABELS = {s.label for s in GENERATORS} | {s.short for s in GENERATORS} | set(SPACE_LABELS.values())
LABEL = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(LABELS, key=len, reverse=True))) + r")(?![\w-])")
WORDS = {"LDM", "DM"}  # a label built from parts, as f"{'LDM' if ...} ({decoder})" did
COLOURS = {s.colour.lower() for s in GENERATORS}
CMOCEAN = {"thermal", "haline", "solar", "ice", "gray", "oxy", "deep", "dense", "algae", "matter", "turbid",
           "speed", "amp", "tempo", "rain", "phase", "topo", "balance", "delta", "curl", "diff", "tarn"}
PENDING: dict[str, str] = {}  # files that still spell these themselves, with what they should use; strict


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants that are not docstrings (nor other bare string statements), with their lines."""
    bare = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in bare]


def _colour_map_named(node: ast.AST) -> bool:
    """``cmap="viridis"``, ``get_cmap("ice")``, ``("thermal", False)``: a colour map chosen outside the palette."""
    if isinstance(node, ast.Call):
        named = [k.value for k in node.keywords if k.arg == "cmap"]
        if getattr(node.func, "attr", getattr(node.func, "id", "")) == "get_cmap":
            named += node.args[:1]
        return any(isinstance(v, ast.Constant) and isinstance(v.value, str) for v in named)
    if isinstance(node, ast.Tuple) and len(node.elts) == 2:
        name, flag = node.elts
        return isinstance(name, ast.Constant) and name.value in CMOCEAN and isinstance(flag, ast.Constant) \
            and isinstance(flag.value, bool)
    return False


def _sample_dim_rule(node: ast.AST) -> bool:
    """A function named ``sample_dim``, ``.dims[0]``, or a collection of both sample dimensions written out."""
    if isinstance(node, ast.FunctionDef):
        return node.name == "sample_dim"
    if isinstance(node, ast.Subscript):
        return isinstance(node.value, ast.Attribute) and node.value.attr == "dims" \
            and isinstance(node.slice, ast.Constant) and node.slice.value == 0
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return {"member", "time"} <= {e.value for e in node.elts if isinstance(e, ast.Constant)}
    return False


def second_spellings(source: str, where: str) -> list[str]:
    """Every second spelling in ``source`` (a file at ``where``, relative to the repository)."""
    tree = ast.parse(source)
    found = []
    for line, text in _strings(tree):
        if where != LABEL_HOME and (text in WORDS or LABEL.search(text)):
            found.append(f"{where}:{line}: a generator label {text!r} (use options.GENERATORS / SPACE_LABELS)")
        if where not in COLOUR_HOMES and any(c in text.lower() for c in COLOURS):
            found.append(f"{where}:{line}: a generator colour in {text!r} (use GeneratorSpec.colour / palette)")
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        imported = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) else []
        if where not in COLOUR_HOMES and ("cmocean" in imported or _colour_map_named(node)):
            found.append(f"{where}:{line}: a colour map chosen outside seaice_ldm/palette.py")
        if where != DIMS_HOME and _sample_dim_rule(node):
            found.append(f"{where}:{line}: a sample-dimension rule outside data/dims.py (use data.sample_dim)")
    return found


@pytest.mark.parametrize("where", [pytest.param(f, marks=pytest.mark.xfail(strict=True, reason=PENDING[f]))
                                   if f in PENDING else f for f in FILES])
def test_spelt_once(where):
    problems = second_spellings((ROOT / where).read_text(), where)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("snippet", [
    'name = f"{\'LDM\' if space == \'latent\' else \'data-space DM\'} ({decoder})"',
    'TITLES = {"latent": "Latent diffusion"}',
    'COLOURS = {"latent": "#1F77B4"}',
    "import cmocean",
    'ax.imshow(field, cmap="viridis")',
    '_CMAPS = {"sic": ("ice", False)}',
    "def sample_dim(da):\n    return next(d for d in da.dims if d not in ('y', 'x'))",
    'dim = ds["sic"].dims[0]',
    'SAMPLE = ("time", "member")',
])
def test_every_kind_of_second_spelling_is_found(snippet):
    assert second_spellings(snippet, "seaice_ldm/evaluation/new.py")


def test_prose_and_docstrings_pass():
    source = '"""The LDM (censored) is drawn in #1f77b4."""\nmessage = "needs both the LDM and the data-space model"\n'
    assert second_spellings(source, "seaice_ldm/evaluation/claims.py") == []
