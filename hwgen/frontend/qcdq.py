"""QCDQ (QuantizeLinear -> [Clip] -> DequantizeLinear) to QONNX Quant, exactly.

qonnx's QCDQToQuant loses a Clip's narrow range for unsigned types (Clip(0, 126) on uint8 becomes a 7-bit
range [0, 127]); this conversion reads the integer range off the Clip and picks bits / signed / narrow so the
Quant node clips to exactly that range, or refuses. DequantizeLinear of a constant integer tensor (weights
stored as int8) becomes a Quant of the de-quantized constant, which recovers the same integers.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from hwgen.errors import UnsupportedModelError, describe_node
from hwgen.quant import int_bounds


def _range_params(lo: int, hi: int):
    """(bits, signed, narrow) whose QONNX Quant range is exactly [lo, hi], or None."""
    for bits in range(1, 33):
        for signed in (False, True):
            for narrow in (False, True):
                if bits == 1 and signed:
                    continue
                if int_bounds(signed, narrow, bits) == (lo, hi):
                    return bits, signed, narrow
    return None


def qcdq_to_quant(model: onnx.ModelProto, path: str) -> None:
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    consumers = {}
    for n in g.node:
        for t in n.input:
            consumers.setdefault(t, []).append(n)

    def const(name):
        return numpy_helper.to_array(inits[name]) if name in inits else None

    remove, add = [], []
    counter = [0]

    def new_init(base, arr):
        counter[0] += 1
        name = f"{base}__hwgen_{counter[0]}"
        g.initializer.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    for dq in [n for n in g.node if n.op_type == "DequantizeLinear"]:
        src = dq.input[0]
        scale, zp = const(dq.input[1]), const(dq.input[2]) if len(dq.input) > 2 and dq.input[2] else None
        if scale is None:
            raise UnsupportedModelError(f"{path}: {describe_node(dq)}: its scale is not a constant.")
        axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
        prod = next((n for n in g.node if src in n.output), None)
        clip = None
        if prod is not None and prod.op_type == "Clip":
            clip, prod = prod, next((n for n in g.node if prod.input[0] in n.output), None)
        if prod is not None and prod.op_type == "QuantizeLinear":
            q_node, x_name = prod, prod.input[0]
            int_dtype = const(q_node.input[2]).dtype if len(q_node.input) > 2 and q_node.input[2] else np.uint8
        elif prod is None and (src in inits or (clip is not None and clip.input[0] in inits)):
            q_node, x_name = None, None
            src = clip.input[0] if clip is not None else src
            int_dtype = const(src).dtype
        else:
            raise UnsupportedModelError(
                f"{path}: {describe_node(dq)} is not part of a QuantizeLinear -> (Clip) -> DequantizeLinear "
                "pattern (or a DequantizeLinear of constant integers); hwgen cannot convert it to a quantizer."
            )
        info = np.iinfo(int_dtype)
        lo, hi = int(info.min), int(info.max)
        if clip is not None:
            c_lo = const(clip.input[1]) if len(clip.input) > 1 and clip.input[1] else None
            c_hi = const(clip.input[2]) if len(clip.input) > 2 and clip.input[2] else None
            lo = max(lo, int(c_lo)) if c_lo is not None else lo
            hi = min(hi, int(c_hi)) if c_hi is not None else hi
        params = _range_params(lo, hi)
        if params is None:
            raise UnsupportedModelError(
                f"{path}: {describe_node(clip or dq)}: integer range [{lo}, {hi}] is not a QONNX quantizer range "
                "(n-bit signed / unsigned, optionally narrow)."
            )
        bits, signed, narrow = params
        zp_arr = np.zeros((), np.float32) if zp is None else zp.astype(np.float32)
        sc = scale.astype(np.float32)
        if sc.ndim == 1 and sc.size > 1:  # per-axis: make numpy broadcasting follow `axis`
            ndim = len(_shape_of(model, dq.input[0]) or [0, 0])
            ax = axis % ndim
            sc = sc.reshape([-1] + [1] * (ndim - 1 - ax))
            zp_arr = zp_arr.reshape([-1] + [1] * (ndim - 1 - ax)) if zp_arr.size > 1 else zp_arr
        if q_node is None:  # constant integers: quantize their de-quantized values (recovers them exactly)
            w = (numpy_helper.to_array(inits[src]).astype(np.float32) - zp_arr) * sc
            x_name = new_init(src, w)
        s_name, z_name = new_init(dq.input[1], sc), new_init(dq.input[1] + "_zp", zp_arr)
        b_name = new_init(dq.input[1] + "_bits", np.float32(bits))
        quant = helper.make_node("Quant", [x_name, s_name, z_name, b_name], [dq.output[0]],
                                 name=(q_node.name if q_node is not None else dq.name), domain="qonnx.custom_op.general",
                                 signed=int(signed), narrow=int(narrow), rounding_mode="ROUND")
        add.append((dq, quant))
        remove += [n for n in (q_node, clip) if n is not None and len(consumers.get(n.output[0], [])) <= 1]
    if not add:
        return
    nodes = []
    for n in g.node:
        if any(n is r for r in remove):
            continue
        rep = next((qn for d, qn in add if d is n), None)
        nodes.append(rep if rep is not None else n)
    del g.node[:]
    g.node.extend(nodes)


def _shape_of(model, name):
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        if vi.name == name:
            return [d.dim_value for d in vi.type.tensor_type.shape.dim]
    for i in model.graph.initializer:
        if i.name == name:
            return list(i.dims)
    return None
