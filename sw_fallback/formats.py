"""The formats a stream's values take between CPU kernels, and the conversions between them.

A value is a batch of frames, first axis N, in one of:
- a numpy integer type (int8 ... int64): (N, F) element values, F elements per frame in stream (NHWC) order;
- Bits(group): BIPOLAR values bit-packed (bit 1 = +1), each `group` consecutive elements in their own
  ceil(group / 64) uint64 words, padding bits 0: an MLP layer's whole vector (group = features) or a conv
  pixel's channels (group = C). Two groups that are multiples of 64 have the same layout;
- Planes(bits, xmin, ax): few-bit integers as bit planes of one vector per frame (the bit-serial MVAU's input);
- Chw(dtype, h, w, c): an image's integers channel-planar, (N, C*H*W) channel by channel: what one planar
  convolution writes and the next reads (sw_fallback.planar_kernels), whole rows copied instead of a transposition
  from and to the stream order on each side.
"""

from __future__ import annotations

import numpy as np

from hwgen.errors import HwgenError
from sw_fallback import kernels as K


class CpuBackendError(HwgenError):
    pass


def int_type(lo: int, hi: int):
    """The narrowest numpy integer type holding [lo, hi]."""
    for t in (np.int8, np.int16, np.int32, np.int64):
        i = np.iinfo(t)
        if i.min <= lo and hi <= i.max:
            return t
    raise CpuBackendError(f"integer range [{lo}, {hi}] does not fit 64 bits")


def words(n: int) -> int:
    return (n + 63) // 64


class Bits:
    """BIPOLAR values packed `group` elements at a time (see the module docstring)."""

    def __init__(self, group: int):
        self.group = int(group)

    def _key(self):
        return 0 if self.group % 64 == 0 else self.group  # whole words: every such grouping is one layout

    def __eq__(self, other):
        return isinstance(other, Bits) and self._key() == other._key()

    def __hash__(self):
        return hash(("Bits", self._key()))

    def __repr__(self):
        return f"Bits({self.group})"


class Planes:
    """Input format of a bit-serial layer: values x = ax * u + xmin, u in [0, 2^B) held as B bit planes."""

    def __init__(self, bits: int, xmin: int, ax: int):
        self.bits, self.xmin, self.ax = int(bits), int(xmin), int(ax)

    def __eq__(self, other):
        return isinstance(other, Planes) and (self.bits, self.xmin, self.ax) == (other.bits, other.xmin, other.ax)

    def __hash__(self):
        return hash(("Planes", self.bits, self.xmin, self.ax))

    def __repr__(self):
        return f"Planes(bits={self.bits}, xmin={self.xmin}, ax={self.ax})"


class Chw:
    """An (h, w, c) image's integer values in `dtype`, channel-planar (see the module docstring)."""

    def __init__(self, dtype, h: int, w: int, c: int):
        self.dtype = np.dtype(dtype).type
        self.shape = (int(h), int(w), int(c))

    def __eq__(self, other):
        return isinstance(other, Chw) and (self.dtype, self.shape) == (other.dtype, other.shape)

    def __hash__(self):
        return hash(("Chw", self.dtype, self.shape))

    def __repr__(self):
        return f"Chw({np.dtype(self.dtype).name}, {self.shape[0]}, {self.shape[1]}, {self.shape[2]})"

    def order(self) -> np.ndarray:
        """Element j of this layout is stream (HWC) element order()[j]."""
        h, w, c = self.shape
        return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).reshape(-1)


def elem_type(fmt):
    """The numpy integer type of a format's elements (an integer type or Chw), else None."""
    if isinstance(fmt, Chw):
        return fmt.dtype
    return fmt if is_int(fmt) else None


def is_int(fmt) -> bool:
    return isinstance(fmt, type)


def pack(q: np.ndarray, group: int | None = None) -> np.ndarray:
    """Integer -1/+1 values (N, F) -> Bits(group) words (N, F / group * words(group)); group None: F."""
    q = np.ascontiguousarray(q)
    n, f = q.shape
    g = f if group is None else int(group)
    rows = q.reshape(n * (f // g), g)
    out = np.empty((rows.shape[0], words(g)), dtype=np.uint64)
    K.pack_bipolar(rows, out)
    return out.reshape(n, -1)


def pack_const(q: np.ndarray, group: int | None = None) -> np.ndarray:
    """As pack, in numpy: for constants (weights, pad pixels) and checks at construction, so that building a
    backend compiles no packing kernel it may not run."""
    q = np.asarray(q)
    n, f = q.shape
    g = f if group is None else int(group)
    rows = q.reshape(n * (f // g), g) > 0
    w = words(g)
    bits = np.zeros((rows.shape[0], w * 64), dtype=bool)
    bits[:, :g] = rows
    out = np.packbits(bits, axis=1, bitorder="little").view("<u8").astype(np.uint64)
    return np.ascontiguousarray(out.reshape(n, -1))


def unpack(b: np.ndarray, group: int, f: int, dtype=np.int8) -> np.ndarray:
    """Bits(group) words (N, ...) of frames of f elements -> integer -1/+1 values (N, f)."""
    n = b.shape[0]
    rows = np.ascontiguousarray(b).reshape(n * (f // group), words(group))
    out = np.empty((rows.shape[0], group), dtype=dtype)
    K.unpack_bipolar(rows, group, out)
    return out.reshape(n, f)


def convert(v: np.ndarray, src, dst, f: int) -> np.ndarray:
    """A value of frames of f elements from format src to format dst (exact)."""
    if src == dst:
        return v
    n = v.shape[0]
    if isinstance(src, Bits):
        q = unpack(v, src.group, f, dst if is_int(dst) else np.int8)
    elif is_int(src):
        q = v.reshape(n, f)
    elif isinstance(src, Chw):
        h, w, c = src.shape
        q = v.reshape(n, c, h, w).transpose(0, 2, 3, 1).reshape(n, f)
    else:
        raise CpuBackendError(f"no conversion from {src!r}")
    if is_int(dst):
        return q if q.dtype == dst else q.astype(dst)
    if isinstance(dst, Chw):
        h, w, c = dst.shape
        return np.ascontiguousarray(q.reshape(n, h, w, c).transpose(0, 3, 1, 2), dtype=dst.dtype).reshape(n, f)
    if isinstance(dst, Bits):
        return pack(q, dst.group)
    if isinstance(dst, Planes):
        out = np.empty((n, dst.bits, words(f)), dtype=np.uint64)
        K.pack_planes(np.ascontiguousarray(q), dst.xmin, dst.ax // 2, out)
        return out
    raise CpuBackendError(f"no conversion to {dst!r}")
