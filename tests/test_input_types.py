"""Acceptance (issue 12): models as others export them.

- FINN's UNSW-NB15 MLP (input annotated finn_datatype BIPOLAR, Add + Div to {0, 1}, Gemm): first layer in hardware;
  reference, cpu, csim and rtlsim bit-exact with qonnx on BIPOLAR inputs; other inputs refused at run time.
- QKeras -> QONNX jet tagger (float input straight into MatMul): by default the first layer runs in the CPU head
  as qonnx runs it, bit-exact on arbitrary float inputs; with --input-dtype the first layer is in hardware,
  bit-exact on inputs of the declared type.
"""

import json

import numpy as np
import onnx
import pytest

from hwgen.build import build, compile_model
from hwgen.cli import main
from hwgen.errors import HwgenError, InputDataError
from hwgen.frontend.input_types import parse
from hwgen.runtime.accelerator import Accelerator
from hwgen.verify import golden
from tests.frontend_models import annotate, bipolar_inputs, conv_first_mlp, float_inputs, qkeras_mlp, unsw_mlp

QUIET = dict(log=lambda *a: None)


def _save(m, tmp_path, name="m.onnx"):
    p = tmp_path / name
    onnx.save(m, p)
    return p


def _all_backends(out, x, want, backends=("reference", "cpu", "csim", "rtlsim")):
    for b in backends:
        np.testing.assert_array_equal(Accelerator(out, b).execute(x), want, err_msg=b)


@pytest.mark.slow  # csim and rtlsim builds: ~30 s on idle cores
def test_unsw_annotated_bipolar_input_all_backends(tmp_path):
    p = _save(unsw_mlp(), tmp_path)
    out = tmp_path / "o"
    s = build(p, out, target_fps=1_000_000, **QUIET)
    assert s["input"]["declared"] == "BIPOLAR" and s["input"]["first_layer"] == "hardware"
    assert s["layers"][0]["in_dtype"] == "UINT1" and s["layers"][0]["onnx_nodes"][0] == "/pretrained/pretrained.0/Gemm"
    assert "Add '/Add', Div '/Div' map every BIPOLAR value exactly onto UINT1" in s["input"]["explain"]
    x = bipolar_inputs(64, 600, seed=1)
    want = golden(p, x)
    assert 0 < (want > 0).mean() < 1
    _all_backends(out, x, want)
    # the board driver's numpy head checks the annotation too
    from hwgen.runtime.driver_pkg.cpu_eval import InputTypeError, NumpyPartition
    acc = Accelerator(out, "reference")
    npp = NumpyPartition(*acc.graph.head.numpy_desc())
    np.testing.assert_array_equal(npp.run(x), acc.graph.head.run(x))
    with pytest.raises(InputTypeError, match="BIPOLAR"):
        npp.run(np.zeros((1, 600), np.float32))


