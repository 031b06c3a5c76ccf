"""`hwgen verify` tells qonnx's float32 rounding ties apart from hwgen bugs (hwgen.verify_ties): on mlp_w8a8
(non-power-of-two scales) the inputs where qonnx's float32 Gemm sum rounds across a quantizer step pass with a
warning (its QCDQ export too); a threshold off by one still fails even on those very inputs; power-of-two scales
(TFC_2W2A) report no ties."""

import shutil

import numpy as np
import pytest

import hwgen.verify as hv
from hwgen.build import build
from hwgen.cli import main
from hwgen.graph import HwGraph
from hwgen.manifest import write_manifest
from hwgen.verify_inputs import raw_inputs
from tests.conftest import ROOT, tfc_model

BREVITAS = ROOT / "tests" / "models" / "brevitas"
TIES = np.load(BREVITAS / "mlp_w8a8_ties.npy")  # inputs where qonnx's float32 sum rounds across a step


@pytest.fixture(scope="module")
def w8a8(tmp_path_factory):
    out = tmp_path_factory.mktemp("w8a8") / "out"
    build(BREVITAS / "mlp_w8a8.onnx", out, log=lambda *a: None)
    return out


def _fixed_inputs(monkeypatch, extra=None):
    """verify's inputs: 40 raw floats plus `extra` (deterministic and fast, instead of the timed boundary climb)."""
    def inputs(graph, n, seed=0, **kw):
        x = raw_inputs(graph, 40, np.random.default_rng(seed))
        if extra is not None:
            x = np.concatenate([x, extra]).astype(np.float32)
        return x, {"raw": 40, "uniform": 0, "aimed": len(x) - 40, "targets": 0, "hit": 0}
    monkeypatch.setattr(hv, "verify_inputs", inputs)


def test_qonnx_float32_ties_pass_with_a_warning(w8a8, monkeypatch, capsys):
    _fixed_inputs(monkeypatch, TIES)
    assert main(["verify", str(w8a8), "--backends", "reference"]) == 0
    text = capsys.readouterr().out
    assert f"{len(TIES)} float32 ties" in text and "'Quant_4' element 28" in text
    assert "warning:" in text and "float64 graph agrees with hwgen" in text and "input 40:" in text
    assert "120.500023" in text  # qonnx's float32 value at the boundary, named
    assert "all bit-exact, except qonnx's float32 ties" in text


def test_qcdq_export_has_the_same_ties(tmp_path, monkeypatch, capsys):
    """The same network exported as QuantizeLinear / DequantizeLinear: onnxruntime's float32 Gemm rounds the same
    way; the float64 graph runs those quantizers in numpy."""
    out = tmp_path / "out"
    build(BREVITAS / "mlp_w8a8_qcdq.onnx", out, log=lambda *a: None)
    _fixed_inputs(monkeypatch, TIES)
    assert main(["verify", str(out), "--backends", "reference"]) == 0
    text = capsys.readouterr().out
    assert f"{len(TIES)} float32 ties" in text and "QuantizeLinear" in text and "120.500023" in text


def test_an_off_by_one_threshold_still_fails_on_tie_inputs(w8a8, tmp_path, monkeypatch, capsys):
    """A threshold off by one step where the first tie input's second-layer accumulator sits: hwgen then
    disagrees with the float64 graph as well as with qonnx on that input, so it is a failure, not a tie."""
    mut = tmp_path / "mut"
    shutil.copytree(w8a8, mut)
    g = HwGraph.load(mut)
    q1 = g.layers[0].execute(g.head_ints(TIES[:1]))
    thr = g.layers[1].thresholds
    acc = (q1.astype(np.int64) @ np.asarray(g.layers[1].weights, dtype=np.int64).T)[0]
    # the threshold nearest to its accumulator (aimed inputs sit at boundaries), moved across it by one or
    # a few steps: the input changes a level in channel c
    c, j = np.unravel_index(int(np.argmin(np.abs(thr - acc[:, None] - 0.5))), thr.shape)
    thr[c, j] = acc[c] + 1 if thr[c, j] <= acc[c] else acc[c]
    assert np.all(np.diff(thr[c]) >= 0)
    assert not np.array_equal(g.run_layers(g.head_ints(TIES[:1])), HwGraph.load(w8a8).run_layers(
        g.head_ints(TIES[:1])))
    g.save(mut)
    (mut / "manifest.json").unlink()
    write_manifest(mut)
    _fixed_inputs(monkeypatch, TIES)
    assert main(["verify", str(mut), "--backends", "reference"]) == 1
    text = capsys.readouterr().out
    assert "reference differs from qonnx (original graph) at input 40" in text and "MISMATCH" in text


def test_power_of_two_scales_report_no_ties(tmp_path, monkeypatch, capsys):
    """TFC_2W2A: power-of-two scales, so qonnx's float32 sums are exact and equal hwgen's on every input, those
    aimed at threshold boundaries included (a shorter climb than verify's default, for time)."""
    out = tmp_path / "out"
    build(tfc_model("TFC_2W2A"), out, log=lambda *a: None)
    real = hv.verify_inputs
    monkeypatch.setattr(hv, "verify_inputs", lambda graph, n, seed=0: real(graph, n, seed, budget_s=3.0))
    assert main(["verify", str(out), "--backends", "reference", "-n", "40"]) == 0
    text = capsys.readouterr().out
    assert "aimed at" in text and "ties" not in text and "warning" not in text and "all bit-exact\n" in text


def test_island_check_reports_ties_too(w8a8, monkeypatch):
    """verify_islands (several islands, or a CPU first layer) compares each hardware island with qonnx on the
    extracted nodes: the same classification applies there (run here on mlp_w8a8's one island)."""
    from hwgen.runtime.accelerator import Accelerator

    _fixed_inputs(monkeypatch, TIES)
    monkeypatch.setattr(hv, "MODEL_SEARCH_S", 0.0)
    acc = Accelerator(w8a8, "reference")
    lines = []
    assert hv.verify_islands(w8a8, acc, acc.graph.model_path, 20, ["reference"], 0, lines.append)
    text = "\n".join(map(str, lines))
    assert f"{len(TIES)} float32 ties" in text and "warning: hardware island 0" in text and "120.500023" in text
