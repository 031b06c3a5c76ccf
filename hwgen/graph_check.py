"""hwgraph.json checked before it is trusted: a build directory whose manifest was re-signed after an edit passes
the hash check, so the graph itself is checked too (unknown kinds or datatypes, a missing layer, PE 0 or -64 or
"8" or NaN, a folding the layer cannot take). Every problem is a BuildDirError naming the file and the layer.

    doc = check_graph_doc(out, shown)     # structure and values of one island's hwgraph.json, before HwGraph.load
    graph = load_graph(out, shown)        # every hardware island checked (doc, params), IslandGraph.load, its
                                          # failures as BuildDirError, then the foldings checked
"""

from __future__ import annotations

import json
from pathlib import Path

from hwgen.errors import BuildDirError, HwgenError

GRAPH = "hwgraph.json"


def _posint(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _relpath(v) -> bool:
    return (isinstance(v, str) and v != "" and not v.startswith("/")
            and all(p not in ("", ".", "..") for p in v.split("/")))


def _dtype_ok(name) -> bool:
    from hwgen.dtypes import from_name

    if not isinstance(name, str):
        return False
    try:
        from_name(name)
    except (ValueError, TypeError):
        return False
    return True


def _layer_problem(d) -> str | None:
    from hwgen.layers import KINDS

    if not isinstance(d, dict):
        return "is not an object"
    if d.get("op") not in KINDS:
        return f"has unknown kind {d.get('op')!r} (known: {', '.join(KINDS)})"
    for k in ("pe", "simd", "num_vectors"):
        if k in d and not _posint(d[k]):
            return f"has {k.upper() if k != 'num_vectors' else k} {d[k]!r}, not a positive integer"
    for k in ("in_dtype", "out_dtype"):
        if not _dtype_ok(d.get(k)):
            return f"has unknown {k} {d.get(k)!r}"
    a = d.get("attrs", {})
    if not isinstance(a, dict):
        return "has attrs that are not an object"
    for k in ("w_dtype", "acc_dtype"):
        if k in a and not _dtype_ok(a[k]):
            return f"has unknown {k} {a[k]!r}"
    for k in ("in_shape", "out_shape"):
        if k in d and not (isinstance(d[k], list) and all(_posint(x) for x in d[k])):
            return f"has {k} {d[k]!r}, not a list of positive integers"
    if "params" in d and not _relpath(d["params"]):
        return f"names parameter file {d['params']!r}, not a path inside the build directory"
    return None


def check_graph_doc(out, shown=None) -> dict:
    """OUT/hwgraph.json as a dict, every part HwGraph.load relies on checked; BuildDirError naming the problem."""
    out = Path(out)
    f = Path(shown if shown is not None else out) / GRAPH

    def fail(what):
        raise BuildDirError(f"{str(f)!r} {what}; it was edited after the build: rebuild with `hwgen build`.")

    try:
        doc = json.loads((out / GRAPH).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise BuildDirError(f"{str(f)!r} is missing; rebuild with `hwgen build`.") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise BuildDirError(f"{str(f)!r} cannot be read ({type(e).__name__}); rebuild with `hwgen build`.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list) or not doc["layers"]:
        fail("has no list of layers")
    names = []
    for i, d in enumerate(doc["layers"]):
        name = d.get("name") if isinstance(d, dict) else None
        if not isinstance(name, str) or not name:
            fail(f"has a layer without a name (entry {i})")
        if name in names:
            fail(f"has two layers named {name!r}")
        problem = _layer_problem(d)
        if problem:
            fail(f"layer {name!r} {problem}")
        names.append(name)
    known = set(names) | {None}
    edges = doc.get("edges")
    if not isinstance(edges, list):
        fail("has no list of edges")
    for e in edges:
        if not (isinstance(e, list) and len(e) == 4 and isinstance(e[1], int) and isinstance(e[3], int)
                and e[1] >= 0 and e[3] >= 0):
            fail(f"has a malformed edge {e!r}")
        for end in (e[0], e[2]):
            if end not in known:
                fail(f"has an edge {e!r} naming layer {end!r}, which is not in its list of layers")
    fed = {e[2] for e in edges}
    unfed = [n for n in names if n not in fed]
    if unfed:
        fail(f"has layer {unfed[0]!r} with no input edge")
    for part in ("head", "tail"):
        p = doc.get(part)
        if not isinstance(p, dict) or not _relpath(p.get("onnx")):
            fail(f"has no valid {part} partition")
    inp = doc.get("input")
    if not (isinstance(inp, dict) and isinstance(inp.get("name"), str) and isinstance(inp.get("shape"), list)
            and all(_posint(x) for x in inp["shape"])):
        fail("has no valid input (name and shape)")
    depths = doc.get("fifo_depths", {})
    if not (isinstance(depths, dict) and all(_posint(v) for v in depths.values())):
        fail("has FIFO depths that are not positive integers")
    return doc


def load_graph(out, shown=None):
    """The build's islands (hwgen.islands.IslandGraph.load) after check_graph_doc of every hardware island's
    hwgraph.json and check_params of its params/*.npz, with the loaded layers' foldings checked against what each
    kind can take; every failure a BuildDirError naming the file."""
    from hwgen.graph import read_doc
    from hwgen.islands import IslandGraph
    from hwgen.manifest import check_params

    out = Path(out)
    shown = Path(shown if shown is not None else out)
    try:
        doc = read_doc(out, "islands")
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise BuildDirError(f"{str(shown / GRAPH)!r} cannot be read ({type(e).__name__}); rebuild with "
                            "`hwgen build`.") from None
    try:
        dirs = [d["dir"] for d in doc["islands"]["list"] if d["kind"] == "hw"]
    except (KeyError, TypeError):
        raise BuildDirError(f"{str(shown / GRAPH)!r} has no valid island list; it was edited after the build: "
                            "rebuild with `hwgen build`.") from None
    for d in dirs:
        if d != "." and not _relpath(d):
            raise BuildDirError(f"{str(shown / GRAPH)!r} names island directory {d!r}, not a path inside the build "
                                "directory; rebuild with `hwgen build`.")
        check_graph_doc(out / d, shown / d)
        check_params(out / d, shown=shown / d)  # the arrays, before loading trusts them
    try:
        g = IslandGraph.load(out)
    except HwgenError:
        raise
    except FileNotFoundError as e:  # a file hwgraph.json names is gone
        raise BuildDirError(f"build directory {str(shown)!r} is incomplete: "
                            f"{Path(e.filename or '?').name!r} is missing; rebuild with `hwgen build`.") from None
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, OSError) as e:
        raise BuildDirError(f"{str(shown / GRAPH)!r} cannot be loaded ({type(e).__name__}: {e}); it was edited "
                            "after the build: rebuild with `hwgen build`.") from None
    for d, hw in zip(dirs, g.hw_islands):
        check_params(out / d, hw, shown=shown / d)
        _check_foldings(hw, shown / d / GRAPH)
    return g


def _check_foldings(g, f: Path) -> None:
    for layer in g.layers:
        try:
            legal = (layer.pe in layer.legal_pe(), layer.simd in layer.legal_simd())
        except Exception as e:  # noqa: BLE001 - the layer's own attributes are what is broken
            raise BuildDirError(f"{str(f)!r}: layer {layer.name!r} cannot be checked ({type(e).__name__}); it was "
                                "edited after the build: rebuild with `hwgen build`.") from None
        for ok, what, value, values in ((legal[0], "PE", layer.pe, layer.legal_pe),
                                        (legal[1], "SIMD", layer.simd, layer.legal_simd)):
            if not ok:
                raise BuildDirError(f"{str(f)!r}: layer {layer.name!r} ({layer.op}) has {what}={value!r}, which it "
                                    f"cannot take (legal: {values()}); it was edited after the build: rebuild with "
                                    "`hwgen build`.")
