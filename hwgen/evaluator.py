"""The one CPU evaluator: ONNX nodes computed as qonnx computes them, for every CPU island, hardware island head
and tail and for the float chains folded into thresholds: in the build, in every backend and, copied into the
driver package (hwgen.runtime.driver_writer), on the board.

qonnx runs standard ONNX nodes one at a time with onnxruntime, and its own quantizers (Quant, BipolarQuant,
Trunc) in numpy. So does this evaluator where onnxruntime can be imported (engine "ort": one cached session per
standard node, fed the node's constants as inputs, as qonnx does; the quantizers through hwgen.quant). Where it
cannot (a PYNQ board: 32-bit ARM, no onnxruntime; engine "numpy"), every node runs in numpy (OPS below):
quantizers, layout ops, comparisons and the IEEE element-wise ops (Add, Sub, Mul, Div, Relu, Clip, Max, Min, Neg,
Abs, ...) give onnxruntime's bits; ops that sum (MatMul, Gemm, Conv, AveragePool, ReduceMean / ReduceSum,
Softmax, LayerNormalization) may add in another order, and transcendental ones (Exp, Log, Sigmoid, Tanh, Erf,
Sqrt, Pow) may round differently from onnxruntime's vectorized kernels: a last-bit difference that a following
quantizer turns into a level only when it lands on a rounding boundary. README "CPU islands" says so;
tests/test_evaluator.py bounds it on the island test models.

Nodes are onnx.NodeProto (the host) or plain dicts {"op", "name", "inputs", "outputs", "attrs", "domain"} (the
board: hwgen.islands / hwgen.cpu_partition write them as JSON). This module imports neither onnx nor
onnxruntime unless the "ort" engine runs.

Batch: the subgraphs come from a model with batch size 1. Any leading batch size N works for element-wise and
matrix ops; Reshape targets that name the batch explicitly (1, ...) are rewritten to (N, ...).
"""

from __future__ import annotations

import math

import numpy as np

try:  # inside the driver package
    from . import quant as q
except ImportError:  # as part of hwgen
    from hwgen import quant as q

QONNX_OPS = {"Quant", "BipolarQuant", "Trunc"}


class Node:
    """One node, whatever it came as (the ONNX op in op_type, as a NodeProto): op_type, name, inputs, outputs, attrs (python values), domain, proto."""

    __slots__ = ("op_type", "name", "inputs", "outputs", "attrs", "domain", "proto")

    def __init__(self, op, name, inputs, outputs, attrs, domain="", proto=None):
        self.op_type, self.name, self.inputs, self.outputs = op, name, list(inputs), list(outputs)
        self.attrs, self.domain, self.proto = attrs, domain, proto

    @classmethod
    def of(cls, n) -> "Node":
        if isinstance(n, Node):
            return n
        if isinstance(n, dict):
            return cls(n["op"], n.get("name", ""), n["inputs"], n["outputs"], n.get("attrs", {}), n.get("domain", ""))
        return cls(n.op_type, n.name, n.input, n.output, proto_attrs(n), n.domain, n)

    def to_json(self) -> dict:
        return {"op": self.op_type, "name": self.name, "inputs": self.inputs, "outputs": self.outputs,
                "attrs": self.attrs, "domain": self.domain}


def proto_attrs(n) -> dict:
    """A NodeProto's attributes as JSON-able python values (host only: imports onnx)."""
    import onnx
    from onnx import helper, numpy_helper

    attrs = {}
    for a in n.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, onnx.TensorProto):
            v = numpy_helper.to_array(v).tolist()
        elif isinstance(v, (list, tuple)):
            v = [x.decode() if isinstance(x, bytes) else x for x in v]
        attrs[a.name] = v
    return attrs


