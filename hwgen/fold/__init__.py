"""Folding: PE / SIMD per layer. The search (target rate or board budget) is hwgen.fold.search; this module
reads and applies a user's FOLD.json on top of it (`fold_graph` does both).

FOLD.json maps layer names (summary.json's, hwgraph.json's) to {"PE": n, "SIMD": m}; any kind can be named. The
layers it names set the rate: without --target-fps, every layer it does not name is refolded to the cheapest
folding that keeps up with the slowest named one (so a pool or a threshold layer is never the bottleneck when a
cheaper choice exists), and a sliding-window generator / pad it does not name follows its consumer's word (so
FINN's fold_cnv_large is a file of the 9 matrix layers)."""

from __future__ import annotations

import json
from pathlib import Path

from hwgen.errors import FoldingError


def load_folding_file(path) -> dict:
    from hwgen.fileops import regular_file

    p = regular_file(path, "folding file", FoldingError, hint='; give a FOLD.json file ({"<layer>": {"PE": n}})')
    try:
        d = json.loads(p.read_bytes().decode("utf-8"), object_pairs_hook=_no_duplicates(p))
    except UnicodeDecodeError as e:
        raise FoldingError(f"folding file {str(p)!r} is not UTF-8 text (byte {e.start}); save it as UTF-8 "
                           "JSON.") from None
    except json.JSONDecodeError as e:
        raise FoldingError(f"folding file {str(p)!r} is not valid JSON: {e}") from None
    if not isinstance(d, dict) or not all(isinstance(v, dict) for v in d.values()):
        raise FoldingError(f'folding file {str(p)!r} must map layer names to {{"PE": n, "SIMD": m}}.')
    return d


def _no_duplicates(path):
    """json object hook refusing repeated keys (json.loads would silently keep the last one)."""

    def hook(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                raise FoldingError(f"folding file {str(path)!r} names {k!r} twice; keep one entry per layer.")
            seen.add(k)
        return dict(pairs)

    return hook


def apply_folding(layers, folding: dict) -> None:
    """Set PE/SIMD from a {layer: {"PE", "SIMD"}} dict; names, values and the words they make are checked."""
    from hwgen.fold.units import MAX_STREAM_BITS, widest_word

    by_name = {layer.name: layer for layer in layers}
    for name, f in folding.items():
        if name not in by_name:
            raise FoldingError(f"folding names layer {name!r}, which does not exist; layers: {', '.join(by_name)}.")
        unknown = set(f) - {"PE", "SIMD"}
        if unknown:
            raise FoldingError(f"folding for layer {name!r} has unknown keys {sorted(unknown)}; use PE and SIMD.")
        for k, v in f.items():
            if not isinstance(v, int) or isinstance(v, bool):
                raise FoldingError(f"folding for layer {name!r}: {k} must be an integer, got {v!r}.")
        lay = by_name[name]
        lay.set_folding(f.get("PE"), f.get("SIMD"))
        w = widest_word(lay)
        if w > MAX_STREAM_BITS:
            raise FoldingError(f"folding for layer {name!r}: PE={lay.pe} SIMD={lay.simd} makes {w}-bit words; the HLS "
                               f"C++ cannot hold them (Vitis HLS limits ap_uint to {MAX_STREAM_BITS} bits, "
                               "AP_INT_MAX_W): use a smaller SIMD or PE.")


def fold_graph(layers, board, target_fps=None, folding_file=None, io_cycles=None, edges=None,
               cpu_layers=None) -> dict:
    """Fold `layers` (a DAG with `edges`; a chain by default) for `board` (hwgen.boards.Board): the search, then
    the folding file on top. Returns the explanation (summary.json's "folding"). cpu_layers: {name: why} of
    matrix layers the lowering runs on the CPU (hwgen.transforms.walk.Walk.cpu_layers)."""
    from hwgen.fold.search import search

    user = load_folding_file(folding_file) if folding_file is not None else {}
    user = _drop_cpu_layers(user, cpu_layers or {})
    if user and target_fps is None:  # the file sets the rate: no search, the rest follows it
        apply_folding(layers, user)
        explain = {"mode": f"{Path(str(folding_file)).name} set: " + ", ".join(sorted(user)) + "; every other "
                   "layer folded to keep up with them", "layers": {
                       lay.name: {"pe": lay.pe, "simd": lay.simd, "cycles": 0, "cost": 0.0,
                                  "alternatives_meeting_target": 0, "why": ""} for lay in layers}}
        refold_around(layers, user, explain, board.resources, edges)
        return explain
    explain = search(layers, board.resources, board.clock_mhz, None if target_fps is None else float(target_fps),
                     io_cycles=io_cycles, edges=edges)
    if user:
        apply_folding(layers, user)
        refold_around(layers, user, explain, board.resources, edges, keep_others=True)
        explain["mode"] += f"; then {Path(str(folding_file)).name} set: " + ", ".join(sorted(user))
    return explain


def _drop_cpu_layers(user: dict, cpu_layers: dict) -> dict:
    """A folding file written when a layer ran in hardware (the last MVAU of an MLP whose float32 sum qonnx
    rounds, kept in hardware before 2026-12-06) still applies: its entry is ignored, with a warning saying why."""
    import warnings

    from hwgen.errors import HwgenWarning

    for name in [n for n in user if n in cpu_layers]:
        warnings.warn(HwgenWarning(f"folding for layer {name!r} ignored: it runs on the CPU ({cpu_layers[name]})"),
                      stacklevel=3)
    return {n: f for n, f in user.items() if n not in cpu_layers}


def refold_around(layers, user: dict, explain: dict, capacity: dict, edges=None, keep_others=False) -> None:
    """After a folding file: the layers it does not name follow it (tied ones their consumer; the others, unless
    `keep_others` (a target rate set the interval), the cheapest folding within the slowest named layer's
    cycles, or their fastest when none is). Updates `explain`."""
    from hwgen.fold.search import cheapest, mark_bottleneck
    from hwgen.fold.units import build_table, make_units

    by_name = {lay.name: lay for lay in layers}
    t = max(by_name[n].cycles() for n in user)
    units = make_units(layers, edges, keep=set(user))
    has_uram = capacity.get("uram", 0) > 0
    for unit in units:
        name = unit.main.name
        if name not in user and not keep_others:
            build_table(unit, has_uram)
            ch = cheapest(unit, t, capacity) or min(unit.table, key=lambda c: c.cycles)
            unit.main.set_folding(ch.pe, ch.simd)
            n = getattr(ch, "alternatives", 0)
            why = (f"cheapest of {n} legal foldings with <= {t} cycles (the rate the folding file sets)"
                   if ch.cycles <= t else
                   f"its fastest folding ({ch.cycles} cycles): none keeps up with the folding file's {t} cycles")
            explain["layers"][name].update(why=why, cost=round(getattr(ch, "cost", 0.0), 6),
                                           alternatives_meeting_target=n)
        unit.follow()
        for lay in unit.layers:
            e = explain["layers"][lay.name]
            e.update(pe=lay.pe, simd=lay.simd, cycles=lay.cycles())
            if lay.name in user:
                e["why"] = "set by the folding file"
            elif lay is not unit.main:
                e["why"] = f"tied to {dict(unit.tied)[lay].name}'s input word (SIMD {lay.simd})"
    if not keep_others:
        explain["max_cycles"] = t
    from hwgen.fold.units import RESOURCES, layer_resources

    res = [layer_resources(lay, has_uram) for lay in layers]
    explain["totals"] = {r: sum(x[r] for x in res) for r in RESOURCES}
    mark_bottleneck(explain, layers)
