"""Convolutions as hardware chains on handmade graphs: [Pad ->] SWG -> MVAU (conv) and SWG -> VVAU (depthwise, in
the generator's conv order with SIMD = 1, or in its depthwise order with SIMD kernel positions per VVAU word), the
input an NHWC frame. Reference, cpu, csim and rtlsim bit-exact with `conv_kernels.conv` / `depthwise_conv`,
every layer's measured rtlsim active cycles per frame within 5 % of its cycles(), the chain's steady state within 5 % of
its slowest layer."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from hwgen.layers import conv_kernels as ck
from hwgen.layers.swg import Pad, SlidingWindow
from tests.conv_graphs import assert_cycles, build_and_run, conv_mvau, dtype, dw_vvau, rand

BACKENDS = ("reference", "cpu", "csim", "rtlsim")

# id: (op, in, w, out (None: accumulator), C, O, (H, W), kernel, stride, dilation, pads, SWG SIMD, PE, SIMD)
#   op "VVAU_dw": the depthwise order (SWG SIMD = VVAU PE; a width converter gathers SIMD of its words)
CASES = {
    "conv_u2w2_thr": ("MVAU", "UINT2", "INT2", "UINT2", 8, 8, (7, 7), (3, 3), 1, 1, None, 8, 4, 8),
    "conv_bin_1w1a_nf4": ("MVAU", "BIPOLAR", "BIPOLAR", "BIPOLAR", 16, 16, (6, 6), (3, 3), 1, 1, None, 16, 4, 16),
    "conv_s4w3_stride_dil_pad": ("MVAU", "INT4", "INT3", None, 4, 6, (8, 7), (3, 3), 2, (2, 1), (1, 0, 2, 1), 2, 3,
                                 2),
    "conv1d_u4w4": ("MVAU", "UINT4", "INT4", "UINT4", 4, 4, (1, 16), (1, 5), 1, (1, 2), None, 4, 2, 4),
    "dw_u4w4_thr": ("VVAU", "UINT4", "INT4", "UINT4", 8, 8, (7, 6), (3, 3), 1, 1, None, 2, 2, 1),
    "dw_s2w2_acc_stride": ("VVAU", "INT2", "INT2", None, 6, 6, (7, 7), (3, 3), 2, 1, None, 6, 6, 1),
    "dworder_u3w3_thr_simd3": ("VVAU_dw", "UINT3", "INT3", "UINT3", 8, 8, (6, 6), (3, 3), 1, 1, None, 2, 2, 3),
    "dworder_u2w2_pad_simd9": ("VVAU_dw", "UINT2", "INT2", "UINT2", 4, 4, (5, 5), (3, 3), 1, 1, (1, 1, 1, 1), 4, 4,
                               9),
}


def _chain(cid, rng):
    op, i, w, o, c, oc, hw, k, s, d, pads, swg_simd, pe, simd = CASES[cid]
    idt, wdt = dtype(i), dtype(w)
    odt = None if o is None else dtype(o)
    layers = []
    ifm = hw
    if pads:
        layers.append(Pad(f"pad_{cid}", idt, hw, c, pads, simd=swg_simd))
        ifm = layers[-1].ofm
    order = "depthwise" if op == "VVAU_dw" else "window"
    swg = SlidingWindow(f"swg_{cid}", idt, ifm, c, k, s, d, simd=swg_simd, order=order)
    layers.append(swg)
    x = rand(rng, idt, (4, *hw, c))
    pads = pads or (0, 0, 0, 0)
    if op == "MVAU":
        w_oihw = rand(rng, wdt, (oc, c, *k))
        m = conv_mvau(f"conv_{cid}", idt, w_oihw, wdt, odt, swg.ofm, pe, simd, rng)
        want = ck.conv(x, w_oihw, s, d, pads, thresholds=m.thresholds, out_base=m.out_base,
                       out_bipolar=m.out_dtype.bipolar)
    else:
        w_c1hw = rand(rng, wdt, (c, 1, *k))
        m = dw_vvau(f"dw_{cid}", idt, w_c1hw, wdt, odt, swg.ofm, pe, rng, simd=simd, order=order)
        want = ck.depthwise_conv(x, w_c1hw, s, d, pads, thresholds=m.thresholds, out_base=m.out_base,
                                 out_bipolar=m.out_dtype.bipolar)
    return layers + [m], x, want


SLOW = {"conv1d_u4w4", "dw_s2w2_acc_stride", "dworder_u2w2_pad_simd9"}  # more points, a Verilator build each


@pytest.mark.parametrize("cid", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW else c for c in CASES])
def test_conv_chain_bit_exact_and_cycles(cid, tmp_path):
    layers, x, want = _chain(cid, np.random.default_rng(zlib.crc32(cid.encode())))
    res = build_and_run(layers, x, tmp_path / "out", backends=BACKENDS)
    for be in BACKENDS:
        np.testing.assert_array_equal(res[be], want.reshape(len(want), -1), err_msg=be)
    st = res["rtlsim_stats"]
    matrix = layers[-1]
    assert_cycles(st, [matrix])
    bound = max(lay.cycles() for lay in layers)
    assert abs(st["cycles_per_frame"] - bound) <= 0.05 * bound, (st["cycles_per_frame"], bound)
