"""Vector-vector-activation unit (VVAU): the matrix part of a depthwise convolution (groups = channels).

acc[c] = sum_k window[k, c] * W[c, k] per output pixel, then optional per-channel thresholds
(`conv_kernels.vvau`). In: the sliding-window stream (1, OH, OW, K * C), window order (kernel position, then
channels); out: (1, OH, OW, C). Folding: PE channels in parallel; SIMD kernel positions in parallel.
cycles = OH * OW * (C / PE) * (K / SIMD).
"""

from __future__ import annotations

import numpy as np

from dataclasses import asdict, dataclass

from hwgen.bits import clog2, pad8, signed_bits
from hwgen.dtypes import DType, from_name, smallest_for_range
from hwgen.layers import conv_kernels as ck
from hwgen.layers import cost
from hwgen.layers.base import FrameLayer, divisors, dtype_dict, thresholded_range
from hwgen.layers.registry import register
from hwgen.layers.pipeline import max_matrix_words, tree_leaves
from hwgen.layers.roms import live_width, rom_style

ORDERS = ("window", "depthwise")


@dataclass(frozen=True)
class VvauSpec:
    """The derived hardware quantities of a VVAU at one folding (as hwgen.layers.mvau.MvauSpec): the cost model,
    the HLS context and the RTL context read them."""

    PE: int
    SIMD: int
    SF: int  # input words per channel fold and pixel (K / SIMD)
    NF: int  # channel folds (C / PE)
    ACC: int  # signed accumulator bits (the exact sum)
    XS: int  # signed bits of an input element, of a weight, of their product
    WS: int
    PW: int
    IB: int  # element bits of inputs, weights, outputs
    WB: int
    OB: int
    INW: int  # stream word bits in / out, weight memory word bits
    OUTW: int
    WW: int
    NT: int  # thresholds per channel (0: none), their signed bits, threshold memory word bits
    TB: int
    TW: int
    ACCF: int  # accumulator file words (NF in the window order, 1 in the depthwise order)

    def as_dict(self) -> dict:
        return asdict(self)


def window_to_depthwise(windows: np.ndarray, channels: int, pe: int) -> np.ndarray:
    """Windows (..., K*C) in the generator's conv order (kernel position, channel) -> the depthwise order of a
    VVAU with PE channels per fold (fold, kernel position, channel in fold)."""
    w = np.asarray(windows)
    k, nf = w.shape[-1] // channels, channels // pe
    return w.reshape(*w.shape[:-1], k, nf, pe).swapaxes(-3, -2).reshape(w.shape)


def depthwise_to_window(x: np.ndarray, channels: int, pe: int) -> np.ndarray:
    """The inverse of `window_to_depthwise`."""
    x = np.asarray(x)
    k, nf = x.shape[-1] // channels, channels // pe
    return x.reshape(*x.shape[:-1], nf, k, pe).swapaxes(-3, -2).reshape(x.shape)


