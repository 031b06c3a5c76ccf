"""Test models shaped as other tools export them (the public zoo models themselves stay out of the repository).

``unsw_mlp(...)``: FINN's UNSW-NB15 cybersecurity MLP as Brevitas' QONNX export writes it (the form of
``unsw_nb15-mlp-w2a2.onnx`` in the QONNX model zoo, ``CybSecMLPForExport`` in FINN's notebook): graph input
``onnx::Add_0`` annotated ``finn_datatype = BIPOLAR`` in ``graph.quantization_annotation``; ``Add`` (+[1.0]) and
``Div`` (/2.0) map it to {0, 1}; per layer ``Quant`` weights (domain ``onnx.brevitas``, 2-bit signed narrow,
per-tensor float scale, stored (out, in)) -> ``Gemm`` (bias, transB=1) -> ``BatchNormalization``
(training_mode=0) -> ``Relu`` -> ``Quant`` (unsigned); the last ``Gemm`` ends in ``BipolarQuant`` (scale 1);
opset 14, IR 7, parameters also listed as graph inputs, symbolic output dimensions.

``qkeras_mlp(...)``: hls4ml's jet-tagging MLP as qonnx's QKeras converter (tf2onnx 1.9) writes it (the form of
``qkeras_jettagging.onnx``): float input ``global_in`` straight into ``MatMul_0``; ``Quant`` nodes (domain
``finn.custom_op.general``) with per-tensor parameters stored as 0-d float32 scale and int64 zero point / bit width
on the weights (quantized_bits(6, 0): scale 2^-5) and on the biases (``MatMul`` + ``Add`` bias); ``Relu`` ->
``Quant`` (quantized_relu(6): unsigned, scale 2^-6); ``Softmax`` (axis 1) at the end; opset 9, IR 4.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def annotate(model: onnx.ModelProto, tensor: str, dtype: str) -> onnx.ModelProto:
    """Add a qonnx tensor datatype annotation (what ModelWrapper.set_tensor_datatype writes)."""
    ann = onnx.TensorAnnotation()
    ann.tensor_name = tensor
    kv = ann.quant_parameter_tensor_names.add()
    kv.key, kv.value = "finn_datatype", dtype
    model.graph.quantization_annotation.append(ann)
    return model


# ----------------------------------------------------------------------------------------------------------------
# FINN / Brevitas UNSW-NB15 MLP


def unsw_mlp(sizes=(600, 64, 64, 64, 1), w_bits=2, act_bits=2, seed=0, annotation="BIPOLAR") -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    inits, nodes, graph_inputs = [], [], []
    pfx = "/pretrained/pretrained"

    def init(name, arr, as_input=False):
        arr = np.asarray(arr, dtype=np.float32)
        inits.append(numpy_helper.from_array(arr, name))
        if as_input:  # pytorch 1.13 lists parameters as graph inputs too
            graph_inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(arr.shape)))
        return name

    inp = "onnx::Add_0"
    one = init("/Constant_output_0", [1.0])
    two = init("/Constant_1_output_0", np.float32(2.0))
    nodes.append(helper.make_node("Add", [inp, one], ["/Add_output_0"], name="/Add"))
    nodes.append(helper.make_node("Div", ["/Add_output_0", two], ["/Div_output_0"], name="/Div"))
    x = "/Div_output_0"
    zero = init(f"{pfx}.0/weight_quant/export_handler/Constant_3_output_0", np.float32(0.0))
    wbits = init(f"{pfx}.0/weight_quant/export_handler/Constant_output_0", np.float32(w_bits))
    h = rng.integers(0, 2, size=(256, sizes[0])).astype(np.float64)  # calibration inputs in {0, 1}
    L = len(sizes) - 1
    for i in range(L):
        n_in, n_out = sizes[i], sizes[i + 1]
        idx = 4 * i  # torch module index of this QuantLinear in the Sequential
        wq_pfx = f"{pfx}.{idx}/weight_quant/export_handler"
        w = rng.normal(0.0, 1.0, size=(n_out, n_in))
        w_scale = np.float32(np.abs(w).max() / (2 ** (w_bits - 1) - 1) * rng.uniform(0.4, 0.7))
        w_name = init(f"{wq_pfx}/Constant_1_output_0" if i == 0 else f"{wq_pfx}/Constant_output_0", w)
        s_name = init(f"{wq_pfx}/Constant_2_output_0" if i == 0 else f"{wq_pfx}/Constant_1_output_0", w_scale)
        nodes.append(helper.make_node("Quant", [w_name, s_name, zero, wbits], [f"{wq_pfx}/Quant_output_0"],
                                      name=f"{wq_pfx}/Quant", domain="onnx.brevitas", narrow=1,
                                      rounding_mode="ROUND", signed=1))
        lo = -(2 ** (w_bits - 1)) + 1
        wq = np.clip(np.round(w / w_scale), lo, -lo) * float(w_scale)
        acc = h @ wq.T
        bias = rng.normal(0.0, 0.5, size=n_out) * acc.std(axis=0).clip(1e-3)
        b_name = init(f"pretrained.{idx}.bias", bias, as_input=True)
        g_out = f"{pfx}.{idx}/Gemm_output_0"
        nodes.append(helper.make_node("Gemm", [x, f"{wq_pfx}/Quant_output_0", b_name], [g_out],
                                      name=f"{pfx}.{idx}/Gemm", alpha=1.0, beta=1.0, transB=1))
        z = acc + bias
        if i == L - 1:
            out = "63"
            s1 = init("/qnt_output/act_quant/export_handler/Constant_output_0", np.float32(1.0))
            nodes.append(helper.make_node("BipolarQuant", [g_out, s1], [out],
                                          name="/qnt_output/act_quant/export_handler/BipolarQuant",
                                          domain="onnx.brevitas"))
            break
        bn = idx + 1
        mean, var = z.mean(axis=0), z.var(axis=0) + 1e-3
        gamma, beta = rng.uniform(0.5, 1.5, n_out), rng.normal(0.2, 0.3, n_out)
        bn_ins = [init(f"pretrained.{bn}.{k}", v, as_input=True)
                  for k, v in (("weight", gamma), ("bias", beta), ("running_mean", mean), ("running_var", var))]
        bn_out = f"{pfx}.{bn}/BatchNormalization_output_0"
        nodes.append(helper.make_node("BatchNormalization", [g_out] + bn_ins, [bn_out],
                                      name=f"{pfx}.{bn}/BatchNormalization", epsilon=1e-5, momentum=0.9,
                                      training_mode=0))
        act = idx + 3
        aq = f"{pfx}.{act}/act_quant"
        nodes.append(helper.make_node("Relu", [bn_out], [f"{aq}/activation_impl/Relu_output_0"],
                                      name=f"{aq}/activation_impl/Relu"))
        y = np.maximum((z - mean) / np.sqrt(var + 1e-5) * gamma + beta, 0)
        a_scale = np.float32(max(np.percentile(y, 95), 1e-3) / (2 ** act_bits - 1))
        a_s = init(f"{aq}/export_handler/Constant_1_output_0", a_scale)
        a_b = init(f"{aq}/export_handler/Constant_output_0", np.float32(act_bits))
        x = f"{aq}/export_handler/Quant_output_0"
        nodes.append(helper.make_node("Quant", [f"{aq}/activation_impl/Relu_output_0", a_s, zero, a_b], [x],
                                      name=f"{aq}/export_handler/Quant", domain="onnx.brevitas", narrow=0,
                                      rounding_mode="ROUND", signed=0))
        h = np.clip(np.round(y / a_scale), 0, 2 ** act_bits - 1) * float(a_scale)
    g = helper.make_graph(
        nodes, "torch_jit",
        [helper.make_tensor_value_info(inp, TensorProto.FLOAT, [1, sizes[0]])] + graph_inputs,
        [helper.make_tensor_value_info("63", TensorProto.FLOAT, ["BipolarQuant63_dim_0", "BipolarQuant63_dim_1"])],
        inits,
    )
    m = helper.make_model(g, producer_name="pytorch", producer_version="1.13.1",
                          opset_imports=[helper.make_opsetid("", 14), helper.make_opsetid("onnx.brevitas", 1)])
    m.ir_version = 7
    if annotation:
        annotate(m, inp, annotation)
    return m


def bipolar_inputs(n, features, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).choice(np.array([-1.0, 1.0], np.float32), (n, features))


# ----------------------------------------------------------------------------------------------------------------
# QKeras -> QONNX jet-tagging MLP


def qkeras_mlp(sizes=(16, 64, 32, 32, 5), w_bits=6, w_int=0, act_bits=6, seed=0, weight_std=0.3) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    inits, nodes, annotations = [], [], []
    counter = [0]

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def quant(x_name, scale, bits, signed, tensor=None):
        """A Quant node as the converter writes it: 0-d float32 scale, int64 zero point and bit width."""
        k = counter[0]
        counter[0] += 1
        ins = [x_name] if tensor is None else [const(f"Quant_{k}_param0", np.asarray(tensor, np.float32))]
        base = 0 if tensor is None else 1
        ins += [const(f"Quant_{k}_param{base}", np.array(scale, np.float32)),
                const(f"Quant_{k}_param{base + 1}", np.array(0, np.int64)),
                const(f"Quant_{k}_param{base + 2}", np.array(bits, np.int64))]
        annotations.extend(ins[1:])
        out = f"Quant_{k}_out0"
        nodes.append(helper.make_node("Quant", ins, [out], name=f"Quant_{k}", domain="finn.custom_op.general",
                                      narrow=0, rounding_mode="ROUND", signed=int(signed)))
        return out

    w_scale = 2.0 ** -(w_bits - w_int - 1)  # quantized_bits(bits, integer, keep_negative=1, alpha=1)
    a_scale = 2.0 ** -(act_bits)  # quantized_relu(bits, 0)
    x = "global_in"
    L = len(sizes) - 1
    for i in range(L):
        w = rng.normal(0.0, weight_std, size=(sizes[i], sizes[i + 1]))
        b = rng.normal(0.0, weight_std, size=sizes[i + 1])
        wq = quant(None, w_scale, w_bits, True, tensor=w)
        bq = quant(None, w_scale, w_bits, True, tensor=b)
        nodes.append(helper.make_node("MatMul", [x, wq], [f"MatMul_{i}_out0"], name=f"MatMul_{i}"))
        nodes.append(helper.make_node("Add", [f"MatMul_{i}_out0", bq], [f"Add_{i}_out0"], name=f"Add_{i}"))
        if i == L - 1:
            nodes.append(helper.make_node("Softmax", [f"Add_{i}_out0"], ["global_out"], name="Softmax_0", axis=1))
            break
        nodes.append(helper.make_node("Relu", [f"Add_{i}_out0"], [f"Relu_{i}_out0"], name=f"Relu_{i}"))
        x = quant(f"Relu_{i}_out0", a_scale, act_bits, False)
    g = helper.make_graph(nodes, "qkeras_to_qonnx_converted",
                          [helper.make_tensor_value_info("global_in", TensorProto.FLOAT, [1, sizes[0]])],
                          [helper.make_tensor_value_info("global_out", TensorProto.FLOAT, [1, sizes[-1]])], inits)
    m = helper.make_model(g, producer_name="tf2onnx", producer_version="1.9.2",
                          opset_imports=[helper.make_opsetid("", 9)])
    m.ir_version = 4
    for t in annotations:  # the converter annotates every quantizer parameter FLOAT32
        annotate(m, t, "FLOAT32")
    return m


def float_inputs(n, features, seed=0) -> np.ndarray:
    """Arbitrary float32 inputs: normal, large, tiny, signed zeros, values near rounding ties."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)) * rng.choice([0.1, 1.0, 4.0, 40.0], (n, 1))
    x = x.astype(np.float32)
    x[0] = 0.0
    x[1] = -0.0
    x[2] = np.float32(1e-30)
    if n > 8:
        x[3:8] = np.round(x[3:8] * 64) / 64  # on a fine power-of-two grid
    return x