def test_annotated_input_refuses_other_values(tmp_path, capsys):
    p = _save(unsw_mlp(sizes=(40, 16, 1), seed=3), tmp_path)
    out = tmp_path / "o"
    build(p, out, **QUIET)
    acc = Accelerator(out, "reference")
    x = bipolar_inputs(4, 40)
    x[2, 7] = 0.5
    with pytest.raises(InputDataError, match=r"\(2, 7\) is 0.5.*BIPOLAR.*finn_datatype=BIPOLAR"):
        acc.execute(x)
    with pytest.raises(InputDataError, match="BIPOLAR"):
        Accelerator(out, "cpu").execute(x)
    np.save(tmp_path / "x.npy", x)
    rc = main(["run", str(out), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")])
    err = capsys.readouterr().err
    assert rc == 2 and "BIPOLAR" in err and "Traceback" not in err
    # verify draws inputs of the annotated type
    assert main(["verify", str(out), "-n", "40", "--backends", "reference,cpu"]) == 0


def test_annotation_forms(tmp_path):
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper

    m = unsw_mlp(sizes=(24, 8, 1), seed=4, annotation=None)
    # what qonnx's own API writes is what hwgen reads
    mw = ModelWrapper(m)
    mw.set_tensor_datatype("onnx::Add_0", DataType["BIPOLAR"])
    g = compile_model(_save(mw.model, tmp_path, "qonnx_api.onnx"))
    assert g.layers[0].in_dtype.name == "UINT1" and g.head.input_check.name == "BIPOLAR"
    # no annotation: the float input feeds the Add/Div then the Gemm: first layer on the CPU, bit-exact on floats
    p = _save(unsw_mlp(sizes=(24, 8, 1), seed=4, annotation=None), tmp_path, "plain.onnx")
    g = compile_model(p)
    assert "/pretrained/pretrained.0/Gemm" in g.head.node_names and g.head.input_check is None
    x = float_inputs(50, 24)
    np.testing.assert_array_equal(g.execute(x), golden(p, x))
    # FLOAT32 annotations (the QKeras converter writes them on parameters) say nothing
    g = compile_model(_save(unsw_mlp(sizes=(24, 8, 1), seed=4, annotation="FLOAT32"), tmp_path, "f.onnx"))
    assert g.head.input_check is None
    # an annotation that does not map onto integers through the element-wise ops: first layer on the CPU, checked
    m = unsw_mlp(sizes=(24, 8, 1), seed=4)
    next(i for i in m.graph.initializer if i.name == "/Constant_1_output_0").CopyFrom(
        onnx.numpy_helper.from_array(np.float32(3.0), "/Constant_1_output_0"))  # (x + 1) / 3: no integer grid
    p = _save(m, tmp_path, "div3.onnx")
    g = compile_model(p)
    assert g.head.input_check.name == "BIPOLAR" and any(n.op_type == "Gemm" for n in g.head.nodes)
    assert "power-of-two" in g.meta["input"]["explain"] and "partial sum" not in g.meta["input"]["explain"]
    x = bipolar_inputs(30, 24)
    np.testing.assert_array_equal(g.execute(x), golden(p, x))
    # FIXED annotations: (x + 1) / 2 of a FIXED<8,7> value lies on a 2^-2 grid
    g = compile_model(_save(unsw_mlp(sizes=(24, 8, 1), seed=4, annotation="FIXED<8,7>"), tmp_path, "fx.onnx"))
    assert g.head.input_check.name == "FIXED<8,7>" and g.layers[0].in_dtype.name == "INT9"
    # an annotated integer type straight into the Gemm, no element-wise ops
    m = unsw_mlp(sizes=(24, 8, 1), seed=4, annotation=None)
    gemm = next(n for n in m.graph.node if n.op_type == "Gemm")
    gemm.input[0] = "onnx::Add_0"
    del m.graph.node[:2]
    p = _save(annotate(m, "onnx::Add_0", "INT4"), tmp_path, "int4.onnx")
    g = compile_model(p)
    assert g.layers[0].in_dtype.name == "INT4" and not any(n.op_type == "Gemm" for n in g.head.nodes)
    x = np.random.default_rng(0).integers(-8, 8, (60, 24)).astype(np.float32)
    np.testing.assert_array_equal(g.execute(x), golden(p, x))
    # INT32 is true of the values but float32 holds no exact grid of it: ignored (first layer on the CPU)
    g = compile_model(_save(unsw_mlp(sizes=(24, 8, 1), annotation="INT32"), tmp_path, "i32.onnx"))
    assert g.head.input_check is None and any(n.op_type == "Gemm" for n in g.head.nodes)
    # --input-dtype overrides an annotation, and says so
    g = compile_model(tmp_path / "int4.onnx", input_dtype="INT3")
    assert g.layers[0].in_dtype.name == "INT3"
    assert "overrides the model's finn_datatype=INT4" in g.meta["input"]["explain"]
    # an unknown annotation value is an error naming the input and the annotation
    with pytest.raises(HwgenError, match=r"onnx::Add_0.*finn_datatype='FOO'"):
        compile_model(_save(unsw_mlp(sizes=(24, 8, 1), annotation="FOO"), tmp_path, "foo.onnx"))


@pytest.mark.slow  # csim and rtlsim builds: ~30 s on idle cores
def test_qkeras_float_input_default_first_layer_on_cpu(tmp_path):
    p = _save(qkeras_mlp(), tmp_path)
    out = tmp_path / "o"
    s = build(p, out, target_fps=1_000_000, **QUIET)
    assert s["input"]["first_layer"] == "cpu" and s["input"]["declared"] is None
    head = next(c for c in s["cpu_partitions"] if c["role"] == "head")
    assert head["nodes"] == ["MatMul_0", "Add_0", "Relu_0", "Quant_2"]
    assert "--input-dtype" in s["input"]["explain"] and "bit-exact on any input" in s["input"]["explain"]
    assert [lay["in_dtype"] for lay in s["layers"]] == ["UINT6", "UINT6", "UINT6"]
    x = float_inputs(200, 16, seed=2)
    want = golden(p, x)
    _all_backends(out, x, want)
    # a single sample too (onnxruntime sums a one-row MatMul in another order; qonnx does the same on it)
    np.testing.assert_array_equal(Accelerator(out, "reference").execute(x[5]), golden(p, x[5:6]))


@pytest.mark.parametrize("dtype", [pytest.param("FIXED<16,6>", marks=pytest.mark.slow), "INT8", "UINT8", "BIPOLAR",
                                   "ap_fixed<12,4>"])
def test_qkeras_input_dtype_first_layer_in_hardware(dtype, tmp_path, capsys):
    full = dtype == "FIXED<16,6>"  # the jet tagger's shape through every backend; the other types smaller
    p = _save(qkeras_mlp(seed=1) if full else qkeras_mlp(sizes=(8, 12, 10, 5), seed=1), tmp_path)
    out = tmp_path / "o"
    assert main(["build", str(p), "-o", str(out), "-q", "--input-dtype", dtype, "--target-fps", "1000000"]) == 0
    s = json.loads((out / "report" / "summary.json").read_text())
    grid = parse(dtype)
    assert s["input"]["declared"] == grid.name and s["input"]["first_layer"] == "hardware"
    assert s["layers"][0]["onnx_nodes"][0] == "MatMul_0" and len(s["layers"]) == (4 if full else 3)
    assert "outputs equal the model's only for inputs already of that type" in s["input"]["explain"]
    assert "ties to even" in s["input"]["explain"] or grid.bipolar
    F = 16 if full else 8
    x = grid.random(np.random.default_rng(3), (150, F))
    want = golden(p, x)
    small = ("reference", "cpu") if dtype in ("UINT8", "BIPOLAR") else ("reference",)  # cpu: compiled head
    _all_backends(out, x, want, ("reference", "cpu", "csim", "rtlsim") if full else small)
    # off-grid inputs are quantized as declared (round to nearest even, saturate), not refused
    acc = Accelerator(out, "reference")
    off = float_inputs(20, F)
    for b in small[1:]:
        np.testing.assert_array_equal(Accelerator(out, b).execute(off), acc.execute(off), err_msg=b)
    q = acc.graph.head_ints(off)
    if not grid.bipolar:
        np.testing.assert_array_equal(q, np.clip(np.round(off * 2.0 ** grid.frac_bits), grid.lo, grid.hi))
        np.testing.assert_array_equal(acc.execute(off), golden(p, np.clip(np.round(off * 2.0 ** grid.frac_bits),
                                                                          grid.lo, grid.hi) * grid.scale))
    if not full:  # inspect explains the same choice
        assert main(["inspect", str(p), "--input-dtype", dtype]) == 0
        assert f"input: {grid.name}; first layer in hardware" in capsys.readouterr().out


def test_fixed_input_float32_sum_is_exact_within_24_bits(tmp_path):
    """qonnx's float32 MatMul on FIXED<16,6> inputs equals the exact integer sum while the worst-case partial sum
    fits float32's mantissa (quantized_bits(6, 0) weights, 16 inputs: 2^15 * 32 * 16 = 2^24); the report says so,
    and says when a layer is too wide for it."""
    import onnxruntime as rt

    m = qkeras_mlp(seed=2)
    g = compile_model(_save(m, tmp_path), input_dtype="FIXED<16,6>")
    assert "exact on such inputs" in g.meta["input"]["explain"] and "<= 2^24" in g.meta["input"]["explain"]
    w = g.layers[0].weights  # (64, 16) integers
    # inputs that drive every row's partial sums to their extremes: sign-aligned full-scale values
    levels = np.concatenate([np.where(w >= 0, 32767, -32768), np.where(w >= 0, -32768, 32767),
                             np.random.default_rng(0).integers(-32768, 32768, (200, 16))])
    x = (levels * 2.0 ** -10).astype(np.float32)
    from hwgen.onnx_eval import SubgraphEvaluator
    wf = SubgraphEvaluator([n for n in m.graph.node if n.name == "Quant_0"],
                           {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}, 9).run({})
    W = wf["Quant_0_out0"]
    mm = onnx.helper.make_model(onnx.helper.make_graph(
        [onnx.helper.make_node("MatMul", ["x", "w"], ["y"])], "mm",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, None),
         onnx.helper.make_tensor_value_info("w", onnx.TensorProto.FLOAT, None)],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)]),
        opset_imports=[onnx.helper.make_opsetid("", 13)])
    sess = rt.InferenceSession(mm.SerializeToString(), providers=["CPUExecutionProvider"])
    y = sess.run(None, {"x": x, "w": W})[0]
    exact = (levels @ w.T).astype(np.float64) * 2.0 ** -10 * 2.0 ** -5
    np.testing.assert_array_equal(y.astype(np.float64), exact)
    # 64 inputs of FIXED<16,6> with 6-bit weights: worst-case partial sum 2^26 > 2^24: not promised
    g = compile_model(_save(qkeras_mlp(sizes=(64, 8, 5), seed=2, weight_std=1.0), tmp_path, "wide.onnx"),
                      input_dtype="FIXED<16,6>")
    explain = g.meta["input"]["explain"]
    assert "may round" in explain and "exceeds float32's 24-bit mantissa" in explain


