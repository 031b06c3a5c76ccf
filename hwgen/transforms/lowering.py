"""What every lowering pass reads, and the layer makers the rules share (hwgen.transforms.passes).

`Lowering` holds the canonical QONNX graph, its constants (the weight quantizers and other constant sub-graphs,
evaluated once: their outputs are constants), its producers and consumers, and makes:
  integer points     a quantizer's levels (hwgen.transforms.points.IntPoint)
  MVAU               integer -> MatMul/Gemm: integer weights; the input's scale and zero point and the weight
                     scales become the accumulator point's factor and offset (AccPoint)
  thresholds         the float ops from an integer or accumulator point to the next quantizer, as thresholds
                     (fused into the MVAU, or a Thresholding layer)
  label select       a final TopK / ArgMax over one increasing function of the integers
  CPU tails          where a value leaves hardware, computed as qonnx computes it
hwgen.transforms.walk.Walk (the pass that lowers every node by its op's rule) is a Lowering.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from onnx import helper

from hwgen import quant as qnt
from hwgen.cpu_partition import CpuPartition
from hwgen.dtypes import BIPOLAR, DType, smallest_for_range
from hwgen.errors import UnsupportedModelError, describe_node
from hwgen.frontend.load import ELEMENTWISE_OPS, SHAPE_OPS
from hwgen.layers import MVAU, Thresholding
from hwgen.naming import Namer
from hwgen.onnx_eval import SubgraphEvaluator
from hwgen.onnx_eval import attr as _attr
from hwgen.transforms.points import AccPoint, IntPoint
from hwgen.transforms.thresholds import MAX_THRESHOLDS, NotMonotoneError, TooManyThresholds, compute_thresholds


class Lowering:
    def __init__(self, mw, path: str, input_dtype=None):
        self.mw = mw
        self.input_dtype = input_dtype  # InputGrid declared by --input-dtype, or None
        self.g = mw.graph
        self.path = path
        self.consts = {i.name: np.asarray(_to_array(i)) for i in self.g.initializer}
        self.opset = next((o.version for o in mw.model.opset_import if o.domain in ("", "ai.onnx")), 13)
        self.namer = Namer()
        self.producer = {o: n for n in self.g.node for o in n.output}
        self.consumers: dict[str, list] = {}
        for n in self.g.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.param_nodes = self._evaluate_parameter_nodes()
        self.memo: dict = {}  # thresholds already computed (shared by the walks of one lowering: see _thresholds)

    # --- errors ---------------------------------------------------------------------------------------------
    def err(self, node, msg):
        return UnsupportedModelError(f"{self.path}: {describe_node(node)}: {msg}")

    # --- parameter (constant) sub-graphs: weight quantizers -----------------------------------------------------
    def _is_const(self, t):
        return t in self.consts or t == ""

    def _evaluate_parameter_nodes(self):
        """Nodes whose inputs are all constant (weight quantizers). Their outputs become known constants."""
        params = {}
        for n in self.g.node:
            if all(self._is_const(i) or i in params for i in n.input):
                params.update({o: n for o in n.output})
                ev = SubgraphEvaluator([n], self.consts, self.opset)
                out = ev.run({}, list(n.output))
                for o in n.output:
                    self.consts[o] = np.asarray(out[o])
        return params

    # --- top-k / argmax in hardware --------------------------------------------------------------------------
    def try_label_select(self, point, tail_nodes, layers):
        """A final TopK (indices only) or ArgMax over a float map that is the same strictly increasing function
        of the integer for every channel selects the same indices from the integers: do it in hardware."""
        if not tail_nodes or point is None:
            return None
        last = tail_nodes[-1]
        out = self.g.output[0].name
        if last.op_type == "TopK":
            if len(last.output) < 2 or last.output[1] != out or last.output[0] in self.consumers:
                return None  # the values are used: CPU
            if _attr(last, "largest", 1) != 1 or _attr(last, "sorted", 1) != 1:
                return None
            k = int(np.asarray(self.consts.get(last.input[1], [-1])).ravel()[0])
        elif last.op_type == "ArgMax":
            if _attr(last, "select_last_index", 0):
                return None
            k = 1
        else:
            return None
        shape = self.mw.get_tensor_shape(last.input[0])
        axis = _attr(last, "axis", -1 if last.op_type == "TopK" else 0)
        if len(shape) != 2 or axis not in (-1, 1) or k < 1:
            return None
        C = int(shape[-1])
        chain = tail_nodes[:-1]
        if any(n.op_type not in ELEMENTWISE_OPS | SHAPE_OPS for n in chain):
            return None
        if isinstance(point, AccPoint):
            lo, hi, to_float, nodes = int(point.lo.min()), int(point.hi.max()), point.to_float, \
                point.chain_prefix + chain
            in_dtype = layers[-1].out_dtype
        else:
            lo, hi, to_float, nodes, in_dtype = point.lo, point.hi, point.dequant, chain, point.dtype
        if hi - lo + 1 > (1 << 16):
            return None
        a = np.repeat(np.arange(lo, hi + 1, dtype=np.int64)[:, None], C, axis=1)
        if nodes:
            ev = SubgraphEvaluator(nodes, self.consts, self.opset)
            v = ev.run({point.tensor: to_float(a)}, [last.input[0]])[last.input[0]]
        else:
            v = to_float(a)
        v = np.asarray(v, dtype=np.float64)
        if not (np.all(v == v[:, :1]) and np.all(np.diff(v[:, 0]) > 0)):
            return None
        from hwgen.dtypes import smallest_for_range
        from hwgen.layers import LabelSelect

        layer = LabelSelect("LabelSelect", in_dtype, C, k,
                            smallest_for_range(0, C - 1), onnx_nodes=[n.name for n in tail_nodes])
        out_shape = self.mw.get_tensor_shape(out)
        return layer, list(out_shape)

    # --- integer points ---------------------------------------------------------------------------------------
    def int_point(self, n) -> IntPoint:
        """The integer point made by quantizer node n (whose parameters are constants)."""
        c = [self.consts.get(i) for i in n.input]
        shape = self.mw.get_tensor_shape(n.output[0]) or [1]
        channels = int(shape[-1])
        if n.op_type == "BipolarQuant":
            scale = c[1]
            pt = IntPoint(n.output[0], n.name, BIPOLAR, -1, 1, np.zeros((), scale.dtype), scale, channels)
        elif n.op_type == "Quant":
            bits = int(c[3])
            signed = bool(_attr(n, "signed", 1))
            narrow = bool(_attr(n, "narrow", 0))
            if bits == 1 and signed:
                dt, lo, hi = BIPOLAR, -1, 1
            else:
                lo, hi = qnt.int_bounds(signed, narrow, bits)
                dt = DType(bits, signed)
            pt = IntPoint(n.output[0], n.name, dt, lo, hi, c[2], c[1], channels)
        else:  # Trunc: levels depend on its input range; bounded by its output bit width
            mode = _attr(n, "rounding_mode", "FLOOR")
            p = qnt.trunc_params(c, mode)
            bits = int(p["out_bits"])
            signed = bool(_attr(n, "signed", 1))
            lo, hi = qnt.int_bounds(signed, bool(_attr(n, "narrow", 0)), bits)
            if p["version"] == 1:
                zp, scale = c[2], c[1]
            else:
                ts = 2 ** np.round(np.log2(p["out_scale"] / p["scale"]))
                zp, scale = c[2] / ts, p["out_scale"]
            pt = IntPoint(n.output[0], n.name, DType(bits, signed), lo, hi, zp, scale, channels)
        return pt

    # --- MVAU ------------------------------------------------------------------------------------------------
    def make_mvau(self, n, point: IntPoint, name: str):
        x_name = point.tensor
        if n.op_type == "MatMul":
            a_in, w_in = n.input[0], n.input[1]
            trans_b = False
        else:
            a_in, w_in = n.input[0], n.input[1]
            if _attr(n, "transA", 0):
                raise self.err(n, "Gemm with transA=1 is not supported.")
            trans_b = bool(_attr(n, "transB", 0))
        if a_in != x_name and self.producer.get(a_in) is None:
            raise self.err(n, "its data input is not the quantized tensor.")
        if not point.scalar_params():
            raise self.err(n, f"its input quantizer {point.node!r} has a per-channel scale or zero point; the "
                              "input of a MatMul needs one scale and zero point (per-tensor) to be folded.")
        wq = self.param_nodes.get(w_in)
        if wq is None or wq.op_type not in ("Quant", "BipolarQuant"):
            raise self.err(n, f"its weights {w_in!r} are not quantized (no QONNX Quant / BipolarQuant on a constant); "
                              "hwgen maps only integer weights. Quantize the weights in training (e.g. Brevitas "
                              "QuantLinear) or with QuantizeLinear/DequantizeLinear.")
        w_int, w_dtype, w_scale = self.weight_ints(wq, n)
        if trans_b:
            w_int, w_scale = w_int, w_scale  # already (MH, MW) with scale per row
        else:
            w_int = w_int.T
            w_scale = w_scale.T
        mh, mw = w_int.shape
        s_w = per_row(w_scale, mh, n, self)
        in_feats = int(np.prod(self.mw.get_tensor_shape(a_in)[1:]))
        if in_feats != mw:
            raise self.err(n, f"weights expect {mw} input features but the input has {in_feats}.")
        s_x = float(np.asarray(point.scale, dtype=np.float64).ravel()[0])
        z_x = float(np.asarray(point.zp, dtype=np.float64).ravel()[0])
        layer = MVAU(name, point.dtype, w_dtype, w_int, None, out_dtype=DType(2, True), onnx_nodes=[n.name])
        lo, hi = layer.acc_range()
        layer.out_dtype = layer.acc_dtype()
        acc = AccPoint(tensor=n.output[0], factor=s_x * s_w, offset=z_x * w_int.sum(axis=1), lo=lo, hi=hi)
        if n.op_type == "Gemm":
            # keep ORT's Gemm arithmetic (alpha, beta, bias) by running the Gemm itself on identity weights
            ident = f"__hwgen_identity_{name}"
            self.consts[ident] = np.eye(mh, dtype=np.float32)
            acc.tensor = f"__hwgen_acc_{name}"
            gemm = helper.make_node("Gemm", [acc.tensor, ident] + list(n.input[2:]), list(n.output), name=n.name)
            gemm.attribute.extend([a for a in n.attribute if a.name not in ("transA", "transB")])
            acc.chain_prefix = [gemm]
        return layer, acc, []

    def weight_ints(self, wq, mm):
        """Integer weights, their datatype and scale from a weight quantizer on a constant."""
        c = [self.consts.get(i) for i in wq.input]
        w = c[0]
        if wq.op_type == "BipolarQuant":
            return qnt.bipolar_quant_int(w).astype(np.int64), BIPOLAR, np.broadcast_to(c[1], w.shape)
        scale, zp, bits = c[1], c[2], int(c[3])
        signed = bool(_attr(wq, "signed", 1))
        narrow = bool(_attr(wq, "narrow", 0))
        q = qnt.quant_int(w, scale, zp, bits, signed, narrow, _attr(wq, "rounding_mode", "ROUND"))
        wi = q - zp
        if not np.all(np.mod(wi, 1) == 0):
            raise self.err(wq, "weight zero point is not an integer; integer weights need an integer zero point.")
        wi = wi.astype(np.int64)
        if bits == 1 and signed:
            dt = BIPOLAR
        else:
            lo, hi = qnt.int_bounds(signed, narrow, bits)
            zmin, zmax = float(np.min(zp)), float(np.max(zp))
            dt = DType(bits, signed) if (zmin == 0 and zmax == 0) else smallest_for_range(lo - zmax, hi - zmin)
        return wi, dt, np.broadcast_to(scale, w.shape)

    # --- thresholds -------------------------------------------------------------------------------------------
    def _chain_fn(self, entry_tensor, entry_values, nodes, out_point_node):
        """g(acc) for a (K, C) array: run the chain's float ops and return the final quantizer's levels."""
        ev = SubgraphEvaluator(nodes, self.consts, self.opset, int_output={out_point_node.output[0]})
        out = out_point_node.output[0]

        def g(a):
            v = entry_values(a)
            return ev.run({entry_tensor: v}, [out])[out]

        return g

    def fuse_thresholds(self, layer: MVAU, acc: AccPoint, chain):
        qnode = chain[-1]
        out_pt = self.int_point(qnode)
        nodes = acc.chain_prefix + chain
        g = self._chain_fn(acc.tensor, acc.to_float, nodes, qnode)
        key = ("acc", tuple(c.name for c in nodes), _fp(acc.lo, acc.hi, acc.factor, acc.offset))
        res = self._thresholds(g, acc.lo, acc.hi, out_pt, qnode, chain, key)
        w = layer.weights.copy()
        w[res.negate] *= -1
        layer.weights = w
        if res.negate.any() and not layer.w_dtype.bipolar:
            wl, wh = int(w.min()), int(w.max())
            if not layer.w_dtype.allowed(np.array([wl, wh])):
                layer.w_dtype = smallest_for_range(min(wl, 0), wh)
        layer.thresholds = res.thresholds
        layer.out_dtype = out_pt.dtype
        layer.out_base = out_pt.lo
        layer.onnx_nodes += [c.name for c in chain]
        return layer, out_pt

    def make_thresholding(self, point: IntPoint, chain, name, num_vectors: int = 1, spatial=None):
        qnode = chain[-1]
        out_pt = self.int_point(qnode)
        g = self._chain_fn(point.tensor, point.dequant, chain, qnode)
        C = point.channels
        lo = np.full(C, point.lo, dtype=np.int64)
        hi = np.full(C, point.hi, dtype=np.int64)
        key = ("int", tuple(c.name for c in chain), _fp(lo, hi, point.scale, point.zp))
        res = self._thresholds(g, lo, hi, out_pt, qnode, chain, key)
        if res.negate.any():
            raise self.err(chain[0], "a decreasing re-quantization (negative scale) without a preceding MatMul "
                                     "is not supported.")
        layer = Thresholding(name, point.dtype, res.thresholds, out_pt.dtype, out_base=out_pt.lo,
                             num_vectors=num_vectors, spatial=spatial, onnx_nodes=[c.name for c in chain])
        return layer, out_pt

    def _thresholds(self, g, lo, hi, out_pt, qnode, chain, key=None):
        """Thresholds of g over [lo, hi]; `key` names g (its nodes and entry parameters): a later walk of the
        same lowering (hwgen.transforms.passes runs the walk again when a node moves to the CPU) reuses them."""
        if key is not None and key in self.memo:
            r = self.memo[key]
            return replace(r, thresholds=r.thresholds.copy(), negate=r.negate.copy())
        res = self._compute_thresholds(g, lo, hi, out_pt, qnode, chain)
        if key is not None:
            self.memo[key] = replace(res, thresholds=res.thresholds.copy(), negate=res.negate.copy())
        return res

    def _compute_thresholds(self, g, lo, hi, out_pt, qnode, chain):
        lvl_lo, lvl_hi = out_pt.lo, out_pt.hi
        if out_pt.dtype.bipolar:  # levels -1/+1 are one step: count 0/1
            g_levels = g

            def g(a):
                return (np.asarray(g_levels(a)) > 0).astype(np.int64)

            lvl_lo, lvl_hi = 0, 1
        try:
            return compute_thresholds(g, lo, hi, lvl_lo, lvl_hi)
        except TooManyThresholds as e:
            bits = max(1, int(lvl_hi - lvl_lo).bit_length())
            raise UnsupportedModelError(
                f"{self.path}: quantizer {qnode.name!r} has {bits}-bit outputs: as thresholds that is "
                f"{e.per_channel:,} comparisons per value in each of {e.channels:,} channels, more than hwgen builds "
                f"(at most {MAX_THRESHOLDS:,} per channel, 16 bits). Quantize this activation to 16 bits or fewer."
            ) from None
        except NotMonotoneError as e:
            names = ", ".join(repr(c.name) for c in chain)
            raise UnsupportedModelError(
                f"{self.path}: the float ops {names} before quantizer {qnode.name!r} are not monotone in channel "
                f"{e.channel}, so they cannot become thresholds."
            ) from None

    # --- CPU partitions ---------------------------------------------------------------------------------------
    def make_tail(self, point, tail_nodes, out: str | None = None):
        """The tail computing tensor `out` (default: the model's output) from the integers at `point`."""
        out = out or self.g.output[0].name
        if isinstance(point, AccPoint):
            nodes = point.chain_prefix + list(tail_nodes)
            entry = {"kind": "acc", "factor": point.factor, "offset": point.offset}
            reason = "float output scaling / bias after the last matrix layer"
        else:
            nodes = list(tail_nodes)
            entry = {"kind": "int", "zp": np.asarray(point.zp), "scale": np.asarray(point.scale)}
            reason = "de-quantization of the last layer's output"
        if any(n.op_type in ("Softmax", "LogSoftmax") for n in nodes):
            reason += "; softmax runs on the CPU"
        if any(n.op_type in ("TopK", "ArgMax") for n in nodes):
            reason += "; top-k / argmax of float values runs on the CPU"
        return CpuPartition("tail", nodes, self.consts_for(nodes), point.tensor, out, self.opset, reason=reason,
                            entry=entry)

    def consts_for(self, nodes):
        return {i: self.consts[i] for n in nodes for i in n.input if i in self.consts}


def per_row(scale, mh, node, sl):
    """Weight scale as one value per output row; per-input-feature scales cannot be folded."""
    s = np.asarray(scale, dtype=np.float64)
    rows = s.reshape(mh, -1) if s.size % mh == 0 else None
    if rows is None or not np.all(rows == rows[:, :1]):
        raise sl.err(node, "its weight quantizer has a scale that varies along the input features; only "
                           "per-tensor or per-output-channel weight scales can be folded.")
    return rows[:, 0]


def _fp(*arrays) -> tuple:
    """A hashable fingerprint of arrays (dtype, shape and bytes)."""
    return tuple((a.dtype.str, a.shape, a.tobytes()) for a in map(np.asarray, arrays))


def _to_array(init):
    from onnx import numpy_helper

    return numpy_helper.to_array(init)


