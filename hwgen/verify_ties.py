"""Inputs where qonnx's own float32 arithmetic, not hwgen, is off: a quantizer's input that lies on (or within
float32 rounding of) one of its rounding boundaries.

qonnx runs a MatMul / Conv / Gemm in float32 on de-quantized values, (x_level * s_x) @ (w_level * s_w): with scales
that are not powers of two, those products and their sum are rounded (in BLAS order), while the hardware sums the
integers exactly. Where the exact pre-quantizer value sits on a rounding boundary, qonnx's rounded sum can fall on
the other side, so its next quantizer level is one step off. No threshold function of the integer accumulator can
reproduce that (it depends on the terms and their order), so hwgen cannot equal qonnx there.

`classify` decides, for each input where hwgen's reference and qonnx differ, whether that is the cause. An input
counts as such a tie only if BOTH hold:

- the same QONNX graph evaluated in float64 (every float initializer, value and Constant in double, standard nodes
  by onnxruntime in double, or in float32 at a node it has no double kernel for; Quant, QuantizeLinear and
  DequantizeLinear in numpy, without qonnx's cast to float32; weights' levels exactly as qonnx computes them in
  float32, their de-quantized values level * scale exact) gives hwgen's output, to float32 rounding (and not
  qonnx's, which differs from hwgen by more);
- the graph evaluated node by node in float32 reproduces qonnx's output, and the first quantizer whose level differs
  between the float32 and float64 runs differs by one step, with both pre-rounding values within float32 rounding
  (TIE_TOL levels) of the same rounding boundary.

A real hwgen bug (a threshold off by one, a wrong bias) moves hwgen's output away from the float64 graph, which
is exact to ~1e-16 where float32 is exact to ~1e-7, so it fails the first test; only a bug that coincides with
a boundary that float32 itself cannot resolve could hide, and there hwgen's answer is the exact one anyway.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QUANT_OPS = {"Quant", "IntQuant"}
CHUNK = 256  # inputs classified per float32 / float64 re-run
TIE_TOL = 1e-3  # levels: float32 sums of these layers are off by < 1e-4 level; a one-step bug is off by >= 1


def to_float64(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of `model` with every float32 tensor (initializers, inputs, outputs, value_info, Constant values,
    Cast targets) in float64."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    for i, t in enumerate(g.initializer):
        if t.data_type == TensorProto.FLOAT:
            g.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name))
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.DOUBLE
    for n in g.node:
        for a in n.attribute:
            if n.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.DOUBLE
            if n.op_type == "Constant" and a.name == "value" and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float64), a.t.name))
    return m


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            v = helper.get_attribute_value(a)
            return v.decode() if isinstance(v, bytes) else v
    return default


def _run_node(node, ins: list, types: dict, opset: int, ir_version: int) -> list:
    """One standard node by onnxruntime (as qonnx runs it), in the inputs' own precision."""
    import onnxruntime as ort

    inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
              for n, a in zip(node.input, ins) if n]
    outputs = [helper.make_value_info(o, onnx.TypeProto()) for o in node.output]
    g = helper.make_graph([node], "one", inputs, outputs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir_version
    # the output types from the inputs' (not the graph's, whose batch and precision are qonnx's)
    inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    found = {v.name: v for v in list(inferred.graph.output) + list(inferred.graph.value_info)}
    del m.graph.output[:]
    m.graph.output.extend(found.get(o) or types[o] for o in node.output)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # no fusions: qonnx's op order
    sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {n: a for n, a in zip(node.input, ins) if n})


