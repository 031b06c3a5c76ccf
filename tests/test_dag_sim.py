"""The simulators on a branching graph (tests/skip_graph.py: a skip connection whose long branch holds a whole
frame): rtlsim and csim bit-exact with the reference, per-layer and per-stream figures on the fork and the join,
and no silent deadlock: with the short branch's FIFO too shallow the watchdog stops rtlsim within its bound, and
csim (its processes concurrent on FIFOs of the same depths) stops at once; both name the join, the empty stream
and the full FIFO to deepen."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hwgen.build import write_build
from hwgen.codegen.rtl import fifo_style
from hwgen.errors import ToolError
from hwgen.runtime.accelerator import Accelerator
from tests.skip_graph import SHORT, skip_graph, skip_reference, use_templates

PE = 4


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    use_templates(tmp_path_factory.mktemp("skip_templates"))


def _frames(n, seed=0):
    return np.random.default_rng(seed).integers(0, 16, (n, 4 * 8 * 8))


def test_skip_connection_bit_exact_with_figures(templates, tmp_path):
    g = skip_graph(short_depth=64)  # a frame (64 words): the long branch never stalls the short one
    out = tmp_path / "skip"
    write_build(g, out, log=lambda *a: None)
    q = _frames(12)
    want = skip_reference(q, PE)
    np.testing.assert_array_equal(Accelerator(out, "reference").execute_ints(q).reshape(len(q), -1), want)
    np.testing.assert_array_equal(Accelerator(out, "csim").execute_ints(q), want)
    acc = Accelerator(out, "rtlsim")
    np.testing.assert_array_equal(acc.execute_ints(q), want)
    st = acc.stats()
    # Rev_0 fills then drains a frame: 2 x 64 cycles per frame, the whole graph runs at its rate
    assert st["cycles_per_frame"] == 128, st
    lay = st["layers"]
    assert lay["Fork_0"]["timing_from"] == "input" and lay["Join_0"]["timing_from"] == "output"
    for name in ("Fork_0", "Rev_0", "Join_0"):
        assert lay[name]["cycles_per_frame"] == 128, (name, lay[name])
        assert abs(lay[name]["active_cycles"] - lay[name]["estimate"]) <= 0.05 * lay[name]["estimate"], lay[name]
    s = st["streams"]
    assert set(s) == {"in0__Fork_0", "Fork_0_o1__Rev_0", SHORT, "Rev_0__Join_0_i1", "Join_0__out"}
    # the short branch holds the frame (a 64-word FIFO is a LUTRAM ring, whose output register holds one word
    # more: hwgen_fifo's "ram" style)
    assert s[SHORT]["depth"] == 64 and s[SHORT]["max_occupancy"] == 64 + (fifo_style(64) == "ram")
    assert all(v["cycles_per_frame"] == 128 for v in s.values()), s
    # raw stamps: first / last word of every frame on both wires of every stream
    stamps = acc.backend.stream_stamps()
    assert stamps[SHORT].shape == (2, 12) and stamps[f"{SHORT}_w"].shape == (2, 12)
    assert np.all(stamps["Rev_0__Join_0_i1"][0] > stamps["Fork_0_o1__Rev_0"][1])  # Rev_0 emits after its frame


def test_shallow_short_branch_is_named(templates, tmp_path):
    g = skip_graph(short_depth=4)
    out = tmp_path / "shallow"
    write_build(g, out, log=lambda *a: None)
    q = _frames(3)
    with pytest.raises(ToolError) as e:
        Accelerator(out, "csim").execute_ints(q)
    msg = str(e.value)
    assert "the dataflow processes deadlocked" in msg, msg
    assert f"Fork_0 waits to write stream {SHORT} (Fork_0 -> Join_0, depth 4): full, 4 words" in msg, msg
    assert "Join_0 waits to read stream Rev_0__Join_0_i1 (Rev_0 -> Join_0, depth 2): empty" in msg, msg
    assert f"Join_0 waits for data on stream Rev_0__Join_0_i1 while stream {SHORT} is full" in msg, msg
    assert f"deepen the FIFO of stream '{SHORT}' (HwGraph.fifo_depths" in msg, msg
    acc = Accelerator(out, "rtlsim", watchdog=500)
    t = time.perf_counter()
    with pytest.raises(ToolError) as e:
        acc.execute_ints(q)
    msg = str(e.value)
    assert time.perf_counter() - t < 30
    assert "deadlock at the join Join_0" in msg, msg
    assert "waits for data on stream Rev_0__Join_0_i1" in msg, msg
    assert f"stream {SHORT} (Fork_0 -> Join_0) is full" in msg and "depth 4" in msg, msg
    assert f"deepen the FIFO of stream '{SHORT}'" in msg, msg
    assert "in0__Fork_0'" not in msg  # above the fork: not the culprit
    assert "no stream moved for 500 cycles" in msg


def test_size_fifos_on_a_skip_connection(templates, tmp_path, monkeypatch):
    """--size-fifos on the skip connection, from a deep start that itself deadlocks (no frame added to the
    branch FIFOs): the deadlock is named, the short branch deepened, and the sizing ends deadlock-free at the
    deep design's rate, with the short branch about a frame deep."""
    from hwgen.graph import HwGraph
    from hwgen.sim import fifo_sizing

    monkeypatch.setattr(fifo_sizing, "JOIN_FRAMES", 0)
    logs = []
    out = tmp_path / "sized"
    s = write_build(skip_graph(), out, size_fifos=True, log=logs.append)
    f = s["fifos"]
    assert any("deep design deadlocks: deepening Fork_0__Join_0" in m for m in logs), logs
    assert f["cycles_per_frame_sized"] == f["cycles_per_frame_deep"] == 128
    assert 32 < f["depths"][SHORT] <= 64 and f["verilator_builds"] == 3, f
    assert all(d <= 2 for k, d in f["depths"].items() if k != SHORT), f
    q = _frames(8)
    acc = Accelerator(out, "rtlsim")
    np.testing.assert_array_equal(acc.execute_ints(q), skip_reference(q, PE))
    assert acc.stats()["cycles_per_frame"] == 128
    assert HwGraph.load(out).fifo_depths == f["depths"]