def ort_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class Evaluator:
    """Runs `nodes` (topologically ordered) given constant tensors and the graph's opset.

    int_output: names of quantizer outputs to give as integer levels q (not de-quantized). engine: "ort" (as
    qonnx: onnxruntime per standard node), "numpy" (the board), or None: "ort" when onnxruntime can be imported
    and the nodes are NodeProtos, else "numpy"."""

    def __init__(self, nodes, constants, opset: int = 13, int_output=(), engine: str | None = None,
                 ir_version: int = 7):
        self.protos = list(nodes)
        self.nodes = [Node.of(n) for n in nodes]
        self.constants = constants
        self.opset = int(opset)
        self.int_output = set(int_output)
        self.ir_version = ir_version
        if engine is None:
            engine = "ort" if all(n.proto is not None for n in self.nodes) and ort_available() else "numpy"
        self.engine = engine
        self._sessions: dict = {}

    def run(self, feeds: dict, outputs: list | None = None) -> dict:
        ctx = dict(self.constants)
        ctx.update(feeds)
        batch = next(iter(feeds.values())).shape[0] if feeds else 1
        for idx, node in enumerate(self.nodes):
            ins = [ctx[i] if i else None for i in node.inputs]
            try:
                if node.op_type in QONNX_OPS:
                    res = run_qonnx(node, ins, node.outputs[0] in self.int_output)
                else:
                    if node.op_type == "Reshape" and batch != 1:
                        ins[1] = _rebatch_shape(ins[1], batch)
                    res = self._run_ort(idx, node, ins) if self.engine == "ort" else run_numpy(node, ins, batch)
            except (EvaluatorError, FloatingPointError, KeyboardInterrupt):
                raise
            except Exception as e:  # onnxruntime's or numpy's errors: name the node
                raise node_error(node, e) from None
            for name, val in zip(node.outputs, res):
                if name:
                    ctx[name] = val
        if outputs is None:
            return ctx
        return {o: ctx[o] for o in outputs}

    def _run_ort(self, idx, node, ins):
        import onnx
        import onnxruntime as rt
        from onnx import helper

        names = [i for i in node.inputs if i]
        arrays = [a for a in ins if a is not None]
        key = (idx, tuple(a.dtype.str for a in arrays))
        sess = self._sessions.get(key)
        if sess is None:
            inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), None)
                      for n, a in zip(names, arrays)]
            outputs = [onnx.ValueInfoProto(name=o) for o in node.outputs if o]
            g = helper.make_graph([node.proto], "hwgen_single_node", inputs, outputs)
            m = helper.make_model(g, opset_imports=[helper.make_opsetid("", self.opset)])
            m.ir_version = self.ir_version
            so = rt.SessionOptions()
            # one small node per session: its pool threads must not spin after each run (they would burn CPU
            # the caller's own threads need, e.g. the cpu backend's; same threads, so the same arithmetic)
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            so.add_session_config_entry("session.inter_op.allow_spinning", "0")
            sess = rt.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
            self._sessions[key] = sess
        feed = {n: np.asarray(a) for n, a in zip(names, arrays)}
        return sess.run(None, feed)


class EvaluatorError(Exception):
    """A node that cannot be executed (hwgen turns it into an UnsupportedModelError naming the node)."""


def node_error(node, err) -> Exception:
    try:  # as part of hwgen: its error type (one line, exit 2 in the CLI)
        from hwgen.onnx_eval import EvaluationError

        return EvaluationError(node, err)
    except ImportError:  # on the board
        return EvaluatorError(f"{node.op_type} node {node.name!r}: {type(err).__name__}: {err}")


def _rebatch_shape(shape, batch):
    shape = np.array(shape, dtype=np.int64).copy()
    if shape.ndim == 1 and shape.size >= 1 and shape[0] == 1:
        shape[0] = batch
    return shape


