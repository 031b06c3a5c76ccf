"""Folding and memory planning of conv graphs, on a handmade CNV-1W1A (tests/handmade_cnv.py: FINN's CNV shapes,
random bipolar weights): FOLD.json keyed by the matrix layers' names (fold_cnv_large), sliding-window generators
tied to their consumers, pools never the bottleneck, the fastest design and --target-fps on pynq-z2, line buffers
and weights in the memory plan with their efficiency."""

import json

import numpy as np
import pytest

from hwgen.boards import get_board
from hwgen.build import summary
from hwgen.errors import FoldingError
from hwgen.fold import fold_graph
from hwgen.fold.units import tied_simd
from tests.handmade_cnv import CNV_BOUND_CYCLES, FOLD_CNV_LARGE, cnv_graph, fold_cnv_large_file, matrix_layers

PYNQ_Z2 = get_board("pynq-z2")


def _fold(g, tmp_path=None, fold=None, **kw):
    ff = None
    if fold is not None:
        ff = tmp_path / "FOLD.json"
        ff.write_text(json.dumps(fold))
    g.meta["folding"] = fold_graph(g.layers, PYNQ_Z2, folding_file=ff, edges=g.edges, **kw)
    return g.meta["folding"]


@pytest.fixture(scope="module")
def cnv_large(tmp_path_factory):
    g = cnv_graph()
    fold = fold_cnv_large_file([lay.name for lay in matrix_layers(g.layers)])
    ex = _fold(g, tmp_path_factory.mktemp("fold"), fold)
    return g, ex, summary(g)


def test_fold_cnv_large_is_a_file_of_the_nine_matrix_layers(cnv_large):
    g, ex, s = cnv_large
    mat = [lay for lay in s["layers"] if lay["op"] in ("MVAU", "VVAU")]
    assert [(lay["pe"], lay["simd"]) for lay in mat] == FOLD_CNV_LARGE
    assert [lay["name"] for lay in mat] == [f"MVAU_{i}" for i in range(9)]  # graph order
    assert s["estimate"]["cycles_per_frame"] == CNV_BOUND_CYCLES
    assert round(s["estimate"]["fps"]) == 3052
    assert s["estimate"]["bottleneck"] == ex["bottleneck"] == "MVAU_6"
    assert ex["layers"]["MVAU_6"]["why"].startswith("bottleneck: set by the folding file")


def test_sliding_windows_follow_their_consumer_and_pools_keep_up_cheaply(cnv_large):
    g, ex, _ = cnv_large
    simd = {lay.name: lay.simd for lay in g.layers}
    # conv generators: the MVAU's SIMD (it divides the channels); pool generators: the pool's PE
    assert [simd[f"SWG_{i}"] for i in (0, 1, 3, 4, 6, 7)] == [3, 32, 32, 32, 32, 32]
    assert simd["SWG_2"] == g.node("Pool_0").pe and simd["SWG_5"] == g.node("Pool_1").pe
    assert all(lay.cycles() <= CNV_BOUND_CYCLES for lay in g.layers)
    for p in ("Pool_0", "Pool_1"):
        assert "the rate the folding file sets" in ex["layers"][p]["why"]
    assert g.node("Pool_0").pe >= 2  # PE 1 would take 50,176 cycles: the bottleneck
    assert ex["layers"]["SWG_1"]["why"] == "tied to MVAU_1's input word (SIMD 32)"


def test_tied_simd_is_the_largest_divisor_of_the_channels_dividing_the_consumer_word():
    g = cnv_graph()
    swg0, mvau0, swg1, mvau1 = g.layers[:4]
    mvau0.set_folding(1, 27)  # SIMD 27 over 3 channels: the generator gives whole pixels
    assert tied_simd(swg0, mvau0) == 3
    mvau1.set_folding(1, 48)  # 48 does not divide 64 channels: 16 does, and divides 48
    assert tied_simd(swg1, mvau1) == 16
    mvau1.set_folding(1, 576)
    assert tied_simd(swg1, mvau1) == 64


def test_a_folding_file_may_name_a_generator_too(tmp_path):
    g = cnv_graph()
    fold = fold_cnv_large_file([lay.name for lay in matrix_layers(g.layers)])
    fold["SWG_1"] = {"SIMD": 64}
    ex = _fold(g, tmp_path, fold)
    assert g.node("SWG_1").simd == 64 and ex["layers"]["SWG_1"]["why"] == "set by the folding file"
    assert g.node("SWG_3").simd == 32


def test_fastest_cnv_on_pynq_z2_fits_and_names_its_bottleneck():
    g = cnv_graph()
    ex = _fold(g)
    s = summary(g)
    cap, tot = s["totals"]["capacity"], s["totals"]["estimate"]
    assert all(tot[r] <= 0.9 * cap[r] for r in cap if cap[r])
    assert s["estimate"]["cycles_per_frame"] == ex["cycles_per_frame"] < CNV_BOUND_CYCLES
    # the first generator cannot go faster than its 3 channels per word: it is the floor
    assert ex["bottleneck"] == "SWG_0" and g.node("SWG_0").simd == 3


def test_target_fps_reached_within_budget_or_refused_naming_the_layer():
    g = cnv_graph()
    ex = _fold(g, target_fps=3052)
    assert ex["cycles_per_frame"] <= 32765 and "over the board's budget" not in ex["mode"]
    s = summary(g)
    assert all(v is None or v <= 1 for v in s["totals"]["utilization"].values())
    with pytest.raises(FoldingError, match=r"layer SWG_0 \(tied to MVAU_0\) cannot reach 2000 cycles"):
        _fold(cnv_graph(), target_fps=50_000)