def _hex_lines(words: np.ndarray, elem_bits: int) -> list[str]:
    """(n_words, n_elems) int -> $readmemh lines, element i at bits [i*elem_bits, ...), two's complement."""
    digits = max(1, (words.shape[1] * elem_bits + 3) // 4)
    mask = (1 << elem_bits) - 1
    out = []
    for row in words.tolist():
        v = 0
        for i, e in enumerate(row):
            v |= (int(e) & mask) << (i * elem_bits)
        out.append(f"{v:0{digits}x}")
    return out


@register
class VVAU(FrameLayer):
    op = "VVAU"
    array_fields = ("weights", "thresholds")
    hls_template = "hls/vvau.hpp.j2"
    hls_headers = ("vvau.hpp",)
    rtl_template = "rtl/vvau.v.j2"

    def __init__(self, name, in_dtype: DType, w_dtype: DType, weights: np.ndarray, thresholds: np.ndarray | None,
                 out_dtype: DType, ofm, out_base: int = 0, mem_style: str = "auto", order: str = "window", **kw):
        kw.setdefault("spatial", ofm)
        super().__init__(name, in_dtype, out_dtype, **kw)
        self.weights = np.asarray(weights, dtype=np.int64)  # (C, K)
        self.thresholds = None if thresholds is None else np.asarray(thresholds, dtype=np.int64)
        self.w_dtype = w_dtype
        self.ofm = tuple(int(v) for v in ck.pair(ofm))
        self.out_base = int(out_base)
        self.mem_style = mem_style
        self.num_vectors = self.ofm[0] * self.ofm[1]
        if order not in ORDERS:
            raise ValueError(f"{name}: order {order!r} (use {' or '.join(ORDERS)})")
        self.order = order  # the input stream's order (module docstring)

    @property
    def channels(self) -> int:
        return int(self.weights.shape[0])

    @property
    def window(self) -> int:
        return int(self.weights.shape[1])

    @property
    def in_features(self):
        return self.window * self.channels

    @property
    def out_features(self):
        return self.channels

    @property
    def in_hw(self):
        return self.ofm

    @property
    def out_hw(self):
        return self.ofm

    def in_elems_per_word(self):
        return self.pe * self.simd

    def out_elems_per_word(self):
        return self.pe

    def producer_word(self, port=0):
        # the depthwise order is made by a generator whose SIMD is this PE (SIMD kernel positions are gathered by
        # a width converter); the window order by one giving the whole word
        return self.pe if self.order == "depthwise" else self.in_elems_per_word()

    def acc_range(self) -> tuple[np.ndarray, np.ndarray]:
        w = self.weights
        a, b = w * self.in_dtype.min, w * self.in_dtype.max
        return np.minimum(a, b).sum(axis=1), np.maximum(a, b).sum(axis=1)

    def acc_dtype(self) -> DType:
        lo, hi = self.acc_range()
        dt = smallest_for_range(min(int(lo.min()), 0), max(int(hi.max()), 0))
        return dt if dt.signed else DType(dt.bits + 1, True)

    def execute(self, x):
        x = np.asarray(x, dtype=np.int64).reshape(-1, *self.in_shape[1:])
        if self.order == "depthwise":
            x = depthwise_to_window(x, self.channels, self.pe)
        return ck.vvau(x, self.weights, self.thresholds, self.out_base, self.out_dtype.bipolar)

    def out_range(self):
        if self.thresholds is None:
            lo, hi = self.acc_range()
            return np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
        return thresholded_range(self.channels, self.thresholds.shape[1], self.out_base, self.out_dtype)

    def legal_pe(self):
        return divisors(self.channels)

    def legal_simd(self):
        # SIMD kernel positions per word need the generator's depthwise order; the conv order has SIMD = 1
        return divisors(self.window) if self.order == "depthwise" else [1]

    def cycles(self, pe=None, simd=None):
        pe = self.pe if pe is None else int(pe)
        simd = self.simd if simd is None else int(simd)
        return self.num_vectors * (self.channels // pe) * (self.window // simd)

    def fifo_depth(self, port=0):
        # one input word per cycle, never a pause of its own: a rate-matched producer only needs the 2-word FIFO
        return 2

    # --- hardware ---------------------------------------------------------------------------------------------
    def spec(self, pe=None, simd=None) -> VvauSpec:
        pe = self.pe if pe is None else int(pe)
        simd = self.simd if simd is None else int(simd)
        idt, wdt, odt = self.in_dtype, self.w_dtype, self.out_dtype
        acc = self.acc_dtype().bits
        xs = 2 if idt.bipolar else (idt.bits if idt.signed else idt.bits + 1)
        ws = 2 if wdt.bipolar else (wdt.bits if wdt.signed else wdt.bits + 1)
        sf, nf = self.window // simd, self.channels // pe
        d = dict(PE=pe, SIMD=simd, SF=sf, NF=nf, ACC=acc, XS=xs, WS=ws, PW=xs + ws, IB=idt.bits, WB=wdt.bits,
                 OB=odt.bits, INW=pe * simd * idt.bits, OUTW=pe * odt.bits, WW=pe * simd * wdt.bits, NT=0, TB=0,
                 TW=0, ACCF=nf if self.order == "window" else 1)
        if self.thresholds is not None:
            lo, hi = -(1 << (acc - 1)), (1 << (acc - 1)) - 1
            nt = int(self.thresholds.shape[1])
            tb = signed_bits(min(lo, int(self.thresholds.min())), max(hi, int(self.thresholds.max())))
            d.update(NT=nt, TB=tb, TW=pe * nt * tb)
        return VvauSpec(**d)

    def _weight_words(self, sp: VvauSpec) -> np.ndarray:
        """Weight ROM in stream order: (SF*NF words, PE*SIMD elements), element p*SIMD+s = W[f*PE+p, kt*SIMD+s]."""
        w = (self.weights > 0).astype(np.int64) if self.w_dtype.bipolar else self.weights
        w = w.reshape(sp.NF, sp.PE, sp.SF, sp.SIMD)  # [f, p, kt, s]
        w = w.transpose(2, 0, 1, 3) if self.order == "window" else w.transpose(0, 2, 1, 3)
        return w.reshape(sp.SF * sp.NF, sp.PE * sp.SIMD)

    def memories(self, pe=None, simd=None, mem_style=None) -> dict:
        """ROMs of the RTL block: {"weights": {"depth", "width", "live_width", "mem_style"}, "thresholds": ...}."""
        sp = self.spec(pe, simd)
        ms = self.mem_style if mem_style is None else mem_style
        out = {"weights": {"depth": sp.SF * sp.NF, "width": sp.WW, "mem_style": ms,
                           "live_width": live_width(self._weight_words(sp), (0,), sp.WB)}}
        if sp.NT:
            out["thresholds"] = {"depth": sp.NF, "width": sp.TW, "mem_style": ms,
                                 "live_width": live_width(self.thresholds.reshape(sp.NF, -1), (0,), sp.TB)}
        return out

    def resources(self, pe=None, simd=None, mem_style=None) -> dict:
        """Estimated {"luts", "ffs", "bram18", "uram", "dsps", "lutram"} of the RTL block (hwgen.layers.cost,
        calibrated against yosys by benchmarks/calibrate_vvau.py)."""
        sh = self.spec(pe, simd).as_dict()
        sh["NL"] = tree_leaves(sh["SIMD"], self.in_dtype, self.w_dtype, False, cost.products_in_dsp(sh["IB"], sh["WB"]))
        sh.update(cost.selector_bits(self.in_dtype, self.w_dtype))
        return cost.vvau_resources(sh, self.memories(pe, simd, mem_style))

    def template_params(self):
        return {"name": self.name, "C": self.channels, "K": self.window, "PE": self.pe, "SIMD": self.simd,
                "num_vectors": self.num_vectors, "order": self.order, "in_dtype": dtype_dict(self.in_dtype),
                "w_dtype": dtype_dict(self.w_dtype), "out_dtype": dtype_dict(self.out_dtype),
                "acc_bits": self.acc_dtype().bits, "weights": self.weights,
                "has_thresholds": self.thresholds is not None, "thresholds": self.thresholds,
                "out_base": self.out_base, "mem_style": self.mem_style}

    def pipeline_words(self) -> int:
        """Most words the RTL block holds between its ports (hwgen.layers.pipeline.max_matrix_words)."""
        sp = self.spec()
        dsp = cost.products_in_dsp(sp.IB, sp.WB)
        return max_matrix_words(tree_leaves(sp.SIMD, self.in_dtype, self.w_dtype, False, dsp), sp.NT, dsp)

    def rtl_context(self, lib, module):
        sp = self.spec()
        idt, wdt, odt = self.in_dtype, self.w_dtype, self.out_dtype
        wfile, tfile = f"{module}_weights.mem", f"{module}_thresholds.mem"
        files = {}
        wl = _hex_lines(self._weight_words(sp), sp.WB)
        w_const = wl[0] if len(wl) == 1 else None  # a depth-1 ROM is a constant (as in the MVAU)
        if w_const is None:
            files[wfile] = wl
        ctx = dict(self.template_params(), name=module, **sp.as_dict(), IN_TDW=pad8(sp.INW), OUT_TDW=pad8(sp.OUTW),
                   SFW=clog2(sp.SF), NFW=clog2(sp.NF), WAW=clog2(sp.SF * sp.NF), wfile=wfile, tfile=tfile,
                   w_const=w_const, t_const=None, w_rom_style=rom_style(sp.SF * sp.NF, sp.WW, self.mem_style),
                   in_name=idt.name, w_name=wdt.name, out_name=odt.name, in_signed=idt.signed,
                   in_bipolar=idt.bipolar, w_signed=wdt.signed, w_bipolar=wdt.bipolar, out_bipolar=odt.bipolar)
        if sp.NT:
            tl = _hex_lines(self.thresholds.reshape(sp.NF, sp.PE * sp.NT), sp.TB)
            if len(tl) == 1:
                ctx["t_const"] = tl[0]
            else:
                files[tfile] = tl
            ctx.update(base_pattern=0 if odt.bipolar else self.out_base & ((1 << odt.bits) - 1),
                       t_rom_style=rom_style(sp.NF, sp.TW, self.mem_style))
        ctx.update(lib.matrix_core_params(dict(ctx, _idt=idt, _wdt=wdt), vvau=True, order_win=self.order == "window"))
        return ctx, files

    def hls_context(self, lib):
        # the weight and threshold tables are an MVAU's with MW = K, MH = C (weights[p][f*K/SIMD + kt],
        # thresholds[p][f][t]); the VVAU template adds its own stream shape
        sp = self.spec()
        p = dict(self.template_params(), MW=self.window, MH=self.channels, binary_xnor=False, spec=sp.as_dict())
        return dict(lib.mvau_context(p), C=self.channels, K=self.window, dw_order=self.order == "depthwise",
                    in_width=sp.INW)

    def cpu_kernel(self, sw):
        # the backend's depthwise kernel reads both orders (fused with its SWG when their orders agree)
        return sw.VvauKernel(self)

    def attrs(self):
        return {"C": self.channels, "K": self.window, "ofm": list(self.ofm), "w_dtype": self.w_dtype.name,
                "acc_dtype": self.acc_dtype().name,
                "n_thresholds": 0 if self.thresholds is None else int(self.thresholds.shape[1]),
                "out_base": self.out_base, "mem_style": self.mem_style, "order": self.order}

    @classmethod
    def from_json(cls, d, arrays):
        a = d["attrs"]
        return cls(weights=arrays["weights"], thresholds=arrays.get("thresholds"), w_dtype=from_name(a["w_dtype"]),
                   ofm=a["ofm"], out_base=a["out_base"], mem_style=a.get("mem_style", "auto"),
                   order=a.get("order", "window"), **cls._common(d))