def test_input_dtype_through_elementwise_ops(tmp_path):
    """--input-dtype declares the model input; the model's own scaling before the first MatMul runs after the
    declared quantization, and must land on an integer grid."""
    m = qkeras_mlp(sizes=(12, 16, 5), seed=5)
    mul = onnx.helper.make_node("Mul", ["global_in", "in_scale"], ["scaled"], name="input_scaling")
    m.graph.initializer.append(onnx.numpy_helper.from_array(np.array(0.25, np.float32), "in_scale"))
    mm = next(n for n in m.graph.node if n.name == "MatMul_0")
    mm.input[0] = "scaled"
    m.graph.node.insert(0, mul)
    p = _save(m, tmp_path)
    g = compile_model(p, input_dtype="UINT8")
    assert [n.op_type for n in g.head.nodes] == ["Quant", "Mul", "Quant"]
    assert g.layers[0].in_dtype.name == "UINT8"
    x = parse("UINT8").random(np.random.default_rng(1), (100, 12))
    np.testing.assert_array_equal(g.execute(x), golden(p, x))
    # a scale that leaves no integer grid cannot take --input-dtype: a clear error, not a silent float layer
    m.graph.initializer[-1].CopyFrom(onnx.numpy_helper.from_array(np.array(1 / 255, np.float32), "in_scale"))
    with pytest.raises(HwgenError, match=r"--input-dtype UINT8.*'input_scaling'.*integer"):
        compile_model(_save(m, tmp_path, "div255.onnx"), input_dtype="UINT8")
    # without the option, the scaled float input feeds the first layer on the CPU
    g = compile_model(tmp_path / "div255.onnx")
    assert "MatMul_0" in g.head.node_names


