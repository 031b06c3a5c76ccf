"""Where the integer domain starts: the CPU head in front of the first hardware layer, and why.

Models enter hardware at an integer point. Three ways a model's float input gets there:
1. The model quantizes its input itself (a Quant / BipolarQuant before the first MatMul): the head is the float
   work up to and including that quantizer (Brevitas' QuantIdentity, QCDQ exports).
2. The input's datatype is declared: a qonnx `finn_datatype` annotation on the graph input (FINN's UNSW-NB15
   MLP: BIPOLAR, then Add and Div map it to {0, 1}), or `hwgen build --input-dtype TYPE`. The element-wise ops
   between the input and the first MatMul/Gemm are evaluated - the very ops qonnx runs - on every value of the
   type; when they land exactly on a power-of-two grid (InferDataTypes' integer propagation, made exact by
   enumeration) that grid is the first layer's integer input and the first layer runs in hardware.
3. Otherwise a float input feeds the first MatMul/Gemm/Conv directly (QKeras -> QONNX, hls4ml's jet tagger): that
   first layer and its activation quantizer run in the CPU head in float32 exactly as qonnx runs them
   (onnxruntime, node by node), so outputs are bit-exact on any input; hardware starts at that quantizer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import helper

from hwgen.cpu_partition import CpuPartition
from hwgen.dtypes import BIPOLAR, smallest_for_range
from hwgen.errors import UnsupportedModelError, describe_node
from hwgen.frontend.input_types import InputGrid, annotated_grid
from hwgen.frontend.load import ELEMENTWISE_OPS, MATMUL_OPS, QUANT_OPS, SHAPE_OPS, TAIL_OPS
from hwgen.onnx_eval import SubgraphEvaluator
from hwgen.transforms.points import IntPoint

FLOAT_LAYER_OPS = MATMUL_OPS | {"Conv"}  # a first matrix layer the CPU head may run in float
MAX_ENUM_LEVELS = 1 << 16  # input types up to 16 bits: their element-wise ops are checked on every value
MAX_GRID_EXP = 32  # grids up to 2^-32
GRID_EXTRA_BITS = 8  # levels after the element-wise ops may be this much wider than the declared input type
QDOMAIN = "qonnx.custom_op.general"


@dataclass
class HeadPlan:
    head: CpuPartition
    point: IntPoint  # the first hardware layer's input
    next_index: int  # first data-path node after the head
    grid: InputGrid | None = None  # the input type the first hardware layer takes directly (annotation or option)


def plan_head(sl, inp, nodes, input_dtype: InputGrid | None) -> HeadPlan:
    annotated = annotated_grid(sl.mw.model, inp.name, sl.path)
    k = 0
    while k < len(nodes) and nodes[k].op_type not in QUANT_OPS | FLOAT_LAYER_OPS | TAIL_OPS:
        k += 1
    if k == len(nodes) or nodes[k].op_type in TAIL_OPS:
        n = nodes[min(k, len(nodes) - 1)]
        raise sl.err(n, "the graph reaches the output without any quantized MatMul/Gemm; there is nothing to put "
                        "in hardware.")
    first = nodes[k]
    if first.op_type in QUANT_OPS:
        return _quantized_input(sl, inp, nodes, k, annotated, input_dtype)
    grid = input_dtype or annotated
    prefix = nodes[:k]
    if grid is not None:
        if first.op_type == "Conv":
            if input_dtype is not None:
                raise sl.err(first, f"--input-dtype {input_dtype.name}: the first layer is a convolution fed by "
                                    "the float input; the option declares the input of a first MatMul/Gemm only. "
                                    "Build without --input-dtype (the first convolution then runs on the CPU), or "
                                    "quantize the input in the model (e.g. Brevitas QuantIdentity) to put it in "
                                    "hardware.")
        else:
            mapped, why = _grid_after(sl, inp.name, prefix, grid)
            if mapped is not None:
                return _grid_head(sl, inp, nodes, k, grid, mapped, annotated, input_dtype)
            if input_dtype is not None:
                names = ", ".join(repr(n.name) for n in prefix)
                raise sl.err(first, f"--input-dtype {input_dtype.name}: the ops between the input and this node "
                                    f"({names}) {why}, so this layer cannot take integers. Build without "
                                    "--input-dtype (the first layer then runs on the CPU in float).")
            return _float_head(sl, inp, nodes, k, annotated, f"the ops after the annotated input {why}")
    return _float_head(sl, inp, nodes, k, None, None)


# --- 1. the model quantizes its input -----------------------------------------------------------------------
def _quantized_input(sl, inp, nodes, k, annotated, input_dtype):
    q = nodes[k]
    if input_dtype is not None:
        raise sl.err(q, f"--input-dtype {input_dtype.name} was given, but the model quantizes its input itself with "
                        "this node; the option only applies to models whose float input feeds a MatMul/Gemm "
                        "directly. Build without --input-dtype.")
    point = sl.int_point(q)
    j = k + 1
    while j < len(nodes) and nodes[j].op_type in SHAPE_OPS:  # shape ops right after it stay in the head
        point.tensor = nodes[j].output[0]
        j += 1
    head_nodes = nodes[:j]
    reason = "float input scaling and the input quantizer run on the CPU"
    explain = f"the model quantizes its input itself ({q.op_type} {q.name!r}); the first layer runs in hardware"
    if annotated is not None:
        reason += f"; inputs checked to be {annotated.name}"
        explain += f"; inputs are checked to be {annotated.describe()} (finn_datatype annotation on the input)"
    head = CpuPartition("head", head_nodes, sl.consts_for(head_nodes), inp.name, head_nodes[-1].output[0],
                        sl.opset, reason=reason, int_output={q.output[0]}, input_check=annotated, explain=explain)
    return HeadPlan(head, point, j)


# --- 2. a declared input type mapped exactly onto an integer grid ---------------------------------------------
def _grid_after(sl, inp_name, prefix, grid: InputGrid):
    """(levels lo, hi, exponent e, bipolar) of the prefix's output on every value of `grid`, or (None, why)."""
    bad = [n for n in prefix if n.op_type not in ELEMENTWISE_OPS | SHAPE_OPS]
    if bad:
        return None, f"include {describe_node(bad[0])}, which is not element-wise"
    if not prefix:
        return (grid.lo, grid.hi, grid.frac_bits, grid.bipolar), None
    vals = grid.values()
    if vals.size > MAX_ENUM_LEVELS:
        return None, f"cannot be checked on all {vals.size} values of {grid.name}"
    shape = [int(d) for d in sl.mw.get_tensor_shape(inp_name)[1:]]
    x = np.broadcast_to(vals.reshape((-1,) + (1,) * len(shape)), (vals.size, *shape)).astype(np.float32)
    out = prefix[-1].output[0]
    try:
        with np.errstate(all="ignore"):
            y = SubgraphEvaluator(prefix, sl.consts, sl.opset).run({inp_name: x}, [out])[out]
    except Exception as e:  # an op the evaluator cannot run on these values
        return None, f"failed on the values of {grid.name} ({type(e).__name__})"
    y = np.asarray(y, dtype=np.float64)
    if not np.all(np.isfinite(y)):
        return None, f"give non-finite values on some {grid.name} inputs"
    # every float32 lies on some power-of-two grid; a useful one keeps the levels about as narrow as the input
    max_bits = min(grid.bits + GRID_EXTRA_BITS, 24)
    for e in range(0, MAX_GRID_EXP + 1):
        lv = y * 2.0 ** e
        if np.all(lv == np.round(lv)):
            lo, hi = int(lv.min()), int(lv.max())
            if smallest_for_range(min(lo, 0), max(hi, 0)).bits > max_bits:
                break
            bipolar = e == 0 and bool(np.all(np.abs(lv) == 1))
            return (lo, hi, e, bipolar), None
    return None, (f"do not map the {grid.name} values onto an integer (power-of-two) grid of at most {max_bits} "
                  "bits")


