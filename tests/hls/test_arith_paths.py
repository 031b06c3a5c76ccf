"""The two arithmetic paths of the HLS kernels (templates/hls/hwgen_native.hpp): C simulation runs the per-cycle
arithmetic of the matrix, threshold, pool and add kernels on 64-bit integers (fast), synthesis sees the ap_int code;
-DHWGEN_CSIM_AP_ARITH simulates the ap_int code. Both must be bit-exact with the layers' numpy execute. The sweeps
of tests/hls compile with clang++ in the ap_int mode (MVAU, Thresholding, LabelSelect, width converters), the DMA
tests of tests/test_window_kinds.py and tests/test_branching_hw.py too (SWG, Pad, Pool, the branching kinds);
here the rest: every Trunc rounding mode of the Pool, the VVAU in both stream orders, the II=1 pragmas and the
word-width limit."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.codegen import hls
from hwgen.dtypes import DType
from hwgen.errors import FoldingError
from hwgen.sim import csim
from tests.handmade import handmade_graph


def _ap_arith_run(g, tmp_path, q):
    proj = hls.write_graph_project(tmp_path / "hls", g)
    so = csim.compile_shared([proj.top_cpp], tmp_path / "ap.so", include_dirs=[proj.dir],
                             defines={"HWGEN_CSIM_AP_ARITH": None})
    return csim.CsimAccelerator(proj, lib=csim.CsimLibrary(so)).run(q)


def _vvau_window_graph():
    from tests.test_vvau import _case

    v, win, _ = _case("u4w4_thr_p2", np.random.default_rng(3))
    return [v], [1, *win.shape[1:]]


@pytest.mark.slow
@pytest.mark.parametrize("which", ["trunc", "depthwise", "vvau_window"])
def test_ap_int_arithmetic_bit_exact(which, tmp_path):
    from tests.test_window_kinds import _golden, depthwise_graph, trunc_graph

    layers, shape = {"trunc": trunc_graph, "depthwise": depthwise_graph, "vvau_window": _vvau_window_graph}[which]()
    g = handmade_graph(layers, input_shape=shape)
    i = g.design().input
    q = i.dtype.random(np.random.default_rng(1), (5, i.words_per_frame * i.elems_per_word))
    np.testing.assert_array_equal(_ap_arith_run(g, tmp_path, q), _golden(g, q))


def test_ii1_pragmas():
    """Pool and VVAU keep a running sum per channel word / fold: registers where one word follows another
    (one channel word, the depthwise order), else a two-port RAM whose dependence is declared with its true
    distance (never `dependent=false`). The width converter reads and writes in the same cycle."""
    from tests.test_window_kinds import depthwise_graph, max_pool_graph

    ctx = {lay.name: lay for lay in max_pool_graph()[0]}
    one = hls.render_node(ctx["Pool_1"])  # 8 channels at PE 8: one channel word
    assert "complete dim=1" in one and "DEPENDENCE" not in one
    two = hls.render_node(ctx["Pool_0"])  # PE 2: 4 channel words
    assert "#pragma HLS DEPENDENCE variable=acc type=inter direction=RAW dependent=true distance=4" in two
    assert "ram_s2p" in two and "lane_t acc[4][2];" in two
    vw = hls.render_node(_vvau_window_graph()[0][0])  # window order, C 8 / PE 2: 4 folds
    assert "#pragma HLS DEPENDENCE variable=acc type=inter direction=RAW dependent=true distance=4" in vw
    dw = hls.render_node(depthwise_graph()[0][1])
    assert "acc[2][1];" in dw and "complete dim=2" in dw and "DEPENDENCE" not in dw
    for text in (one, two, vw, dw):
        assert "dependent=false" not in text
    wc = (hls.templates_dir() / "hls" / "width_converter.hpp").read_text()
    down = wc.split("wc_down_loop:")[1].split("}")[0]
    assert "in.read()" in down and "out.write(" in down  # one loop iteration may do both


def test_word_width_limit():
    """Vitis HLS's ap_uint holds at most 4096 bits (AP_INT_MAX_W): an 8-bit 784-input layer at SIMD 784
    (6272-bit words) is refused from a folding file, never chosen by the search, refused by the HLS writer."""
    from hwgen.fold import apply_folding
    from hwgen.fold.units import MAX_STREAM_BITS, Unit, build_table, widest_word
    from hwgen.layers.mvau import MVAU

    rng = np.random.default_rng(0)
    w = rng.integers(-2, 2, size=(10, 784))
    lay = MVAU("MVAU_0", DType(8, False), DType(2, True), w, None, DType(20, True))
    with pytest.raises(FoldingError, match=r"'MVAU_0': PE=1 SIMD=784 makes 6272-bit words.*AP_INT_MAX_W"):
        apply_folding([lay], {"MVAU_0": {"PE": 1, "SIMD": 784}})
    apply_folding([lay], {"MVAU_0": {"PE": 1, "SIMD": 392}})
    assert widest_word(lay) == 3136
    table = build_table(Unit(lay))
    assert max(c.simd for c in table) == 392
    assert all(c.simd * 8 <= MAX_STREAM_BITS for c in table)
    p = dict(name="wide", MW=784, MH=10, PE=1, SIMD=784, num_vectors=1, binary_xnor=False, in_dtype="UINT8",
             w_dtype="INT2", out_dtype="INT20", acc_bits=20, weights=w, has_thresholds=False, thresholds=None,
             out_base=0, mem_style="auto")
    with pytest.raises(FoldingError, match="6272-bit input words"):
        hls.render_layer("mvau", p)