def test_input_dtype_errors(tmp_path, capsys):
    p = _save(qkeras_mlp(sizes=(8, 6, 3)), tmp_path)
    for bad, words in [("FLOAT7", ["FLOAT7", "INTn"]), ("INT40", ["40 bits"]), ("FIXED<8>", ["FIXED<8>"])]:
        rc = main(["build", str(p), "-o", str(tmp_path / "o"), "-q", "--input-dtype", bad])
        err = capsys.readouterr().err
        assert rc == 2 and "Traceback" not in err and all(w in err for w in words), err
    # a model that quantizes its input itself: the option does not apply
    from tests.qonnx_gen import MLPSpec, make_mlp
    q = _save(make_mlp(MLPSpec(sizes=[6, 4, 3])), tmp_path, "quantized.onnx")
    rc = main(["build", str(q), "-o", str(tmp_path / "o2"), "-q", "--input-dtype", "INT8"])
    err = capsys.readouterr().err
    assert rc == 2 and "Quant_inp" in err and "quantizes its input itself" in err


def _cpu_then(p, match):
    """--hw-only refuses p naming the node; a plain build runs those layers on the CPU, bit-exact."""
    with pytest.raises(HwgenError, match=match):
        compile_model(p, hw_only=True)
    g = compile_model(p)
    x = np.random.default_rng(5).standard_normal((32, *g.input_shape[1:])).astype(np.float32) * 2
    np.testing.assert_array_equal(g.execute(x), golden(p, x))