def _grid_head(sl, inp, nodes, k, grid, mapped, annotated, input_dtype):
    lo, hi, e, bipolar = mapped
    prefix = nodes[:k]
    head_nodes, consts = [], {}
    src = inp.name
    if input_dtype is not None and prefix:
        # the declared quantization first, then the model's own element-wise ops on the grid values
        qin = _grid_quantizer("__hwgen_input_quant", inp.name, f"{inp.name}__hwgen_q", input_dtype, consts)
        head_nodes.append(qin)
        head_nodes += _rewire(prefix, inp.name, qin.output[0])
        src = prefix[-1].output[0]
    elif prefix:
        head_nodes += list(prefix)
        src = prefix[-1].output[0]
    levels = InputGrid("levels", lo, hi, e, bipolar)
    # identity on the grid values: turns them into integer levels (it is the declared quantizer when no
    # element-wise op precedes the first layer and the type comes from --input-dtype)
    qout = _grid_quantizer("__hwgen_input_levels", src, f"{src}__hwgen_levels",
                           input_dtype if (input_dtype is not None and not prefix) else levels, consts)
    head_nodes.append(qout)
    dt = BIPOLAR if bipolar else smallest_for_range(lo, hi)
    shape = sl.mw.get_tensor_shape(src) or [1]
    point = IntPoint(src, qout.name, dt, -1 if bipolar else lo, 1 if bipolar else hi, np.zeros((), np.float32),
                     np.float32(2.0 ** -e), int(shape[-1]))
    sl.consts.update(consts)
    check = annotated if input_dtype is None else None
    if input_dtype is not None:
        short = f"quantizes the input to {input_dtype.name} (--input-dtype; {_rounding_short(input_dtype)})"
        reason = (f"input declared {input_dtype.describe()} by --input-dtype: the head maps float inputs onto it "
                  f"({input_dtype.quantization_note()}); outputs equal the model's only for inputs already of "
                  "that type")
        if annotated is not None and annotated.name != input_dtype.name:
            reason += f" (the option overrides the model's finn_datatype={annotated.name} annotation)"
    else:
        short = f"checks inputs are {annotated.name} (finn_datatype annotation)"
        reason = (f"input annotated finn_datatype={annotated.name} (qonnx annotation on the graph input); inputs "
                  f"are checked to be {annotated.describe()} on every run")
    if prefix:
        ops = ", ".join(f"{n.op_type} {n.name!r}" for n in prefix)
        reason += f"; {ops} map every {grid.name} value exactly onto {dt.name} levels {lo}..{hi}"
        reason += f" x 2^-{e}" if e else ""
        reason += " (checked on every value; run on the CPU as qonnx runs them)"
    reason += f"; the first layer {nodes[k].name!r} runs in hardware on {dt.name}"
    if prefix:
        short += f"; {', '.join(n.op_type for n in prefix)} map it exactly onto {dt.name}"
    head = CpuPartition("head", head_nodes, {**sl.consts_for(head_nodes), **consts}, inp.name, qout.output[0],
                        sl.opset, reason=short, int_output={qout.output[0]}, input_check=check, explain=reason)
    return HeadPlan(head, point, k, grid)