def evaluate(model: onnx.ModelProto, x: np.ndarray, double: bool) -> tuple[np.ndarray, list]:
    """(output, [(quant node name, pre-rounding value in levels)]) of the graph on x, in float32 as qonnx runs it
    or in float64. The model is cleaned up and batched as hwgen.verify.golden does."""
    m = to_float64(model) if double else model
    g = m.graph
    dt = np.float64 if double else np.float32
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 13)
    types = {v.name: v for v in list(g.value_info) + list(g.output)}
    ctx = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    ctx[g.input[0].name] = np.asarray(x, dtype=dt)
    pre = []
    dynamic = {g.input[0].name}  # tensors that depend on the input (the rest: weights, constants)
    for node in g.node:
        ins = [ctx[i] if i else None for i in node.input]
        if not dynamic.intersection(node.input):
            # weights' quantizers and constant folding: the model's definition, in float32 as qonnx computes it
            # (hwgen takes these levels from qonnx), then widened; a quantizer's de-quantized values, though, are
            # level * scale exactly (float64), not float32's rounding of them, nor are a DequantizeLinear's
            if double and node.op_type == "DequantizeLinear":
                res = evaluate_node(node, ins, g, types, opset, m.ir_version, [])
            else:
                ins32 = [a.astype(np.float32) if a is not None and a.dtype == np.float64 else a for a in ins]
                levels = []
                res = evaluate_node(node, ins32, g, types, opset, m.ir_version, levels)
                if double and levels and node.op_type in QUANT_OPS:
                    zp, scale = np.asarray(ins[2], np.float64), np.asarray(ins[1], np.float64)
                    res = {node.output[0]: (levels[0][2].astype(np.float64) - zp) * scale}
            for o in node.output:
                r = res[o]
                ctx[o] = r.astype(dt) if r.dtype.kind == "f" else r
            continue
        dynamic.update(node.output)
        res = evaluate_node(node, ins, g, types, opset, m.ir_version, pre)
        for o in node.output:
            ctx[o] = res[o].astype(dt) if res[o].dtype.kind == "f" else res[o]
    return ctx[g.output[0].name], pre


def evaluate_node(node, ins, g, types, opset, ir_version, pre) -> dict:
    """{output: value} of one node in the precision of its float inputs; a quantizer appends (name, pre-rounding
    value in levels, level) to `pre`."""
    from qonnx.custom_op.general.intquant import max_int, min_int
    from qonnx.custom_op.general.quant import resolve_rounding_mode
    from qonnx.custom_op.registry import getCustomOp

    ctx = {}
    if node.op_type in QUANT_OPS and node.domain.startswith("qonnx"):
        # qonnx's int_quant, step by step, keeping the pre-rounding value; float32 as qonnx (its cast included)
        v, scale, zp, bits = (np.asarray(a) for a in ins)
        dt = v.dtype
        y = v / scale + zp
        signed, narrow = int(_attr(node, "signed", 1)), int(_attr(node, "narrow", 0))
        if int(bits) == 1 and signed:
            lev = np.where(y >= 0.0, 1.0, -1.0).astype(y.dtype)
        else:
            lo, hi = min_int(signed, narrow, bits), max_int(signed, narrow, bits)
            y = np.where(y > hi, hi.astype(y.dtype), y)
            y = np.where(y < lo, lo.astype(y.dtype), y)
            lev = resolve_rounding_mode(_attr(node, "rounding_mode", "ROUND"))(y)
        mode = str(_attr(node, "rounding_mode", "ROUND")).upper()
        pre.append((node.name or node.output[0], np.asarray(y), np.asarray(lev), mode))
        ctx[node.output[0]] = np.asarray((lev - zp) * scale, dtype=dt)
    elif node.op_type == "QuantizeLinear":
        x, scale = np.asarray(ins[0]), np.asarray(ins[1])
        zp = np.asarray(ins[2]) if len(ins) > 2 and ins[2] is not None else np.zeros((), np.uint8)
        scale, zpf = _per_axis(scale, x, node), _per_axis(zp, x, node).astype(x.dtype)
        info = np.iinfo(zp.dtype)
        y = np.clip(x / scale.astype(x.dtype) + zpf, info.min, info.max)  # the value rounded (ONNX: half even)
        if x.dtype == np.float32:  # as qonnx: onnxruntime's kernel gives the levels
            lev = _run_node(node, ins, types, opset, ir_version)[0]
        else:
            lev = np.rint(y).astype(zp.dtype)
        pre.append((node.name or node.output[0], y, lev.astype(np.float64), "ROUND"))
        ctx[node.output[0]] = lev
    elif node.op_type == "DequantizeLinear" and any(
            a is not None and a.dtype == np.float64 for a in ins):  # no double kernel: exact in numpy
        q, scale = np.asarray(ins[0]), np.asarray(ins[1], np.float64)
        zp = np.asarray(ins[2]) if len(ins) > 2 and ins[2] is not None else np.zeros((), q.dtype)
        ctx[node.output[0]] = (q.astype(np.float64) - _per_axis(zp, q, node).astype(np.float64)) \
            * _per_axis(scale, q, node)
    elif node.domain and node.domain not in ("", "ai.onnx"):
        # other QONNX ops (BipolarQuant, Trunc, ...): qonnx's own code; its float32 result is then widened
        ctx.update({i: a for i, a in zip(node.input, ins) if i})
        getCustomOp(node).execute_node(ctx, g)
    else:
        try:
            ctx.update(zip(node.output, _run_node(node, ins, types, opset, ir_version)))
        except Exception:  # onnxruntime has no double kernel for this op: float32 at this node only, then widened
            ins32 = [a.astype(np.float32) if a is not None and a.dtype == np.float64 else a for a in ins]
            ctx.update(zip(node.output, _run_node(node, ins32, types, opset, ir_version)))
    return {o: np.asarray(ctx[o]) for o in node.output}


