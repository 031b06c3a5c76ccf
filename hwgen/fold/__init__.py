"""Folding: PE / SIMD per layer. The search (target rate or board budget) is hwgen.fold.search; this module
reads and applies a user's FOLD.json on top of it."""

from __future__ import annotations

import json
from pathlib import Path

from hwgen.errors import FoldingError


def load_folding_file(path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise FoldingError(f"folding file {str(p)!r} does not exist.")
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