def test_float_head_refusals(tmp_path):
    """Not for the hardware: two float matrix layers before any quantizer; a float first layer with float
    weights. Refused by --hw-only, run on the CPU otherwise."""
    m = qkeras_mlp(sizes=(8, 6, 5, 3), seed=6)
    # drop the activation quantizer after the first layer: MatMul_1 then consumes a float tensor
    q = next(n for n in m.graph.node if n.op_type == "Quant" and n.input[0] == "Relu_0_out0")
    nxt = next(n for n in m.graph.node if q.output[0] in n.input)
    nxt.input[0] = "Relu_0_out0"
    m.graph.node.remove(q)
    _cpu_then(_save(m, tmp_path, "two_float.onnx"), r"MatMul_1.*at most the first layer")
    m = qkeras_mlp(sizes=(8, 6, 3), seed=6)
    wq = next(n for n in m.graph.node if n.op_type == "Quant" and n.output[0] == "Quant_0_out0")
    m.graph.node.remove(wq)
    m.graph.initializer.append(onnx.numpy_helper.from_array(np.ones((8, 6), np.float32), "Quant_0_out0"))
    _cpu_then(_save(m, tmp_path, "float_weights.onnx"), r"MatMul_0.*neither are its weights")


def test_float_conv_first_layer_on_cpu(tmp_path):
    p = _save(conv_first_mlp(), tmp_path)
    g = compile_model(p)
    assert g.head.node_names == ["Conv_0", "Relu_0", "Quant_act", "Flatten_0"]
    assert [lay.in_dtype.name for lay in g.layers] == ["UINT3"]
    x = (np.random.default_rng(1).standard_normal((40, 1, 8, 8)) * 2).astype(np.float32)
    np.testing.assert_array_equal(g.execute(x), golden(p, x))
    with pytest.raises(HwgenError, match=r"Conv_0.*--input-dtype INT8.*convolution"):
        compile_model(p, input_dtype="INT8")


def test_board_numpy_head_runs_a_float_first_layer(tmp_path):
    """The driver's numpy evaluator runs the float first layer (MatMul + Add + Relu + Quant) for a board without
    onnxruntime. Its float32 sums may differ from onnxruntime's in the last bit (another summation order), so levels
    agree except within float32 rounding of a quantizer step: on these inputs they all agree."""
    from hwgen.runtime.driver_pkg.cpu_eval import NumpyPartition

    g = compile_model(_save(qkeras_mlp(seed=7), tmp_path))
    npp = NumpyPartition(*g.head.numpy_desc())
    x = float_inputs(500, 16, seed=7)
    np.testing.assert_array_equal(npp.run(x), g.head.run(x))
