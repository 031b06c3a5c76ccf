"""Element-wise float ops and shape ops on a hardware value: carried along, not lowered by themselves.

Element-wise ops with constant other operands (bias, BatchNorm, scales, ReLU, ...) and the output selections
(TopK, ArgMax: a LabelSelect when they end the model) join the value's chain: the next quantizer folds them into
its thresholds, or the CPU computes them where the value leaves hardware. Softmax / LogSoftmax mix a row's
elements (not element-wise): no rule, they run on the CPU. Shape ops (Reshape, Flatten, Transpose, ...) move the ONNX indices of the
elements but not the stream: they rewrite the value's layout (hwgen.transforms.layout).
"""

from __future__ import annotations

from dataclasses import replace

from hwgen.frontend.load import ELEMENTWISE_OPS, SHAPE_OPS, TAIL_OPS
from hwgen.transforms import layout
from hwgen.transforms.rules.registry import lowering_rule


@lowering_rule(*sorted(ELEMENTWISE_OPS | (TAIL_OPS - {"Softmax", "LogSoftmax"})), reads_sum=True)
def elementwise(w, n, vs):
    if len(vs) > 1:
        raise w.err(n, "an element-wise op of two data tensors is only supported as a residual Add of "
                       "two quantized tensors.")
    v = vs[0]
    # TopK: values and indices both follow the chain (the model's output decides which one the tail gives)
    return {o: replace(v, chain=v.chain + [n], shape=w.shape_or(o, v.shape)) for o in n.output if o}


@lowering_rule(*sorted(SHAPE_OPS), reads_sum=True)
def shape_op(w, n, vs):
    v = vs[0]
    new_shape = w.shape(n.output[0])
    perm = layout.after_shape_op(n, v.perm, v.shape, new_shape)
    nv = replace(v, chain=v.chain + [n] if v.chain else [], shape=new_shape, perm=perm)
    if v.is_int:
        nv.point = replace(v.point, tensor=n.output[0])
        base = v.base or (v.point.tensor, v.shape, [])
        nv.base = None if perm is None else (base[0], base[1], base[2] + [n])
    return nv