# --- the quantizers, as qonnx computes them ---------------------------------------------------------------------
def run_qonnx(node, ins, int_output: bool):
    at = node.attrs
    op = node.op_type
    if op == "BipolarQuant":
        qi = q.bipolar_quant_int(ins[0])
        return [qi if int_output else qi * ins[1]]
    if op == "Quant":
        x, scale, zp, bits = ins[:4]
        qi = q.quant_int(x, scale, zp, bits, bool(at.get("signed", 1)), bool(at.get("narrow", 0)),
                         at.get("rounding_mode", "ROUND"))
        # qonnx casts a Quant's output to float32 (its parameters may be int64 / float64, as QKeras's converter
        # writes them, which makes the arithmetic above float64)
        return [qi if int_output else ((qi - zp) * scale).astype(np.float32, copy=False)]
    mode = at.get("rounding_mode", "FLOOR")
    p = q.trunc_params(ins, mode)
    qi, zp_out, scale_out = q.trunc_int(p, mode, bool(at.get("narrow", 0)), bool(at.get("signed", 1)))
    return [qi if int_output else (qi - zp_out) * scale_out]


# --- standard ONNX ops in numpy (the board) ------------------------------------------------------------------------
def _f32(x):
    return x.astype(np.float32) if x.dtype == np.float64 else x


def _axes(node, ins, k=1, default=None):
    a = ins[k] if len(ins) > k and ins[k] is not None else node.attrs.get("axes", default)
    return None if a is None else tuple(int(v) for v in np.atleast_1d(a))


def _reduce(f, node, ins):
    x = ins[0]
    axes = _axes(node, ins)
    if axes is None or len(axes) == 0:
        axes = None if not node.attrs.get("noop_with_empty_axes", 0) else ()
    if axes == ():
        return [x]
    y = f(x, axis=axes, keepdims=bool(node.attrs.get("keepdims", 1)))
    return [np.asarray(y, dtype=x.dtype)]


def _pads2(node, nsp):
    p = node.attrs.get("pads", [0] * (2 * nsp))
    return [(int(p[i]), int(p[i + nsp])) for i in range(nsp)]


