"""The sliding-window (SWG), Pad and Pool kinds as complete hardware kinds: handmade graphs (tests/handmade.py)
built with write_build and run on csim (the HLS templates) and rtlsim (the RTL templates), bit-exact with the
kinds' numpy `execute` (the golden conv_kernels), and the rtlsim per-layer cycles within 5 % of `cycles()`.

Four graphs, one Verilator + one g++ build each, cover together: [Pad ->] SWG -> MVAU conv, [Pad ->] SWG -> Pool
max and Trunc average in every rounding mode, a global pool without a generator, 1-D (H = 1), non-square images
and kernels, stride, dilation, SIMD > 1 with a consumer of another SIMD (a width converter between),
signed / unsigned / BIPOLAR elements."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.build import write_build
from hwgen.dtypes import BIPOLAR, DType
from hwgen.layers import conv_kernels as ck
from hwgen.layers.mvau import MVAU
from hwgen.layers.pool import Pool
from hwgen.layers.swg import Pad, SlidingWindow
from tests.handmade import handmade_graph, random_input

INT4, UINT3 = DType(4, True), DType(3, False)


def _trunc(name, src, channels, shift, out, mode, narrow=False, pe=1, window=None, ofm=None):
    """Trunc average pool over the window stream of `src` (an SWG), or a global pool over `src`'s frame."""
    if window is None:
        window, ofm = src.window, src.ofm
    return Pool(name, src.out_dtype, out, ofm, window, channels, "trunc_avg", shift=shift, out_narrow=narrow,
                rounding_mode=mode, pe=pe)


