"""Acceptance (issue 18, item 1): C simulation as the hardware runs it. Every ../shared TFC model and CNV-1W1A at
FINN's fold_cnv_large, at the rule's FIFO depths and at `--size-fifos` depths, runs through the dataflow C
simulation (processes concurrent, every stream a FIFO of its pragma depth: templates/hls/hwgen_csim.hpp)
bit-exact and without deadlock, in both HLS tops: hwgen_top (the csim backend) and the board top hwgen_dma_top
(HLS_FRAMES_PER_CALL frames per invocation, per-frame end-of-batch flags) with two invocations' frames and with a
batch the driver pads. The other tests/models/cnn models go through both tops in tests/test_cnn_backends.py
(their builds are made there), resnet_w4a4 at --size-fifos depths and with a skip FIFO made too shallow (the
deadlock error naming it) in tests/test_dag_sim.py; the hand-made skip connection's deadlock message in
tests/test_dag_sim.py too."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hwgen.boards import get_board
from hwgen.build import build, compile_model
from hwgen.codegen.dma import BLOCK_SLACK_WORDS, HLS_FRAMES_PER_CALL, fifo_capacity, flag_queue_depth
from hwgen.graph import HwGraph
from hwgen.runtime.accelerator import Accelerator
from hwgen.sim.csim import DmaCsim
from tests.conftest import tfc_model

from tests.tools import require_module  # noqa: E402

require_module("hls4ml", "C simulation needs the ap_types headers (pip install hls4ml)")

QUIET = dict(log=lambda *a, **k: None)


def both_tops(out, tmp_path, n: int = 2 * HLS_FRAMES_PER_CALL, seed: int = 0) -> dict:
    """hwgen_top through the csim backend and hwgen_dma_top (DmaCsim) on n random integer frames, each bit-exact
    with the reference backend; the DMA top on all n and on a batch of HLS_FRAMES_PER_CALL + 3 (padded by the
    driver's rule). Returns what it checked."""
    g = HwGraph.load(out)
    i = g.design().input
    q = i.dtype.random(np.random.default_rng(seed), (n, i.words_per_frame * i.elems_per_word))
    want = Accelerator(out, "reference").execute_ints(q)
    np.testing.assert_array_equal(Accelerator(out, "csim").execute_ints(q), want, err_msg="hwgen_top")
    sim = DmaCsim(out, g, get_board(g.meta["board"]).dma_width, tmp_path / "dma.so")
    k = sim.frames_per_call
    for m in sorted({n, min(n, k + 3)}):
        y, tlast = sim.run_ints(q[:m])
        np.testing.assert_array_equal(y, want[:m], err_msg=f"hwgen_dma_top, {m} frames")
        assert tlast.nonzero()[0].tolist() == [len(tlast) - 1]  # the batch's (padded) last beat
    return {"frames_per_call": k, "flag_queue_depth": flag_queue_depth(g.design())}


def test_tfc_1w1a_both_tops(tmp_path):
    out = tmp_path / "o"
    build(tfc_model("TFC_1W1A"), out, target_fps=1e6, **QUIET)
    got = both_tops(out, tmp_path)
    assert got["frames_per_call"] == HLS_FRAMES_PER_CALL
    # the flag queue holds the frames that can be in flight (a chain: one term per stream and process, + 2; a
    # stream out of a block also holds that block's pipeline words)
    d = HwGraph.load(out).design()

    def slack(src):  # a matrix block holds its pipeline's words too
        words = getattr(d.by_name.get(src), "pipeline_words", None)
        return max(BLOCK_SLACK_WORDS, words() if words else 0)
    want = sum(2 + (fifo_capacity(s.depth) + (slack(s.src) if s.src else 0)) // s.words_per_frame for s in d.streams)
    assert got["flag_queue_depth"] == want + 1
    text = (out / "hls" / "hwgen_dma_top.cpp").read_text()
    assert f"#pragma HLS STREAM variable=last_q depth={got['flag_queue_depth']}" in text


@pytest.mark.slow
@pytest.mark.parametrize("name", ["TFC_1W2A", "TFC_2W2A"])
def test_tfc_both_tops(name, tmp_path):
    out = tmp_path / "o"
    build(tfc_model(name), out, target_fps=1e6, **QUIET)
    both_tops(out, tmp_path)


@pytest.mark.slow
def test_tfc_1w1a_at_sized_depths(tmp_path):
    out = tmp_path / "o"
    s = build(tfc_model("TFC_1W1A"), out, size_fifos=True, **QUIET)
    assert s["fifos"]["depths"]
    both_tops(out, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("size_fifos", [False, True], ids=["rule_depths", "sized_depths"])
def test_cnv_1w1a_fold_cnv_large(size_fifos, tmp_path):
    """CNV-1W1A at fold_cnv_large: the board top deadlocked at these depths before the per-frame flag (its end flag
    was written once after all 16 frames and read before the first output beat)."""
    from tests.cnn_models import model_path
    from tests.handmade_cnv import fold_cnv_large_file

    model = model_path("cnv_1w1a.onnx.gz", tmp_path)
    names = [lay.name for lay in compile_model(model).layers if lay.op in ("MVAU", "VVAU")]
    (tmp_path / "FOLD.json").write_text(json.dumps(fold_cnv_large_file(names)))
    out = tmp_path / "o"
    build(model, out, folding_file=tmp_path / "FOLD.json", size_fifos=size_fifos, **QUIET)
    both_tops(out, tmp_path)


@pytest.mark.slow
def test_concat_pad_at_sized_depths(tmp_path):
    """concat_pad_w4a4 at --size-fifos depths: the Verilator sizing alone leaves the Concat's first input too shallow
    for the HLS processes (they hold fewer words than the RTL blocks' output registers); the sizing's C-simulation
    step deepens it, and both tops run."""
    from tests.cnn_models import model_path

    out = tmp_path / "o"
    s = build(model_path("concat_pad_w4a4.onnx", tmp_path), out, size_fifos=True, **QUIET)
    assert any("Concat" in k for k in s["fifos"]["csim_deepened"]), s["fifos"]["csim_deepened"]
    both_tops(out, tmp_path)