def _windows(x, kernel, strides, dil, pads, value):
    """(N, C, *out, *kernel) views of x padded with `value`."""
    nsp = len(kernel)
    xp = np.pad(x, [(0, 0), (0, 0)] + pads, constant_values=value)
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dil)]
    out = [(xp.shape[2 + i] - spans[i]) // strides[i] + 1 for i in range(nsp)]
    v = np.lib.stride_tricks.sliding_window_view(xp, spans, axis=tuple(range(2, 2 + nsp)))
    sl = (slice(None), slice(None)) + tuple(slice(0, o * s, s) for o, s in zip(out, strides)) + \
        tuple(slice(None, None, d) for d in dil)
    return v[sl]


def _conv(node, ins):
    x, w = ins[0], ins[1]
    nsp = x.ndim - 2
    at = node.attrs
    kernel = list(at.get("kernel_shape", w.shape[2:]))
    strides = list(at.get("strides", [1] * nsp))
    dil = list(at.get("dilations", [1] * nsp))
    if at.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise NotImplementedError("Conv auto_pad SAME_*")
    pads = _pads2(node, nsp) if at.get("auto_pad", "NOTSET") == "NOTSET" else [(0, 0)] * nsp
    g = int(at.get("group", 1))
    win = _windows(x, kernel, strides, dil, pads, 0)  # (N, C, *out, *k)
    n, c = x.shape[:2]
    o = w.shape[0]
    outs = []
    for gi in range(g):
        xs = win[:, gi * c // g:(gi + 1) * c // g]
        ws = w[gi * o // g:(gi + 1) * o // g]
        # (N, *out, C/g * k) @ (C/g * k, O/g)
        xs = np.moveaxis(xs, 1, 1 + nsp).reshape(n, *xs.shape[2:2 + nsp], -1)
        outs.append(np.moveaxis(xs @ ws.reshape(ws.shape[0], -1).T, -1, 1))
    y = np.concatenate(outs, axis=1).astype(x.dtype)
    if len(ins) > 2 and ins[2] is not None:
        y = y + ins[2].reshape((1, -1) + (1,) * nsp)
    return [y.astype(x.dtype)]


def _pool(node, ins, kind):
    x = ins[0]
    nsp = x.ndim - 2
    at = node.attrs
    if kind.startswith("global"):
        f = np.max if kind == "globalmax" else np.mean
        return [f(x, axis=tuple(range(2, x.ndim)), keepdims=True).astype(x.dtype)]
    if at.get("ceil_mode", 0) or at.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise NotImplementedError("pool ceil_mode / auto_pad SAME_*")
    kernel = list(at["kernel_shape"])
    strides = list(at.get("strides", [1] * nsp))
    dil = list(at.get("dilations", [1] * nsp))
    pads = _pads2(node, nsp) if at.get("auto_pad", "NOTSET") == "NOTSET" else [(0, 0)] * nsp
    ax = tuple(range(2 + nsp, 2 + 2 * nsp))
    if kind == "max":
        return [_windows(x, kernel, strides, dil, pads, -np.inf).max(axis=ax).astype(x.dtype)]
    s = _windows(x, kernel, strides, dil, pads, 0).sum(axis=ax)
    if at.get("count_include_pad", 0) or not any(a or b for a, b in pads):
        return [(s / np.float32(math.prod(kernel))).astype(x.dtype)]
    ones = np.ones((1, 1) + x.shape[2:], x.dtype)
    cnt = _windows(ones, kernel, strides, dil, pads, 0).sum(axis=ax)
    return [(s / cnt).astype(x.dtype)]


def _gemm(node, ins):
    a, b = ins[0], ins[1]
    at = node.attrs
    if at.get("transA", 0):
        a = a.T
    if at.get("transB", 0):
        b = b.T
    y = np.float32(at.get("alpha", 1.0)) * (a @ b)
    if len(ins) > 2 and ins[2] is not None:
        y = y + np.float32(at.get("beta", 1.0)) * ins[2]
    return [y.astype(np.float32)]


def _batchnorm(node, ins):
    x = ins[0]
    scale, bias, mean, var = (np.asarray(i, np.float32) for i in ins[1:5])
    eps = np.float32(node.attrs.get("epsilon", 1e-5))
    inv_std = np.float32(1.0) / np.sqrt(var + eps)  # onnxruntime's CPU kernel, step by step
    a = inv_std * scale
    b = bias - mean * a
    shape = [1, -1] + [1] * (x.ndim - 2)
    return [x * a.reshape(shape) + b.reshape(shape)]


def _layernorm(node, ins):
    x = ins[0]
    axis = int(node.attrs.get("axis", -1)) % x.ndim
    axes = tuple(range(axis, x.ndim))
    eps = np.float32(node.attrs.get("epsilon", 1e-5))
    mean = x.mean(axis=axes, keepdims=True, dtype=np.float32)
    d = x - mean
    var = (d * d).mean(axis=axes, keepdims=True, dtype=np.float32)
    y = d / np.sqrt(var + eps) * ins[1]
    if len(ins) > 2 and ins[2] is not None:
        y = y + ins[2]
    return [y.astype(x.dtype)]


def _softmax(node, ins, log=False):
    x = ins[0]
    axis = int(node.attrs.get("axis", -1))
    m = x.max(axis=axis, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(axis=axis, keepdims=True)
    return [((x - m) - np.log(s)) if log else (e / s)]


def _resize(node, ins):
    x = ins[0]
    if node.attrs.get("mode", "nearest") != "nearest":
        raise NotImplementedError("Resize mode other than nearest")
    sizes = ins[3] if len(ins) > 3 and ins[3] is not None and np.size(ins[3]) else None
    scales = ins[2] if len(ins) > 2 and ins[2] is not None and np.size(ins[2]) else (
        ins[1] if node.op_type == "Upsample" else None)
    out = [int(v) for v in sizes] if sizes is not None else [int(math.floor(d * float(s))) for d, s in
                                                                zip(x.shape, scales)]
    y = x
    for ax, (d, o) in enumerate(zip(x.shape, out)):
        if d != o:
            if o % d:
                raise NotImplementedError("Resize by a non-integer factor")
            y = np.repeat(y, o // d, axis=ax)
    return [y]


def _pad(node, ins):
    x = ins[0]
    pads = ins[1] if len(ins) > 1 and ins[1] is not None else node.attrs.get("pads")
    pads = [int(p) for p in np.ravel(pads)]
    r = x.ndim
    value = float(np.ravel(ins[2])[0]) if len(ins) > 2 and ins[2] is not None else node.attrs.get("value", 0.0)
    mode = node.attrs.get("mode", "constant")
    width = [(pads[i], pads[i + r]) for i in range(r)]
    if mode == "constant":
        return [np.pad(x, width, constant_values=value)]
    return [np.pad(x, width, mode={"reflect": "reflect", "edge": "edge"}[mode])]


def _split(node, ins):
    x = ins[0]
    axis = int(node.attrs.get("axis", 0))
    split = ins[1] if len(ins) > 1 and ins[1] is not None else node.attrs.get("split")
    n = len(node.outputs)
    if split is None:
        return list(np.split(x, n, axis=axis))
    return list(np.split(x, np.cumsum([int(s) for s in np.ravel(split)])[:-1], axis=axis))


def _slice(node, ins):
    x = ins[0]
    starts, ends = np.ravel(ins[1]), np.ravel(ins[2])
    axes = np.ravel(ins[3]) if len(ins) > 3 and ins[3] is not None else np.arange(len(starts))
    steps = np.ravel(ins[4]) if len(ins) > 4 and ins[4] is not None else np.ones(len(starts), np.int64)
    sl = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        sl[int(a)] = slice(int(s), int(e), int(st))
    return [x[tuple(sl)]]


def _clip(node, ins):
    x = ins[0]
    lo = ins[1] if len(ins) > 1 and ins[1] is not None else node.attrs.get("min")
    hi = ins[2] if len(ins) > 2 and ins[2] is not None else node.attrs.get("max")
    y = x
    if lo is not None:
        y = np.maximum(y, np.asarray(lo, x.dtype))
    if hi is not None:
        y = np.minimum(y, np.asarray(hi, x.dtype))
    return [y]


def _topk(node, ins):
    x = ins[0]
    k = int(np.asarray(ins[1]).ravel()[0])
    axis = int(node.attrs.get("axis", -1))
    order = np.argsort(-x if node.attrs.get("largest", 1) else x, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    return [np.take_along_axis(x, idx, axis=axis), idx.astype(np.int64)]


def _argmax(node, ins, f=np.argmax):
    axis = int(node.attrs.get("axis", 0))
    y = f(ins[0], axis=axis)
    return [np.expand_dims(y, axis) if node.attrs.get("keepdims", 1) else y]


def _binary(f):
    def run(node, ins):
        a, b = ins[0], ins[1]
        return [f(a, b).astype(np.result_type(a, b), copy=False)]
    return run


def _unary(f):
    def run(node, ins):
        x = ins[0]
        with np.errstate(over="ignore", under="ignore"):
            return [np.asarray(f(x)).astype(x.dtype, copy=False)]
    return run


OPS = {
    "Add": _binary(np.add), "Sub": _binary(np.subtract), "Mul": _binary(np.multiply), "Div": _binary(np.divide),
    "Pow": _binary(np.power), "Max": lambda n, i: [np.maximum.reduce(i)], "Min": lambda n, i: [np.minimum.reduce(i)],
    "Sum": lambda n, i: [sum(i[1:], i[0])], "Equal": lambda n, i: [np.equal(i[0], i[1])],
    "Greater": lambda n, i: [np.greater(i[0], i[1])], "Less": lambda n, i: [np.less(i[0], i[1])],
    "Where": lambda n, i: [np.where(i[0], i[1], i[2])],
    "Relu": lambda n, i: [np.maximum(i[0], np.zeros((), i[0].dtype))],
    "LeakyRelu": lambda n, i: [np.where(i[0] >= 0, i[0], i[0] * np.float32(n.attrs.get("alpha", 0.01)))],
    "Clip": _clip, "Neg": _unary(np.negative), "Abs": _unary(np.abs), "Sign": _unary(np.sign),
    "Floor": _unary(np.floor), "Ceil": _unary(np.ceil), "Round": _unary(np.round), "Sqrt": _unary(np.sqrt),
    "Exp": _unary(np.exp), "Log": _unary(np.log), "Tanh": _unary(np.tanh), "Reciprocal": _unary(np.reciprocal),
    "Sigmoid": _unary(lambda x: np.float32(1) / (np.float32(1) + np.exp(-x))),
    "HardSigmoid": lambda n, i: [np.clip(i[0] * np.float32(n.attrs.get("alpha", 0.2)) + np.float32(
        n.attrs.get("beta", 0.5)), 0, 1).astype(i[0].dtype)],
    "Erf": _unary(np.vectorize(math.erf, otypes=[np.float64])),
    "Cast": lambda n, i: [i[0].astype({1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 10: np.float16,
                                       11: np.float64, 2: np.uint8, 3: np.int8}[int(n.attrs["to"])])],
    "Identity": lambda n, i: [i[0]],
    "Reshape": lambda n, i: [i[0].reshape([int(d) if d != 0 or n.attrs.get("allowzero", 0) else i[0].shape[k]
                                           for k, d in enumerate(np.ravel(i[1]))])],
    "Flatten": lambda n, i: [i[0].reshape(int(np.prod(i[0].shape[:n.attrs.get("axis", 1)])), -1)],
    "Transpose": lambda n, i: [np.transpose(i[0], n.attrs.get("perm"))],
    "Squeeze": lambda n, i: [np.squeeze(i[0], axis=_axes(n, i)) if _axes(n, i) is not None else np.squeeze(i[0])],
    "Unsqueeze": lambda n, i: [np.expand_dims(i[0], _axes(n, i))],
    "Concat": lambda n, i: [np.concatenate([a for a in i if a is not None], axis=int(n.attrs.get("axis", 0)))],
    "Split": _split, "Slice": _slice, "Pad": _pad, "Resize": _resize, "Upsample": _resize,
    "Shape": lambda n, i: [np.array(i[0].shape, np.int64)],
    "Gather": lambda n, i: [np.take(i[0], np.asarray(i[1], np.int64), axis=int(n.attrs.get("axis", 0)))],
    "Expand": lambda n, i: [i[0] * np.ones([int(d) for d in np.ravel(i[1])], i[0].dtype)],
    "MatMul": lambda n, i: [np.matmul(i[0], i[1])], "Gemm": _gemm, "Conv": _conv,
    "BatchNormalization": _batchnorm, "LayerNormalization": _layernorm,
    "Softmax": _softmax, "LogSoftmax": lambda n, i: _softmax(n, i, log=True),
    "MaxPool": lambda n, i: _pool(n, i, "max"), "AveragePool": lambda n, i: _pool(n, i, "avg"),
    "GlobalAveragePool": lambda n, i: _pool(n, i, "globalavg"), "GlobalMaxPool": lambda n, i: _pool(n, i, "globalmax"),
    "ReduceMean": lambda n, i: _reduce(np.mean, n, i), "ReduceSum": lambda n, i: _reduce(np.sum, n, i),
    "ReduceMax": lambda n, i: _reduce(np.max, n, i), "ReduceMin": lambda n, i: _reduce(np.min, n, i),
    "ArgMax": _argmax, "ArgMin": lambda n, i: _argmax(n, i, np.argmin), "TopK": _topk,
}
# ops whose numpy result can differ from onnxruntime's in the last bits (summation order, approximations)
INEXACT = {"MatMul", "Gemm", "Conv", "AveragePool", "GlobalAveragePool", "ReduceMean", "ReduceSum", "Softmax",
           "LogSoftmax", "LayerNormalization", "Exp", "Log", "Sigmoid", "Tanh", "Erf", "Sqrt", "Pow", "Sum"}


def run_numpy(node, ins, batch=1):
    f = OPS.get(node.op_type)
    if f is None:
        raise NotImplementedError(f"op {node.op_type} is not supported by the numpy evaluator (the board's)")
    return f(node, ins)
