"""Kernels of the CPU backend for the MLP kinds (MVAU, thresholds, label select), and the base Kernel every kind's
`cpu_kernel(lib)` builds on.

A Kernel works on rows: `run(x, out_fmt)` maps (rows, in_f) to (rows, out_f), one row per vector (an MLP frame
is one vector; a conv MVAU without a sliding window streams OH*OW of them). The backend talks to every kernel
through the frame-level interface below (`in_fmts`, `native_fmt`, `can_write`, `run_frames`, `fuse_input`),
which a Kernel implements by reshaping frames into rows; multi-port and frame-shaped kinds override it
(sw_fallback.cnn).
"""

from __future__ import annotations

import numpy as np

from sw_fallback import kernels as K
from sw_fallback import layout_kernels as LK
from sw_fallback import vnni as V
from sw_fallback.formats import Bits, Planes, convert, int_type, is_int, pack_const, words

# bit-serial MVAU (option bitserial=True) when input bits x weight bits <= this (INT2 x INT2, INT2 x BIPOLAR):
# its kernel beats the int16 one on wide layers, but building bit planes in the head costs more than it saves
# on TFC (2-core AVX-512 machine, 2026-11-26), so it is off by default
BITSERIAL_MAX = 4


def _affine(dt_or_values, bipolar: bool) -> tuple[int, int, int]:
    """(a, min, B): values = a * u + min with u in [0, 2^B)."""
    if bipolar:
        return 2, -1, 1
    lo, hi = dt_or_values
    return 1, int(lo), max(1, int(hi - lo).bit_length())


def thr_array(t, n_rows) -> np.ndarray:
    """Thresholds (rows, T) as int64 (T = 0: none)."""
    if t is None:
        return np.zeros((n_rows, 0), dtype=np.int64)
    return np.ascontiguousarray(t, dtype=np.int64)


