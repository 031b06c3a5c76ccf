"""Numpy evaluation of the CPU partitions (head: input quantizer; tail: final float ops) for the board.

A board image may have no onnxruntime (PYNQ-Z1/Z2 run 32-bit ARM), so the driver package carries the partitions
as a JSON list of nodes plus a .npz of constants and evaluates them here with float32 numpy. Element-wise IEEE
operations give the same bits as onnxruntime; BatchNormalization follows onnxruntime's CPU kernel step by step
(1/sqrt(var + eps), scale * that, bias - mean * that, x * a + b). hwgen's tests compare this evaluator with the
onnxruntime-based one on every test model.
"""

from __future__ import annotations

import json

import numpy as np

try:  # inside the driver package
    from . import quant as q
except ImportError:  # imported from hwgen itself
    from hwgen import quant as q


class InputTypeError(ValueError):
    """An input value outside the datatype the model declares for its input (finn_datatype annotation)."""


def check_input_type(x, spec: dict) -> None:
    """spec: InputGrid.to_json() (name, lo, hi, frac_bits, bipolar): every element must be a value of it."""
    with np.errstate(all="ignore"):
        q = np.asarray(x, dtype=np.float64) * (2.0 ** int(spec["frac_bits"]))
        bad = ~np.isfinite(q) | (q != np.round(q))
        bad |= ((q != 1) & (q != -1)) if spec["bipolar"] else ((q < spec["lo"]) | (q > spec["hi"]))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputTypeError(f"input element {idx} is {float(np.asarray(x)[idx])!r}, not a {spec['name']} value; the "
                             f"accelerator was built for inputs of that type (the model's input annotation).")


def _f32(a):
    return np.asarray(a, dtype=np.float32) if np.asarray(a).dtype == np.float64 else np.asarray(a)


class NumpyPartition:
    def __init__(self, desc: dict, constants: dict):
        self.desc = desc
        self.c = constants

    @classmethod
    def load(cls, json_path, npz_path):
        with open(json_path) as f:
            desc = json.load(f)
        consts = dict(np.load(npz_path)) if npz_path else {}
        return cls(desc, consts)

    def entry_values(self, x):
        e = self.desc.get("entry_kind")
        if e == "index":
            x = np.asarray(x, dtype=np.int64)
            return x.reshape((x.shape[0],) + tuple(int(d) for d in self.c["__entry_shape"][1:]))
        if e == "acc":
            a = np.asarray(x, dtype=np.float64)
            return ((a - self.c["__entry_offset"]) * self.c["__entry_factor"]).astype(np.float32)
        if e == "int":
            return ((np.asarray(x).astype(np.float32) - self.c["__entry_zp"]) * self.c["__entry_scale"]).astype(
                np.float32, copy=False)
        return x

    def run(self, x):
        if self.desc.get("input_check"):
            check_input_type(x, self.desc["input_check"])
        ctx = dict(self.c)
        ctx[self.desc["input"]] = self.entry_values(x)
        batch = ctx[self.desc["input"]].shape[0]
        int_out = set(self.desc.get("int_output", []))
        for n in self.desc["nodes"]:
            ins = [ctx[i] if i else None for i in n["inputs"]]
            outs = _eval(n["op"], ins, n.get("attrs", {}), batch, n["outputs"][0] in int_out)
            for name, v in zip(n["outputs"], outs):
                if name:
                    ctx[name] = v
        return ctx[self.desc["output"]]


