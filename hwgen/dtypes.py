"""Integer datatypes of hardware streams: INTn, UINTn, BIPOLAR.

A datatype is the set of integer values an element can take and its bit width in a packed stream word.
BIPOLAR is {-1, +1}, packed as one bit (0 -> -1, 1 -> +1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DType:
    bits: int
    signed: bool
    bipolar: bool = False

    def __post_init__(self):
        if self.bits < 1 or self.bits > 64:
            raise ValueError(f"datatype width {self.bits} out of range 1..64")
        if self.bipolar and (self.bits != 1 or self.signed):
            raise ValueError("BIPOLAR is a 1-bit unsigned-encoded type")

    @property
    def name(self) -> str:
        if self.bipolar:
            return "BIPOLAR"
        return f"{'INT' if self.signed else 'UINT'}{self.bits}"

    @property
    def min(self) -> int:
        if self.bipolar:
            return -1
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        if self.bipolar:
            return 1
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def allowed(self, values) -> bool:
        """True if every value is an integer this type can hold."""
        v = np.asarray(values)
        if v.size == 0:
            return True
        if not np.all(np.equal(np.mod(v, 1), 0)):
            return False
        if self.bipolar:
            return bool(np.all((v == -1) | (v == 1)))
        return bool(v.min() >= self.min and v.max() <= self.max)

    def random(self, rng, shape) -> np.ndarray:
        """Uniformly random legal values (int64) of this type."""
        if self.bipolar:
            return rng.choice(np.array([-1, 1], dtype=np.int64), shape)
        return rng.integers(self.min, self.max + 1, shape, dtype=np.int64)

    def __str__(self) -> str:
        return self.name

    def to_json(self) -> str:
        return self.name


BIPOLAR = DType(1, False, True)
_NAME = re.compile(r"^(U?)INT(\d+)$")


def from_name(name: str) -> DType:
    if name == "BIPOLAR":
        return BIPOLAR
    if name == "BINARY":
        return DType(1, False)
    m = _NAME.match(name)
    if not m:
        raise ValueError(f"unknown datatype {name!r}")
    return DType(int(m.group(2)), m.group(1) == "")


def smallest_for_range(lo: int, hi: int) -> DType:
    """The narrowest INTn/UINTn holding every integer in [lo, hi] (unsigned when lo >= 0)."""
    lo, hi = int(lo), int(hi)
    if lo > hi:
        raise ValueError(f"empty range [{lo}, {hi}]")
    if lo >= 0:
        return DType(max(1, hi.bit_length()), False)
    bits = max((-lo - 1).bit_length(), hi.bit_length() if hi > 0 else 0) + 1
    return DType(bits, True)


def smallest_for_values(values) -> DType:
    """Like smallest_for_range over an array; BIPOLAR if all values are +-1 and both signs could occur."""
    v = np.asarray(values)
    if v.size == 0:
        return DType(1, False)
    return smallest_for_range(int(v.min()), int(v.max()))
