"""Acceptance: the TFC models through `hwgen build` + `hwgen run --backend reference` on all 10,000 MNIST test
images equal qonnx's execution of the original graph, and reach the published accuracies."""

import json
import subprocess
import sys

import numpy as np
import pytest

from hwgen.cli import main
from tests.conftest import TFC_ACCURACY, qonnx_golden, tfc_model


@pytest.mark.parametrize("name", sorted(TFC_ACCURACY))
def test_tfc_reference_bit_exact_full_mnist(name, mnist, tmp_path):
    model = tfc_model(name)
    x, labels = mnist
    out = tmp_path / "build"
    assert main(["build", str(model), "-o", str(out), "-q"]) == 0
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(out), "--backend", "reference", "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npy")]) == 0
    y = np.load(tmp_path / "y.npy")
    golden = qonnx_golden(model, x)
    assert y.shape == golden.shape == (10000, 10)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.argmax(1), golden.argmax(1))
    # every logit equal to qonnx's (the tail runs the same float32 ops on the same integer accumulators)
    np.testing.assert_array_equal(y, golden)
    assert (y.argmax(1) == labels).mean() == pytest.approx(TFC_ACCURACY[name], abs=1e-9)


def test_tfc_summary_contract(tmp_path):
    model = tfc_model("TFC_1W1A")
    fold = tmp_path / "fold.json"
    fold.write_text(json.dumps({"MVAU_0": {"PE": 16, "SIMD": 49}, "MVAU_1": {"PE": 8, "SIMD": 8},
                                "MVAU_2": {"PE": 8, "SIMD": 8}, "MVAU_3": {"PE": 10, "SIMD": 8}}))
    out = tmp_path / "b"
    # through the installed console script, as a user runs it
    r = subprocess.run([sys.executable, "-m", "hwgen.cli", "build", str(model), "-o", str(out), "--folding",
                        str(fold), "--board", "pynq-z2"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "report" / "summary.json").read_text())
    assert {"model", "board", "clock_mhz", "layers", "estimate", "cpu_partitions"} <= set(s)
    assert s["board"] == "pynq-z2" and s["clock_mhz"] == 100
    assert [lay["op"] for lay in s["layers"]] == ["MVAU"] * 4
    assert [(lay["pe"], lay["simd"]) for lay in s["layers"]] == [(16, 49), (8, 8), (8, 8), (10, 8)]
    for lay in s["layers"]:
        assert {"name", "op", "pe", "simd", "in_shape", "out_shape", "in_dtype", "out_dtype", "weight_dtype",
                "cycles"} <= set(lay)
    assert [lay["cycles"] for lay in s["layers"]] == [64, 64, 64, 8]
    assert s["layers"][0]["in_shape"] == [1, 784] and s["layers"][0]["out_shape"] == [1, 64]
    assert s["layers"][0]["in_dtype"] == "BIPOLAR" and s["layers"][0]["weight_dtype"] == "BIPOLAR"
    assert s["layers"][3]["out_shape"] == [1, 10]
    assert s["estimate"]["cycles_per_frame"] == 64
    assert s["estimate"]["fps"] == pytest.approx(1.5625e6)
    roles = {p["role"]: p for p in s["cpu_partitions"]}
    assert "BipolarQuant" in " ".join(roles["head"]["nodes"]) and roles["head"]["reason"]
    assert roles["tail"]["nodes"] and roles["tail"]["reason"]
    # the readable forms of the hardware graph
    g = json.loads((out / "hwgraph.json").read_text())
    assert [lay["name"] for lay in g["layers"]] == ["MVAU_0", "MVAU_1", "MVAU_2", "MVAU_3"]
    import onnx

    view = onnx.load(out / "hwgraph.onnx")  # the finished design: PE 16 -> SIMD 8 needs a width converter
    assert [n.op_type for n in view.graph.node] == ["MVAU", "WidthConverter", "MVAU", "MVAU", "MVAU"]
    # every stream of that design, with its FIFO depth
    names = [st["name"] for st in s["streams"]]
    assert names[0] == "in0__MVAU_0" and names[-1] == "MVAU_3__out" and len(names) == 6
    assert [st["depth"] for st in s["streams"]][0] == 784 // 49 + 2


def test_target_fps_folding_reaches_rate(tmp_path):
    model = tfc_model("TFC_2W2A")
    out = tmp_path / "b"
    assert main(["build", str(model), "-o", str(out), "--target-fps", "1000000", "-q"]) == 0
    s = json.loads((out / "report" / "summary.json").read_text())
    assert s["estimate"]["fps"] >= 1e6
    assert all(lay["cycles"] <= 100 for lay in s["layers"])
