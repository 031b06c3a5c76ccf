"""Issue 13: the board boundary hwgen_dma_top (hwgen.codegen.dma), I/O-aware estimates and folding, constant
depth-1 ROMs. The DMA path through PYNQ's own code is in test_pynq_driver.py; the block designs in
test_vivado_flow.py."""

import ctypes
import json

import numpy as np
import pytest

from hwgen import packing
from hwgen.boards import get_board
from hwgen.build import build, compile_model, summary
from hwgen.codegen.dma import geometry
from hwgen.dtypes import DType
from hwgen.graph import HwGraph
from tests.conftest import ROOT, SHARED

QUIET = dict(log=lambda *a: None)
W3A5 = ROOT / "tests" / "models" / "brevitas" / "mlp_w3a5_narrow.onnx"
DIGITS = ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx"


def _models():
    ms = [W3A5, DIGITS, *sorted((ROOT / "tests" / "models" / "brevitas").glob("*.onnx"))[:2]]
    ms += sorted(SHARED.rglob("TFC_*.onnx")) if SHARED.is_dir() else []
    return list(dict.fromkeys(ms))


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104", "alveo-u50"])
def test_no_estimate_above_the_io_bound(board):
    b = get_board(board)
    for model in _models():
        for target in (None, 5e7):
            g = compile_model(model, board, target_fps=target)
            e = summary(g)["estimate"]
            geo = geometry(g, b.dma_width)
            io = b.clock_mhz * 1e6 * geo.beat_bytes / max(geo.in_stride, geo.out_stride)
            assert e["io_bound_fps"] == pytest.approx(io)
            assert e["fps"] <= e["io_bound_fps"] * (1 + 1e-9) and e["fps"] == min(e["compute_fps"], io)
            if target is None and e["compute_fps"] > io:
                assert "stopped at the I/O bound" in g.meta["folding"]["mode"], model.name


def test_fastest_tfc_stops_at_the_dma(tmp_path):
    tfc = sorted(SHARED.rglob("TFC_1W1A*.onnx")) if SHARED.is_dir() else []
    if not tfc:
        pytest.skip("../shared TFC models absent")
    s = build(tfc[0], tmp_path / "o", board="pynq-z2", **QUIET)
    e = s["estimate"]
    # 98 input bytes -> 13 beats of 8 bytes: at most 100 MHz / 13 frames/s, and folded for it, not for 1 cycle
    assert e["io_cycles_per_frame"] == 13 and e["fps"] == pytest.approx(1e8 / 13)
    assert e["cycles_per_frame"] > 1 and "stopped at the I/O bound" in s["folding"]["mode"]


def _ints(g, n, seed=0):
    """n random input frames of the hardware graph (integers) and what the reference makes of them."""
    i = g.design().input
    q = i.dtype.random(np.random.default_rng(seed), (n, i.words_per_frame * i.elems_per_word))
    return q, g.run_layers(q).reshape(n, -1)


@pytest.mark.parametrize("board,fold", [("pynq-z2", None), ("zcu104", {"SIMD": 8})])
def test_hls_dma_top_csim(board, fold, tmp_path):
    """The HLS board boundary in C simulation (processes concurrent on FIFOs of their depths): words wider (40
    bytes) and narrower (5 bytes) than the beat, one output TLAST, on the batch's last beat; a batch that is not a
    multiple of the frames per invocation is padded as the driver pads it."""
    from hwgen.sim.csim import DmaCsim

    fold_file = None
    if fold:
        fold_file = tmp_path / "fold.json"
        fold_file.write_text(json.dumps({"MVAU_0": fold}))
    out = tmp_path / "o"
    build(W3A5, out, board=board, folding_file=fold_file, **QUIET)
    g = HwGraph.load(out)
    geo = geometry(g, get_board(board).dma_width)
    assert (geo.in_word_bytes > geo.beat_bytes) == (fold is None)
    from hwgen.codegen.dma import frames_per_call

    assert frames_per_call(g) == 16
    sim = DmaCsim(out, g, get_board(board).dma_width, tmp_path / "dma.so")
    n = 2 * frames_per_call(g)  # two invocations of the top
    q, ref = _ints(g, n)
    y, tlast = sim.run_ints(q)
    np.testing.assert_array_equal(y, ref)
    assert tlast.nonzero()[0].tolist() == [len(tlast) - 1]
    q, ref = _ints(g, 21, seed=1)
    y, tlast = sim.run_ints(q)
    np.testing.assert_array_equal(y, ref)
    assert len(tlast) == 32 * geo.out_frame_beats and tlast.nonzero()[0].tolist() == [len(tlast) - 1]