# ----------------------------------------------------------------------------------------------------------------
# a float input into a quantized-weight Conv, then a quantized MLP


def conv_first_mlp(seed=0) -> onnx.ModelProto:
    """x (1, 1, 8, 8) -> Conv (Quant weights, 4 channels, 3x3, pad 1) -> Relu -> Quant (UINT3) -> Flatten ->
    MatMul (Quant weights) -> y (1, 10)."""
    rng = np.random.default_rng(seed)
    d = "qonnx.custom_op.general"
    inits = []

    def c(name, a):
        inits.append(numpy_helper.from_array(np.asarray(a, np.float32), name))
        return name

    q = dict(domain=d, narrow=0, rounding_mode="ROUND")
    nodes = [
        helper.make_node("Quant", [c("conv_w", rng.normal(0, 0.5, (4, 1, 3, 3))), c("w_scale", 0.125), c("zero", 0.0),
                                   c("bits4", 4.0)], ["conv_wq"], name="Quant_conv_w", signed=1, **q),
        helper.make_node("Conv", ["x", "conv_wq"], ["conv"], name="Conv_0", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"], name="Relu_0"),
        helper.make_node("Quant", ["relu", c("a_scale", 0.25), "zero", c("bits3", 3.0)], ["act"], name="Quant_act",
                         signed=0, **q),
        helper.make_node("Flatten", ["act"], ["flat"], name="Flatten_0"),
        helper.make_node("Quant", [c("fc_w", rng.normal(0, 0.5, (256, 10))), "w_scale", "zero", "bits4"], ["fc_wq"],
                         name="Quant_fc_w", signed=1, **q),
        helper.make_node("MatMul", ["flat", "fc_wq"], ["y"], name="MatMul_0"),
    ]
    g = helper.make_graph(nodes, "conv_first", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(d, 1)])
    m.ir_version = 8
    return m