def conv_graph():
    """INT4 (6, 7, 4) -> Pad (asymmetric, zero) -> SWG 3x2, stride (1, 2), dilation (2, 1), SIMD 2 -> conv MVAU
    (SIMD 4: a width converter between, PE 2, thresholds to UINT2) -> global Trunc average pool (HALF_DOWN)."""
    rng = np.random.default_rng(1)
    pad = Pad("Pad_0", INT4, (6, 7), 4, (1, 0, 2, 1), 0, simd=2)
    swg = SlidingWindow("SWG_0", INT4, pad.ofm, 4, (3, 2), (1, 2), (2, 1), simd=2)
    oh, ow = swg.ofm
    w = rng.integers(-2, 2, size=(6, 4, 3, 2))
    wm = ck.conv_weights_to_window_order(w)
    lo, hi = MVAU("t", INT4, DType(2, True), wm, None, DType(16, True)).acc_range()
    thr = np.sort(rng.integers(int(lo.min()) // 2, int(hi.max()) // 2 + 1, size=(6, 3)), axis=1)
    mvau = MVAU("MVAU_0", INT4, DType(2, True), wm, thr, DType(2, False), num_vectors=oh * ow, spatial=(oh, ow),
                pe=2, simd=4)
    gp = Pool("Pool_0", DType(2, False), DType(3, False), (1, 1), oh * ow, 6, "trunc_avg", shift=2,
              rounding_mode="HALF_DOWN", pe=3)
    return [pad, swg, mvau, gp], [1, 6, 7, 4]


def max_pool_graph():
    """UINT3 (9, 7, 8) -> Pad (min value 0) -> SWG 3x3 stride 2, SIMD 4 -> max Pool PE 2 -> SWG 2x2 -> Trunc
    average UP -> global Trunc average FLOOR."""
    pad = Pad("Pad_0", UINT3, (9, 7), 8, (1, 1, 0, 1), 0, simd=4)
    s0 = SlidingWindow("SWG_0", UINT3, pad.ofm, 8, (3, 3), (2, 2), simd=4)
    p0 = Pool("Pool_0", UINT3, UINT3, s0.ofm, s0.window, 8, "max", pe=2)
    s1 = SlidingWindow("SWG_1", UINT3, s0.ofm, 8, (2, 2), simd=2)
    p1 = _trunc("Pool_1", s1, 8, 1, DType(4, False), "UP", pe=8)
    p2 = _trunc("Pool_2", p1, 8, 3, DType(3, False), "FLOOR", narrow=True, pe=4,
                window=s1.ofm[0] * s1.ofm[1], ofm=(1, 1))
    return [pad, s0, p0, s1, p1, p2], [1, 9, 7, 8]


def trunc_graph():
    """INT4 (8, 9, 4): SWG 2x2 SIMD 2 -> Trunc avg HALF_EVEN (PE 4) -> SWG 3x1 stride (2, 1), SIMD 4 -> Trunc avg
    HALF_UP narrow -> SWG 1x3 dilation (1, 2) -> Trunc avg CEIL -> global Trunc avg DOWN (out wider than the
    sum: the clip bounds do not fit the input's container)."""
    s0 = SlidingWindow("SWG_0", INT4, (8, 9), 4, (2, 2), simd=2)
    p0 = _trunc("Pool_0", s0, 4, 2, INT4, "HALF_EVEN", pe=4)
    s1 = SlidingWindow("SWG_1", INT4, s0.ofm, 4, (3, 1), (2, 1), simd=4)
    p1 = _trunc("Pool_1", s1, 4, 1, DType(3, True), "HALF_UP", narrow=True, pe=2)
    s2 = SlidingWindow("SWG_2", DType(3, True), s1.ofm, 4, (1, 3), dilation=(1, 2), simd=1)
    p2 = _trunc("Pool_2", s2, 4, 1, DType(3, True), "CEIL", pe=1)
    p3 = _trunc("Pool_3", p2, 4, 1, DType(8, True), "DOWN", pe=2, window=s2.ofm[0] * s2.ofm[1], ofm=(1, 1))
    return [s0, p0, s1, p1, s2, p2, p3], [1, 8, 9, 4]


def bipolar_1d_graph():
    """BIPOLAR 1-D (1, 20, 6) -> Pad (+1 left, -1 right... as one value: -1) -> SWG 1x3 dilation 2, SIMD 3 -> max
    Pool PE 6 -> Thresholding-free end; then a 1-D max pool stride 2 on the result."""
    pad = Pad("Pad_0", BIPOLAR, (1, 20), 6, (0, 1, 0, 2), -1, simd=3)
    s0 = SlidingWindow("SWG_0", BIPOLAR, pad.ofm, 6, (1, 3), dilation=(1, 2), simd=3)
    p0 = Pool("Pool_0", BIPOLAR, BIPOLAR, s0.ofm, s0.window, 6, "max", pe=6)
    s1 = SlidingWindow("SWG_1", BIPOLAR, s0.ofm, 6, (1, 2), (1, 2), simd=6)
    p1 = Pool("Pool_1", BIPOLAR, BIPOLAR, s1.ofm, s1.window, 6, "max", pe=2)
    return [pad, s0, p0, s1, p1], [1, 1, 20, 6]


def depthwise_graph():
    """INT4 (7, 9, 6): SWG 3x2 in the depthwise order (channel words outer), stride (2, 1), dilation (1, 2), SIMD 2
    (3 channel words of 2 channels) -> a width converter to 3 kernel positions x 2 channels -> depthwise VVAU
    (PE 2, SIMD 3, thresholds to UINT2)."""
    from hwgen.layers.vvau import VVAU

    rng = np.random.default_rng(4)
    s0 = SlidingWindow("SWG_0", INT4, (7, 9), 6, (3, 2), (2, 1), (1, 2), order="depthwise", simd=2)
    w = rng.integers(-4, 4, size=(6, s0.window))
    thr = np.sort(rng.integers(-40, 40, size=(6, 3)), axis=1)
    v = VVAU("VVAU_0", INT4, DType(3, True), w, thr, DType(2, False), s0.ofm, order="depthwise", pe=2, simd=3)
    return [s0, v], [1, 7, 9, 6]


GRAPHS = {"conv": conv_graph, "max_pool": max_pool_graph, "trunc": trunc_graph, "bipolar_1d": bipolar_1d_graph,
          "depthwise": depthwise_graph}


@pytest.fixture(scope="module", params=list(GRAPHS))
def built(request, tmp_path_factory):
    layers, shape = GRAPHS[request.param]()
    g = handmade_graph(layers, input_shape=shape)
    out = tmp_path_factory.mktemp(f"win_{request.param}") / "out"
    write_build(g, out, log=lambda *a: None)
    return request.param, out, g


def _golden(g, q):
    x = q
    for lay in g.layers:
        x = lay.execute(np.asarray(x).reshape(-1, *lay.in_port_shape(0)[1:]))
    return np.asarray(x).reshape(len(q), -1)


def test_csim_and_rtlsim_bit_exact_and_cycles(built):  # (and the cpu backend)
    from hwgen.runtime.accelerator import Accelerator

    name, out, g = built
    ref = Accelerator(out, backend="reference")
    q = ref.graph.head_ints(random_input(ref.graph, 5, seed=3))
    want = _golden(g, q)
    np.testing.assert_array_equal(ref.execute_ints(q).reshape(want.shape), want)
    for be in ("cpu", "csim", "rtlsim"):
        acc = Accelerator(out, backend=be)
        got = acc.execute_ints(q)
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"{name}: {be}")
    st = acc.stats()
    # the slowest layer sets the pace: SWG (trunc, bipolar_1d), MVAU (conv), Pool (max_pool), VVAU (depthwise)
    bound = max(lay.cycles() for lay in g.layers)
    assert abs(st["cycles_per_frame"] - bound) <= 0.05 * bound, (name, st["cycles_per_frame"], bound)
    for lay in g.layers:
        if lay.op in ("Pool", "MVAU", "VVAU"):
            # a steady consumer's busy cycles (neither starved nor blocked) are its cycles(); the SWG and the
            # Pad take input while their output waits, which the harness counts as busy, so only the bound above
            m = st["layers"][lay.name]
            assert abs(m["active_cycles"] - lay.cycles()) <= 0.05 * lay.cycles(), (name, lay.name, m)


def test_line_buffer_mapping_and_hls_binding():
    from hwgen.codegen import hls, rtl

    small = SlidingWindow("S", DType(4, False), (1, 32), 8, (1, 3), simd=8)  # 3 words x 32 bits
    big = SlidingWindow("B", BIPOLAR, (30, 30), 64, (3, 3), simd=32)  # 63 pixels x 2 words x 32 bits
    m = small.memories()["line_buffer"]
    assert (m["depth"], m["width"], m["style"], m["bram18"]) == (3, 32, "distributed", 0) and m["lutram_luts"] > 0
    m = big.memories()["line_buffer"]
    assert m["depth"] == 126 and m["style"] == "block" and m["bram18"] == 1
    assert 0 < m["efficiency"] < 1
    u = big.memories(mem_style="ultra")["line_buffer"]
    assert (u["style"], u["uram"], u["bram18"]) == ("ultra", 1, 0)
    assert "impl=bram" in hls.render_node(big) and "impl=lutram" in hls.render_node(small)
    big.mem_style = "ultra"
    assert "impl=uram" in hls.render_node(big)
    assert 'ram_style = "ultra"' in rtl.render_node(big)[0]


def test_depthwise_order():
    """Depthwise order: per pixel, channel word f outer, kernel position k inner: element (f, k, s) is the window
    order's (k, f, s)."""
    x = np.random.default_rng(0).integers(-8, 8, size=(2, 7, 9, 6))
    dw = depthwise_graph()[0][0]
    win = SlidingWindow("W", INT4, (7, 9), 6, (3, 2), (2, 1), (1, 2), simd=2)
    a, b = dw.execute(x), win.execute(x)
    k, cf, simd = 6, 3, 2
    for f in range(cf):
        for j in range(k):
            np.testing.assert_array_equal(a[..., (f * k + j) * simd:(f * k + j + 1) * simd],
                                          b[..., (j * cf + f) * simd:(j * cf + f + 1) * simd])


def test_kinds_round_trip_and_refuse_bad_input():
    from hwgen.errors import HwgenError, UnsupportedModelError
    from hwgen.layers.registry import kind

    for lay in conv_graph()[0] + trunc_graph()[0] + depthwise_graph()[0]:
        d = lay.to_json()
        back = kind(d["op"]).from_json(d, lay.arrays())
        assert back.to_json() == d
    # BIPOLAR travels as bits: a +1 pad is all ones, a -1 pad all zeros
    assert Pad("P", BIPOLAR, (3, 3), 4, (1, 1, 1, 1), 1, simd=4).spec().template_context()["PAD_WORD_HEX"] == "f"
    assert Pad("P", BIPOLAR, (3, 3), 4, (1, 1, 1, 1), -1, simd=4).spec().template_context()["PAD_WORD_HEX"] == "0"
    with pytest.raises(HwgenError, match="mem_style"):
        SlidingWindow("S", INT4, (5, 5), 4, (3, 3), mem_style="flash")
    with pytest.raises(HwgenError, match="order"):
        SlidingWindow("S", INT4, (5, 5), 4, (3, 3), order="channels_first")
    with pytest.raises(UnsupportedModelError, match="BIPOLAR"):
        Pool("P", BIPOLAR, DType(2, True), (2, 2), 4, 4, "trunc_avg", shift=1)


def test_fifo_rules():
    # SWG: a producer at the block's own rate has up to ~(span_h - 1) lines waiting; Pad: the pad rows' worth;
    # Pool: one word a cycle
    swg = SlidingWindow("S", BIPOLAR, (30, 30), 64, (3, 3), simd=32)
    assert 2 * 30 <= swg.fifo_depth() <= 3 * 30 * 2
    pad = Pad("P", BIPOLAR, (30, 30), 64, (1, 1, 1, 1), -1, simd=32)
    assert pad.fifo_depth() >= 2 * 32 * 2 * 30 // (32 * 32 * 2) + 2
    assert Pool("Q", INT4, INT4, (2, 2), 4, 4, pe=2).fifo_depth() == 2
    # a slower consumer behind an SWG gets a FIFO covering the refill at the frame start; a faster one none
    mvau = conv_graph()[0][2]
    swg0 = conv_graph()[0][1]
    assert swg0.out_fifo_depth(0, mvau) > 2
    fast = Pool("F", INT4, INT4, swg0.ofm, swg0.window, 4, pe=4)
    assert swg0.out_fifo_depth(0, fast) == 0


@pytest.mark.slow
def test_hls_frames_per_call_in_the_dma_top(tmp_path):
    """The board boundary's HLS top runs several frames per call (every process loop flat over them): the
    SWG's state restarts between frames inside one loop, the Pad and Pool counters run on."""
    from hwgen.codegen.dma import frames_per_call
    from hwgen.sim.csim import DmaCsim
    from tests.test_dma_boundary import _ints

    layers, shape = conv_graph()
    g = handmade_graph(layers, input_shape=shape)
    out = tmp_path / "o"
    write_build(g, out, log=lambda *a: None)
    # the ap_int arithmetic synthesis sees (the csim backend runs its native-integer twin)
    sim = DmaCsim(out, g, 64, tmp_path / "dma.so", defines={"HWGEN_CSIM_AP_ARITH": None})
    k = frames_per_call(g)
    assert k > 1
    for n in (2 * k, k + 3):  # two invocations; a batch the driver pads
        q, ref = _ints(g, n)
        np.testing.assert_array_equal(sim.run_ints(q)[0], ref)



def test_cpu_kernel_choice():
    """The cpu backend's window kernel (sw_fallback's SwgKernel) serves both orders (tests/test_cpu_cnn.py checks
    the depthwise order bit-exact); a backend without it runs the numpy golden."""
    class Lib:  # the kernel classes the backend hands in, as tags
        NumpyKernel = staticmethod(lambda layer: "numpy")
        SwgKernel = staticmethod(lambda layer: "swg")

    assert depthwise_graph()[0][0].cpu_kernel(Lib) == "swg"
    assert trunc_graph()[0][0].cpu_kernel(Lib) == "swg"
    del Lib.SwgKernel
    assert trunc_graph()[0][0].cpu_kernel(Lib) == "numpy"
