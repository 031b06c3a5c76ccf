"""Kinds where streams fork and join: Duplicate (one stream to several consumers), AddStreams (residual add of
two streams), Concat (channel concatenation). All stream NHWC frames (1, H, W, C), PE channels per word on every
port, one pixel's channels at a time.

AddStreams: acc = a * a_mul + b * b_mul element-wise (`conv_kernels.add_streams`): equal scales give
a_mul = b_mul = 1 and no thresholds (exact); different scales put both on one integer grid (a_mul, b_mul the
ratio's integers) and per-channel thresholds re-quantize the sum.
Concat: per pixel, all channels of input 0, then input 1, ...; PE divides every input's channel count.

Hardware (templates/hls/branching.hpp + <kind>.hpp.j2, templates/rtl/<kind>.v.j2): one word per cycle on every
port. Duplicate is combinational (a word leaves on all outputs in one cycle); AddStreams is a 2-stage pipeline with
a 2-word output queue (multiply by the constant multipliers, add, optional threshold compare as in Thresholding);
Concat is one register stage reading NF_0 words of input 0, then NF_1 of input 1, ... per pixel. Resources:
hwgen.layers.branching_cost (fitted to yosys). The FIFO on a join input that balances a skip connection is set
by hwgen.transforms.streams from the branches' `words_in_flight()`.
"""

from __future__ import annotations

import math

import numpy as np

from hwgen.bits import clog2, pad8, signed_bits
from hwgen.dtypes import DType, from_name, smallest_for_range
from hwgen.errors import UnsupportedModelError
from hwgen.layers import branching_cost as bcost
from hwgen.layers import conv_kernels as ck
from hwgen.layers.base import FrameLayer, divisors, thresholded_range
from hwgen.layers.roms import live_width
from hwgen.layers.registry import register


class _PixelLayer(FrameLayer):
    """A kind over (1, H, W, C) frames folded by PE channels per word."""

    def _init_pixels(self, hw, channels):
        self.hw = tuple(int(v) for v in ck.pair(hw))
        self.channels = int(channels)
        self.num_vectors = self.hw[0] * self.hw[1]
        self._spatial = self.hw

    @property
    def in_features(self):
        return self.channels

    @property
    def out_features(self):
        return self.channels

    @property
    def in_hw(self):
        return self.hw

    @property
    def out_hw(self):
        return self.hw

    def word_elems(self):
        return self.pe

    def legal_pe(self):
        return divisors(self.channels)

    def cycles(self, pe=None, simd=None):
        pe = self.pe if pe is None else int(pe)
        return self.num_vectors * self.channels // pe

    def _pe(self, pe):
        return self.pe if pe is None else int(pe)


@register
class Duplicate(_PixelLayer):
    op = "Duplicate"

    def __init__(self, name, dtype: DType, hw, channels: int, n_outputs: int = 2, **kw):
        kw.pop("in_dtype", None)
        kw.pop("out_dtype", None)
        super().__init__(name, dtype, dtype, **kw)
        self._init_pixels(hw, channels)
        self.n_outputs = int(n_outputs)

    def execute(self, x):
        return ck.duplicate(np.asarray(x).reshape(-1, *self.in_shape[1:]), self.n_outputs)

    def out_range(self):
        n = self.channels
        return np.full(n, self.in_dtype.min, dtype=np.int64), np.full(n, self.in_dtype.max, dtype=np.int64)

    # --- hardware ---------------------------------------------------------------------------------------------
    hls_template = "hls/duplicate.hpp.j2"
    hls_frames = True  # the process takes `frames` (hwgen.codegen.dma batches frames per call)
    rtl_template = "rtl/duplicate.v.j2"

    def words_in_flight(self) -> int:
        return 0  # combinational: a word leaves on every output in the cycle it is taken

    def resources(self, pe=None, simd=None, mem_style=None):
        return bcost.duplicate_resources(self._pe(pe) * self.in_dtype.bits, self.n_outputs)

    def _words(self):
        return self.num_vectors * self.channels // self.pe

    def hls_context(self, lib):
        return dict(name=self.name, W=self.pe * self.in_dtype.bits, words=self._words(), n_outputs=self.n_outputs)

    def rtl_context(self, lib, module):
        return dict(module=module, W=self.pe * self.in_dtype.bits, TDW=pad8(self.pe * self.in_dtype.bits),
                    n_outputs=self.n_outputs), {}

    def cpu_kernel(self, sw):
        return sw.DuplicateKernel(self)

    def attrs(self):
        return {"hw": list(self.hw), "channels": self.channels, "n_outputs": self.n_outputs}

    @classmethod
    def from_json(cls, d, arrays):
        a, c = d["attrs"], cls._common(d)
        c.pop("out_dtype")
        return cls(dtype=c.pop("in_dtype"), hw=a["hw"], channels=a["channels"], n_outputs=a["n_outputs"], **c)