def test_memory_plan_maps_line_buffers_and_weights_with_efficiency(cnv_large):
    _, _, s = cnv_large
    mem = s["memory"]
    lb = mem["layers"]["SWG_1"]["line_buffer"]
    # (2 lines + 3 pixels) x 64 channels / 32 per word = 126 words of 32 bits: one BRAM18 (as yosys maps it)
    assert (lb["kind"], lb["style"], lb["depth"], lb["width"], lb["bram18"]) == ("ram", "block", 126, 32, 1)
    assert lb["efficiency"] == round(126 * 32 / 18432, 4)
    w = mem["layers"]["MVAU_5"]["weights"]
    assert (w["kind"], w["style"]) == ("rom", "block") and w["bram18"] > 0
    t = mem["totals"]
    assert t["bits"] == sum(m["bits"] for ms in mem["layers"].values() for m in ms.values())
    assert t["efficiency_all"] == round(t["bits"] / t["allocated_bits"], 4)
    assert set(t["by_style"]) == {"distributed", "block"}
    # the generator's estimate carries its line buffer
    e = next(lay for lay in s["layers"] if lay["name"] == "SWG_1")["resources"]["estimate"]
    assert (e["bram18"], e["lutram"]) == (lb["bram18"], lb["lutram_luts"])
    small = mem["layers"]["SWG_3"]["line_buffer"]  # 62 words: LUTRAM
    assert small["style"] == "distributed" and small["lutram_luts"] > 0 and small["bram18"] == 0


def test_target_over_the_budget_says_which_resource_and_layers():
    from hwgen.fold.search import search

    g = cnv_graph()
    small = dict(PYNQ_Z2.resources, luts=6000)
    ex = search(g.layers, small, 100.0, target_fps=3052, edges=g.edges)
    assert ex["over_budget"].startswith("luts: ") and "largest: MVAU_" in ex["over_budget"]
    assert "over the board's budget" in ex["mode"]
    with pytest.raises(FoldingError, match=r"does not fit the board's budget \(luts: .*largest: MVAU_"):
        search(cnv_graph().layers, dict(PYNQ_Z2.resources, luts=500), 100.0)


@pytest.mark.slow
def test_cnv_large_rtlsim_measures_the_bound(tmp_path):
    """rtlsim of the handmade CNV-1W1A at fold_cnv_large: bit-exact, within 2 % of 32,768 cycles per frame, every
    matrix and pool layer within 5 % of cycles(). A sliding-window generator in a pipeline slower than it has no
    measurable period of its own (its input and output sides move at different cycles than alone), so it is held
    only to never needing more than cycles(); tests/test_window_kinds.py measures it alone."""
    from hwgen.build import write_build
    from hwgen.runtime.accelerator import Accelerator
    from tests.handmade import random_input

    g = cnv_graph()
    _fold(g, tmp_path, fold_cnv_large_file([lay.name for lay in matrix_layers(g.layers)]))
    write_build(g, tmp_path / "out", log=lambda *_: None)
    x = random_input(g, 6)
    acc = Accelerator(tmp_path / "out", "rtlsim")
    assert np.array_equal(acc.execute(x), Accelerator(tmp_path / "out").execute(x))
    st = acc.stats()
    assert abs(st["cycles_per_frame"] / CNV_BOUND_CYCLES - 1) <= 0.02, st["cycles_per_frame"]
    ops = {lay.name: lay.op for lay in g.layers}
    for name, v in st["layers"].items():
        ratio = v["active_cycles"] / v["estimate"]
        if ops[name] == "SWG":
            assert ratio <= 1.05, (name, v)
        else:
            assert abs(ratio - 1) <= 0.05, (name, v)


def test_depthwise_order_generator_takes_the_vvau_pe(tmp_path):
    """SWG (depthwise order) -> VVAU (depthwise order, SIMD kernel positions per word): the generator's SIMD is
    the VVAU's PE, whatever SIMD the folding file sets, and the graph stays exact."""
    from hwgen.dtypes import from_name
    from hwgen.layers import conv_kernels as ck
    from hwgen.layers.swg import SlidingWindow
    from tests.conv_graphs import dw_vvau, rand
    from tests.handmade import handmade_graph

    rng = np.random.default_rng(3)
    idt, wdt = from_name("UINT3"), from_name("INT3")
    w = rand(rng, wdt, (12, 1, 3, 3))  # 12 channels: PE x SIMD = 6 divides them, yet the generator needs 2
    swg = SlidingWindow("SWG_0", idt, (6, 6), 12, (3, 3), order="depthwise")
    vv = dw_vvau("VVAU_0", idt, w, wdt, from_name("UINT3"), (4, 4), 1, rng, order="depthwise")
    g = handmade_graph([swg, vv], input_shape=[1, 6, 6, 12])
    _fold(g, tmp_path, {"VVAU_0": {"PE": 2, "SIMD": 3}})
    assert (swg.simd, vv.pe, vv.simd) == (2, 2, 3)
    x = rand(rng, idt, (3, 6, 6, 12))
    want = ck.depthwise_conv(x, w, thresholds=vv.thresholds, out_base=vv.out_base)
    np.testing.assert_array_equal(g.run_layers(x).reshape(len(x), -1), want.reshape(len(x), -1))
