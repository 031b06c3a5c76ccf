"""The matrix part of a convolution: an MVAU over the sliding-window stream (num_vectors = OH*OW, spatial (OH, OW)).

Handmade graphs whose input is the window stream itself (`conv_kernels.sliding_window` of random frames), so the
MVAU is tested on its own: reference, cpu, csim and rtlsim bit-exact with `conv_kernels.conv` (integer, binary
XNOR-popcount 1W1A, 1W2A, with and without thresholds, stride, dilation, non-square, 1-D), rtlsim cycles per
frame within 5 % of cycles() at several foldings; FINN's fold_cnv_large reachable on CNV's 9 matrix layers."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from hwgen.dtypes import BIPOLAR
from hwgen.layers import conv_kernels as ck
from hwgen.layers.mvau import MVAU
from tests.conv_graphs import assert_cycles, build_and_run, conv_mvau, dtype, rand

BACKENDS = ("reference", "cpu", "csim", "rtlsim")

# id: (in, w, out (None: accumulator), C, O, (H, W), kernel, stride, dilation, PE, SIMD)
CASES = {
    "u2w2_thr": ("UINT2", "INT2", "UINT2", 8, 12, (6, 6), (3, 3), 1, 1, 4, 8),
    "bin_1w1a": ("BIPOLAR", "BIPOLAR", "BIPOLAR", 16, 16, (6, 6), (3, 3), 1, 1, 8, 16),
    "w1a2": ("UINT2", "BIPOLAR", "UINT2", 8, 8, (6, 6), (3, 3), 1, 1, 2, 4),
    "s4w3_acc_stride_dil": ("INT4", "INT3", None, 4, 6, (9, 7), (3, 3), 2, (2, 1), 3, 2),
    "conv1d_u4w4": ("UINT4", "INT4", "UINT4", 4, 4, (1, 20), (1, 5), 1, (1, 2), 2, 4),
}


def _case(cid, rng):
    i, w, o, c, oc, hw, k, s, d, pe, simd = CASES[cid]
    idt, wdt = dtype(i), dtype(w)
    odt = None if o is None else dtype(o)
    w_oihw = rand(rng, wdt, (oc, c, *k))
    ofm = ck.out_shape(hw, k, s, d)
    m = conv_mvau("conv_" + cid, idt, w_oihw, wdt, odt, ofm, pe, simd, rng)
    x = rand(rng, idt, (4, *hw, c))
    want = ck.conv(x, w_oihw, s, d, thresholds=m.thresholds, out_base=m.out_base, out_bipolar=m.out_dtype.bipolar)
    return m, ck.sliding_window(x, k, s, d), want


# more foldings (slow: a Verilator build each)
SLOW_CASES = {
    "u2w2_thr_p1s1": ("UINT2", "INT2", "UINT2", 4, 6, (5, 5), (3, 3), 1, 1, 1, 1),
    "bin_1w1a_acc_full": ("BIPOLAR", "BIPOLAR", None, 8, 4, (5, 5), (3, 3), 1, 1, 4, 72),
    "bin_1w1a_p1s4": ("BIPOLAR", "BIPOLAR", "BIPOLAR", 8, 4, (5, 5), (3, 3), 1, 1, 1, 4),
}
CASES.update(SLOW_CASES)


@pytest.mark.parametrize("cid", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW_CASES else c for c in CASES])
def test_conv_mvau_bit_exact_and_cycles(cid, tmp_path):
    rng = np.random.default_rng(zlib.crc32(cid.encode()))
    m, win, want = _case(cid, rng)
    if cid == "bin_1w1a":
        assert m.binary_xnor
    res = build_and_run([m], win, tmp_path / "out", backends=BACKENDS)
    for be in BACKENDS:
        np.testing.assert_array_equal(res[be], want.reshape(len(want), -1), err_msg=be)
    st = res["rtlsim_stats"]
    assert_cycles(st, [m])
    assert abs(st["cycles_per_frame"] - m.cycles()) <= 0.05 * m.cycles()


# CNV (FINN bnn-pynq, 3x32x32): (MW, MH, OH) of its 9 matrix layers in graph order, and fold_cnv_large
CNV_LAYERS = [(27, 64, 30), (576, 64, 28), (576, 128, 12), (1152, 128, 10), (1152, 256, 3), (2304, 256, 1),
              (256, 512, 1), (512, 512, 1), (512, 10, 1)]
FOLD_CNV_LARGE = [(16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (5, 1)]


def test_fold_cnv_large_is_reachable():
    """Every (PE, SIMD) of fold_cnv_large is legal on CNV's layer shapes; the slowest layer takes 32,768 cycles."""
    rng = np.random.default_rng(0)
    cyc = []
    for i, ((mw, mh, oh), (pe, simd)) in enumerate(zip(CNV_LAYERS, FOLD_CNV_LARGE)):
        w = rng.choice([-1, 1], size=(mh, mw))
        m = MVAU(f"MVAU_{i}", BIPOLAR, BIPOLAR, w, None, BIPOLAR, num_vectors=oh * oh, spatial=(oh, oh))
        m.thresholds = np.zeros((mh, 1), dtype=np.int64)
        m.set_folding(pe, simd)
        cyc.append(m.cycles())
        assert m.fifo_depth() == (mw // simd + 2 if mh > pe else 2)
    assert cyc == [32400, 28224, 20736, 28800, 20736, 18432, 32768, 32768, 1024]
    assert max(cyc) == 32768


@pytest.mark.slow
@pytest.mark.parametrize("pe,simd", [(32, 32), (16, 8)])
def test_cnv_conv1_size_rtlsim(pe, simd, tmp_path):
    """CNV-1W1A's second conv at full size (MW = 576, MH = 64, 28 x 28 pixels, XNOR-popcount, one threshold):
    bit-exact in csim and rtlsim, cycles within 5 % of cycles()."""
    rng = np.random.default_rng(1)
    w_oihw = rng.choice([-1, 1], size=(64, 64, 3, 3))
    m = conv_mvau("cnv_conv1", BIPOLAR, w_oihw, BIPOLAR, BIPOLAR, (28, 28), pe, simd, rng)
    x = rng.choice([-1, 1], size=(3, 30, 30, 64))
    want = ck.conv(x, w_oihw, thresholds=m.thresholds, out_bipolar=True)
    res = build_and_run([m], ck.sliding_window(x, 3), tmp_path / "out", backends=BACKENDS)
    for be in BACKENDS:
        np.testing.assert_array_equal(res[be], want.reshape(len(want), -1), err_msg=be)
    assert_cycles(res["rtlsim_stats"], [m])