@register
class AddStreams(_PixelLayer):
    op = "AddStreams"
    n_inputs = 2
    array_fields = ("thresholds",)

    def __init__(self, name, in_dtype: DType, in1_dtype: DType, out_dtype: DType, hw, channels: int,
                 a_mul: int = 1, b_mul: int = 1, thresholds: np.ndarray | None = None, out_base: int = 0, **kw):
        super().__init__(name, in_dtype, out_dtype, **kw)
        self._init_pixels(hw, channels)
        self.in1_dtype = in1_dtype
        self.a_mul, self.b_mul = int(a_mul), int(b_mul)
        self.thresholds = None if thresholds is None else np.asarray(thresholds, dtype=np.int64)
        self.out_base = int(out_base)

    def in_port(self, port=0):
        dt = self.in_dtype if port == 0 else self.in1_dtype
        return dt, self.pe, self.num_vectors * self.channels

    def acc_range(self) -> tuple[int, int]:
        def span(dt, m):
            a, b = dt.min * m, dt.max * m
            return min(a, b), max(a, b)
        (a0, a1), (b0, b1) = span(self.in_dtype, self.a_mul), span(self.in1_dtype, self.b_mul)
        return a0 + b0, a1 + b1

    def acc_dtype(self) -> DType:
        lo, hi = self.acc_range()
        return smallest_for_range(min(lo, 0), max(hi, 0))

    def execute(self, a, b):
        a = np.asarray(a).reshape(-1, *self.in_shape[1:])
        b = np.asarray(b).reshape(-1, *self.in_shape[1:])
        return ck.add_streams(a, b, self.a_mul, self.b_mul, self.thresholds, self.out_base, self.out_dtype.bipolar)

    def out_range(self):
        if self.thresholds is None:
            lo, hi = self.acc_range()
            n = self.channels
            return np.full(n, lo, dtype=np.int64), np.full(n, hi, dtype=np.int64)
        return thresholded_range(self.channels, self.thresholds.shape[1], self.out_base, self.out_dtype)

    # --- hardware ---------------------------------------------------------------------------------------------
    hls_template = "hls/add_streams.hpp.j2"
    hls_frames = True  # the process takes `frames` (hwgen.codegen.dma batches frames per call)
    hls_headers = ("branching.hpp",)
    rtl_template = "rtl/add_streams.v.j2"

    def pipeline_latency(self, lps: int | None = None) -> int:
        """Cycles of templates/rtl/add_streams.v.j2 from a word taken to its result offered to the output queue:
        the input registers, the terms' adder tree (hwgen_add_tree), the thresholds (hwgen_thresholds); at the
        design's LPS unless given (branching_cost.add_streams_shape)."""
        return bcost.add_streams_shape(dict(self.spec(), LPS=lps))["LATENCY"]

    def pipeline_words(self) -> int:
        """Most words the RTL block holds between its ports, at any clock (LPS 1), its 2-word queue included:
        what hwgen.codegen.dma.flag_queue_depth counts."""
        return self.pipeline_latency(1) + 2

    def words_in_flight(self) -> int:
        return self.pipeline_words()  # the pipeline (its deepest, at any clock) and its 2-word output queue

    def exact_bits(self) -> int:
        """Signed bits of the exact sum (and of the constant multipliers, and the thresholds): the width the
        threshold comparison needs."""
        lo, hi = self.acc_range()
        lo, hi = min(lo, -abs(self.a_mul), -abs(self.b_mul)), max(hi, abs(self.a_mul), abs(self.b_mul))
        if self.thresholds is not None and self.thresholds.size:
            lo, hi = min(lo, int(self.thresholds.min())), max(hi, int(self.thresholds.max()))
        return signed_bits(lo, hi)

    def _check_hw(self):
        if self.thresholds is None:
            lo, hi = self.acc_range()
            if not self.out_dtype.allowed(np.array([lo, hi])) or self.out_dtype.bipolar:
                raise UnsupportedModelError(
                    f"layer {self.name} (ONNX {', '.join(self.onnx_nodes) or 'none'}): sums in [{lo}, {hi}] do not "
                    f"fit the output type {self.out_dtype.name}; without thresholds the output is the exact sum, so "
                    "give it a type holding that range (or thresholds that re-quantize it)")

    def spec(self, pe=None) -> dict:
        """Derived widths: W = arithmetic width (exact with thresholds; else the output width, modulo 2^W)."""
        pe = self._pe(pe)
        nt = 0 if self.thresholds is None else int(self.thresholds.shape[1])
        w = self.exact_bits() if nt else self.out_dtype.bits
        return {"PE": pe, "NF": self.channels // pe, "A_IB": self.in_dtype.bits, "B_IB": self.in1_dtype.bits,
                "OB": self.out_dtype.bits, "W": w, "NT": nt, "TB": w, "TW": pe * nt * w,
                "a_mul": self.a_mul, "b_mul": self.b_mul, "a_signed": self.in_dtype.signed or self.in_dtype.bipolar,
                "b_signed": self.in1_dtype.signed or self.in1_dtype.bipolar}

    def memories(self, pe=None, simd=None, mem_style=None) -> dict:
        if self.thresholds is None:
            return {}
        sh = self.spec(pe)
        t = self.thresholds.reshape(sh["NF"], sh["PE"] * sh["NT"])
        return {"thresholds": {"depth": sh["NF"], "width": sh["TW"], "live_width": live_width(t, (0,), sh["TB"]),
                               "mem_style": mem_style or "auto"}}

    def resources(self, pe=None, simd=None, mem_style=None):
        return bcost.add_streams_resources(self.spec(pe), self.memories(pe, None, mem_style))

    def _thr_params(self, name, acc_dt):
        return dict(name=name, C=self.channels, PE=self.pe, num_vectors=self.num_vectors, in_dtype=acc_dt,
                    out_dtype=self.out_dtype, thresholds=self.thresholds, out_base=self.out_base, mem_style="auto",
                    spec={"TB": self.spec()["TB"]})

    def hls_context(self, lib):
        self._check_hw()
        a, b, o = self.in_dtype, self.in1_dtype, self.out_dtype
        acc = self.exact_bits()
        ctx = dict(name=self.name, C=self.channels, PE=self.pe, pixels=self.num_vectors, a_mul=self.a_mul,
                   b_mul=self.b_mul, a_name=a.name, b_name=b.name, out_name=o.name, acc_bits=acc,
                   a_bits=a.bits, a_signed=lib.cbool(a.signed), a_bipolar=lib.cbool(a.bipolar),
                   b_bits=b.bits, b_signed=lib.cbool(b.signed), b_bipolar=lib.cbool(b.bipolar),
                   out_bits=o.bits, a_width=self.pe * a.bits, b_width=self.pe * b.bits, out_width=self.pe * o.bits,
                   T=0, thr_bits=2, out_base=self.out_base, hw_out_base=0, mem_style="auto")
        if self.thresholds is not None:
            t = lib.thresholding_context(self._thr_params(self.name, DType(acc, True)))
            ctx.update({k: t[k] for k in ("T", "thr_bits", "hw_out_base", "thresholds_rom", "storage_type",
                                          "storage_impl", "storage_comment")})
        return ctx

    def rtl_context(self, lib, module):
        self._check_hw()
        a, b, o = self.in_dtype, self.in1_dtype, self.out_dtype
        sh = self.spec()
        w = sh["W"]
        ctx = dict(sh, module=module, C=self.channels, a_name=a.name, b_name=b.name, out_name=o.name,
                   a_signed=a.signed, a_bipolar=a.bipolar, b_signed=b.signed, b_bipolar=b.bipolar,
                   AW=self.pe * a.bits, BW=self.pe * b.bits, OUTW=self.pe * o.bits, A_TDW=pad8(self.pe * a.bits),
                   B_TDW=pad8(self.pe * b.bits), OUT_TDW=pad8(self.pe * o.bits), IN_TDW=pad8(self.pe * a.bits),
                   has_thr=self.thresholds is not None, NFW=clog2(sh["NF"]))
        # the shift-and-add terms, LPS, the tree's and the thresholds' latency (NL, TL, THL, LATENCY)
        ctx.update(bcost.add_streams_shape(sh), A_SHIFTS=bcost.mul_shifts(self.a_mul, w),
                   B_SHIFTS=bcost.mul_shifts(self.b_mul, w), A_NEG=self.a_mul < 0, B_NEG=self.b_mul < 0)
        files = {}
        if self.thresholds is not None:
            t, files = lib.thresholding_context(dict(self._thr_params(module, DType(w, True)), spec={"TB": w}))
            ctx.update({k: t[k] for k in ("t_const", "t_rom_style", "tfile", "base_pattern", "NT", "TB", "TW")})
        return ctx, files

    def cpu_kernel(self, sw):
        return sw.AddStreamsKernel(self)

    def attrs(self):
        return {"hw": list(self.hw), "channels": self.channels, "in1_dtype": self.in1_dtype.name,
                "a_mul": self.a_mul, "b_mul": self.b_mul, "out_base": self.out_base,
                "n_thresholds": 0 if self.thresholds is None else int(self.thresholds.shape[1])}

    @classmethod
    def from_json(cls, d, arrays):
        a = d["attrs"]
        return cls(in1_dtype=from_name(a["in1_dtype"]), hw=a["hw"], channels=a["channels"], a_mul=a["a_mul"],
                   b_mul=a["b_mul"], thresholds=arrays.get("thresholds"), out_base=a["out_base"], **cls._common(d))


