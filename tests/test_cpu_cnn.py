"""The cpu backend on convolutional hardware graphs made by hand (tests/handmade.py): every CNN kind, the fused
sliding-window kernels (conv, binary conv, depthwise, pools with their padding) and DAGs (residual add, concat,
upsample), bit-exact with the reference (`HwGraph.execute`, the kinds' numpy semantics)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tools import require_module  # noqa: E402

require_module("numba", "the cpu backend")

from hwgen.dtypes import from_name  # noqa: E402
from hwgen.errors import HwgenError  # noqa: E402
from hwgen.graph import Edge  # noqa: E402
from hwgen.layers import conv_kernels as ck  # noqa: E402
from hwgen.layers.branching import AddStreams, Concat, Duplicate  # noqa: E402
from hwgen.layers.mvau import MVAU  # noqa: E402
from hwgen.layers.pool import Pool  # noqa: E402
from hwgen.layers.swg import Pad, SlidingWindow  # noqa: E402
from hwgen.layers.thresholding import Thresholding  # noqa: E402
from hwgen.layers.upsample import Upsample  # noqa: E402
from hwgen.layers.vvau import VVAU  # noqa: E402
from hwgen.build import compile_model  # noqa: E402
from sw_fallback.backend import CpuBackend  # noqa: E402
from tests.cnn_models import committed_models, io_pair, model_path  # noqa: E402
from tests.handmade import handmade_graph, random_input  # noqa: E402

D = from_name


def _weights(rng, dt, shape):
    if dt.bipolar:
        return rng.choice([-1, 1], size=shape)
    return rng.integers(dt.min, dt.max + 1, size=shape)


def _thresholds(rng, acc_lo, acc_hi, rows, out_dt):
    """Ascending thresholds per row inside the accumulator range, for out_dt (BIPOLAR: one per row)."""
    t = 1 if out_dt.bipolar else out_dt.max - out_dt.min
    lo, hi = np.asarray(acc_lo), np.asarray(acc_hi)
    span = np.maximum(hi - lo, 1)
    thr = lo[:, None] + (rng.random((rows, t)) * span[:, None] * 0.5 + span[:, None] * 0.25).astype(np.int64)
    return np.sort(thr, axis=1), (0 if out_dt.bipolar else out_dt.min)


def conv_layers(name, rng, in_dt, ifm, c, o, k, stride=1, dilation=1, pads=(0, 0, 0, 0), pad_value=0,
                w_dt=D("INT4"), out_dt=None):
    """[Pad ->] SWG -> MVAU: a conv (thresholds to out_dt, or accumulators when out_dt is None)."""
    layers, hw = [], tuple(ck.pair(ifm))
    if any(pads):
        layers.append(Pad(f"{name}_pad", in_dt, hw, c, pads, pad_value))
        hw = layers[-1].ofm
    swg = SlidingWindow(f"{name}_swg", in_dt, hw, c, k, stride, dilation)
    w = _weights(rng, w_dt, (o, swg.window * c))
    mv = MVAU(f"{name}_mvau", in_dt, w_dt, w, None, D("INT32"), num_vectors=swg.ofm[0] * swg.ofm[1],
              spatial=swg.ofm)
    if out_dt is not None:
        lo, hi = mv.acc_range()
        thr, base = _thresholds(rng, lo, hi, o, out_dt)
        mv = MVAU(mv.name, in_dt, w_dt, w, thr, out_dt, out_base=base, num_vectors=mv.num_vectors, spatial=swg.ofm)
    else:
        lo, hi = mv.acc_range()
        from hwgen.dtypes import smallest_for_range

        mv.out_dtype = smallest_for_range(int(lo.min()), int(hi.max()))
    return layers + [swg, mv]


def assert_cpu_exact(layers, input_shape, edges=None, n=7, seed=0, fused=()):
    g = handmade_graph(layers, edges=edges, input_shape=input_shape)
    x = random_input(g, n, seed)
    want = g.execute(x)  # the handmade tail passes the output stream through: flat frames
    be = CpuBackend(None, g, warmup=False)
    np.testing.assert_array_equal(be.execute(x).reshape(n, -1), want.reshape(n, -1))
    np.testing.assert_array_equal(be.run_ints(g.head_ints(x)), np.reshape(g.run_layers(g.head_ints(x)), (n, -1)))
    kinds = be.stats()["layers"]
    for f in fused:
        assert any(f in name and "+" in name for name in kinds), kinds
    return be


# --- convolutions --------------------------------------------------------------------------------------------------
CONVS = {  # name: (in dtype, ifm, C, O, kernel, stride, dilation, pads, pad value, weight dtype, out dtype)
    "int4_3x3": ("UINT4", (6, 7), 5, 6, 3, 1, 1, (0, 0, 0, 0), 0, "INT4", "UINT2"),
    "stride2_pad": ("INT4", (9, 8), 4, 5, 3, 2, 1, (1, 1, 1, 1), 0, "INT3", "INT4"),
    "asym_pad_value": ("UINT4", (5, 6), 3, 4, (2, 3), 1, 1, (0, 1, 2, 0), 5, "INT4", "UINT3"),
    "dilation": ("INT8", (10, 9), 3, 7, 3, (1, 2), 2, (2, 2, 2, 2), -3, "INT8", None),
    "conv1d": ("UINT4", (1, 20), 6, 5, (1, 5), (1, 2), (1, 2), (0, 3, 0, 1), 0, "INT4", "UINT4"),
    "binary": ("BIPOLAR", (7, 6), 70, 65, 3, 1, 1, (0, 0, 0, 0), 0, "BIPOLAR", "BIPOLAR"),
    "binary_pad_acc": ("BIPOLAR", (6, 6), 9, 4, 3, 2, 1, (1, 0, 1, 2), 1, "BIPOLAR", None),
    "int_x_bipolar_w": ("UINT8", (8, 8), 3, 64, 3, 1, 1, (0, 0, 0, 0), 0, "BIPOLAR", "BIPOLAR"),
}


@pytest.mark.parametrize("name", sorted(CONVS))
def test_fused_conv(name):
    in_dt, ifm, c, o, k, s, d, pads, pv, w_dt, out_dt = CONVS[name]
    rng = np.random.default_rng(len(name))
    layers = conv_layers("c", rng, D(in_dt), ifm, c, o, k, s, d, pads, pv, D(w_dt), out_dt and D(out_dt))
    be = assert_cpu_exact(layers, [1, *ifm, c], fused=["c_mvau"])
    assert len(be.plan) == 1


# the second of two planar convs: (kernel, stride, dilation, pads, pad value, depthwise, reads Chw)
PLANAR_CHAINS = {
    "3x3_pad": (3, 1, 1, (1, 1, 1, 1), 0, False, True),
    "asym_pad_value": ((2, 3), 1, 1, (0, 1, 2, 0), 3, False, True),
    "stride2_long_rows": (3, 2, 1, (1, 1, 1, 1), 0, False, True),  # phase rows of 10 pixels: Chw
    "stride2_short_rows": (3, 2, 1, (1, 1, 1, 1), 0, True, False),  # (on a 9x8 image) phase rows of 5 pixels,
    # 6 channels: the stream order
    "dilation_stride": (3, (1, 2), 2, (2, 2, 2, 2), 1, False, True),
    "depthwise_asym": ((3, 2), (2, 1), (1, 2), (1, 0, 1, 2), 2, True, True),
    "pointwise": (1, 1, 1, (0, 0, 0, 0), 0, False, True),
}


def _dw_layers(name, rng, dt, hw, C, k, stride, dilation, pads, pad_value, out_dt):
    layers = [Pad(f"{name}_pad", dt, hw, C, pads, pad_value)] if any(pads) else []
    swg = SlidingWindow(f"{name}_swg", dt, layers[-1].ofm if layers else hw, C, k, stride, dilation)
    w = _weights(rng, D("INT4"), (C, swg.window))
    vv = VVAU(name, dt, D("INT4"), w, None, D("INT32"), swg.ofm)
    thr, base = _thresholds(rng, *vv.acc_range(), C, out_dt)
    return layers + [swg, VVAU(name, dt, D("INT4"), w, thr, out_dt, swg.ofm, out_base=base)]


@pytest.mark.parametrize("name,driver", [(n, False) for n in sorted(PLANAR_CHAINS)] + [
    ("stride2_long_rows", "wait"), ("depthwise_asym", "wait"), ("stride2_short_rows", "wait")])
def test_planar_convs_hand_over_channel_planar_images(name, driver):
    """conv -> conv (or depthwise) -> conv, all channel-planar: each hands the next its image as Chw (rows copied,
    no transposition) unless the next is a strided conv over short rows, which reads the stream order; bit-exact
    with the reference step by step and through the per-design driver (seconds of LLVM each: three cases), on 1
    frame and on many."""
    from sw_fallback.formats import Chw

    k, s, d, pads, pv, dw, reads_chw = PLANAR_CHAINS[name]
    rng = np.random.default_rng(len(name))
    hw = (9, 20) if name != "stride2_short_rows" else (9, 8)
    u3 = D("UINT3")
    first = conv_layers("a", rng, D("UINT4"), hw, 3, 6, 3, pads=(1, 1, 1, 1), out_dt=u3)
    if dw:
        second = _dw_layers("b", rng, u3, hw, 6, k, s, d, pads, pv, u3)
        c2 = 6
    else:
        second = conv_layers("b", rng, u3, hw, 6, 5, k, s, d, pads, pv, out_dt=u3)
        c2 = 5
    hw2 = second[-1].ofm if dw else second[-2].ofm
    third = conv_layers("c", rng, u3, hw2, c2, 4, 3, pads=(1, 1, 1, 1), out_dt=D("INT4"))
    g = handmade_graph(first + second + third, input_shape=[1, *hw, 3])
    for n in (1, 9):
        x = random_input(g, n, seed=n)
        be = CpuBackend(None, g, warmup=False, driver=driver)
        np.testing.assert_array_equal(be.execute(x).reshape(n, -1), g.execute(x).reshape(n, -1))
    assert [type(st.kernel).__name__ for st in be.steps] == ["ConvKernel", "VvauKernel" if dw else "ConvKernel",
                                                             "ConvKernel"]
    assert isinstance(be.steps[0].kernel.in_fmts()[0], Chw)  # the model input: the head writes Chw
    assert isinstance(be.steps[0].out_fmts[0], Chw) == reads_chw
    assert isinstance(be.steps[1].out_fmts[0], Chw)
    assert all(c is None for _, ins, _, _, _ in be._prog for _, c in ins)  # no conversion between the steps
    if driver:
        assert be._driver is not None and be._driver.fn is not None


def test_binary_cnn_stays_packed():
    """BIPOLAR conv -> conv -> max pool -> FC: every value between them is bit-packed (no conversions)."""
    rng = np.random.default_rng(1)
    B = D("BIPOLAR")
    l0 = conv_layers("c0", rng, D("UINT8"), (10, 10), 3, 64, 3, w_dt=B, out_dt=B)
    l1 = conv_layers("c1", rng, B, (8, 8), 64, 128, 3, w_dt=B, out_dt=B)
    pool_swg = SlidingWindow("p_swg", B, (6, 6), 128, 2, 2)
    pool = Pool("p", B, B, pool_swg.ofm, 4, 128, "max")
    w = _weights(rng, B, (10, 3 * 3 * 128))
    fc = MVAU("fc", B, B, w, None, D("INT16"))
    be = assert_cpu_exact(l0 + l1 + [pool_swg, pool, fc], [1, 10, 10, 3], n=9, fused=["c0_mvau", "c1_mvau", "p"])
    assert [st.out_fmts[0].__class__.__name__ for st in be.steps[:-1]] == ["Bits"] * 3
    assert [p.kind for p in be.plan] == ["conv_int16", "conv_xnor", "pool_bits_fused", "xnor"]


# --- depthwise, pools ------------------------------------------------------------------------------------------------
def test_depthwise_fused_and_standalone():
    rng = np.random.default_rng(2)
    dt, C = D("INT4"), 6
    pad = Pad("dw_pad", dt, (7, 5), C, (1, 2, 0, 1), -2)
    swg = SlidingWindow("dw_swg", dt, pad.ofm, C, (3, 2), (2, 1), (1, 2))
    w = _weights(rng, D("INT4"), (C, swg.window))
    vv = VVAU("dw", dt, D("INT4"), w, None, D("INT32"), swg.ofm)
    lo, hi = vv.acc_range()
    thr, base = _thresholds(rng, lo, hi, C, D("INT3"))
    vv_t = VVAU("dw", dt, D("INT4"), w, thr, D("INT3"), swg.ofm, out_base=base)
    assert_cpu_exact([pad, swg, vv], [1, 7, 5, C], fused=["dw"])
    assert_cpu_exact([pad, swg, vv_t], [1, 7, 5, C], fused=["dw"])
    # a VVAU fed by a window stream that is the graph input: the standalone kernel
    assert_cpu_exact([vv_t], [1, *swg.ofm, swg.window * C])


@pytest.mark.parametrize("mode", ["FLOOR", "CEIL", "DOWN", "UP", "ROUND", "HALF_EVEN", "HALF_UP", "HALF_DOWN"])
def test_trunc_avg_pool_rounding(mode):
    dt, C = D("INT5"), 4
    pad = Pad("ap_pad", dt, (6, 6), C, (0, 0, 1, 1), 0)
    swg = SlidingWindow("ap_swg", dt, pad.ofm, C, 3, 2)
    pool = Pool("ap", dt, D("INT4"), swg.ofm, 9, C, "trunc_avg", shift=3, rounding_mode=mode)
    assert_cpu_exact([pad, swg, pool], [1, 6, 6, C], n=16, fused=["ap"])


def test_pools_max_global_and_standalone():
    dt, C = D("INT4"), 5
    pad = Pad("mp_pad", dt, (7, 7), C, (1, 1, 1, 1), dt.min)
    swg = SlidingWindow("mp_swg", dt, pad.ofm, C, 3, 2)
    mp = Pool("mp", dt, dt, swg.ofm, 9, C, "max")
    gp = Pool("gp", dt, D("INT8"), (1, 1), swg.ofm[0] * swg.ofm[1], C, "trunc_avg", shift=2, rounding_mode="ROUND")
    assert_cpu_exact([pad, swg, mp, gp], [1, 7, 7, C], fused=["mp"])
    # an SWG whose consumer reads a window stream it cannot fuse with (thresholds): the standalone generator
    th = Thresholding("th", dt, np.sort(np.random.default_rng(0).integers(-8, 8, (C, 3)), axis=1), D("UINT2"),
                      num_vectors=1)
    pad2 = Pad("p2", dt, (4, 4), C, (1, 0, 0, 1), -1)
    swg2 = SlidingWindow("s2", dt, pad2.ofm, C, 2, 2)
    th.num_vectors = swg2.ofm[0] * swg2.ofm[1] * swg2.window
    assert_cpu_exact([pad2, swg2, th], [1, 4, 4, C], fused=["s2"])  # a padded window stream
    # a Pad no window reads: the standalone padding kernel
    assert_cpu_exact([Pad("p3", dt, (3, 5), C, (2, 1, 0, 3), 3), Upsample("u3", dt, (5, 9), C, 2)], [1, 3, 5, C])


UPSAMPLED_POOLS = {  # name: (dtype, source ifm, C, factor, pads, pad value, kernel, stride, dilation, mode)
    "max_3x3_s2_pad": ("INT4", (6, 8), 12, 2, (1, 1, 1, 1), 0, 3, 2, 1, "max"),
    "max_asym": ("UINT3", (5, 4), 3, (3, 2), (0, 2, 1, 0), 7, (2, 3), (1, 2), (2, 1), "max"),
    "max_bits": ("BIPOLAR", (4, 5), 70, 2, (1, 0, 0, 1), -1, 2, 1, 1, "max"),
    "avg_pad": ("INT5", (5, 6), 4, (2, 3), (1, 2, 0, 1), -3, 3, 2, 1, "trunc_avg"),
    "max_no_pad": ("INT8", (7, 9), 8, 2, (0, 0, 0, 0), 0, 2, 2, 1, "max"),
}


@pytest.mark.parametrize("name", sorted(UPSAMPLED_POOLS))
def test_pool_fused_onto_upsample(name):
    """Upsample -> [Pad ->] SWG -> Pool: one kernel reading the image before the upsampling."""
    dtn, ifm, C, f, pads, pv, k, s, d, mode = UPSAMPLED_POOLS[name]
    dt = D(dtn)
    up = Upsample("upx", dt, ifm, C, f)
    layers, hw = [up], up.ofm
    if any(pads):
        layers.append(Pad("upx_pad", dt, hw, C, pads, pv))
        hw = layers[-1].ofm
    swg = SlidingWindow("upx_swg", dt, hw, C, k, s, d)
    kw = dict(shift=2, rounding_mode="HALF_UP") if mode == "trunc_avg" else {}
    out_dt = D("INT6") if mode == "trunc_avg" else dt
    pool = Pool("upx_pool", dt, out_dt, swg.ofm, swg.window, C, mode, **kw)
    be = assert_cpu_exact(layers + [swg, pool], [1, *ifm, C], n=5, fused=["upx+"])
    assert be.plan[0].kind.endswith("_fused_upsampled"), [p.kind for p in be.plan]


# --- DAGs: residual add, concat, upsample ----------------------------------------------------------------------------
def test_residual_block():
    """x -> Duplicate -> (conv 3x3 pad 1 -> conv 1x1) + x -> AddStreams with thresholds (different scales)."""
    rng = np.random.default_rng(3)
    dt, C, hw = D("UINT4"), 8, (6, 6)
    dup = Duplicate("dup", dt, hw, C)
    c1 = conv_layers("r1", rng, dt, hw, C, C, 3, pads=(1, 1, 1, 1), out_dt=dt)
    c2 = conv_layers("r2", rng, dt, hw, C, C, 1, out_dt=D("INT4"))
    add = AddStreams("add", D("INT4"), dt, D("UINT3"), hw, C, a_mul=2, b_mul=3,
                     thresholds=np.sort(rng.integers(-20, 60, (C, 7)), axis=1))
    layers = [dup] + c1 + c2 + [add]
    names = [la.name for la in layers]
    edges = [Edge(None, 0, "dup", 0), Edge("dup", 0, names[1], 0)]
    edges += [Edge(a, 0, b, 0) for a, b in zip(names[1:-2], names[2:-1])]
    edges += [Edge(names[-2], 0, "add", 0), Edge("dup", 1, "add", 1), Edge("add", 0, None, 0)]
    assert_cpu_exact(layers, [1, *hw, C], edges=edges, fused=["r1_mvau", "r2_mvau"])


def test_concat_upsample_and_exact_add():
    """x -> Duplicate -> (conv 3x3 pad 1 | x) -> Concat; and x -> Duplicate -> exact x + x -> Upsample."""
    rng = np.random.default_rng(4)
    dt, C, hw = D("INT4"), 4, (4, 5)
    dup = Duplicate("dup", dt, hw, C)
    a = conv_layers("a", rng, dt, hw, C, 3, 3, pads=(1, 1, 1, 1), out_dt=dt)
    cat = Concat("cat", [dt, dt], dt, hw, [3, C])
    edges = [Edge(None, 0, "dup", 0), Edge("dup", 0, "a_pad", 0), Edge("a_pad", 0, "a_swg", 0),
             Edge("a_swg", 0, "a_mvau", 0), Edge("a_mvau", 0, "cat", 0), Edge("dup", 1, "cat", 1),
             Edge("cat", 0, None, 0)]
    assert_cpu_exact([dup] + a + [cat], [1, *hw, C], edges=edges, fused=["a_mvau"])
    dup2 = Duplicate("dup2", dt, hw, C)
    add = AddStreams("add", dt, dt, D("INT5"), hw, C)
    up = Upsample("up", D("INT5"), hw, C, (2, 3))
    edges = [Edge(None, 0, "dup2", 0), Edge("dup2", 0, "add", 0), Edge("dup2", 1, "add", 1),
             Edge("add", 0, "up", 0), Edge("up", 0, None, 0)]
    assert_cpu_exact([dup2, add, up], [1, *hw, C], edges=edges)


def test_big_batches_split_over_threads():
    """A batch of a CNN graph big enough is cut into one chunk per thread, each run through every layer: the
    same integers, and errors still name the whole batch's index."""
    rng = np.random.default_rng(6)
    dt = D("UINT4")
    layers = conv_layers("s", rng, dt, (6, 6), 3, 8, 3, pads=(1, 1, 1, 1), out_dt=dt)
    g = handmade_graph(layers, input_shape=[1, 6, 6, 3])
    be = CpuBackend(None, g, threads=2, warmup=False)
    x = random_input(g, 150, 2)
    assert be.split and be._split_ints(x) is not None
    np.testing.assert_array_equal(be.execute(x).reshape(150, -1), g.execute(x).reshape(150, -1))
    x[140, 0, 0, 0] = np.nan
    with pytest.raises(HwgenError) as want:
        g.execute(x)
    with pytest.raises(type(want.value)) as got:
        be.execute(x)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("binary", [False, True])
