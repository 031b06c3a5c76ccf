"""Random QONNX MLP generator for property-style tests.

Builds small multi-layer perceptrons in the form Brevitas exports them: float weight initializers that pass
through QONNX ``Quant`` / ``BipolarQuant`` nodes, an input quantizer, per-layer MatMul or Gemm, optional float
bias, optional BatchNormalization, optional Relu and an activation quantizer per hidden layer.  The last layer
ends in float logits (optional Mul scale / Add bias) unless ``final_quant`` is set.

Public API
----------
``MLPSpec``                               dataclass describing one network
``make_mlp(spec) -> onnx.ModelProto``     build the QONNX model
``random_spec(seed) -> MLPSpec``          random valid spec
``random_inputs(model_or_spec, n, seed)`` float32 (n, features) test inputs (in range, saturating, ties, +-0)
``qonnx_execute(model, x)``               golden reference: qonnx ``execute_onnx`` on a batch
``to_qcdq(model)``                        QuantizeLinear/Clip/DequantizeLinear version, or None
``ort_execute(model, x)``                 onnxruntime (graph optimizations off) on a batch (QCDQ / float models)

QONNX semantics this file relies on (qonnx 1.0.0, custom_op/general/intquant.py, bipolar_quant.py):

* ``Quant(x, s, z, b)``: ``q = x / s + z`` (float32), clamp to ``[min_int, max_int]`` *then* round with
  ``np.round`` (half to even), output ``(q - z) * s``.  ``min_int/max_int``: signed ``[-2^(b-1), 2^(b-1)-1]``,
  signed narrow ``[-2^(b-1)+1, 2^(b-1)-1]``, unsigned ``[0, 2^b-1]``, unsigned *narrow* ``[0, 2^b-2]``.
* ``Quant`` with ``b == 1`` and ``signed=1`` is special-cased to bipolar: ``q = +1 if x/s+z >= 0 else -1``
  (``narrow`` ignored, -0.0 maps to +1), output ``(q - z) * s``.
* ``BipolarQuant(x, s)``: ``+s if x >= 0 else -s`` (no division by s, -0.0 -> +s, NaN -> -s).
* Because the zero point is added *before* rounding, an odd zero point flips round-half-even at exact ties
  compared with ONNX ``QuantizeLinear`` (``round(x/s) + z``); such quantizers have no exact QCDQ equivalent.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QONNX_DOMAIN = "qonnx.custom_op.general"
OPSET = 13
IR_VERSION = 8

__all__ = [
    "MLPSpec",
    "make_mlp",
    "random_spec",
    "random_inputs",
    "qonnx_execute",
    "ort_execute",
    "to_qcdq",
    "input_quant_params",
    "quant_range",
    "with_batch",
    "numpy_reference",
    "QONNX_DOMAIN",
]


# ----------------------------------------------------------------------------------------------------------------
# spec


@dataclass
class MLPSpec:
    """One random MLP.  Per-layer fields may be given as a scalar (applies to every layer) or a list.

    Layer i maps ``sizes[i]`` -> ``sizes[i+1]`` features.  Activation fields (``act_*``) are per layer too; the
    entry of the last layer is used only when ``final_quant`` is True.  A scale of None is chosen by the
    generator (from ``seed``), calibrated so that the quantizer range is well used but some values saturate.
    """

    sizes: list = field(default_factory=lambda: [33, 7, 10])
    # input quantizer
    in_bits: int = 8
    in_signed: bool = True
    in_narrow: bool = False
    in_scale: Optional[float] = None
    in_zero_point: float = 0.0
    # weights, per layer
    w_bits: Union[int, list] = 4
    w_signed: Union[bool, list] = True
    w_narrow: Union[bool, list] = False
    w_bipolar: Union[bool, list] = False  # with w_bits == 1: BipolarQuant weights
    w_per_channel: Union[bool, list] = False
    bias: Union[bool, list] = False
    batchnorm: Union[bool, list] = False
    use_gemm: Union[bool, list] = False
    gemm_trans_b: Union[bool, list] = True  # Gemm weight stored (out, in) with transB=1 (as torch exports)
    # activation quantizer after each hidden layer (and the last one if final_quant)
    act_bits: Union[int, list] = 4
    act_signed: Union[bool, list] = False
    act_narrow: Union[bool, list] = False
    act_bipolar: Union[bool, list] = False  # with act_bits == 1: BipolarQuant activation
    act_relu: Union[bool, list] = True  # Relu before the quantizer (only used when act is unsigned)
    act_scale: Union[Optional[float], list] = None
    act_zero_point: Union[float, list] = 0.0
    # output
    final_quant: bool = False
    final_mul: bool = False  # a Mul by a (per-channel) float scale on the logits
    scales_pow2: bool = True  # all scales / BN / bias dyadic: float32 evaluation is exact
    seed: int = 0

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    def layer(self, name: str, i: int):
        v = getattr(self, name)
        if isinstance(v, (list, tuple)):
            if len(v) != self.n_layers:
                raise ValueError(f"MLPSpec.{name} has {len(v)} entries, expected {self.n_layers}")
            return v[i]
        return v

    def normalized(self) -> "MLPSpec":
        """Copy with every per-layer field expanded to a list."""
        d = dataclasses.asdict(self)
        for f in PER_LAYER_FIELDS:
            d[f] = [self.layer(f, i) for i in range(self.n_layers)]
        d["sizes"] = [int(s) for s in self.sizes]
        return MLPSpec(**d)


PER_LAYER_FIELDS = (
    "w_bits w_signed w_narrow w_bipolar w_per_channel bias batchnorm use_gemm gemm_trans_b "
    "act_bits act_signed act_narrow act_bipolar act_relu act_scale act_zero_point"
).split()


def quant_range(bits: int, signed: bool, narrow: bool) -> tuple[int, int]:
    """Integer range of a QONNX Quant node (before the 1-bit-signed bipolar special case)."""
    bits = int(bits)
    if signed:
        lo = -(2 ** (bits - 1)) + (1 if narrow else 0)
        hi = 2 ** (bits - 1) - 1
    else:
        lo = 0
        hi = 2**bits - (2 if narrow else 1)
    return lo, hi


def _ref_quant(x, scale, zp, bits, signed, narrow):
    """Own float64 model of Quant (for calibration only, not a golden reference)."""
    y = np.asarray(x, np.float64) / scale + zp
    if bits == 1 and signed:
        q = np.where(y >= 0, 1.0, -1.0)
    else:
        lo, hi = quant_range(bits, signed, narrow)
        q = np.clip(np.rint(y), lo, hi)
    return (q - zp) * scale


def _ref_bipolar(x, scale):
    return np.where(np.asarray(x) >= 0, 1.0, -1.0) * scale


# ----------------------------------------------------------------------------------------------------------------
# builder


class _Builder:
    def __init__(self, spec: MLPSpec):
        self.spec = spec
        self.rng = np.random.default_rng(spec.seed)
        self.nodes: list = []
        self.inits: list = []
        self._names: set = set()

    def name(self, base: str) -> str:
        n, k = base, 1
        while n in self._names:
            n = f"{base}_{k}"
            k += 1
        self._names.add(n)
        return n

    def init(self, base: str, arr) -> str:
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype=np.float32), n))
        return n

    def node(self, op, inputs, name, domain="", **attrs) -> str:
        out = self.name(name + "_out")
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=self.name(name), domain=domain, **attrs))
        return out

    def quant(self, x, name, scale, zp, bits, signed, narrow) -> str:
        s = self.init(name + "_scale", scale)
        z = self.init(name + "_zeropt", np.float32(zp))
        b = self.init(name + "_bitwidth", np.float32(bits))
        return self.node(
            "Quant", [x, s, z, b], name, domain=QONNX_DOMAIN, signed=int(bool(signed)), narrow=int(bool(narrow)),
            rounding_mode="ROUND",
        )

    def bipolar(self, x, name, scale) -> str:
        s = self.init(name + "_scale", scale)
        return self.node("BipolarQuant", [x, s], name, domain=QONNX_DOMAIN)

    # -- random numbers -----------------------------------------------------------------------------------------
    def pow2(self, lo: int, hi: int, size=None):
        return 2.0 ** self.rng.integers(lo, hi + 1, size=size)

    def scale(self, lo_exp: int, hi_exp: int, size=None):
        """A quantizer scale: power of two in pow2 mode, else an arbitrary float32 in the same decade range."""
        if self.spec.scales_pow2:
            return self.pow2(lo_exp, hi_exp, size)
        v = 2.0 ** self.rng.uniform(lo_exp, hi_exp + 0.999, size=size)
        return np.float32(v) if size is None else v.astype(np.float32)

    def snap(self, target, lsb):
        """Round `target` (float64 array or scalar) to a multiple of lsb (pow2 mode) so float32 math is exact."""
        if not self.spec.scales_pow2:
            return np.asarray(target, np.float64).astype(np.float32)
        k = np.rint(np.asarray(target, np.float64) / lsb)
        k = np.clip(k, -(2**20), 2**20)
        return (k * lsb).astype(np.float32)

    def pow2_near(self, v: float, min_exp=-16, max_exp=12) -> float:
        v = max(float(abs(v)), 2.0**min_exp)
        return float(2.0 ** int(np.clip(np.round(np.log2(v)), min_exp, max_exp)))


def _weights(b: _Builder, n_in, n_out, bits, signed, narrow, bipolar, w_scale_cols):
    """Float weights (n_in, n_out) whose quantization covers the whole integer range incl. both extremes."""
    rng = b.rng
    if bipolar or (bits == 1 and signed):
        w = rng.uniform(0.1, 1.5, size=(n_in, n_out)) * rng.choice([-1.0, 1.0], size=(n_in, n_out))
        w = w * w_scale_cols
        flat = w.reshape(-1)
        # exact zeros and negative zeros (both quantize to +1)
        for val in (0.0, -0.0):
            if flat.size > 2:
                flat[rng.integers(flat.size)] = val
        return w.astype(np.float32)
    lo, hi = quant_range(bits, signed, narrow)
    q = rng.integers(lo, hi + 1, size=(n_in, n_out)).astype(np.float64)
    for j in range(n_out):  # force both extremes into every column (when there is room)
        if n_in >= 2:
            r = rng.choice(n_in, size=2, replace=False)
            q[r[0], j], q[r[1], j] = lo, hi
        else:
            q[0, j] = lo if j % 2 == 0 else hi
    u = rng.uniform(-0.45, 0.45, size=q.shape)
    kind = rng.random(q.shape)
    u = np.where(kind < 0.1, rng.choice([-0.5, 0.5], size=q.shape), u)  # exact ties -> round half even
    w = q + u
    # some values beyond the range: saturate to the extremes
    sat = kind > 0.93
    w = np.where(sat & (q == hi), hi + rng.uniform(0.6, 6.0, size=q.shape), w)
    w = np.where(sat & (q == lo), lo - rng.uniform(0.6, 6.0, size=q.shape), w)
    z = rng.random(q.shape)
    w = np.where((q == 0) & (z < 0.15), 0.0, w)
    w = np.where((q == 0) & (z > 0.85), -0.0, w)
    return (w * w_scale_cols).astype(np.float32)


def make_mlp(spec: MLPSpec) -> onnx.ModelProto:
    """Build the QONNX model described by `spec` (deterministic in spec.seed)."""
    spec = spec.normalized()
    _validate(spec)
    b = _Builder(spec)
    rng = b.rng
    sizes = spec.sizes
    L = spec.n_layers

    # ---- input quantizer
    in_scale = spec.in_scale if spec.in_scale is not None else float(b.scale(-6, -2))
    in_scale = np.float32(in_scale)
    spec = dataclasses.replace(spec, in_scale=float(in_scale))
    x = b.quant("inp", "Quant_inp", in_scale, spec.in_zero_point, spec.in_bits, spec.in_signed, spec.in_narrow)
    # calibration batch through our own float64 reference (used only to pick scales / BN stats / biases)
    cal_x = random_inputs(spec, 256, seed=spec.seed + 1, kinds="in_range")
    h = _ref_quant(cal_x, in_scale, spec.in_zero_point, spec.in_bits, spec.in_signed, spec.in_narrow)
    lsb = np.full(sizes[0], float(in_scale))  # exact grid of the current tensor (per channel), pow2 mode

    for i in range(L):
        n_in, n_out = sizes[i], sizes[i + 1]
        last = i == L - 1
        wbits = int(spec.w_bits[i])
        wbip = bool(spec.w_bipolar[i]) and wbits == 1
        wsigned = bool(spec.w_signed[i])
        wnarrow = bool(spec.w_narrow[i])
        # ---- weight quantizer
        if spec.w_per_channel[i]:
            ws = np.asarray(b.scale(-7, -1, size=n_out), np.float32)
        else:
            ws = np.full(n_out, np.float32(b.scale(-7, -1)), np.float32)
        w = _weights(b, n_in, n_out, wbits, wsigned, wnarrow, wbip, ws[None, :])
        gemm = bool(spec.use_gemm[i])
        trans_b = gemm and bool(spec.gemm_trans_b[i])
        w_store = w.T.copy() if trans_b else w
        if spec.w_per_channel[i]:
            s_init = ws.reshape(n_out, 1) if trans_b else ws.reshape(1, n_out)
        else:
            s_init = np.float32(ws[0])
        w_name = b.init(f"W{i}", w_store)
        if wbip:
            wq = b.bipolar(w_name, f"BipolarQuant_w{i}", s_init)
            wq_val = _ref_bipolar(w, ws[None, :])
        else:
            wq = b.quant(w_name, f"Quant_w{i}", s_init, 0.0, wbits, wsigned, wnarrow)
            wq_val = _ref_quant(w, ws[None, :], 0.0, wbits, wsigned, wnarrow)
        acc = h @ wq_val
        lsb_acc = float(lsb[0]) * ws.astype(np.float64)  # input lsb is per-tensor here
        acc_std = np.maximum(acc.std(axis=0), lsb_acc)

        # ---- bias (Add or Gemm C)
        bias_val = None
        if spec.bias[i]:
            bias_val = b.snap(rng.normal(0.0, 1.0, size=n_out) * acc_std, lsb_acc)
        if gemm:
            ins = [x, wq] + ([b.init(f"B{i}", bias_val)] if bias_val is not None else [])
            x = b.node("Gemm", ins, f"Gemm_{i}", transB=int(trans_b))
        else:
            x = b.node("MatMul", [x, wq], f"MatMul_{i}")
            if bias_val is not None:
                x = b.node("Add", [x, b.init(f"B{i}", bias_val)], f"Add_bias_{i}")
        z = acc + (bias_val.astype(np.float64) if bias_val is not None else 0.0)
        cur_lsb = lsb_acc

        # ---- batch norm
        if spec.batchnorm[i]:
            if spec.scales_pow2:
                eps = 2.0**-8
                sd = b.pow2(-3, 3, size=n_out) * np.maximum(acc_std, 2.0**-12)
                sd = 2.0 ** np.clip(np.round(np.log2(sd)), -3, 8)  # sd^2 - eps exact in float32
                var = (sd * sd - eps).astype(np.float32)
                mult = b.pow2(-1, 1, size=n_out)  # |gamma / sd|
                gamma = sd * mult
            else:
                eps = 1e-5
                var = (rng.uniform(0.25, 4.0, size=n_out) * acc_std**2).astype(np.float32)
                sd = np.sqrt(var.astype(np.float64) + eps)
                gamma = rng.uniform(0.5, 2.0, size=n_out) * sd / acc_std
                mult = gamma / sd
            sign = rng.choice([-1.0, 1.0], size=n_out)
            if n_out >= 2:
                sign[0], sign[1] = -1.0, 1.0
                rng.shuffle(sign)
            gamma = (gamma * sign).astype(np.float32)
            mean = b.snap(z.mean(axis=0) + rng.normal(0, 0.3, size=n_out) * acc_std, cur_lsb)
            new_lsb = cur_lsb * mult
            out_std = acc_std * mult
            beta = b.snap(rng.normal(0, 0.3, size=n_out) * out_std, new_lsb)
            x = b.node(
                "BatchNormalization",
                [x, b.init(f"bn{i}_gamma", gamma), b.init(f"bn{i}_beta", beta), b.init(f"bn{i}_mean", mean),
                 b.init(f"bn{i}_var", var)],
                f"BatchNormalization_{i}",
                epsilon=float(eps),
            )
            z = (z - mean) / np.sqrt(var.astype(np.float64) + eps) * gamma + beta
            cur_lsb = new_lsb

        # ---- activation quantizer / output
        if not last or spec.final_quant:
            abits = int(spec.act_bits[i])
            abip = bool(spec.act_bipolar[i]) and abits == 1
            asigned = bool(spec.act_signed[i])
            anarrow = bool(spec.act_narrow[i])
            azp = float(spec.act_zero_point[i])
            if abip or (abits == 1 and asigned):
                zz = z
            else:
                if spec.act_relu[i] and not asigned:
                    x = b.node("Relu", [x], f"Relu_{i}")
                    z = np.maximum(z, 0.0)
                zz = z
            ascale = spec.act_scale[i]
            if ascale is None:
                if abip or abits == 1:
                    ascale = b.scale(-3, 1)
                else:
                    lo, hi = quant_range(abits, asigned, anarrow)
                    span = max(hi - azp, azp - lo, 1) if asigned else max(hi - azp, 1)
                    p = np.percentile(np.abs(zz), 95) if zz.size else 1.0
                    target = max(p, 1e-6) / span * rng.uniform(0.6, 1.2)
                    ascale = b.pow2_near(target) if spec.scales_pow2 else np.float32(target)
            ascale = np.float32(ascale)
            if abip:
                x = b.bipolar(x, f"BipolarQuant_act{i}", ascale)
                h = _ref_bipolar(z, ascale)
            else:
                x = b.quant(x, f"Quant_act{i}", ascale, azp, abits, asigned, anarrow)
                h = _ref_quant(z, ascale, azp, abits, asigned, anarrow)
            lsb = np.full(n_out, float(ascale))
        else:
            if spec.final_mul:
                if spec.scales_pow2:
                    m = b.pow2(-3, 2, size=n_out) * rng.choice([-1.0, 1.0], size=n_out)
                else:
                    m = rng.uniform(-2.0, 2.0, size=n_out)
                m = m.astype(np.float32)
                x = b.node("Mul", [x, b.init("out_scale", m)], "Mul_out")
                z = z * m
                cur_lsb = cur_lsb * np.abs(m)
                ob = b.snap(rng.normal(0, 1.0, size=n_out) * np.maximum(z.std(axis=0), 1e-3), cur_lsb)
                x = b.node("Add", [x, b.init("out_bias", ob)], "Add_out")

    # final output tensor is called "out": rename the last node's output
    last_node = b.nodes[-1]
    last_node.output[0] = "out"
    graph = helper.make_graph(
        b.nodes,
        "qonnx_mlp",
        [helper.make_tensor_value_info("inp", TensorProto.FLOAT, [1, sizes[0]])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, sizes[-1]])],
        initializer=b.inits,
    )
    model = helper.make_model(
        graph,
        producer_name="hwgen-tests-qonnx_gen",
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(QONNX_DOMAIN, 1)],
    )
    model.ir_version = IR_VERSION
    return model


def _validate(spec: MLPSpec):
    if len(spec.sizes) < 2 or any(int(s) < 1 for s in spec.sizes):
        raise ValueError(f"bad sizes {spec.sizes}")
    if not 1 <= spec.in_bits <= 8:
        raise ValueError("in_bits must be 1..8")
    for i in range(spec.n_layers):
        if not 1 <= int(spec.w_bits[i]) <= 8:
            raise ValueError("w_bits must be 1..8")
        if not 1 <= int(spec.act_bits[i]) <= 8:
            raise ValueError("act_bits must be 1..8")


# ----------------------------------------------------------------------------------------------------------------
# random specs


def _odd_size(rng) -> int:
    r = rng.random()
    if r < 0.15:
        return int(rng.choice([1, 2, 3]))
    if r < 0.75:
        return int(rng.choice([5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, 35, 37, 39]))
    return int(rng.integers(1, 41))


def random_spec(seed: int) -> MLPSpec:
    """A random valid MLPSpec (depth 1..4, sizes 1..40 mostly odd), deterministic in seed."""
    rng = np.random.default_rng([seed, 0x5EED])
    depth = int(rng.integers(1, 5))
    sizes = [_odd_size(rng) for _ in range(depth + 1)]
    pow2 = bool(rng.random() < 0.6)
    pick = lambda p: bool(rng.random() < p)  # noqa: E731

    in_bits = int(rng.choice([1, 2, 3, 4, 5, 6, 7, 8], p=[0.04, 0.08, 0.1, 0.18, 0.1, 0.1, 0.1, 0.3]))
    in_signed = pick(0.6) if in_bits > 1 else pick(0.3)
    in_zp = 0.0
    if pick(0.25) and in_bits > 1:
        in_zp = float(rng.choice([-3, -2, -1, 1, 2, 4]))
    spec = MLPSpec(sizes=sizes, in_bits=in_bits, in_signed=in_signed, in_narrow=pick(0.3),
                   in_zero_point=in_zp, scales_pow2=pow2, seed=int(seed))
    lists = {f: [] for f in PER_LAYER_FIELDS}
    for i in range(depth):
        wb = int(rng.choice([1, 2, 3, 4, 5, 6, 7, 8], p=[0.15, 0.15, 0.1, 0.2, 0.1, 0.1, 0.05, 0.15]))
        lists["w_bits"].append(wb)
        lists["w_bipolar"].append(wb == 1 and pick(0.7))
        lists["w_signed"].append(pick(0.9))
        lists["w_narrow"].append(pick(0.4))
        lists["w_per_channel"].append(pick(0.4))
        lists["bias"].append(pick(0.5))
        lists["batchnorm"].append(pick(0.35))
        lists["use_gemm"].append(pick(0.35))
        lists["gemm_trans_b"].append(pick(0.6))
        ab = int(rng.choice([1, 2, 3, 4, 5, 6, 7, 8], p=[0.12, 0.15, 0.13, 0.2, 0.1, 0.1, 0.05, 0.15]))
        lists["act_bits"].append(ab)
        lists["act_bipolar"].append(ab == 1 and pick(0.7))
        asig = pick(0.35) if ab > 1 else pick(0.2)
        lists["act_signed"].append(asig)
        lists["act_narrow"].append(pick(0.25))
        lists["act_relu"].append(pick(0.6))
        lists["act_scale"].append(None)
        lists["act_zero_point"].append(float(rng.choice([-2, 1, 2])) if (ab > 2 and pick(0.1)) else 0.0)
    for f, v in lists.items():
        setattr(spec, f, v)
    spec.final_quant = pick(0.15)
    spec.final_mul = pick(0.4)
    return spec


# ----------------------------------------------------------------------------------------------------------------
# inputs


def input_quant_params(model_or_spec) -> dict:
    """Parameters of the input quantizer: dict(scale, zero_point, bits, signed, narrow, features, bipolar)."""
    if isinstance(model_or_spec, MLPSpec):
        s = model_or_spec
        scale = s.in_scale
        if scale is None:  # generated: rebuild to know it (cheap)
            return input_quant_params(make_mlp(s))
        return dict(scale=float(scale), zero_point=float(s.in_zero_point), bits=int(s.in_bits),
                    signed=bool(s.in_signed), narrow=bool(s.in_narrow), features=int(s.sizes[0]), bipolar=False)
    model = model_or_spec
    g = model.graph
    inp = g.input[0]
    dims = inp.type.tensor_type.shape.dim
    feats = dims[-1].dim_value if dims and dims[-1].HasField("dim_value") else 1
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for node in g.node:
        if inp.name in node.input:
            if node.op_type == "Quant":
                a = {at.name: helper.get_attribute_value(at) for at in node.attribute}
                return dict(scale=float(np.asarray(inits[node.input[1]]).reshape(-1)[0]),
                            zero_point=float(np.asarray(inits[node.input[2]]).reshape(-1)[0]),
                            bits=int(np.asarray(inits[node.input[3]]).reshape(-1)[0]),
                            signed=bool(a.get("signed", 1)), narrow=bool(a.get("narrow", 0)),
                            features=feats, bipolar=False)
            if node.op_type == "BipolarQuant":
                return dict(scale=float(np.asarray(inits[node.input[1]]).reshape(-1)[0]), zero_point=0.0, bits=1,
                            signed=True, narrow=False, features=feats, bipolar=True)
    return dict(scale=1 / 16, zero_point=0.0, bits=8, signed=True, narrow=False, features=feats, bipolar=False)


def random_inputs(model_or_spec, n: int, seed: int = 0, kinds: str = "mixed") -> np.ndarray:
    """float32 (n, features) inputs for the model's input quantizer.

    kinds="mixed": ~35% uniform inside the range, 15% exact grid points, 15% exact half-step ties (x.5 * scale),
    10% far outside the range (saturation), 5% just outside the extremes, 10% +0.0, 10% -0.0.
    kinds="in_range": uniform inside the range only.
    """
    p = input_quant_params(model_or_spec)
    rng = np.random.default_rng([seed, 0xA11])
    s, zp = p["scale"], p["zero_point"]
    if p["bits"] == 1 and p["signed"]:
        lo, hi = -1, 1
    else:
        lo, hi = quant_range(p["bits"], p["signed"], p["narrow"])
    flo, fhi = (lo - zp) * s, (hi - zp) * s  # representable float range
    if fhi <= flo:
        flo, fhi = flo - s, fhi + s
    shape = (n, p["features"])
    uni = rng.uniform(flo - 0.5 * s, fhi + 0.5 * s, size=shape)
    if kinds == "in_range":
        return uni.astype(np.float32)
    q = rng.integers(lo, hi + 1, size=shape).astype(np.float64)
    grid = (q - zp) * s
    ties = (q + rng.choice([-0.5, 0.5], size=shape) - zp) * s
    width = max(fhi - flo, s)
    far = np.where(rng.random(shape) < 0.5, flo - width * rng.uniform(1, 100, shape),
                   fhi + width * rng.uniform(1, 100, shape))
    near = np.where(rng.random(shape) < 0.5, flo - s * rng.uniform(0.5, 3, shape), fhi + s * rng.uniform(0.5, 3, shape))
    k = rng.random(shape)
    x = np.select(
        [k < 0.35, k < 0.50, k < 0.65, k < 0.75, k < 0.80, k < 0.90],
        [uni, grid, ties, far, near, np.zeros(shape)],
        default=np.full(shape, -0.0),
    )
    x = x.astype(np.float32)
    if p["bipolar"] or (p["bits"] == 1 and p["signed"]):
        # the sign decision is at x/s + zp == 0: put +-0 and tiny values there
        x = np.where(rng.random(shape) < 0.2, np.float32(-zp * s), x)
    return x


# ----------------------------------------------------------------------------------------------------------------
# execution


def with_batch(model: onnx.ModelProto, n) -> onnx.ModelProto:
    """Copy of model with the first dim of every graph input/output set to n (int or symbolic str), value_info
    cleared (so shape inference recomputes intermediate shapes)."""
    m = copy.deepcopy(model)
    for vi in list(m.graph.input) + list(m.graph.output):
        d = vi.type.tensor_type.shape.dim
        if len(d):
            d[0].Clear()
            if isinstance(n, str):
                d[0].dim_param = n
            else:
                d[0].dim_value = int(n)
    del m.graph.value_info[:]
    return m


def qonnx_execute(model: onnx.ModelProto, x: np.ndarray, batched: bool = True) -> np.ndarray:
    """Golden reference: qonnx.core.onnx_exec.execute_onnx on a batch x (n, features) -> (n, outputs).

    batched=True runs the whole batch at once (batch dim set to n, shapes re-inferred); False runs one sample
    at a time with batch 1.  The input/output names are taken from the graph after any qonnx transforms
    (qonnx's cleanup_model / GiveReadableTensorNames would rename "inp" to "global_in").
    """
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]

    def run(batch_x):
        mw = ModelWrapper(with_batch(model, batch_x.shape[0]))
        mw = mw.transform(InferShapes())
        iname = mw.graph.input[0].name
        oname = mw.graph.output[0].name
        return np.asarray(execute_onnx(mw, {iname: batch_x})[oname])

    if batched:
        return run(x)
    return np.concatenate([run(x[i : i + 1]) for i in range(x.shape[0])], axis=0)


def ort_execute(model: onnx.ModelProto, x: np.ndarray, optimize: bool = False) -> np.ndarray:
    """Run a model made of standard ONNX ops (e.g. the QCDQ version) through onnxruntime on a batch.

    Graph optimizations are off by default: ORT's QDQ fusions (QLinearMatMul etc.) change float rounding.
    """
    import onnxruntime as ort

    x = np.asarray(x, dtype=np.float32)
    m = with_batch(model, "N")
    so = ort.SessionOptions()
    so.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    so.log_severity_level = 3
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {m.graph.input[0].name: x})[0]


def numpy_reference(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    """Own float64 evaluation of a generated QONNX model (Quant, BipolarQuant, MatMul, Gemm, Add, Mul,
    BatchNormalization, Relu).  The quantizer's ``x / s + zp`` step is done in float32 like qonnx; everything
    else in float64.  For ``scales_pow2=True`` models it must equal qonnx's float32 output bit for bit."""
    ctx = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    ctx[model.graph.input[0].name] = np.asarray(x, np.float64)
    f32 = np.float32
    for node in model.graph.node:
        a = {at.name: helper.get_attribute_value(at) for at in node.attribute}
        i = [ctx[n] if n else None for n in node.input]
        op = node.op_type
        if op == "Quant":
            y = (i[0].astype(f32) / i[1].astype(f32) + i[2].astype(f32)).astype(np.float64)
            bits, zp = int(i[3]), i[2]
            if bits == 1 and a.get("signed", 1):
                q = np.where(y >= 0, 1.0, -1.0)
            else:
                lo, hi = quant_range(bits, bool(a.get("signed", 1)), bool(a.get("narrow", 0)))
                q = np.rint(np.clip(y, lo, hi))
            r = (q - zp) * i[1]
        elif op == "BipolarQuant":
            r = np.where(i[0] >= 0, 1.0, -1.0) * i[1]
        elif op == "MatMul":
            r = i[0] @ i[1]
        elif op == "Gemm":
            A = i[0].T if a.get("transA", 0) else i[0]
            B = i[1].T if a.get("transB", 0) else i[1]
            r = a.get("alpha", 1.0) * (A @ B)
            if len(i) > 2 and i[2] is not None:
                r = r + a.get("beta", 1.0) * i[2]
        elif op == "Add":
            r = i[0] + i[1]
        elif op == "Mul":
            r = i[0] * i[1]
        elif op == "Relu":
            r = np.maximum(i[0], 0.0)
        elif op == "BatchNormalization":
            eps = float(np.float32(a.get("epsilon", 1e-5)))
            r = (i[0] - i[3]) / np.sqrt(i[4] + eps) * i[1] + i[2]
        else:
            raise NotImplementedError(op)
        ctx[node.output[0]] = r
    return ctx[model.graph.output[0].name]


# ----------------------------------------------------------------------------------------------------------------
# QCDQ


def _quant_nodes_info(model):
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    out = []
    for node in model.graph.node:
        if node.op_type in ("Quant", "BipolarQuant"):
            a = {at.name: helper.get_attribute_value(at) for at in node.attribute}
            if node.op_type == "BipolarQuant":
                out.append(dict(node=node, bipolar=True))
                continue
            s, z, b = (inits.get(node.input[k]) for k in (1, 2, 3))
            rm = a.get("rounding_mode", b"ROUND")
            rm = rm.decode() if isinstance(rm, bytes) else rm
            out.append(dict(node=node, bipolar=False, scale=s, zp=z, bits=b, signed=bool(a.get("signed", 1)),
                            narrow=bool(a.get("narrow", 0)), rounding=rm.upper()))
    return out


def _qcdq_plan(info, allow_zero_point=False):
    """Per Quant node: (scale_1d_or_scalar, axis, container, clip_lo, clip_hi) or None if not representable."""
    if info["bipolar"]:
        return None
    s, z, b = info["scale"], info["zp"], info["bits"]
    if s is None or z is None or b is None or info["rounding"] not in ("ROUND", "HALF_EVEN"):
        return None
    b = np.asarray(b).reshape(-1)
    if b.size != 1 or b[0] != int(b[0]) or not 1 <= int(b[0]) <= 8:
        return None
    bits = int(b[0])
    if bits == 1 and info["signed"]:
        return None  # qonnx treats 1-bit signed Quant as bipolar {-1, +1}
    z = np.asarray(z, np.float64)
    if z.size != 1:
        return None
    zp = float(z.reshape(-1)[0])
    # an odd (or fractional) zero point changes round-half-even ties: round(v + zp) != round(v) + zp
    if zp != int(zp) or int(zp) % 2 != 0:
        return None
    # even a non-zero even zero point is only exact up to the float32 rounding of x/s + zp (near-ties differ)
    if zp != 0 and not allow_zero_point:
        return None
    lo, hi = quant_range(bits, info["signed"], info["narrow"])
    lo, hi = lo - int(zp), hi - int(zp)  # clip(round(x/s + zp), lo, hi) - zp == clip(round(x/s), lo-zp, hi-zp)
    if 0 <= lo and hi <= 255:
        container = TensorProto.UINT8
    elif -128 <= lo and hi <= 127:
        container = TensorProto.INT8
    else:
        return None
    s = np.asarray(s, np.float32)
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        return None
    sq = s.squeeze()
    axis = None
    if sq.ndim == 1:
        axis = [d for d, n in enumerate(s.shape) if n != 1]
        if len(axis) != 1:
            return None
        axis = axis[0]
    elif sq.ndim > 1:
        return None
    return dict(scale=sq, axis=axis, container=container, lo=lo, hi=hi, zp=int(zp))


def _qonnx_qcdq_ok(infos) -> bool:
    """Whether qonnx's QuantToQCDQ handles every quantizer exactly (see report: unsigned narrow 8-bit is not)."""
    for inf in infos:
        if inf["bipolar"]:
            return False
        z = np.asarray(inf["zp"]) if inf["zp"] is not None else None
        b = np.asarray(inf["bits"]).reshape(-1) if inf["bits"] is not None else None
        if z is None or b is None or np.any(z != 0) or not 2 <= b[0] <= 8 or b[0] != int(b[0]):
            return False
        if not inf["signed"] and inf["narrow"] and b[0] == 8:
            return False  # QuantToQCDQ emits no Clip here: output reaches 255 instead of 254
        if inf["scale"] is None or np.asarray(inf["scale"]).squeeze().ndim > 1:
            return False
    return True


def _own_qcdq(model, infos, plans):
    m = copy.deepcopy(model)
    g = m.graph
    by_name = {inf["node"].name: p for inf, p in zip(infos, plans)}
    new_nodes = []
    inits = list(g.initializer)
    for node in g.node:
        if node.op_type != "Quant":
            new_nodes.append(node)
            continue
        p = by_name[node.name]
        base = node.name or node.output[0]
        np_ct = np.uint8 if p["container"] == TensorProto.UINT8 else np.int8
        sname, zname = base + "_qcdq_scale", base + "_qcdq_zp"
        inits.append(numpy_helper.from_array(np.asarray(p["scale"], np.float32), sname))
        zshape = np.shape(p["scale"])
        inits.append(numpy_helper.from_array(np.zeros(zshape, np_ct), zname))
        ax = {} if p["axis"] is None else {"axis": p["axis"]}
        qout = base + "_qcdq_q"
        new_nodes.append(helper.make_node("QuantizeLinear", [node.input[0], sname, zname], [qout],
                                          name=base + "_QuantizeLinear", **ax))
        cmin, cmax = np.iinfo(np_ct).min, np.iinfo(np_ct).max
        if p["lo"] > cmin or p["hi"] < cmax:
            lo_n, hi_n = base + "_qcdq_min", base + "_qcdq_max"
            inits.append(numpy_helper.from_array(np.asarray(p["lo"], np_ct), lo_n))
            inits.append(numpy_helper.from_array(np.asarray(p["hi"], np_ct), hi_n))
            cout = base + "_qcdq_c"
            new_nodes.append(helper.make_node("Clip", [qout, lo_n, hi_n], [cout], name=base + "_Clip"))
            qout = cout
        new_nodes.append(helper.make_node("DequantizeLinear", [qout, sname, zname], [node.output[0]],
                                          name=base + "_DequantizeLinear", **ax))
    # drop the Quant parameter initializers that nothing uses any more
    used = {i for n in new_nodes for i in n.input}
    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend([t for t in inits if t.name in used])
    keep = [o for o in m.opset_import if o.domain != QONNX_DOMAIN]
    del m.opset_import[:]
    m.opset_import.extend(keep)
    return m


def to_qcdq(model: onnx.ModelProto, prefer_qonnx: bool = True,
            allow_zero_point: bool = False) -> Optional[onnx.ModelProto]:
    """Same network with QuantizeLinear -> [Clip] -> DequantizeLinear instead of Quant, or None.

    Uses qonnx's QuantToQCDQ when it is exact for every quantizer (zero point 0, 2..8 bits, not unsigned-narrow
    8-bit), else an own conversion.  Returns None for BipolarQuant, 1-bit signed Quant, non-zero zero points,
    > 8 bits, non-ROUND rounding, or an integer range that does not fit int8/uint8.

    allow_zero_point=True also converts even integer zero points, folded into the Clip bounds (QuantizeLinear
    zero_point stays 0; the unsigned 8-bit range [0, 255] shifted by zp may not fit -> None).  This is *not* exact
    in general: qonnx computes round(fl32(x/s) + zp) and the float32 add can move a value lying within a few ulp
    of a half-integer onto the tie (then half-even picks the other side).  With power-of-two scales and the
    exact grid / exact tie inputs of random_inputs it agrees; with arbitrary scales the near-ties random_inputs
    makes (x = (k+0.5)*s rounded to float32) do differ.  Odd zero points flip even exact ties: always None.
    """
    infos = _quant_nodes_info(model)
    plans = [_qcdq_plan(inf, allow_zero_point) for inf in infos]
    if any(p is None for p in plans):
        return None
    if prefer_qonnx and _qonnx_qcdq_ok(infos):
        try:
            import warnings

            from qonnx.core.modelwrapper import ModelWrapper
            from qonnx.transformation.qonnx_to_qcdq import QuantToQCDQ

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mw = ModelWrapper(copy.deepcopy(model)).transform(QuantToQCDQ())
            out = mw.model
            if not any(n.op_type in ("Quant", "BipolarQuant") for n in out.graph.node):
                return out
        except Exception:  # pragma: no cover - fall back to the own conversion
            pass
    return _own_qcdq(model, infos, plans)


# ----------------------------------------------------------------------------------------------------------------
# self-check


def _self_check(n_models: int = 40, n_inputs: int = 64) -> None:
    n_qcdq = n_qonnx_tool = 0
    for seed in range(n_models):
        spec = random_spec(seed)
        model = make_mlp(spec)
        onnx.checker.check_model(model, full_check=True)
        x = random_inputs(model, n_inputs, seed)
        y = qonnx_execute(model, x)
        assert y.shape == (n_inputs, spec.sizes[-1]) and np.all(np.isfinite(y)), seed
        q = to_qcdq(model)
        if q is None:
            continue
        onnx.checker.check_model(q)
        n_qcdq += 1
        n_qonnx_tool += int(any(n.op_type == "Constant" for n in q.graph.node))
        y_ort = ort_execute(q, x)
        y_q = qonnx_execute(q, x)
        assert np.array_equal(y, y_ort), (seed, np.abs(y - y_ort).max())
        assert np.array_equal(y, y_q), seed
    print(f"ok: {n_models} models, {n_qcdq} QCDQ versions identical (ORT and qonnx), "
          f"{n_qonnx_tool} via qonnx QuantToQCDQ")


if __name__ == "__main__":
    _self_check()