def _grid_quantizer(name, src, out, grid: InputGrid, consts) -> object:
    if grid.bipolar:
        consts[f"{name}_scale"] = np.float32(1.0)
        return helper.make_node("BipolarQuant", [src, f"{name}_scale"], [out], name=name, domain=QDOMAIN)
    consts[f"{name}_scale"] = np.float32(grid.scale)
    consts[f"{name}_zeropt"] = np.float32(0.0)
    consts[f"{name}_bitwidth"] = np.float32(grid.bits)
    return helper.make_node("Quant", [src, f"{name}_scale", f"{name}_zeropt", f"{name}_bitwidth"], [out], name=name,
                            domain=QDOMAIN, signed=int(grid.signed), narrow=0, rounding_mode="ROUND")


def _rewire(nodes, old, new):
    out = []
    for n in nodes:
        c = helper.make_node(n.op_type, [new if i == old else i for i in n.input], list(n.output), name=n.name,
                             domain=n.domain)
        c.attribute.extend(n.attribute)
        out.append(c)
    return out


# --- 3. a float first layer on the CPU --------------------------------------------------------------------------
def _float_head(sl, inp, nodes, k, annotated, why_not_grid):
    layer = nodes[k]
    wq = sl.param_nodes.get(layer.input[1]) if len(layer.input) > 1 else None
    if wq is None or wq.op_type not in ("Quant", "BipolarQuant"):
        raise sl.err(layer, "its input is not quantized, and neither are its weights: hwgen needs a quantized "
                            "model (QONNX Quant / BipolarQuant or QuantizeLinear on the weights). A float input may "
                            "feed the first layer directly only when that layer's weights are quantized.")
    j = k + 1
    while j < len(nodes) and nodes[j].op_type not in QUANT_OPS:
        n = nodes[j]
        if n.op_type in FLOAT_LAYER_OPS:
            raise sl.err(n, f"it consumes an un-quantized float tensor (the float output of the first layer "
                            f"{layer.name!r}). hwgen runs at most the first layer on the CPU in float; insert an "
                            "activation quantizer between matrix layers.")
        if n.op_type in TAIL_OPS or n.op_type not in ELEMENTWISE_OPS | SHAPE_OPS:
            raise sl.err(n, f"no activation quantizer follows the first layer {layer.name!r}, so nothing after it "
                            "is integer; there is nothing to put in hardware.")
        j += 1
    if j == len(nodes):
        raise sl.err(layer, "no activation quantizer follows this first layer; there is nothing to put in hardware.")
    q = nodes[j]
    point = sl.int_point(q)
    j += 1
    while j < len(nodes) and nodes[j].op_type in SHAPE_OPS:
        point.tensor = nodes[j].output[0]
        j += 1
    head_nodes = nodes[:j]
    if why_not_grid:
        cause = f"its input is annotated {annotated.name}, but {why_not_grid}"
    else:
        cause = "the float input feeds it directly (no input quantizer, no datatype annotation)"
    reason = (f"first layer {layer.op_type} {layer.name!r} runs on the CPU in float32, exactly as qonnx runs it "
              f"(bit-exact on any input): {cause}; hardware starts at its activation quantizer {q.name!r}")
    if not why_not_grid:
        reason += (". To put this layer in hardware declare what the hardware receives: hwgen build --input-dtype "
                   "INT8 | UINT8 | BIPOLAR | FIXED<16,6> ...")
    short = f"first layer {layer.name!r} in float32 as qonnx runs it (float input; bit-exact on any input)"
    if annotated is not None:
        reason += f"; inputs are checked to be {annotated.describe()}"
        short += f"; inputs checked to be {annotated.name}"
    head = CpuPartition("head", head_nodes, sl.consts_for(head_nodes), inp.name, head_nodes[-1].output[0],
                        sl.opset, reason=short, int_output={q.output[0]}, input_check=annotated, explain=reason)
    return HeadPlan(head, point, j)


def _rounding_short(grid: InputGrid) -> str:
    return "sign" if grid.bipolar else "round to nearest even, saturate"


def first_layer_exactness(layer, point: IntPoint, w_scale) -> str:
    """Whether qonnx's float32 MatMul sums the first layer exactly on grid inputs (as the hardware does)."""
    s = np.asarray(w_scale, dtype=np.float64).ravel()
    pow2 = bool(np.all(s > 0) and np.all(np.log2(s) == np.round(np.log2(s))))
    qmax = max(abs(point.lo), abs(point.hi))
    worst = int(qmax * np.abs(layer.weights).sum(axis=1).max())
    bits = max(worst, 1).bit_length()
    if pow2 and worst <= (1 << 24):
        return (f"qonnx's float32 sum of this layer is exact on such inputs (power-of-two scales; worst-case "
                f"|partial sum| {worst} <= 2^24 units), as the hardware's integer sum is")
    why = "its weight scale is not a power of two" if not pow2 else \
        f"its worst-case |partial sum| {worst} (~2^{bits}) exceeds float32's 24-bit mantissa"
    return (f"qonnx's float32 MatMul may round this layer's sum ({why}) while the hardware sums integers exactly: "
            "integer activations agree except where such rounding crosses a quantizer step")