def test_pointwise_mvau_runs_as_conv(binary):
    """An MVAU over an image's pixels with no sliding window (a 1x1 conv): the direct conv kernel."""
    rng = np.random.default_rng(7)
    dt, w_dt = (D("BIPOLAR"), D("BIPOLAR")) if binary else (D("INT4"), D("INT4"))
    w = _weights(rng, w_dt, (6, 70 if binary else 5))
    mv = MVAU("pw", dt, w_dt, w, None, D("INT16"), num_vectors=12, spatial=(3, 4))
    lo, hi = mv.acc_range()
    thr, base = _thresholds(rng, lo, hi, 6, D("UINT2"))
    mv = MVAU("pw", dt, w_dt, w, thr, D("UINT2"), num_vectors=12, spatial=(3, 4))
    be = assert_cpu_exact([mv], [1, 3, 4, w.shape[1]])
    assert be.plan[0].kind.startswith("conv_")


def test_depthwise_order_streams():
    """SWG and VVAU in the depthwise stream order (SIMD kernel positions per word, PE = the SWG's SIMD): fused,
    and each alone (the standalone window stream and the standalone VVAU read and write that order)."""
    rng = np.random.default_rng(8)
    dt, C = D("INT4"), 6
    swg = SlidingWindow("o_swg", dt, (6, 5), C, 3, 1, 1, order="depthwise", simd=2)
    w = _weights(rng, D("INT4"), (C, swg.window))
    vv = VVAU("o_dw", dt, D("INT4"), w, None, D("INT32"), swg.ofm, order="depthwise", pe=2)
    assert_cpu_exact([swg, vv], [1, 6, 5, C], fused=["o_dw"])
    assert_cpu_exact([swg], [1, 6, 5, C])
    assert_cpu_exact([vv], [1, *swg.ofm, swg.window * C])


