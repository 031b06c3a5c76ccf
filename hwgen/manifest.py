"""OUT/manifest.json: what `hwgen build` wrote, with hashes, and the checks `run` / `verify` make before trusting OUT.

    {"format": 1, "hwgen": "<version>", "build_id": "<uuid4 hex>",
     "files": {"params/MVAU_0.npz": "<sha256>", ...},      every file the build generated
     "mutable": ["report/"]}                                 listed, but rewritten later (measured figures)

check_build_dir(out) refuses (BuildDirError, exit 2) a directory whose generated files are missing or changed
(a tampered file, or one build's files mixed into another's), holds files the build did not write in a directory
the runtime reads (params/, rtl/, cpu/, hls/: STRICT_DIRS), or was built by an older hwgen without a manifest. Runs
read a checked private copy of the build instead of OUT itself (hwgen.snapshot.open_build, which makes these
checks), so that a rebuild during a run cannot mix two builds. check_params(out, graph) then checks
each layer's params/*.npz against the layer's spec in hwgraph.json: array names, integer dtypes, shapes, weights
within their datatype, thresholds ascending. rtlsim reads rtl/*.mem and csim regenerates its C++ from params,
so with both checks params, .mem and the C++ cannot disagree.

Replacing a build directory (what may be replaced, which files are carried over): hwgen.outdir.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import numpy as np

from hwgen.errors import BuildDirError

MANIFEST = "manifest.json"
FORMAT = 1
MUTABLE = ("report/",)
# directories whose every file must be one the build wrote (the runtime reads them): an extra file there means
# another build's files were mixed in, or shadows one of the build's (an ap_int.h in hls/ would be included by a
# C-simulation compile instead of the real header)
STRICT_DIRS = ("params/", "rtl/", "cpu/", "hls/")


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:  # a named pipe must not block: read as empty
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def list_files(out) -> list[str]:
    """Every regular file under `out`, as POSIX paths relative to it, sorted."""
    out = Path(out)
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and not p.is_symlink())


def write_manifest(out) -> dict:
    """List every file now in `out` (a freshly built directory) with its sha256 in out/manifest.json."""
    from hwgen import __version__

    out = Path(out)
    files = {f: sha256_file(out / f) for f in list_files(out) if f != MANIFEST}
    doc = {"format": FORMAT, "hwgen": __version__, "build_id": uuid.uuid4().hex, "files": files,
           "mutable": list(MUTABLE)}
    (out / MANIFEST).write_text(json.dumps(doc, indent=1))
    return doc


def is_build_dir(out) -> bool:
    out = Path(out)
    return (out / MANIFEST).is_file() or (out / "hwgraph.json").is_file()


def read_manifest(out) -> dict | None:
    """The manifest of `out`, or None when it has none; BuildDirError when it is unreadable."""
    f = Path(out) / MANIFEST
    if not f.is_file():
        return None
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BuildDirError(f"{str(f)!r} is not a valid manifest ({type(e).__name__}); rebuild with `hwgen build`.") \
            from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("files"), dict):
        raise BuildDirError(f"{str(f)!r} is not a manifest of this hwgen version; rebuild with `hwgen build`.")
    return doc


def check_build_dir(out) -> dict:
    """Refuse a build directory that is not exactly what `hwgen build` wrote; returns its manifest. (The checks
    are hwgen.snapshot's, made while reading OUT through one directory descriptor: a rebuild meanwhile is read as
    the new build, never as a mix.)"""
    from hwgen.snapshot import open_build

    with open_build(out, copy=False) as snap:
        return snap.manifest


# --- parameter checks -----------------------------------------------------------------------------------------

def _expected_shapes(d: dict) -> dict:
    """Array name -> expected shape from a layer's hwgraph.json entry (kinds without a rule: no shape check)."""
    a = d.get("attrs", {})
    shapes = {}
    if "MW" in a and "MH" in a:
        shapes["weights"] = (int(a["MH"]), int(a["MW"]))
    channels = a.get("MH", a.get("C"))
    if channels is not None and a.get("n_thresholds"):
        shapes["thresholds"] = (int(channels), int(a["n_thresholds"]))
    return shapes


def check_params(out, graph=None, shown=None) -> None:
    """Check every layer's params/*.npz against its spec in hwgraph.json; with `graph` (loaded from `out`) also
    the layers' shapes. Call it without `graph` before HwGraph.load (which trusts the arrays), then with it.
    `shown`: the directory to name in messages (OUT, when `out` is a snapshot's copy of it)."""
    from hwgen.dtypes import from_name
    from hwgen.graph_check import check_graph_doc

    out = Path(out)
    shown = Path(shown) if shown is not None else out
    doc = check_graph_doc(out, shown)
    loaded = {layer.name: layer for layer in graph.layers} if graph is not None else {}
    for d in doc["layers"]:
        name, a = d["name"], d.get("attrs", {})
        if "params" not in d:
            continue
        f = out / d["params"]

        def fail(what, name=name, rel=d["params"]):
            raise BuildDirError(f"{str(shown / rel)!r} (parameters of layer {name!r}): {what}; rebuild with "
                                "`hwgen build`.")

        try:
            with np.load(f, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception as e:  # noqa: BLE001 - any unreadable file is the same user-facing problem
            fail(f"not a readable .npz file ({type(e).__name__})")
        shapes = _expected_shapes(d)
        missing = set(shapes) - set(arrays)
        if missing:
            fail(f"array(s) {', '.join(sorted(missing))} missing")
        for k, v in arrays.items():
            if v.dtype.kind not in "iu":
                fail(f"array {k!r} has dtype {v.dtype}, expected integers")
            if k in shapes and tuple(v.shape) != shapes[k]:
                fail(f"array {k!r} has shape {tuple(v.shape)}, the layer's spec says {shapes[k]}")
        w = arrays.get("weights")
        if w is not None and "w_dtype" in a:
            wdt = from_name(a["w_dtype"])
            if not wdt.allowed(w):
                fail(f"weights outside their datatype {wdt.name} (range {w.min()}..{w.max()})")
        t = arrays.get("thresholds")
        if t is not None and t.ndim == 2 and t.shape[1] > 1 and not np.all(np.diff(t, axis=1) >= 0):
            fail("thresholds are not ascending in every channel")
        layer = loaded.get(name)
        if layer is not None:
            for key in ("in_shape", "out_shape"):
                if key in d and list(getattr(layer, key)) != list(d[key]):
                    fail(f"gives the layer {key} {list(getattr(layer, key))}, hwgraph.json says {list(d[key])}")
