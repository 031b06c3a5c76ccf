"""Pass `prune_channels`: remove the output channels the next matrix layer does not need, before folding.

A model pruned in training (channels whose weights are all zero) or whose thresholds make a channel's output the
same level for every input it can receive gets smaller hardware with no option. A channel c of a thresholded MVAU
(a conv's or an FC's matrix part) is removed, with its weight row and thresholds, when

- its output is constant: no threshold lies in (acc_min, acc_max] of its row (zero weights: acc = 0 always), so
  it always sends the level v, or
- the consuming MVAU ignores it: every weight reading it is 0,

and the stream from it reaches one MVAU through channel-wise data movers only (Pad, a window-order sliding-window
generator, a max pool: each keeps per-channel values, so channel c still carries v). The consumer loses the
columns reading c (in FINN's window order and the NHWC flatten alike: column p * C + c for every pixel or kernel
position p) and, if v and its weights are not zero, folds the constant contribution sum_p W[r, p*C + c] * v into
its thresholds (t - contribution: the integer sum the hardware computes is the old one minus a constant, so every
output level is unchanged, bit for bit). A Pad whose pad value is not v would make the border differ, so such a
channel is kept unless its consumer's weights are all zero; so is a contribution to a consumer without thresholds
(its accumulator leaves the accelerator as it is). Only as many channels go as keep the count foldable (PE and SIMD
must divide it): what is left is a power of two up to 8, or a multiple of 8 (or of the original's power of two). Repeats until nothing
changes (a consumer whose inputs lost
columns may itself have constant channels then).

The kinds say what they are to it (hwgen.layers.base.HwLayer: is_matrix, moves_channels, keeps_level).
Hook: `prune_channels(layers, edges)` after lowering, before folding (hwgen.build.compile_model); it edits the
layers in place and returns what it removed (build records it in `meta["pruned"]`, summary.json and inspect show
it). Self-contained: it reads the kinds' public fields (weights, thresholds, channels, pads) and nothing else.
"""

from __future__ import annotations

import numpy as np

from hwgen.layers import kernels

NAME = "prune_channels"
FOLD_FACTOR = 8  # a pruned channel count keeps at least this power of two (or the original's) as a factor


def _consumers(layers, edges):
    """name -> the one layer reading its output, or None (several readers, the accelerator output)."""
    if edges is None:  # a chain
        return {a.name: b for a, b in zip(layers, layers[1:])}
    by_name = {lay.name: lay for lay in layers}
    out: dict = {}
    for e in edges:
        if e.src is not None:
            out.setdefault(e.src, []).append(e)
    return {k: (by_name.get(v[0].dst) if len(v) == 1 and v[0].dst_port == 0 else None) for k, v in out.items()}


def _constant_levels(p) -> np.ndarray:
    """Per output channel: its level when constant over the accumulator's whole range, else None."""
    lo, hi = p.acc_range()
    at_lo = kernels.apply_thresholds(lo[None, :], p.thresholds, p.out_base, p.out_dtype.bipolar)[0]
    at_hi = kernels.apply_thresholds(hi[None, :], p.thresholds, p.out_base, p.out_dtype.bipolar)[0]
    return np.array([int(a) if a == b else None for a, b in zip(at_lo, at_hi)], dtype=object)


def _try(p, cons) -> dict | None:
    """Remove what can be removed from p's outputs; returns the record, or None."""
    path, nxt = [], cons.get(p.name)
    while nxt is not None and nxt.moves_channels():
        path.append(nxt)
        nxt = cons.get(nxt.name)
    if nxt is None or not nxt.is_matrix() or p.thresholds is None:
        return None
    m, c = nxt, p.mh
    if m.mw % c:
        return None
    per = m.mw // c
    cols = np.arange(per)[:, None] * c + np.arange(c)[None, :]  # (pixel or kernel position, channel)
    w = m.weights[:, cols]  # (MH, per, C)
    unused = ~np.any(w != 0, axis=(0, 1))
    levels = _constant_levels(p)
    removable = {}  # channel -> its contribution to the consumer's accumulators (per output row)
    for ch in range(c):
        if unused[ch]:
            removable[ch] = np.zeros(m.mh, dtype=np.int64)
            continue
        v = levels[ch]
        if v is None or not all(lay.keeps_level(v) for lay in path):
            continue
        k = (w[:, :, ch].sum(axis=1) * int(v)).astype(np.int64)
        if k.any() and m.thresholds is None:
            continue
        removable[ch] = k
    n = how_many(c, len(removable))
    if not n:
        return None
    remove = sorted(removable)[:n]
    shift = sum((removable[ch] for ch in remove), np.zeros(m.mh, dtype=np.int64))
    keep = np.array([ch for ch in range(c) if ch not in set(remove)])
    p.weights = p.weights[keep]
    p.thresholds = p.thresholds[keep]
    for lay in path:
        lay.channels = len(keep)
    m.weights = m.weights[:, cols[:, keep].reshape(-1)]
    if m.thresholds is not None and shift.any():
        m.thresholds = m.thresholds - shift[:, None]
    return {"layer": p.name, "onnx_nodes": list(p.onnx_nodes), "removed": [int(ch) for ch in remove],
            # per removed channel: its constant level, or None when it was removed as unread
            "constant_levels": [None if levels[ch] is None else int(levels[ch]) for ch in remove],
            "kept": int(len(keep)), "of": int(c), "consumer": m.name, "through": [lay.name for lay in path]}


def _pow2(n: int) -> int:
    return n & -n


def how_many(c: int, removable: int) -> int:
    """How many of the removable channels to remove: the most that leave a count whose power-of-two factor is at
    least min(the original's, FOLD_FACTOR, the count left): PE / SIMD must divide the channels, and 512 -> 511 would
    leave 1, 7, 73, 511 and a worse folding. At least one channel stays."""
    ok = [k for k in range(1, min(removable, c - 1) + 1) if _pow2(c - k) >= min(_pow2(c), FOLD_FACTOR, c - k)]
    return max(ok, default=0)


def prune_channels(layers: list, edges) -> list[dict]:
    """The pass: edits `layers` in place, returns one record per producer that lost channels."""
    records = []
    changed = True
    while changed:
        changed = False
        cons = _consumers(layers, edges)
        for p in layers:
            if p.is_matrix() and p.thresholds is not None:
                r = _try(p, cons)
                if r is not None:
                    records.append(r)
                    changed = True
    return records