# --- the committed CNN test models (tests/models/cnn), compiled by the streamliner -----------------------------------
def _model_inputs(file_name, n_random=12):
    """The exported inputs plus random ones over their range."""
    x, _ = io_pair(file_name)
    rng = np.random.default_rng(5)
    xr = rng.random((n_random, *x.shape[1:])) * (x.max() - x.min()) + x.min()
    return np.concatenate([x, xr.astype(np.float32)])


# CNV 1W2A / 2W2A take ~10 s each (compile, head threshold search, numpy reference): slow; 1W1A stays fast
MODEL_PARAMS = [pytest.param(m, marks=pytest.mark.slow) if m in ("cnv_1w2a.onnx.gz", "cnv_2w2a.onnx.gz") else m
                for m in committed_models()]


@pytest.mark.parametrize("name", MODEL_PARAMS)
def test_cnn_model_cpu_bit_exact(name, tmp_path):
    g = compile_model(model_path(name, tmp_path))
    x = _model_inputs(name)
    want, q_last = g.execute(x, return_ints=True)
    be = CpuBackend(None, g)
    np.testing.assert_array_equal(be.head_ints(x), g.head_ints(x))
    np.testing.assert_array_equal(be.run_ints(g.head_ints(x)), q_last)
    y = be.execute(x)
    assert y.shape == want.shape and y.dtype == want.dtype
    np.testing.assert_array_equal(y, want)
    assert be.head_plan.mode == "thresholds", be.stats()["head"]
    assert all(p.kind not in ("numpy", "swg") for p in be.plan), be.stats()["layers"]  # every window fused


