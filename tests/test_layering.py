"""Layering rules (issue 9, DESIGN.md): lower modules never import higher ones, no private names imported across
modules, and nothing outside a layer kind dispatches on the kind. Checked on the source (ast), so a violation
names the file and line."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "hwgen"

# package (or module) -> packages it must not import
FORBIDDEN = {
    "hwgen.layers": ("hwgen.codegen", "hwgen.plan", "hwgen.runtime", "hwgen.sim", "hwgen.graph", "hwgen.transforms",
                     "sw_fallback"),
    "hwgen.graph": ("hwgen.runtime", "hwgen.codegen", "hwgen.sim"),
    "hwgen.transforms": ("hwgen.runtime", "hwgen.codegen", "hwgen.sim"),
    "hwgen.cpu_partition": ("hwgen.runtime",),
    "hwgen.plan": ("hwgen.codegen", "hwgen.runtime", "hwgen.sim"),
    "hwgen.codegen": ("hwgen.runtime", "hwgen.sim"),
    "hwgen.bits": ("hwgen",),
}


def _modules():
    for f in sorted(PKG.rglob("*.py")):
        if "driver_pkg" in f.parts:  # copied to the board as a standalone package
            continue
        yield ".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"), f


def _imports(f: Path):
    for node in ast.walk(ast.parse(f.read_text())):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module, [a.name for a in node.names]


def test_lower_modules_never_import_higher_ones():
    bad = []
    for mod, f in _modules():
        rules = [v for k, v in FORBIDDEN.items() if mod == k or mod.startswith(k + ".")]
        for line, target, _ in _imports(f):
            for forbidden in (x for r in rules for x in r):
                if target == forbidden or target.startswith(forbidden + "."):
                    bad.append(f"{f.relative_to(ROOT)}:{line} imports {target}")
    assert not bad, "\n".join(bad)


def test_no_private_names_imported_across_modules():
    bad = []
    for _, f in list(_modules()) + [(None, p) for p in sorted((ROOT / "sw_fallback").glob("*.py"))]:
        for line, target, names in _imports(f):
            if target.startswith(("hwgen", "sw_fallback")):
                bad += [f"{f.relative_to(ROOT)}:{line} imports {target}.{n}" for n in names
                        if n.startswith("_") and not n.startswith("__")]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("where", ["hwgen/codegen", "hwgen/plan", "hwgen/build.py", "hwgen/graph.py",
                                   "hwgen/transforms/streams.py", "hwgen/sim", "hwgen/runtime/backends.py",
                                   "hwgen/runtime/rtlsim.py", "sw_fallback"])
def test_no_dispatch_on_the_layer_kind_outside_a_kind(where):
    """Emitters, backends and reports ask the node; they never test which kind it is."""
    pat = re.compile(r"""\.op\s*(==|!=|in\b)|\bop\s*==\s*["'](MVAU|Thresholding|LabelSelect|WidthConverter)|"""
                     r"""isinstance\([^)]*\b(MVAU|Thresholding|LabelSelect|WidthConverter)\b""")
    p = ROOT / where
    files = [p] if p.is_file() else sorted(p.rglob("*.py"))
    bad = [f"{f.relative_to(ROOT)}:{i}: {ln.strip()}" for f in files
           for i, ln in enumerate(f.read_text().splitlines(), 1) if pat.search(ln)]
    assert not bad, "\n".join(bad)
