"""Layering rules (issues 9, 20; DESIGN.md): lower modules never import higher ones (absolute, relative and
importlib imports alike), no private names imported across modules, and nothing outside a layer kind dispatches on
the kind (by its op name, its class, or its class name). Checked on the source (ast) of every module of hwgen/
(and sw_fallback/), with the kind names taken from the registry, so a violation names the file and line; a test
injects one violation of each form and checks every one is caught."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hwgen.layers import KINDS

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "hwgen"

# package (or module) -> packages it must not import
FORBIDDEN = {
    "hwgen.layers": ("hwgen.codegen", "hwgen.plan", "hwgen.runtime", "hwgen.sim", "hwgen.graph", "hwgen.transforms",
                     "hwgen.islands", "hwgen.build", "hwgen.cli", "sw_fallback"),
    "hwgen.onnx_eval": ("hwgen.graph", "hwgen.islands", "hwgen.transforms", "hwgen.runtime", "hwgen.codegen",
                        "hwgen.sim", "hwgen.layers"),
    "hwgen.graph": ("hwgen.runtime", "hwgen.codegen", "hwgen.sim", "hwgen.build", "hwgen.islands"),
    "hwgen.islands": ("hwgen.runtime", "hwgen.codegen", "hwgen.sim", "hwgen.build", "hwgen.transforms"),
    "hwgen.transforms": ("hwgen.runtime", "hwgen.codegen", "hwgen.sim", "hwgen.build", "hwgen.cli"),
    "hwgen.cpu_partition": ("hwgen.runtime", "hwgen.codegen", "hwgen.transforms", "hwgen.graph"),
    "hwgen.plan": ("hwgen.codegen", "hwgen.runtime", "hwgen.sim", "hwgen.build"),
    "hwgen.fold": ("hwgen.runtime", "hwgen.sim", "hwgen.build", "hwgen.cli"),
    "hwgen.codegen": ("hwgen.runtime", "hwgen.sim", "hwgen.build", "hwgen.cli"),
    "hwgen.frontend": ("hwgen.transforms", "hwgen.runtime", "hwgen.codegen", "hwgen.sim", "hwgen.build"),
    "hwgen.bits": ("hwgen",),
}
# where dispatching on the kind is the point: the kinds themselves (and the registry)
KIND_HOMES = ("hwgen.layers",)
KIND_NAMES = set(KINDS) | {cls.__name__ for cls in KINDS.values()}
# the kinds' template names ("mvau", "dwc", ...): the emitters' per-block API names a block by its template, and a
# table keyed by them is a kind table too (as strings only: `v.pad` is an attribute, not a kind)
TEMPLATE_NAMES = {Path(t).name.split(".")[0] for cls in KINDS.values() for t in (cls.hls_template, cls.rtl_template)
                  if t}


def module_name(f: Path) -> str:
    return ".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _modules():
    for f in sorted(PKG.rglob("*.py")):
        if "driver_pkg" in f.parts:  # copied to the board as a standalone package
            continue
        yield module_name(f), f


def imports(source: str, mod: str, is_package: bool = False):
    """(line, absolute module, imported names) of every import in `source` (module `mod`): absolute, relative
    (resolved against `mod`) and importlib.import_module / __import__ with a literal name."""
    pkg = mod if is_package else mod.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [a.name for a in node.names]
            yield node.lineno, target, names
            for n in names:  # `from . import codegen`: the names may be modules
                yield node.lineno, f"{target}.{n}", []
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name in ("import_module", "__import__"):
                yield node.lineno, node.args[0].value, []


def layering_violations(source: str, mod: str, is_package: bool = False) -> list[str]:
    rules = [v for k, v in FORBIDDEN.items() if mod == k or mod.startswith(k + ".")]
    bad = []
    for line, target, _ in imports(source, mod, is_package):
        for forbidden in (x for r in rules for x in r):
            if target == forbidden or target.startswith(forbidden + "."):
                bad.append(f"{mod}:{line} imports {target}")
    return bad


def private_imports(source: str, mod: str, is_package: bool = False) -> list[str]:
    return [f"{mod}:{line} imports {target}.{n}" for line, target, names in imports(source, mod, is_package)
            if target.startswith(("hwgen", "sw_fallback")) for n in names
            if n.startswith("_") and not n.startswith("__")]


def _is_kind_ref(node) -> bool:
    """A kind's class (MVAU, layers.MVAU) or op / class name as a string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value in KIND_NAMES or node.value in TEMPLATE_NAMES
    if isinstance(node, ast.Name):
        return node.id in KIND_NAMES
    if isinstance(node, ast.Attribute):
        return node.attr in KIND_NAMES
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_is_kind_ref(e) for e in node.elts)
    return False


def _is_op_attr(node) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "op"