def _per_axis(v: np.ndarray, x: np.ndarray, node) -> np.ndarray:
    """A (De)QuantizeLinear scale or zero point shaped to broadcast against x (per-axis: along `axis`)."""
    if v.ndim != 1 or v.size == 1:
        return v.reshape(())
    axis = int(_attr(node, "axis", 1)) % x.ndim
    shape = [1] * x.ndim
    shape[axis] = v.size
    return v.reshape(shape)


def _close(a, b) -> np.ndarray:
    """Per input (first axis): a equals b to float32 rounding (the tolerance of verify's compare_with_golden)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    tol = 1e-5 * float(np.abs(b).max(initial=0) or 1)
    ok = np.isclose(a, b, rtol=1e-5, atol=tol)
    return ok.reshape(len(ok), -1).all(axis=1)


def classify(model: onnx.ModelProto, x: np.ndarray, ref: np.ndarray, gold: np.ndarray) -> dict:
    """For every input where `ref` (hwgen) and `gold` (qonnx) differ beyond float32 rounding:
    {"ties": [rows that are qonnx float32 ties], "bugs": [other rows], "first": evidence line of the first tie,
    "unchecked": rows left unclassified once a chunk of CHUNK rows held a failure}.
    `model`: the cleaned, batched QONNX model gold came from (any batch: it is re-batched to the rows checked)."""
    rows = np.flatnonzero(~_close(ref, gold))
    out = {"ties": [], "bugs": [], "first": None, "unchecked": 0}
    if not len(rows):
        return out
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.change_batchsize import ChangeBatchSize

    for start in range(0, len(rows), CHUNK):
        if out["bugs"]:  # a failure already: the rest need not be classified (each costs two graph runs)
            out["unchecked"] = len(rows) - start
            break
        part = rows[start:start + CHUNK]
        m = ModelWrapper(model).transform(ChangeBatchSize(len(part))).model
        xs = np.asarray(x)[part]
        y64, pre64 = evaluate(m, xs, double=True)
        y32, pre32 = evaluate(m, xs, double=False)
        agrees64 = _close(ref[part], y64) & ~_close(gold[part], y64)
        is_qonnx = np.array([np.array_equal(a, b) for a, b in zip(y32, np.asarray(gold)[part])])
        for j, r in enumerate(part):
            why = _tie_evidence(pre32, pre64, j) if agrees64[j] and is_qonnx[j] else None
            if why is None:
                out["bugs"].append(int(r))
            else:
                out["ties"].append(int(r))
                if out["first"] is None:
                    out["first"] = f"input {int(r)}: {why}"
    return out


def _tie_evidence(pre32, pre64, j) -> str | None:
    """The first quantizer whose level differs between the float32 and float64 runs of input j, if it differs by
    one step with both pre-rounding values within TIE_TOL of the same boundary (a description), else None."""
    for (name, y32, l32, mode), (_, y64, l64, _) in zip(pre32, pre64):
        d = np.flatnonzero((l32[j] != l64[j]).ravel())
        if not len(d):
            continue
        bad = []
        for i in d:
            a, b = float(y32[j].ravel()[i]), float(y64[j].ravel()[i])
            la, lb = float(l32[j].ravel()[i]), float(l64[j].ravel()[i])
            # the boundary between the two levels: FLOOR steps at the upper level, CEIL / UP at the lower,
            # the ROUND family half-way
            edge = max(la, lb) if mode == "FLOOR" else min(la, lb) if mode in ("CEIL", "UP") else (la + lb) / 2
            if abs(la - lb) != 1 or abs(a - edge) > TIE_TOL or abs(b - edge) > TIE_TOL:
                return None
            bad.append((i, a, b, la, lb))
        i, a, b, la, lb = bad[0]
        return (f"quantizer {name!r} element {int(i)}: qonnx's float32 value {a:.9g} levels rounds to {la:g}, "
                f"the float64 graph's {b:.12g} to {lb:g} (hwgen's level)")
    return None
