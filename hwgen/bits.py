"""Bit-width arithmetic shared by the layer kinds, the cost models and the emitters (one copy, low in the
import graph: it imports nothing from hwgen)."""

from __future__ import annotations

import math


def clog2(n: int) -> int:
    """Bits of a counter indexing n items (at least 1)."""
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


def pad8(bits: int) -> int:
    """A width rounded up to whole bytes (the AXI4-Stream TDATA rule)."""
    return (bits + 7) // 8 * 8


def signed_bits(lo: int, hi: int) -> int:
    """Bits of a two's-complement type holding every value in [lo, hi]."""
    b = 1
    while not (-(1 << (b - 1)) <= lo and hi <= (1 << (b - 1)) - 1):
        b += 1
    return b