@pytest.mark.slow
def test_mnist_cnn_cpu_all_test_images(tmp_path):
    """All 10,000 ../shared MNIST test images through the cpu backend: bit-exact with the reference (whose
    accuracy is qonnx's, tests/test_cnn_lowering.py), 99.02 %."""
    from tests.conftest import load_mnist

    x, labels = load_mnist()
    g = compile_model(model_path("mnist_cnn_w4a4.onnx", tmp_path))
    y = CpuBackend(None, g).execute(x)
    want = np.concatenate([g.execute(x[i:i + 2000]) for i in range(0, len(x), 2000)])
    np.testing.assert_array_equal(y, want)
    assert round(float((y.argmax(axis=1) == labels).mean()) * 100, 2) == 99.02


@pytest.mark.parametrize("name", [m for m in committed_models() if not m.startswith("cnv_")])
def test_cnn_model_driver_bit_exact(name, tmp_path):
    """The plan as one compiled function (sw_fallback.driver, driver="wait") equals the step-by-step plan, one
    frame per call and batched, and its tail (layout gather + the evaluator's sessions) equals the evaluator's."""
    g = compile_model(model_path(name, tmp_path))
    x = _model_inputs(name)
    fused, steps = CpuBackend(None, g, threads=1, driver="wait"), CpuBackend(None, g, threads=1, driver=False)
    assert fused._driver is not None and fused._driver.fn is not None, fused._driver
    assert steps._driver is None
    for i in range(min(4, len(x))):
        np.testing.assert_array_equal(fused.execute(x[i:i + 1]), steps.execute(x[i:i + 1]))
        np.testing.assert_array_equal(fused.execute(x[i:i + 1]), g.execute(x[i:i + 1]))  # (gemm_m1 at batch 1)
    np.testing.assert_array_equal(fused.execute(x), g.execute(x))
    q = g.execute(x, return_ints=True)[1]
    np.testing.assert_array_equal(fused.tail(q), g.tail.run(q))