@pytest.mark.slow
def test_depth1_roms_are_constants(tmp_path):
    """Fully unrolled weights / thresholds are Verilog constants (no .mem, no load enable), still bit-exact."""
    from hwgen.runtime.accelerator import Accelerator

    out = tmp_path / "o"
    build(DIGITS, out, target_fps=1e8, **QUIET)
    g = HwGraph.load(out)
    unrolled = [lay for lay in g.layers if lay.op == "MVAU" and lay.pe == lay.mh and lay.simd == lay.mw]
    assert unrolled
    for lay in unrolled:
        v = (out / "rtl" / f"hwgen_top_{lay.name}.v").read_text()
        assert "$readmemh" not in v and "WEIGHT_FILE" not in v and "wire [" in v
        assert not (out / "rtl" / f"hwgen_top_{lay.name}_weights.mem").exists()
    x = np.random.default_rng(0).integers(0, 17, (30, 64)).astype(np.float32) / 16
    np.testing.assert_array_equal(Accelerator(out, "rtlsim").execute(x), Accelerator(out).execute(x))


def _frames(g, geo, n, seed=0):
    i = g.design().input
    q = i.dtype.random(np.random.default_rng(seed), (n, i.words_per_frame * i.elems_per_word))
    ref = g.run_layers(q).reshape(n, -1)
    words = packing.pack_bytes(q, i.dtype, i.elems_per_word).reshape(n, -1)
    buf = np.zeros((n, geo.in_stride), np.uint8)
    buf[:, :words.shape[1]] = words
    return buf, ref


def _unframe(g, geo, raw, n):
    last = g.design().output
    o = raw.reshape(n, geo.out_stride)
    assert not o[:, geo.out_frame_bytes:].any(), "beat padding must be zero"
    o = o[:, :geo.out_frame_bytes].reshape(-1, geo.out_word_bytes)
    return packing.unpack_bytes(o, last.dtype, last.elems_per_word).reshape(n, -1)


def _one_beat_frames_pipeline(tmp_path):
    """12 thresholding layers at PE = C: one 8-byte beat in and one out per frame, one frame per cycle, a
    pipeline of ~50 cycles, every FIFO 64 words deep."""
    from hwgen.build import write_build
    from hwgen.layers import Thresholding
    from tests.handmade import handmade_graph

    rng = np.random.default_rng(3)
    u4, u8 = DType(4, False), DType(8, False)
    layers = [Thresholding(f"Thr_{i}", u8 if i == 0 else u4,
                           np.sort(rng.integers(0, 256 if i == 0 else 16, (8, 15)), axis=1), u4, num_vectors=1, pe=8)
              for i in range(12)]
    g = handmade_graph(layers, input_shape=[1, 8])
    g.fifo_depths = {s.name: 64 for s in g.design().streams}
    out = tmp_path / "o"
    write_build(g, out, **QUIET)
    return out


@pytest.mark.slow
def test_rtl_flag_queue_holds_every_frame_in_flight(tmp_path, monkeypatch):
    """The RTL board boundary keeps one batch-end flag per frame between its gearboxes. One-beat frames through a
    deep pipeline with deep FIFOs: with the rule's queue (flag_queue_depth) the design takes a frame per cycle,
    bit-exact, also with output back-pressure; a queue of 8 flags throttles it (the fixed 32 before did too: 522
    instead of 438 cycles for these 400 frames)."""
    from hwgen.codegen import dma
    from hwgen.runtime.dma_rtlsim import DmaRtlsim

    out = _one_beat_frames_pipeline(tmp_path)
    g = HwGraph.load(out)
    geo = geometry(g, get_board("pynq-z2").dma_width)
    assert geo.in_frame_beats == geo.out_frame_beats == 1
    n = 400
    buf, ref = _frames(g, geo, n)
    flags = dma.flag_queue_depth(g.design())
    assert flags >= 12 * 64  # every FIFO full of frames
    assert f"DEPTH({flags})" in (out / "rtl" / "hwgen_dma_top.v").read_text()

    def run(sim, **kw):
        beats, tlast, st = sim.run(buf.reshape(-1, geo.beat_bytes), max_out=n * geo.out_frame_beats, **kw)
        np.testing.assert_array_equal(_unframe(g, geo, beats.ravel(), n), ref)
        assert tlast.nonzero()[0].tolist() == [n - 1]
        return st["last_out"] - st["first_in"]

    sim = DmaRtlsim(out)
    cycles = run(sim)
    assert cycles < n + 100, cycles  # a frame per cycle after the pipeline's fill
    run(sim, p_in=0.9, p_out=0.3)
    # the same design with a queue of 8 flags: the input waits for flags, ~pipeline length / 8 cycles per frame
    monkeypatch.setattr(dma, "flag_queue_depth", lambda design: 8)
    dma.write_dma_wrapper_rtl(out / "rtl", g, get_board("pynq-z2").dma_width)
    assert run(DmaRtlsim(out)) > 3 * n