def out_range(layer) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel integer range of a layer's outputs (the kind's own bounds)."""
    lo, hi = layer.out_range()
    return np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)


class Kernel:
    """One layer's compiled plan on the CPU: the input format it reads (`in_fmt`: Bits, Planes or a numpy
    integer type) and `run(x, out_fmt)` on rows. Each layer kind picks its kernel (`HwLayer.cpu_kernel(lib)`,
    lib = a KernelLib); subclasses implement `compute(x, out)` on integer arrays (rows, in_f) -> (rows, out_f)."""

    kind = "kernel"

    def __init__(self, layer):
        self.layer = layer
        lo, hi = out_range(layer)
        self.out_range = (int(lo.min(initial=0)), int(hi.max(initial=0)))
        self.name = layer.name
        self.op = layer.op
        self.in_f = layer.in_features
        self.out_f = layer.out_features
        dt = layer.in_dtype
        self.in_fmt = int_type(dt.min, dt.max)

    def can_write_bits(self) -> bool:
        return False

    def compute(self, x, out) -> None:
        raise NotImplementedError

    def run(self, x, out_fmt):
        """x (rows, ...) in self.in_fmt -> output (rows, ...) in out_fmt (Bits(out_f), Planes or an int type)."""
        ot = out_fmt if is_int(out_fmt) else int_type(*self.out_range)
        out = np.empty((x.shape[0], self.out_f), dtype=ot)
        self.compute(x, out)
        return out if is_int(out_fmt) else convert(out, ot, out_fmt, self.out_f)

    # --- the frame-level interface the backend uses ------------------------------------------------------------
    def in_fmts(self) -> list:
        """Format of each input port's value."""
        return [self.in_fmt]

    def native_fmt(self, port: int = 0):
        """The format this kernel writes output `port` in when its consumer's format is not one it can write."""
        return int_type(*self.out_range)

    def rows_per_frame(self) -> int:
        return max(1, self.layer.in_port(0)[2] // self.in_f)

    def can_write(self, port: int, fmt) -> bool:
        return is_int(fmt) or fmt == Bits(self.out_f) or (isinstance(fmt, Planes) and self.rows_per_frame() == 1)

    def run_frames(self, xs: list, out_fmts: list) -> list:
        """Values of frames (N, ...) on each input port -> values on each output port, in out_fmts."""
        x = xs[0]
        n = x.shape[0]
        if x.ndim == 2:
            rpf = self.__dict__.get("_rpf")
            if rpf is None:  # (static: computed on the first call, not per call)
                rpf = self._rpf = self.rows_per_frame()
            x = x.reshape(n * rpf, -1)
        y = self.run(x, out_fmts[0])
        return [y if isinstance(out_fmts[0], Planes) else y.reshape(n, -1)]  # planes: (N, bits, words)

    def fuse_input(self, producer: "Kernel"):
        """A kernel doing `producer` and this one in one pass (the producer feeds only this), or None."""
        return None


class NumpyKernel(Kernel):
    """A kind without a compiled kernel: its numpy `execute()` on whole frames (exact, not fast)."""

    kind = "numpy"

    def in_fmts(self):
        dts = [self.layer.in_port(p)[0] for p in range(self.layer.n_inputs)]
        return [int_type(d.min, d.max) for d in dts]

    def native_fmt(self, port=0):
        return int_type(*self.out_range) if port == 0 else np.int64

    def can_write(self, port, fmt):
        return is_int(fmt)

    def run_frames(self, xs, out_fmts):
        lay = self.layer
        xs = [np.asarray(x, dtype=np.int64).reshape(x.shape[0], *lay.in_port_shape(p)[1:]) for p, x in enumerate(xs)]
        outs = lay.execute(*xs)
        outs = outs if lay.n_outputs > 1 else (outs,)
        return [np.asarray(o).reshape(len(o), -1).astype(f) for o, f in zip(outs, out_fmts)]


class IdentityKernel(Kernel):
    kind = "identity"

    def compute(self, x, out):
        out[...] = x


class ThresholdsKernel(Kernel):
    kind = "thresholds"

    def __init__(self, layer):
        super().__init__(layer)
        self.thr = thr_array(layer.thresholds, layer.channels)
        self.thrT = np.ascontiguousarray(self.thr.T)  # (T, C): counted for a row's channels at once
        self.out_bipolar = bool(layer.out_dtype.bipolar)
        # a frame's rows end to end with a frame-wide table: one long SIMD pass per threshold
        self.frame_elems = self.rows_per_frame() * self.in_f
        self.thrF = (LK.frame_thresholds(self.thr, layer.in_dtype.min, layer.in_dtype.max, self.frame_elems)
                     if self.thr.shape[0] == self.in_f else None)

    def compute(self, x, out):
        L = self.frame_elems
        if self.thrF is not None and x.size % L == 0:
            xf = x.reshape(-1, L)
            LK.add_thresholds_frame(xf, xf, 1, 0, *self.thrF, self.layer.out_base, self.out_bipolar, out.reshape(-1, L))
        elif self.thr.shape[1] <= LK.VEC_MAX_T and x.shape[1] == self.thr.shape[0]:
            LK.thresholds_vec(x, self.thrT, self.layer.out_base, self.out_bipolar, out)
        else:
            K.thresholds(x, self.thr, self.layer.out_base, self.out_bipolar, out)


class LabelSelectKernel(Kernel):
    kind = "label_select"

    def compute(self, x, out):
        K.label_select(x, self.layer.k, out)


class MvauKernel(Kernel):
    """XNOR-popcount on packed words (bipolar), bit planes (bitserial option), or integer multiply-adds."""

    def __init__(self, layer, bitserial: bool = False):
        super().__init__(layer)
        dt = layer.in_dtype
        self.thr = thr_array(layer.thresholds, layer.mh)
        self.out_bipolar = bool(layer.out_dtype.bipolar)
        self.vnni = None  # (packed weights, wmin, thresholds transposed) when the VNNI kernel runs it
        if layer.binary_xnor:
            self.kind = "xnor"
            self.in_fmt = Bits(layer.mw)
            self.w = pack_const(layer.weights)
        elif bitserial and self._bitserial(layer):
            pass
        else:
            w = layer.weights
            lo = min(dt.min, int(w.min(initial=0)))
            hi = max(dt.max, int(w.max(initial=0)))
            alo, ahi = layer.acc_range()
            acc_t = int_type(min(int(alo.min(initial=0)), 0), max(int(ahi.max(initial=0)), 0))
            # sums are exact modulo 2^bits, so an accumulator holding the final dot product is enough
            # (operands are narrowed modulo 2^bits too, inside the kernel)
            acc_bits = max(16, np.dtype(acc_t).itemsize * 8)
            op_t = int_type(lo, hi)
            self.kind = f"int{acc_bits}"
            self.acc_bits = acc_bits
            self.in_fmt = op_t
            self.w = np.ascontiguousarray(w.astype(op_t))
            # int8 operands on an AVX-512 VNNI host: VPDPBUSD blocks (sw_fallback.vnni; 2.4x mvau_acc16 on
            # TFC_2W2A's 784 -> 64 layer)
            pw = V.pack_weights(w) if op_t == np.int8 and acc_bits <= 32 and V.available() else None
            self.vnni = None if pw is None else (*pw, np.ascontiguousarray(self.thr.T))

    def _bitserial(self, layer) -> bool:
        """Few-bit operands (input bits x weight bits <= BITSERIAL_MAX): bit planes and popcounts."""
        w = layer.weights
        ax, xmin, bx = _affine((layer.in_dtype.min, layer.in_dtype.max), layer.in_dtype.bipolar)
        wb = bool(layer.w_dtype.bipolar and np.all(np.abs(w) == 1))
        aw, wmin, bw = _affine((int(w.min(initial=0)), int(w.max(initial=0))), wb)
        if bx * bw > BITSERIAL_MAX or layer.num_vectors != 1:  # planes hold one vector per frame
            return False
        self.kind = "bitserial"
        self.in_fmt = Planes(bx, xmin, ax)
        self.bs = (ax, aw, xmin, wmin)
        planes = np.empty((layer.mh, bw, words(layer.mw)), dtype=np.uint64)
        K.pack_planes(np.ascontiguousarray(w), wmin, aw // 2, planes)
        self.w = np.ascontiguousarray(planes.transpose(1, 2, 0))  # (Bw, W, MH): rows innermost
        self.vsum = ((w - wmin) // aw).sum(axis=1).astype(np.int64)
        return True

    def fuse_input(self, producer):
        from sw_fallback.cnn import conv_from_mvau  # (cnn builds on this module)

        return conv_from_mvau(self, producer)

    def frame_kernel(self):
        """This MVAU as a frame kernel when it is a 1x1 conv over an image (sw_fallback.cnn), else None."""
        from sw_fallback.cnn import pointwise_conv

        return pointwise_conv(self)

    def can_write_bits(self) -> bool:
        return self.kind == "xnor" and self.out_bipolar and self.thr.shape[1] == 1

    def run(self, x, out_fmt):
        cwb = self.__dict__.get("_cwb")
        if cwb is None:
            cwb = self._cwb = self.can_write_bits()
        if cwb and out_fmt == Bits(self.out_f):
            out = np.empty((x.shape[0], words(self.out_f)), dtype=np.uint64)
            K.mvau_xnor_bits(x, self.w, self.in_f, self.thr, out)
            return out
        return super().run(x, out_fmt)

    def compute(self, x, out):
        if self.kind == "bitserial":
            ax, aw, xmin, wmin = self.bs
            K.mvau_bitserial(x, self.w, ax, aw, xmin, wmin, self.vsum, self.in_f, self.thr, self.layer.out_base,
                             self.out_bipolar, out)
        elif self.kind == "xnor":
            K.mvau_xnor_int(x, self.w, self.in_f, self.thr, self.layer.out_base, self.out_bipolar, out)
        elif self.vnni is not None:
            V.mvau_vnni(np.ascontiguousarray(x), *self.vnni, self.layer.out_base, self.out_bipolar, out)
        else:
            K.MVAU_INT[self.acc_bits](x, self.w, self.thr, self.layer.out_base, self.out_bipolar, out)