def dispatch_violations(source: str, mod: str) -> list[str]:
    """Tests of which kind a node is: `x.op == / in ...`, a comparison with a kind's op, class or template name,
    isinstance / issubclass / `type(x) is` a kind's class; and kind tables: a dict keyed mostly by (two or more)
    kinds."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        hit = False
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            onnx_op = any(isinstance(s, ast.Attribute) and s.attr == "op_type" for s in sides)  # an ONNX node's op
            hit = any(_is_op_attr(s) for s in sides) or (any(_is_kind_ref(s) for s in sides) and not onnx_op)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("isinstance", "issubclass") \
                and len(node.args) == 2:
            hit = _is_kind_ref(node.args[1])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "getattr" and len(node.args) >= 2 \
                and isinstance(node.args[1], ast.Constant) and node.args[1].value == "op":
            hit = True
        elif isinstance(node, ast.Dict):
            # an ONNX op table may hold a few ops named like kinds (Pad, Concat): a kind table is mostly kinds
            n = sum(1 for k in node.keys if k is not None and _is_kind_ref(k))
            hit = n >= 2 and 2 * n >= len(node.keys)
        elif isinstance(node, ast.Match):
            hit = any(_is_kind_ref(getattr(c.pattern, "value", None)) for c in node.cases)
        if hit:
            bad.append(f"{mod}:{node.lineno}: {ast.unparse(node)[:100]}")
    return bad


def _all_sources():
    for mod, f in _modules():
        yield mod, f.read_text(), f.name == "__init__.py"
    for f in sorted((ROOT / "sw_fallback").glob("*.py")):
        yield module_name(f), f.read_text(), f.name == "__init__.py"


def test_lower_modules_never_import_higher_ones():
    bad = [v for mod, src, pkg in _all_sources() for v in layering_violations(src, mod, pkg)]
    assert not bad, "\n".join(bad)


def test_no_private_names_imported_across_modules():
    bad = [v for mod, src, pkg in _all_sources() for v in private_imports(src, mod, pkg)]
    assert not bad, "\n".join(bad)


def test_no_dispatch_on_the_layer_kind_outside_a_kind():
    """Emitters, backends, transforms and reports ask the node; they never test which kind it is."""
    bad = [v for mod, src, _ in _all_sources() if not mod.startswith(KIND_HOMES) for v in dispatch_violations(src, mod)]
    assert not bad, "\n".join(bad)


INJECTED = [  # (module the snippet is put in, the snippet): each breaks one rule
    ("hwgen.layers.mvau", "from hwgen.codegen import hls\n"),
    ("hwgen.layers.mvau", "from ..codegen import hls\n"),
    ("hwgen.layers.mvau", "from ..runtime.accelerator import Accelerator\n"),
    ("hwgen.layers", "from .. import graph\n"),
    ("hwgen.graph", "import importlib\nm = importlib.import_module('hwgen.runtime.rtlsim')\n"),
    ("hwgen.transforms.walk", "from ..codegen.dma import geometry\n"),
    ("hwgen.codegen.hls", "def f(n):\n    return n.op == 'MVAU'\n"),
    ("hwgen.codegen.rtl", "def f(n):\n    return n.op in ('SWG', 'Pool')\n"),
    ("hwgen.verify_inputs", "def f(n):\n    return type(n).__name__ == 'VVAU'\n"),
    ("sw_fallback.backend", "from hwgen.layers import VVAU\ndef f(n):\n    return isinstance(n, VVAU)\n"),
    ("hwgen.report", "def f(n):\n    return getattr(n, 'op') == 'Thresholding'\n"),
    ("hwgen.build", "def f(n):\n    return 'AddStreams' in [n.op]\n"),
    ("hwgen.runtime.rtlsim", "from hwgen.layers import branching\ndef f(n):\n    return type(n) is branching.Concat\n"),
    ("hwgen.codegen.dma", "from hwgen.layers.swg import _x\n"),
    ("hwgen.codegen.hls", "_CONTEXT = {'mvau': f, 'thresholding': g}\n"),
    ("hwgen.codegen.rtl", "BLOCKS = {'MVAU': f, 'dwc': g}\n"),
    ("hwgen.codegen.hls", "def f(kind, p):\n    if kind == 'label_select':\n        return p\n"),
]


@pytest.mark.parametrize("mod, snippet", INJECTED, ids=[f"{m}:{i}" for i, (m, _) in enumerate(INJECTED)])
def test_every_injected_violation_is_caught(mod, snippet):
    found = layering_violations(snippet, mod, mod == "hwgen.layers") + private_imports(snippet, mod) + \
        (dispatch_violations(snippet, mod) if not mod.startswith(KIND_HOMES) else [])
    assert found, f"not caught in {mod}: {snippet!r}"
