"""Turn the float work between an integer point and the next quantizer into integer thresholds.

Between a matrix product (or an integer tensor) and the next quantizer, a QONNX graph computes, per channel,
a chain of float32 element-wise ops (bias, BatchNorm, scales, ReLU, ...) followed by rounding and clipping.
As a function of the integer accumulator `a` this is a monotone step function g_c(a) -> output level. Instead
of re-deriving its algebra (and its float32 rounding) we evaluate g itself - the very ops qonnx runs - on
accumulator values, and read off where it steps: every accumulator in range when the range is small, a
vectorized binary search otherwise. The thresholds then reproduce the float graph exactly for every input.

Channels where g decreases (negative scale) are flagged: the caller negates that weight row, so hardware only
ever compares `acc >= threshold`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_ENUM_ELEMS = 1 << 24  # candidates x channels evaluated at once when enumerating the whole range
MAX_ENUM_RANGE = 1 << 16
# thresholds per channel, and in all: a 24-bit activation would need 2^24 - 1 comparisons per value (8 GiB of
# thresholds for 64 channels, minutes to compute); refused up front instead, in bounded time and memory
MAX_THRESHOLDS = (1 << 16) - 1
MAX_THRESHOLD_ENTRIES = 1 << 24


class TooManyThresholds(ValueError):
    """The output has more levels than thresholds can represent at a reasonable size."""

    def __init__(self, per_channel: int, channels: int):
        super().__init__(f"{per_channel} thresholds x {channels} channels")
        self.per_channel, self.channels = per_channel, channels


class NotMonotoneError(ValueError):
    """g is not monotone in some channel: no thresholds can represent it."""

    def __init__(self, channel):
        super().__init__(f"channel {channel}")
        self.channel = channel


@dataclass
class ThresholdResult:
    thresholds: np.ndarray  # (C, T) int64 ascending, in the domain of the (possibly negated) accumulator
    negate: np.ndarray  # (C,) bool: channel decreases; hardware must use acc' = -acc (negated weight row)


def compute_thresholds(g, lo: np.ndarray, hi: np.ndarray, out_lo: int, out_hi: int,
                       max_enum_range: int = MAX_ENUM_RANGE) -> ThresholdResult:
    """g maps an int64 (K, C) array of accumulator values (column c belongs to channel c) to output levels.

    lo, hi: (C,) bounds of the accumulator per channel. Output levels lie in [out_lo, out_hi].
    """
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.asarray(hi, dtype=np.int64)
    C = lo.size
    n = int(out_hi) - int(out_lo)
    if n > MAX_THRESHOLDS or n * C > MAX_THRESHOLD_ENTRIES:
        raise TooManyThresholds(n, C)
    levels = np.arange(out_lo + 1, out_hi + 1, dtype=np.int64)  # threshold l: first acc with g >= l
    span = int((hi - lo).max()) + 1
    if span <= max_enum_range and span * C <= MAX_ENUM_ELEMS:
        return _by_enumeration(g, lo, hi, levels, span)
    return _by_search(g, lo, hi, levels)


def _by_enumeration(g, lo, hi, levels, span):
    C = lo.size
    k = np.arange(span, dtype=np.int64)[:, None]
    cand = np.minimum(lo[None, :] + k, hi[None, :])  # pad short channels with their max
    vals = np.asarray(g(cand)).astype(np.int64)
    valid = (lo[None, :] + k) <= hi[None, :]
    d = np.diff(vals, axis=0)
    dvalid = valid[1:]
    inc = np.all((d >= 0) | ~dvalid, axis=0)
    dec = np.all((d <= 0) | ~dvalid, axis=0)
    bad = ~(inc | dec)
    if bad.any():
        raise NotMonotoneError(int(np.nonzero(bad)[0][0]))
    negate = dec & ~inc
    nvalid = valid.sum(axis=0)
    # per channel, #(valid accumulators with g < l) for every level l at once: a search in the sorted outputs (one
    # pass per level would take minutes for 16-bit outputs)
    ordered = np.sort(np.where(valid, vals, np.iinfo(np.int64).max), axis=0)
    thr = np.empty((C, levels.size), dtype=np.int64)
    for c in range(C):
        below = np.searchsorted(ordered[:, c], levels, side="left")
        # increasing: first acc with g >= l is lo + #(g < l); decreasing: largest acc with g >= l is
        # lo + #(g >= l) - 1, and the negated domain's threshold is its negation
        thr[c] = -(lo[c] + (nvalid[c] - below) - 1) if negate[c] else lo[c] + below
    return ThresholdResult(_clamp(thr, lo, hi, negate), negate)


def _by_search(g, lo, hi, levels):
    C = lo.size
    g_lo = np.asarray(g(lo[None, :])).astype(np.int64)[0]
    g_hi = np.asarray(g(hi[None, :])).astype(np.int64)[0]
    negate = g_hi < g_lo
    T = levels.size
    # predicate p(a) = g(a) >= l is monotone in a: false then true (increasing) or true then false (decreasing)
    left = np.broadcast_to(lo, (T, C)).copy()
    right = np.broadcast_to(hi + 1, (T, C)).copy()
    lvl = levels[:, None]
    # increasing: find first a in [lo, hi+1] with p(a); decreasing: first a with not p(a), threshold = -(a-1)
    while True:
        active = left < right
        if not active.any():
            break
        mid = (left + right) // 2
        midc = np.minimum(mid, hi[None, :])
        p = np.asarray(g(midc)).astype(np.int64) >= lvl
        go_right = np.where(negate[None, :], p, ~p)
        left = np.where(active & go_right, mid + 1, left)
        right = np.where(active & ~go_right, mid, right)
    first = left
    thr = np.where(negate[None, :], -(first - 1), first).T.copy()
    _spot_check_monotone(g, lo, hi, negate)
    return ThresholdResult(_clamp(thr, lo, hi, negate), negate)


def _spot_check_monotone(g, lo, hi, negate, samples=257):
    rng = np.random.default_rng(0)
    pts = np.sort(rng.integers(lo[None, :], hi[None, :] + 1, size=(samples, lo.size)), axis=0)
    pts[0], pts[-1] = lo, hi
    vals = np.asarray(g(pts)).astype(np.int64)
    d = np.diff(vals, axis=0)
    ok = np.where(negate[None, :], d <= 0, d >= 0).all(axis=0)
    if not ok.all():
        raise NotMonotoneError(int(np.nonzero(~ok)[0][0]))


def _clamp(thr, lo, hi, negate):
    """Thresholds outside the reachable accumulator range carry no information; pin them to range ends + 1
    so their width is bounded by the accumulator's (always-true -> min, never-true -> max + 1)."""
    a_lo = np.where(negate, -hi, lo)[:, None]
    a_hi = np.where(negate, -lo, hi)[:, None]
    return np.clip(thr, a_lo, a_hi + 1)