def test_sizing_fifo_is_the_real_fifo(templates, tmp_path):
    """The run-time-depth FIFO of the sizing model behaves cycle for cycle as the real one (SRL style up to 64
    words, the depth-1 case included; RAM style above): same output, same stamps on every wire."""
    from hwgen.codegen.rtl_project import write_rtl_project
    from hwgen.runtime.rtlsim import RtlsimBackend
    from hwgen.sim.fifo_sizing import SizingModel

    g = skip_graph()
    q = _frames(5)
    names = [s.name for s in g.design().streams]
    model = SizingModel(tmp_path / "model", g, {k: 80 for k in names}, q)
    for others, short in [(1, 70), (3, 64)]:
        depths = {k: (short if k == SHORT else others) for k in names}
        assert np.isfinite(model.run(depths))
        write_rtl_project(tmp_path / f"r{others}" / "rtl", g, fifo_depths=depths)
        be = RtlsimBackend(tmp_path / f"r{others}", g, record=False)
        np.testing.assert_array_equal(be.run_ints(q), skip_reference(q, PE))
        a, b = model.be.stream_stamps(), be.stream_stamps()
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=(others, short, k))


def test_csim_names_a_stream_short_of_a_frame(templates, tmp_path):
    """A producer that writes less than a frame is named (its consumer waits for a word that never comes), not
    read as zeros from an empty stream."""
    import shutil

    from hwgen.manifest import write_manifest

    out = tmp_path / "csim"
    write_build(skip_graph(short_depth=64), out, log=lambda *a: None)
    top = (out / "hls" / "hwgen_top.cpp").read_text()
    assert f"#pragma HLS STREAM variable={SHORT} depth=64" in top
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    h = broken / "hls" / "Rev_0.hpp"
    text = h.read_text()
    assert "i >= 0; i--" in text
    h.write_text(text.replace("i >= 0; i--", "i >= 1; i--"))  # drops the frame's first word
    (broken / "manifest.json").unlink()
    write_manifest(broken)
    q = _frames(2)
    np.testing.assert_array_equal(Accelerator(out, "csim").execute_ints(q), skip_reference(q, PE))
    with pytest.raises(ToolError, match=r"stream Rev_0__Join_0_i1 \(Rev_0 -> Join_0, depth \d+\): Rev_0 returned from "
                                        r"its last invocation after writing 126 words \(64 per invocation\), Join_0 "
                                        r"waits for more"):
        Accelerator(broken, "csim").execute_ints(q)


