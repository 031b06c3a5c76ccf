"""Folding: PE / SIMD per layer (from FOLD.json, a target rate, or the default)."""

from __future__ import annotations

import json
from pathlib import Path

from hwgen.errors import FoldingError


def load_folding_file(path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise FoldingError(f"folding file {str(p)!r} does not exist.")
    try:
        d = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise FoldingError(f"folding file {str(p)!r} is not valid JSON: {e}") from None
    if not isinstance(d, dict) or not all(isinstance(v, dict) for v in d.values()):
        raise FoldingError(f'folding file {str(p)!r} must map layer names to {{"PE": n, "SIMD": m}}.')
    return d


def apply_folding(layers, folding: dict) -> None:
    """Set PE/SIMD from a {layer: {"PE", "SIMD"}} dict; names and values are checked."""
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
        by_name[name].set_folding(f.get("PE"), f.get("SIMD"))


def fold_for_cycles(layers, max_cycles: int) -> None:
    """Smallest PE*SIMD per layer with cycles <= max_cycles (the fastest folding if none reaches it).

    A simple per-layer rule: the optimizer of hwgen.fold.search (resources, balance) refines it.
    """
    for layer in layers:
        best = None
        for pe in layer.legal_pe():
            for simd in layer.legal_simd():
                c = layer.cycles(pe, simd)
                key = (c > max_cycles, pe * simd if c <= max_cycles else c, -simd)
                if best is None or key < best[0]:
                    best = (key, pe, simd)
        layer.set_folding(best[1], best[2])


def default_folding(layers) -> None:
    """Balance every layer to the cycles of the cheapest layer left unfolded: a modest, balanced design."""
    target = min(layer.cycles(1, 1) for layer in layers)
    fold_for_cycles(layers, target)


def fold_for_fps(layers, fps: float, clock_mhz: float) -> None:
    if fps <= 0:
        raise FoldingError(f"--target-fps must be positive, got {fps}.")
    fold_for_cycles(layers, max(1, int(clock_mhz * 1e6 // fps)))
