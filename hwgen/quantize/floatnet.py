"""A float ONNX network as `hwgen quantize` sees it: a chain of steps (linear layers with BatchNorm folded in,
ReLU, max pool, flatten, a final softmax), and a numpy forward pass over them.

Only what a dataflow accelerator runs is accepted: Gemm / MatMul (+ Add bias), Conv (groups 1), BatchNormalization
after one of them (folded into its weights and bias first, as the quantized graph never sees it), Relu, MaxPool,
Flatten / Reshape to (N, features), Dropout / Identity (dropped), Softmax / LogSoftmax at the end. Anything else, or
a model that already holds quantizers, is a QuantizeError naming the node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from hwgen.errors import HwgenError, describe_node


class QuantizeError(HwgenError):
    """A float model, a calibration file or an option `hwgen quantize` cannot use."""


QUANTIZED_OPS = {"Quant", "BipolarQuant", "Trunc", "MultiThreshold", "QuantizeLinear", "DequantizeLinear",
                 "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger"}
SKIPPED_OPS = {"Dropout", "Identity"}


@dataclass
class Linear:
    """y = W x + b: kind "gemm" (W (O, I)) or "conv" (W (O, I, KH, KW), NCHW, pads top, left, bottom, right)."""
    name: str
    kind: str
    w: np.ndarray
    b: np.ndarray
    pads: tuple = (0, 0, 0, 0)
    strides: tuple = (1, 1)
    dilations: tuple = (1, 1)
    folded_bn: str | None = None  # name of the BatchNormalization folded into it

    @property
    def out_channels(self) -> int:
        return int(self.w.shape[0])


@dataclass
class Step:
    fn: str  # "linear" | "relu" | "maxpool" | "flatten" | "softmax" | "logsoftmax"
    name: str
    linear: Linear | None = None
    attrs: dict = field(default_factory=dict)


@dataclass
class FloatNet:
    path: str
    input_name: str
    input_shape: list  # batch 1
    output_name: str
    steps: list
    opset: int

    @property
    def linears(self) -> list[Linear]:
        return [s.linear for s in self.steps if s.fn == "linear"]

    def forward(self, x, upto: int | None = None) -> np.ndarray:
        """Float32 outputs of the steps [0, upto) on a batch (N, *input_shape[1:])."""
        for s in self.steps[:upto]:
            x = run_step(s, x)
        return x


def run_step(s: Step, x, w=None, b=None) -> np.ndarray:
    """One step in float32 (w, b: replacement weights and bias of a linear step, e.g. quantized ones)."""
    if s.fn == "linear":
        lin = s.linear
        w = lin.w if w is None else w
        b = lin.b if b is None else b
        if lin.kind == "gemm":
            return (x.reshape(x.shape[0], -1) @ w.T + b).astype(np.float32)
        return conv2d(x, w, b, lin.pads, lin.strides, lin.dilations)
    if s.fn == "relu":
        return np.maximum(x, 0).astype(np.float32)
    if s.fn == "maxpool":
        return maxpool2d(x, s.attrs["kernel"], s.attrs["strides"], s.attrs["pads"])
    if s.fn == "flatten":
        return x.reshape(x.shape[0], -1)
    if s.fn in ("softmax", "logsoftmax"):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        return (np.log(p) if s.fn == "logsoftmax" else p).astype(np.float32)
    raise AssertionError(s.fn)


def windows(x, kernel, strides, dilations, pads, pad_value=0.0):
    """(N, C, OH, OW, KH, KW) view of the padded NCHW input."""
    t, left, bottom, r = pads
    x = np.pad(x, ((0, 0), (0, 0), (t, bottom), (left, r)), constant_values=pad_value)
    kh, kw = kernel
    dh, dw = dilations
    v = np.lib.stride_tricks.sliding_window_view(x, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(2, 3))
    return v[:, :, ::strides[0], ::strides[1], ::dh, ::dw]


def layer_inputs(lin: Linear, x) -> np.ndarray:
    """The rows a linear layer multiplies by its weights reshaped (O, -1): (N, I) for a Gemm, one row per output
    pixel (C, KH, KW order) for a Conv; float64."""
    if lin.kind == "gemm":
        return x.reshape(len(x), -1).astype(np.float64)
    v = windows(x, lin.w.shape[2:], lin.strides, lin.dilations, lin.pads)  # (N, C, OH, OW, KH, KW)
    return v.transpose(0, 2, 3, 1, 4, 5).reshape(-1, int(np.prod(lin.w.shape[1:]))).astype(np.float64)


def conv2d(x, w, b, pads, strides, dilations) -> np.ndarray:
    v = windows(x, w.shape[2:], strides, dilations, pads)
    y = np.einsum("nchwij,ocij->nohw", v, w, optimize=True)
    return (y + b.reshape(1, -1, 1, 1)).astype(np.float32)


def maxpool2d(x, kernel, strides, pads) -> np.ndarray:
    return windows(x, kernel, strides, (1, 1), pads, pad_value=-np.inf).max(axis=(4, 5)).astype(np.float32)


# --- loading ---------------------------------------------------------------------------------------------------
def load_float(path) -> FloatNet:
    from hwgen.frontend.load import load_onnx

    p = str(Path(path))
    m = load_onnx(p)
    try:
        m = onnx.shape_inference.infer_shapes(m)
    except Exception:  # shapes are re-derived by the forward pass; inference is only a convenience
        pass
    g = m.graph
    for n in g.node:
        if n.op_type in QUANTIZED_OPS or n.domain not in ("", "ai.onnx"):
            raise QuantizeError(f"{p}: {describe_node(n)}: the model is already quantized (or holds custom ops); "
                                "`hwgen quantize` takes a float model. Build a quantized model directly with "
                                "`hwgen build`.")
    inits = {i.name: numpy_helper.to_array(i).astype(np.float32) for i in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            inits[n.output[0]] = numpy_helper.to_array(n.attribute[0].t).astype(np.float32)
    data = [i for i in g.input if i.name not in inits]
    if len(data) != 1 or len(g.output) != 1:
        raise QuantizeError(f"{p}: the model needs exactly one data input and one output (it has {len(data)} and "
                            f"{len(g.output)}).")
    shape = [d.dim_value if d.HasField("dim_value") else 0 for d in data[0].type.tensor_type.shape.dim]
    if not shape or any(v <= 0 for v in shape[1:]):
        raise QuantizeError(f"{p}: input {data[0].name!r} needs a static shape (batch aside); re-export with a "
                            "fixed input shape, e.g. (1, C, H, W).")
    shape[0] = 1
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 13)
    steps = _chain(g, inits, data[0].name, p)
    return FloatNet(p, data[0].name, shape, g.output[0].name, steps, opset)


def _attr(n, name, default=None):
    for a in n.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _chain(g, inits, inp, p) -> list[Step]:
    """Follow the single data path from the input; every node must be a step hwgen quantize knows."""
    consumers: dict = {}
    for n in g.node:
        if n.op_type == "Constant":
            continue
        for t in n.input:
            if t in inits or not t:
                continue
            consumers.setdefault(t, []).append(n)
    steps: list[Step] = []
    cur = inp
    seen = 0
    while cur != g.output[0].name:
        ns = consumers.get(cur, [])
        if len(ns) != 1:
            what = "no node" if not ns else f"{len(ns)} nodes (a branch)"
            raise QuantizeError(f"{p}: tensor {cur!r} is read by {what}; `hwgen quantize` takes a chain of layers "
                                "(no branches).")
        n = ns[0]
        seen += 1
        steps.extend(_step(n, inits, steps, p))
        cur = n.output[0]
    if not any(s.fn == "linear" for s in steps):
        raise QuantizeError(f"{p}: the model has no Gemm, MatMul or Conv layer to quantize.")
    return steps


def _const(n, inits, k, p, what):
    if len(n.input) <= k or n.input[k] not in inits:
        raise QuantizeError(f"{p}: {describe_node(n)}: its {what} is not a constant; export with constant weights.")
    return inits[n.input[k]]


def _step(n, inits, steps, p) -> list[Step]:
    op = n.op_type
    last = steps[-1] if steps else None
    if op in SKIPPED_OPS:
        return []
    if op == "Gemm":
        if _attr(n, "alpha", 1.0) != 1.0 or _attr(n, "beta", 1.0) != 1.0 or _attr(n, "transA", 0):
            raise QuantizeError(f"{p}: {describe_node(n)}: only Gemm with alpha = beta = 1 and no transA is "
                                "supported.")
        w = _const(n, inits, 1, p, "weight")
        w = w if _attr(n, "transB", 0) else w.T
        b = _const(n, inits, 2, p, "bias") if len(n.input) > 2 and n.input[2] else np.zeros(w.shape[0], np.float32)
        return [Step("linear", n.name, Linear(n.name or f"Gemm_{len(steps)}", "gemm", w.copy(),
                                              np.broadcast_to(b, (w.shape[0],)).astype(np.float32).copy()))]
    if op == "MatMul":
        w = _const(n, inits, 1, p, "weight").T
        return [Step("linear", n.name, Linear(n.name or f"MatMul_{len(steps)}", "gemm", w.copy(),
                                              np.zeros(w.shape[0], np.float32)))]
    if op == "Add" and last is not None and last.fn == "linear" and n.input[1] in inits:
        last.linear.b = last.linear.b + inits[n.input[1]].reshape(-1).astype(np.float32)
        return []
    if op == "Conv":
        w = _const(n, inits, 1, p, "weight")
        if w.ndim != 4 or _attr(n, "group", 1) != 1:
            raise QuantizeError(f"{p}: {describe_node(n)}: only 2-D convolutions with group 1 are supported by "
                                "`hwgen quantize`.")
        pads = list(_attr(n, "pads", [0, 0, 0, 0]))
        if _attr(n, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise QuantizeError(f"{p}: {describe_node(n)}: auto_pad is not supported; export explicit pads.")
        b = _const(n, inits, 2, p, "bias") if len(n.input) > 2 and n.input[2] else np.zeros(w.shape[0], np.float32)
        lin = Linear(n.name or f"Conv_{len(steps)}", "conv", w.copy(), b.astype(np.float32).copy(),
                     pads=(pads[0], pads[1], pads[2], pads[3]), strides=tuple(_attr(n, "strides", [1, 1])),
                     dilations=tuple(_attr(n, "dilations", [1, 1])))
        return [Step("linear", n.name, lin)]
    if op == "BatchNormalization":
        if last is None or last.fn != "linear" or last.linear.folded_bn:
            raise QuantizeError(f"{p}: {describe_node(n)}: a BatchNormalization must follow a Gemm, MatMul or Conv "
                                "(it is folded into that layer's weights and bias).")
        gamma, beta, mean, var = (_const(n, inits, k, p, "parameter") for k in range(1, 5))
        eps = _attr(n, "epsilon", 1e-5)
        lin = last.linear
        f = (gamma / np.sqrt(var + eps)).astype(np.float64)
        shape = (-1,) + (1,) * (lin.w.ndim - 1)
        lin.w = (lin.w.astype(np.float64) * f.reshape(shape)).astype(np.float32)
        lin.b = ((lin.b.astype(np.float64) - mean) * f + beta).astype(np.float32)
        lin.folded_bn = n.name or "BatchNormalization"
        return []
    if op == "Relu":
        return [Step("relu", n.name)]
    if op == "MaxPool":
        k = list(_attr(n, "kernel_shape"))
        if len(k) != 2 or _attr(n, "ceil_mode", 0) or list(_attr(n, "dilations", [1, 1])) != [1, 1]:
            raise QuantizeError(f"{p}: {describe_node(n)}: only 2-D max pools without ceil_mode or dilation are "
                                "supported.")
        pads = list(_attr(n, "pads", [0, 0, 0, 0]))
        return [Step("maxpool", n.name, attrs={"kernel": tuple(k), "strides": tuple(_attr(n, "strides", k)),
                                               "pads": (pads[0], pads[1], pads[2], pads[3])})]
    if op in ("Flatten", "Reshape"):
        if op == "Flatten" and _attr(n, "axis", 1) != 1:
            raise QuantizeError(f"{p}: {describe_node(n)}: only Flatten with axis 1 is supported.")
        if op == "Reshape":
            shape = _const(n, inits, 1, p, "shape").astype(np.int64).ravel().tolist()
            if len(shape) != 2 or shape[0] not in (1, -1, 0):
                raise QuantizeError(f"{p}: {describe_node(n)}: only a Reshape to (N, features) (a flatten) is "
                                    "supported.")
        return [Step("flatten", n.name)]
    if op in ("Softmax", "LogSoftmax"):
        return [Step(op.lower(), n.name, attrs={"axis": _attr(n, "axis", -1)})]
    raise QuantizeError(f"{p}: {describe_node(n)} is an op `hwgen quantize` does not support; it takes chains of "
                        "Gemm / MatMul / Conv (+ BatchNormalization), Relu, MaxPool, Flatten and a final Softmax.")