def test_stall_diagnosis_walks_the_backed_up_branch_to_the_fork():
    """hwgen.sim.stall on a status made by hand (no simulation): a width converter on the short branch; both of
    its FIFOs full, the join's other input empty: both are named, nearest the join first, up to the fork (not
    above it); without a join waiting, the chain message."""
    from hwgen.codegen.rtl_project import plan
    from hwgen.dtypes import from_name
    from hwgen.graph import Edge
    from hwgen.sim.stall import stall_message, to_deepen
    from tests.handmade import handmade_graph
    from tests.skip_graph import EvenOdd, Fork, ReverseFrame

    dt = from_name("UINT4")
    layers = [Fork("Fork_0", dt, 8, pe=4, num_vectors=4), ReverseFrame("Rev_0", dt, 8, pe=4, num_vectors=4),
              EvenOdd("Join_0", dt, 8, pe=2, num_vectors=4)]
    edges = [Edge(None, 0, "Fork_0", 0), Edge("Fork_0", 0, "Join_0", 0), Edge("Fork_0", 1, "Rev_0", 0),
             Edge("Rev_0", 0, "Join_0", 1), Edge("Join_0", 0, None, 0)]
    m = plan(handmade_graph(layers, edges=edges, input_shape=[1, 1, 4, 8]))
    names = [f["stream"] for f in m["fifos"]]
    short = [n for n in names if n.startswith("Fork_0__dwc") or n.startswith("dwc_Fork_0_Join_0__")]
    assert len(short) == 2, names
    wires = [{"count": 0, "valid": 0, "ready": 1, "last_move": 0} for _ in m["streams"]]
    fifo = {f["stream"]: f for f in m["fifos"]}
    for n in short + ["in0__Fork_0"]:  # full, producer blocked
        wires[fifo[n]["in_wire"]].update(valid=1, ready=0)
        wires[fifo[n]["out_wire"]].update(valid=1, ready=0)
    st = {"status": "stall", "cycles": 900, "outputs": 0, "streams": wires,
          "fifos": [{"occupancy": 2, "max_occupancy": 2} for _ in m["fifos"]]}
    msg = stall_message(m, st, 1, 500)
    into_join = next(n for n in short if n.endswith("__Join_0"))
    assert msg.startswith("rtlsim: design stalled: deadlock at the join Join_0"), msg
    assert to_deepen(m, st, 1) == [into_join, next(n for n in short if n != into_join)]
    assert "so Fork_0 cannot send on its other branch" in msg and "'in0__Fork_0'" not in msg
    for n in short:  # no join waiting: the chain's message
        wires[fifo[n]["out_wire"]].update(valid=0, ready=1)
    wires[fifo[into_join]["out_wire"]].update(valid=1, ready=0)
    j = fifo[next(s["name"] for s in m["design_streams"] if s["dst"] == "Join_0" and s["dst_port"] == 1)]
    wires[j["out_wire"]].update(valid=1, ready=1)
    assert "deadlock" not in stall_message(m, st, 1, 500)


@pytest.mark.slow
def test_size_fifos_resnet_deadlock_free(tmp_path):
    """--size-fifos on resnet_w4a4 (two skip connections, one with a strided 1x1 downsample on the short branch):
    one deep model and one confirming build, the deep design's rate kept, the skip FIFOs well under the join rule,
    rtlsim bit-exact with the reference at the sized depths."""
    from hwgen.build import build
    from tests.cnn_models import io_pair, model_path

    out = tmp_path / "o"
    s = build(model_path("resnet_w4a4.onnx", tmp_path), out, size_fifos=True, log=lambda *a: None)
    f = s["fifos"]
    assert f["cycles_per_frame_sized"] == f["cycles_per_frame_deep"] and f["verilator_builds"] == 2, f
    skips = [k for k in f["depths"] if "AddStreams" in k.split("__")[1] and k.split("__")[1].endswith("_i1")]
    assert skips and all(f["depths"][k] < f["rule_depths"][k] for k in skips), f
    x, _ = io_pair("resnet_w4a4.onnx")
    acc = Accelerator(out, "rtlsim")
    np.testing.assert_array_equal(acc.execute(x), Accelerator(out, "reference").execute(x))
    assert acc.stats()["cycles_per_frame"] == f["cycles_per_frame_deep"]
    # the dataflow C simulation at the sized depths: both HLS tops bit-exact, no deadlock
    from tests.test_dataflow_csim import both_tops

    both_tops(out, tmp_path)
    # a skip FIFO too shallow for what the long branch holds back: csim stops with the deadlock, naming it
    from hwgen.codegen.hls import write_graph_project
    from hwgen.graph import HwGraph
    from hwgen.sim.csim import CsimAccelerator

    g = HwGraph.load(out)
    skip = max(skips, key=f["depths"].get)  # the one holding most: 2 words cannot do
    g.fifo_depths = dict(g.fifo_depths, **{skip: 2})
    shallow = CsimAccelerator(write_graph_project(tmp_path / "shallow", g), opt="-O2")
    q = g.head_ints(x)
    with pytest.raises(ToolError) as e:
        shallow.run(q)
    msg = str(e.value)
    assert "the dataflow processes deadlocked" in msg and f"deepen the FIFO of stream '{skip}'" in msg, msg
    assert f"waits to write stream {skip} (" in msg and ", depth 2): full, 2 words" in msg, msg