def _eval(op, ins, at, batch, int_output):
    x = ins[0]
    if op == "Quant":
        qi = q.quant_int(x, ins[1], ins[2], ins[3], bool(at.get("signed", 1)), bool(at.get("narrow", 0)),
                         at.get("rounding_mode", "ROUND"))
        return [qi if int_output else ((qi - ins[2]) * ins[1]).astype(np.float32, copy=False)]  # as qonnx
    if op == "BipolarQuant":
        qi = q.bipolar_quant_int(x)
        return [qi if int_output else qi * ins[1]]
    if op == "Trunc":
        mode = at.get("rounding_mode", "FLOOR")
        p = q.trunc_params(ins, mode)
        qi, zp, sc = q.trunc_int(p, mode, bool(at.get("narrow", 0)), bool(at.get("signed", 1)))
        return [qi if int_output else (qi - zp) * sc]
    if op in ("Add", "Sub", "Mul", "Div"):
        a, b = x, ins[1]
        f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
        return [f(a, b).astype(np.result_type(a, b), copy=False)]
    if op == "Relu":
        return [np.maximum(x, np.zeros((), x.dtype))]
    if op == "Clip":
        lo = ins[1] if len(ins) > 1 and ins[1] is not None else at.get("min")
        hi = ins[2] if len(ins) > 2 and ins[2] is not None else at.get("max")
        y = x
        if lo is not None:
            y = np.maximum(y, np.asarray(lo, x.dtype))
        if hi is not None:
            y = np.minimum(y, np.asarray(hi, x.dtype))
        return [y]
    if op == "BatchNormalization":
        scale, bias, mean, var = (np.asarray(i, np.float32) for i in ins[1:5])
        eps = np.float32(at.get("epsilon", 1e-5))
        inv_std = np.float32(1.0) / np.sqrt(var + eps)
        a = inv_std * scale
        b = bias - mean * a
        shape = [1, -1] + [1] * (x.ndim - 2)
        return [x * a.reshape(shape) + b.reshape(shape)]
    if op in ("Reshape",):
        shape = np.array(ins[1], dtype=np.int64).copy()
        if shape.size and shape[0] == 1 and batch != 1:
            shape[0] = batch
        return [x.reshape(shape)]
    if op == "Flatten":
        axis = at.get("axis", 1)
        return [x.reshape(int(np.prod(x.shape[:axis])), -1)]
    if op == "Transpose":
        return [np.transpose(x, at.get("perm"))]
    if op == "Identity":
        return [x]
    if op == "Squeeze":
        axes = ins[1] if len(ins) > 1 and ins[1] is not None else at.get("axes")
        return [np.squeeze(x, axis=tuple(int(a) for a in np.atleast_1d(axes))) if axes is not None else np.squeeze(x)]
    if op == "Unsqueeze":
        axes = ins[1] if len(ins) > 1 and ins[1] is not None else at.get("axes")
        return [np.expand_dims(x, tuple(int(a) for a in np.atleast_1d(axes)))]
    if op == "Gemm":
        a, b = x, ins[1]
        if at.get("transA", 0):
            a = a.T
        if at.get("transB", 0):
            b = b.T
        y = np.float32(at.get("alpha", 1.0)) * (a @ b)
        if len(ins) > 2 and ins[2] is not None:
            y = y + np.float32(at.get("beta", 1.0)) * ins[2]
        return [y.astype(np.float32)]
    if op == "MatMul":
        return [np.matmul(x, ins[1])]
    if op in ("Softmax", "LogSoftmax"):
        axis = at.get("axis", -1)
        m = x.max(axis=axis, keepdims=True)
        e = np.exp(x - m)
        s = e.sum(axis=axis, keepdims=True)
        return [e / s if op == "Softmax" else (x - m) - np.log(s)]
    if op == "ArgMax":
        axis = at.get("axis", 0)
        y = np.argmax(x, axis=axis)
        return [np.expand_dims(y, axis) if at.get("keepdims", 1) else y]
    if op == "TopK":
        k = int(np.asarray(ins[1]).ravel()[0])
        axis = at.get("axis", -1)
        largest = at.get("largest", 1)
        order = np.argsort(-x if largest else x, axis=axis, kind="stable")
        idx = np.take(order, np.arange(k), axis=axis)
        return [np.take_along_axis(x, idx, axis=axis), idx.astype(np.int64)]
    raise NotImplementedError(f"op {op} is not supported by the board-side evaluator")


OPS = {"Quant", "BipolarQuant", "Trunc", "Add", "Sub", "Mul", "Div", "Relu", "Clip", "BatchNormalization", "Reshape",
       "Flatten", "Transpose", "Identity", "Squeeze", "Unsqueeze", "Gemm", "MatMul", "Softmax", "LogSoftmax",
       "ArgMax", "TopK"}