@register
class Concat(_PixelLayer):
    op = "Concat"

    def __init__(self, name, in_dtypes, out_dtype: DType, hw, channels_in, **kw):
        in_dtypes = [d if isinstance(d, DType) else from_name(d) for d in in_dtypes]
        kw.pop("in_dtype", None)
        super().__init__(name, in_dtypes[0], out_dtype, **kw)
        self.channels_in = [int(c) for c in channels_in]
        self.in_dtypes = in_dtypes
        self.n_inputs = len(self.channels_in)
        self._init_pixels(hw, sum(self.channels_in))
        for dt in in_dtypes:
            if dt.bipolar != out_dtype.bipolar or not (out_dtype.bipolar or out_dtype.allowed(
                    np.array([dt.min, dt.max]))):
                raise ValueError(f"{name}: input type {dt.name} does not fit the output type {out_dtype.name}")

    def in_port(self, port=0):
        return self.in_dtypes[port], self.pe, self.num_vectors * self.channels_in[port]

    def in_port_shape(self, port=0):
        return [1, *self.hw, self.channels_in[port]]

    def legal_pe(self):
        return divisors(math.gcd(*self.channels_in))

    def execute(self, *xs):
        return ck.concat_channels([np.asarray(x).reshape(-1, *self.in_port_shape(p)[1:]) for p, x in enumerate(xs)])

    # --- hardware ---------------------------------------------------------------------------------------------
    hls_template = "hls/concat.hpp.j2"
    hls_frames = True  # the process takes `frames` (hwgen.codegen.dma batches frames per call)
    rtl_template = "rtl/concat.v.j2"

    def _nf(self, port, pe=None):
        return self.channels_in[port] // self._pe(pe)

    def words_in_flight(self) -> int:
        return self.channels // self.pe + 2  # a pixel's words, one register stage

    def fifo_depth(self, port=0):
        # while Concat reads the other inputs' words of a pixel, this input's producer keeps sending
        return 2 + sum(self._nf(k) for k in range(self.n_inputs) if k != port)

    def resources(self, pe=None, simd=None, mem_style=None):
        pe = self._pe(pe)
        return bcost.concat_resources(pe, self.out_dtype.bits, [d.bits for d in self.in_dtypes],
                                      [c // pe for c in self.channels_in])

    def _ports(self, lib_bool=str):
        return [dict(C=c, NF=c // self.pe, name=d.name, bits=d.bits, IB=d.bits, signed=lib_bool(d.signed),
                     IW=self.pe * d.bits, TDW=pad8(self.pe * d.bits))
                for c, d in zip(self.channels_in, self.in_dtypes)]

    def hls_context(self, lib):
        return dict(name=self.name, PE=self.pe, pixels=self.num_vectors, out_name=self.out_dtype.name,
                    out_bits=self.out_dtype.bits, out_bipolar=self.out_dtype.bipolar, ports=self._ports(lib.cbool),
                    total_nf=self.channels // self.pe)

    def rtl_context(self, lib, module):
        ports = self._ports(bool)
        ob = self.out_dtype.bits
        return dict(module=module, PE=self.pe, N=self.n_inputs, ports=ports, out_name=self.out_dtype.name, OB=ob,
                    OUTW=self.pe * ob, OUT_TDW=pad8(self.pe * ob), IN_TDW=ports[0]["TDW"], SW=clog2(self.n_inputs),
                    CW=clog2(max(p["NF"] for p in ports))), {}

    def cpu_kernel(self, sw):
        return sw.ConcatKernel(self)

    def attrs(self):
        return {"hw": list(self.hw), "channels_in": self.channels_in, "in_dtypes": [d.name for d in self.in_dtypes]}

    @classmethod
    def from_json(cls, d, arrays):
        a, c = d["attrs"], cls._common(d)
        c.pop("in_dtype")
        return cls(in_dtypes=a["in_dtypes"], hw=a["hw"], channels_in=a["channels_in"], **c)
