"""Matrix-vector-activation unit (MVAU): y = thresholds(W x) per vector; the MLP layer and, for num_vectors =
H*W pixels, the matrix part of a convolution.

Folding: SIMD input elements and PE output channels per cycle; cycles = num_vectors * (MW/SIMD) * (MH/PE).
Binary mode (inputs and weights BIPOLAR): XNOR + popcount in hardware; acc stays the true dot product
(2 * popcount - MW) everywhere outside the block.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from hwgen.bits import signed_bits
from hwgen.dtypes import DType, from_name, smallest_for_range
from hwgen.layers import cost, kernels
from hwgen.layers.pipeline import max_matrix_words, tree_leaves
from hwgen.layers.roms import live_width
from hwgen.layers.base import HwLayer, divisors, dtype_dict, thresholded_range
from hwgen.layers.registry import register


@dataclass(frozen=True)
class MvauSpec:
    """The derived hardware quantities of an MVAU at one folding, computed once by the kind (`MVAU.spec`): the
    cost model, the HLS context and the RTL context all read them, none re-derives them."""

    PE: int
    SIMD: int
    SF: int  # input words per vector (MW / SIMD)
    NF: int  # output folds (MH / PE)
    ACC: int  # signed accumulator bits (the exact dot product; >= 2 for XNOR-popcount)
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

    def as_dict(self) -> dict:
        return asdict(self)


@register
class MVAU(HwLayer):
    op = "MVAU"
    array_fields = ("weights", "thresholds")
    hls_template = "hls/mvau.hpp.j2"
    hls_frames = True  # the process takes `frames` (hwgen.codegen.dma batches frames per call)
    hls_headers = ("mvau.hpp",)
    rtl_template = "rtl/mvau.v.j2"

    def is_matrix(self) -> bool:
        return True

    def __init__(self, name, in_dtype: DType, w_dtype: DType, weights: np.ndarray, thresholds: np.ndarray | None,
                 out_dtype: DType, out_base: int = 0, mem_style: str = "auto", **kw):
        super().__init__(name, in_dtype, out_dtype, **kw)
        self.weights = np.asarray(weights, dtype=np.int64)
        self.thresholds = None if thresholds is None else np.asarray(thresholds, dtype=np.int64)
        self.w_dtype = w_dtype
        self.out_base = int(out_base)
        self.mem_style = mem_style

    # shapes
    @property
    def mw(self) -> int:
        return int(self.weights.shape[1])

    @property
    def mh(self) -> int:
        return int(self.weights.shape[0])

    @property
    def in_features(self) -> int:
        return self.mw

    @property
    def out_features(self) -> int:
        return self.mh

    @property
    def binary_xnor(self) -> bool:
        return self.in_dtype.bipolar and self.w_dtype.bipolar

    def acc_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-row exact accumulator bounds over all legal inputs."""
        w = self.weights
        lo, hi = self.in_dtype.min, self.in_dtype.max
        a, b = w * lo, w * hi
        return np.minimum(a, b).sum(axis=1), np.maximum(a, b).sum(axis=1)

    def acc_dtype(self) -> DType:
        lo, hi = self.acc_range()
        dt = smallest_for_range(min(int(lo.min()), 0), max(int(hi.max()), 0))
        return dt if dt.signed else DType(dt.bits + 1, True)

    def execute(self, x):
        return kernels.mvau(x, self.weights, self.thresholds, self.out_base, self.out_dtype.bipolar)

    def legal_pe(self):
        return divisors(self.mh)

    def legal_simd(self):
        return divisors(self.mw)

    def cycles(self, pe=None, simd=None):
        pe = self.pe if pe is None else pe
        simd = self.simd if simd is None else simd
        return self.num_vectors * (self.mw // simd) * (self.mh // pe)

    # --- cost model of the RTL block (templates/rtl/mvau.v.j2 under yosys synth_xilinx -family xc7) -------
    def rtl_shape(self, pe=None, simd=None) -> dict:
        """spec() as a dict (the cost model's view)."""
        return self.spec(pe, simd).as_dict()

    def spec(self, pe=None, simd=None) -> MvauSpec:
        """The derived hardware quantities at a folding (default: the layer's own)."""
        pe = self.pe if pe is None else int(pe)
        simd = self.simd if simd is None else int(simd)
        idt, wdt, odt = self.in_dtype, self.w_dtype, self.out_dtype
        acc = self.acc_dtype().bits
        if self.binary_xnor:
            acc = max(acc, 2)
        xs = 2 if idt.bipolar else (idt.bits if idt.signed else idt.bits + 1)
        ws = 2 if wdt.bipolar else (wdt.bits if wdt.signed else wdt.bits + 1)
        sf, nf = self.mw // simd, self.mh // pe
        d = dict(PE=pe, SIMD=simd, SF=sf, NF=nf, ACC=acc, XS=xs, WS=ws, PW=xs + ws, IB=idt.bits, WB=wdt.bits,
                 OB=odt.bits, INW=simd * idt.bits, OUTW=pe * odt.bits, WW=pe * simd * wdt.bits, NT=0, TB=0, TW=0)
        if self.thresholds is not None:
            lo, hi = -(1 << (acc - 1)), (1 << (acc - 1)) - 1
            nt = int(self.thresholds.shape[1])
            tb = signed_bits(min(lo, int(self.thresholds.min())), max(hi, int(self.thresholds.max())))
            d.update(NT=nt, TB=tb, TW=pe * nt * tb)
        return MvauSpec(**d)

    def memories(self, pe=None, simd=None, mem_style=None) -> dict:
        """ROMs of the RTL block as hwgen.codegen.rtl lays them out: {"weights": {"depth", "width", "live_width",
        "mem_style"}, "thresholds": {...}} (thresholds only when the layer has them); live_width = bit columns
        not constant over the words (what synthesis keeps)."""
        sh = self.rtl_shape(pe, simd)
        ms = self.mem_style if mem_style is None else mem_style
        pe, simd, sf, nf = sh["PE"], sh["SIMD"], sh["SF"], sh["NF"]
        w = (self.weights > 0).astype(np.int64) if self.w_dtype.bipolar else self.weights
        # word nf*SF + sf holds W[nf*PE + p, sf*SIMD + s]: words along axes (0, 2) of (NF, PE, SF, SIMD)
        out = {"weights": {"depth": sf * nf, "width": sh["WW"], "mem_style": ms,
                           "live_width": live_width(w.reshape(nf, pe, sf, simd), (0, 2), sh["WB"])}}
        if sh["NT"]:
            t = self.thresholds.reshape(nf, pe * sh["NT"])
            out["thresholds"] = {"depth": nf, "width": sh["TW"], "mem_style": ms,
                                 "live_width": live_width(t, (0,), sh["TB"])}
        return out

    def resources(self, pe=None, simd=None, mem_style=None) -> dict:
        """Estimated {"luts", "ffs", "bram18", "uram", "dsps", "lutram"} of the RTL block for a folding and memory
        style (defaults: the layer's own). luts = logic LUTs (distributed ROMs included), lutram = LUTs used as
        RAM (the input vector buffer). Calibrated against yosys synth_xilinx -family xc7
        (benchmarks/calibrate_resources.py)."""
        sh = self.rtl_shape(pe, simd)
        mems = self.memories(pe, simd, mem_style)
        dsp = cost.products_in_dsp(sh["IB"], sh["WB"], self.binary_xnor)
        sh["NL"] = tree_leaves(sh["SIMD"], self.in_dtype, self.w_dtype, self.binary_xnor, dsp)  # adder tree leaves
        sh.update(cost.selector_bits(self.in_dtype, self.w_dtype))
        return cost.mvau_resources(sh, self.binary_xnor, mems)

    def out_range(self):
        if self.thresholds is None:
            lo, hi = self.acc_range()
            return np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
        return thresholded_range(self.mh, self.thresholds.shape[1], self.out_base, self.out_dtype)

    def fifo_depth(self, port=0):
        # the MVAU reads its whole input vector (MW/SIMD words) during its first output fold and nothing during
        # the other MH/PE - 1 folds: a FIFO of one vector plus 2 keeps a rate-matched producer (a sliding-window
        # generator emitting the next window meanwhile) from blocking. With one fold it reads a word every cycle.
        if self.mh // self.pe == 1:
            return 2
        return self.mw // self.simd + 2

    def pipeline_words(self) -> int:
        """Most words the RTL block holds between its ports (hwgen.layers.pipeline.max_matrix_words)."""
        sp = self.spec()
        dsp = cost.products_in_dsp(sp.IB, sp.WB, self.binary_xnor)
        leaves = tree_leaves(sp.SIMD, self.in_dtype, self.w_dtype, self.binary_xnor, dsp)
        return max_matrix_words(leaves, sp.NT, dsp)

    def hls_context(self, lib):
        return lib.mvau_context(dict(self.template_params(), spec=self.spec().as_dict()))

    def rtl_context(self, lib, module):
        return lib.mvau_context(dict(self.template_params(), name=module, spec=self.spec().as_dict()))

    def cpu_kernel(self, sw):
        return sw.MvauKernel(self)

    @classmethod
    def block_io(cls, p):
        nv = int(p["num_vectors"])
        return (int(p["SIMD"]), p["in_dtype"], nv * int(p["MW"]) // int(p["SIMD"]),
                int(p["PE"]), p["out_dtype"], nv * int(p["MH"]) // int(p["PE"]))

    @classmethod
    def hls_block_context(cls, lib, p):
        return lib.mvau_context(p)

    @classmethod
    def rtl_block_context(cls, lib, p):
        return lib.mvau_context(p)

    def template_params(self):
        return {
            "name": self.name,
            "MW": self.mw,
            "MH": self.mh,
            "PE": self.pe,
            "SIMD": self.simd,
            "num_vectors": self.num_vectors,
            "binary_xnor": self.binary_xnor,
            "in_dtype": dtype_dict(self.in_dtype),
            "w_dtype": dtype_dict(self.w_dtype),
            "out_dtype": dtype_dict(self.out_dtype),
            "acc_bits": self.acc_dtype().bits,
            "weights": self.weights,
            "has_thresholds": self.thresholds is not None,
            "thresholds": self.thresholds,
            "out_base": self.out_base,
            "mem_style": self.mem_style,
        }

    def attrs(self):
        return {
            "MW": self.mw,
            "MH": self.mh,
            "w_dtype": self.w_dtype.name,
            "acc_dtype": self.acc_dtype().name,
            "binary_xnor": self.binary_xnor,
            "n_thresholds": 0 if self.thresholds is None else int(self.thresholds.shape[1]),
            "out_base": self.out_base,
            "mem_style": self.mem_style,
        }

    @classmethod
    def from_json(cls, d, arrays):
        a = d["attrs"]
        return cls(weights=arrays["weights"], thresholds=arrays.get("thresholds"), w_dtype=from_name(a["w_dtype"]),
                   out_base=a["out_base"], mem_style=a.get("mem_style", "auto"), **cls._common(d))

