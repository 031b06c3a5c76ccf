"""Load an ONNX file and check it before anything else touches it.

Every problem found here is a HwgenError naming the file or the ONNX node (by its original name, repr-escaped)
and saying what to do. The checks run on the model as the user gave it, so names are the user's.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from hwgen.errors import ModelLoadError, QuantizerError, UnsupportedModelError, describe_node

QONNX_DOMAINS = ("qonnx.custom_op.general", "onnx.brevitas", "finn.custom_op.general")
QUANT_OPS = {"Quant", "BipolarQuant", "Trunc"}
QCDQ_OPS = {"QuantizeLinear", "DequantizeLinear"}
MATMUL_OPS = {"MatMul", "Gemm"}
SHAPE_OPS = {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity"}
# element-wise ops allowed between a matrix product and the next quantizer (folded into thresholds) or in CPU
# partitions; all are applied per element with constant other operands.
ELEMENTWISE_OPS = {"Add", "Sub", "Mul", "Div", "BatchNormalization", "Relu", "Clip", "Neg", "LeakyRelu", "Sign",
                   "Sigmoid", "Tanh", "HardSigmoid", "Abs", "Exp", "Floor", "Ceil", "Round", "Max", "Min"}
TAIL_OPS = {"Softmax", "LogSoftmax", "TopK", "ArgMax"}
# ops that only compute constants (folded away by cleanup when their inputs are static)
CONSTANT_OPS = {"Shape", "Gather", "Concat", "Constant", "Cast", "ConstantOfShape", "Slice", "Range", "Equal",
                "Where", "Expand"}
# ops only the CPU head runs: a float first layer (its input not quantized) before the first quantizer
HEAD_ONLY_OPS = {"Conv"}
# convolutional ops lowered to sliding-window / pool / stream-join kinds (hwgen.transforms.rules)
CNN_OPS = {"Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Pad", "Concat", "Resize", "Upsample"}
SUPPORTED_OPS = (QUANT_OPS | QCDQ_OPS | MATMUL_OPS | SHAPE_OPS | ELEMENTWISE_OPS | TAIL_OPS | CONSTANT_OPS
                 | HEAD_ONLY_OPS | CNN_OPS)
MAX_BITS = 32


def load_onnx(path) -> onnx.ModelProto:
    """Read `path` as ONNX; ModelLoadError if missing, empty, truncated or not ONNX."""
    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"model file {str(p)!r} was not found (it does not exist); check the path.")
    if p.is_dir():
        raise ModelLoadError(f"model path {str(p)!r} is a directory; give an .onnx file.")
    if not p.is_file():  # a device or pipe would be read forever
        from hwgen.fileops import regular_file

        regular_file(p, "model file", ModelLoadError, hint="; give an .onnx file")
    data = p.read_bytes()
    if not data:
        raise ModelLoadError(f"model file {str(p)!r} is empty (0 bytes); re-export the model.")
    try:
        model = onnx.load_model_from_string(data)
    except Exception as e:  # protobuf raises DecodeError and others for garbage / truncated files
        raise ModelLoadError(
            f"model file {str(p)!r} is not a valid ONNX protobuf (truncated or not ONNX: {type(e).__name__}); "
            "re-export the model or check the file was copied completely."
        ) from None
    if not model.HasField("graph") or (len(model.graph.node) == 0 and len(model.graph.output) == 0):
        raise ModelLoadError(
            f"model file {str(p)!r} has no graph (truncated or not an ONNX model); re-export the model."
        )
    return model


def normalize_domains(model: onnx.ModelProto) -> None:
    """Give QONNX ops from Brevitas / FINN domains the qonnx domain (as qonnx's cleanup does)."""
    for n in model.graph.node:
        if n.op_type in QUANT_OPS and (n.domain in QONNX_DOMAINS or n.domain == "qonnx"
                                       or n.domain.startswith("qonnx.custom_op")):  # "qonnx": QKeras converter
            n.domain = "qonnx.custom_op.general"


def check_structure(model: onnx.ModelProto, path: str) -> None:
    """Graph-level checks: nodes present, one data input and output, static shapes, no dangling tensors,
    only ops hwgen knows."""
    g = model.graph
    if len(g.node) == 0:
        raise UnsupportedModelError(f"{path}: the graph has no nodes; nothing to build.")
    inits = {i.name for i in g.initializer}
    data_inputs = [i for i in g.input if i.name not in inits]
    if len(data_inputs) != 1:
        names = ", ".join(repr(i.name) for i in data_inputs)
        raise UnsupportedModelError(
            f"{path}: hwgen needs exactly one data input, the graph has {len(data_inputs)} ({names}). "
            "If a weight or quantizer parameter is a graph input, make it an initializer (constant)."
        )
    if len(g.output) != 1:
        raise UnsupportedModelError(f"{path}: hwgen needs exactly one graph output, the graph has {len(g.output)}.")
    inp = data_inputs[0]
    _fix_batch_dim(inp, path)
    # dangling tensors and topological order
    produced = set(inits) | {i.name for i in g.input}
    pending = list(g.node)
    order_ok = True
    for n in g.node:
        for t in n.input:
            if t and t not in produced:
                if any(t in m.output for m in g.node):
                    order_ok = False
                else:
                    raise UnsupportedModelError(
                        f"{path}: {describe_node(n)} reads tensor {t!r}, which no node, initializer or graph "
                        "input produces (dangling tensor); fix the export."
                    )
        produced.update(o for o in n.output if o)
    if not order_ok:
        _toposort(g, path)
    del pending
    for o in g.output:
        if o.name not in produced:
            raise UnsupportedModelError(f"{path}: graph output {o.name!r} is not produced by any node.")
    for n in g.node:
        if n.domain not in ("", "ai.onnx") and n.op_type not in QUANT_OPS:
            raise UnsupportedModelError(
                f"{path}: {describe_node(n)} is a custom op of domain {n.domain!r} that hwgen does not know. "
                "Replace it with standard ONNX ops or QONNX quantizers."
            )
        if n.op_type in QUANT_OPS and not (n.domain in QONNX_DOMAINS or n.domain.startswith("qonnx")):
            raise UnsupportedModelError(f"{path}: {describe_node(n)} has unknown domain {n.domain!r}.")


def check_ops(model: onnx.ModelProto, path: str) -> None:
    """Every node an op hwgen maps to hardware (the lowering no longer needs this: any standard ONNX op runs on
    the CPU when no rule lowers it)."""
    for n in model.graph.node:
        if n.op_type not in SUPPORTED_OPS:
            raise UnsupportedModelError(
                f"{path}: {describe_node(n)} is an op hwgen does not support. Supported: QONNX "
                "Quant/BipolarQuant/Trunc, QuantizeLinear/DequantizeLinear, MatMul/Gemm, Conv, MaxPool, "
                "AveragePool/GlobalAveragePool, Pad, Concat, Resize, element-wise "
                "Add/Sub/Mul/Div/BatchNormalization/Relu/Clip, shape ops, and Softmax/TopK/ArgMax at the output."
            )


def _fix_batch_dim(inp, path):
    dims = inp.type.tensor_type.shape.dim
    if not inp.type.tensor_type.HasField("shape") or len(dims) == 0:
        raise UnsupportedModelError(
            f"{path}: input {inp.name!r} has no static shape; export with a fixed input shape, e.g. (1, C, H, W)."
        )
    for k, d in enumerate(dims):
        static = d.HasField("dim_value") and d.dim_value > 0
        if static:
            continue
        if k == 0:
            d.ClearField("dim_param")
            d.dim_value = 1  # a symbolic batch is fine: hwgen builds for batch 1 and runs any batch
            continue
        what = d.dim_param if d.HasField("dim_param") else "unknown"
        raise UnsupportedModelError(
            f"{path}: input {inp.name!r} has a dynamic dimension {k} ({what!r}); hwgen needs static shapes "
            "(only the batch dimension may be dynamic). Re-export with a fixed input shape."
        )


def _toposort(g, path):
    produced = {i.name for i in g.initializer} | {i.name for i in g.input}
    remaining = list(g.node)
    ordered = []
    while remaining:
        progress = False
        for n in list(remaining):
            if all((not t) or t in produced for t in n.input):
                ordered.append(n)
                produced.update(n.output)
                remaining.remove(n)
                progress = True
        if not progress:
            raise UnsupportedModelError(f"{path}: the graph has a cycle through {describe_node(remaining[0])}.")
    nodes = [onnx.NodeProto() for _ in ordered]
    for dst, src in zip(nodes, ordered):
        dst.CopyFrom(src)
    del g.node[:]
    g.node.extend(nodes)


def constant_value(model: onnx.ModelProto, name: str):
    """Value of an initializer or Constant-node output, else None."""
    for i in model.graph.initializer:
        if i.name == name:
            return numpy_helper.to_array(i)
    for n in model.graph.node:
        if n.op_type == "Constant" and n.output[0] == name:
            for a in n.attribute:
                if a.name == "value":
                    return numpy_helper.to_array(a.t)
    return None


def check_quantizer_params(model: onnx.ModelProto, path: str) -> None:
    """Quantizer scale / zero point / bit width must be constants with sane values (after constant folding)."""
    for n in model.graph.node:
        if n.op_type not in QUANT_OPS:
            continue
        roles = {"Quant": ["scale", "zero point", "bit width"], "BipolarQuant": ["scale"],
                 "Trunc": ["scale", "zero point", "input bit width"] + (
                     ["output scale", "output bit width"] if len(n.input) == 6 else ["output bit width"])}[n.op_type]
        for role, t in zip(roles, n.input[1:]):
            v = constant_value(model, t)
            if v is None:
                raise QuantizerError(
                    f"{path}: {describe_node(n)}: its {role} ({t!r}) is not a constant; hwgen needs constant "
                    "quantizer parameters. Export with fixed (non-learned at runtime) quantizer parameters."
                )
            v = np.asarray(v, dtype=np.float64)
            if not np.all(np.isfinite(v)):
                raise QuantizerError(f"{path}: {describe_node(n)}: its {role} contains NaN or inf; fix the export.")
            if "scale" in role and np.any(v <= 0):
                raise QuantizerError(
                    f"{path}: {describe_node(n)}: its {role} must be positive, found {v.ravel()[:4].tolist()}."
                )
            if "bit width" in role:
                if v.size != 1:
                    raise QuantizerError(f"{path}: {describe_node(n)}: its {role} must be a scalar.")
                b = float(v.ravel()[0])
                if b != math.floor(b):
                    raise QuantizerError(
                        f"{path}: {describe_node(n)}: bit width {b} is not an integer; use a whole number of bits."
                    )
                if not 1 <= b <= MAX_BITS:
                    raise QuantizerError(
                        f"{path}: {describe_node(n)}: bit width {int(b)} is out of range; hwgen supports 1 to "
                        f"{MAX_BITS} bits."
                    )
        if n.op_type == "Quant":
            for a in n.attribute:
                if a.name == "rounding_mode":
                    from hwgen.quant import ROUNDING_MODES

                    mode = a.s.decode(errors="replace").upper()
                    if mode not in ROUNDING_MODES:
                        raise QuantizerError(f"{path}: {describe_node(n)}: unknown rounding mode {mode!r}.")
