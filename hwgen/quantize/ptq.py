"""Calibrated post-training quantization of a FloatNet, layer by layer (numpy only).

Walks the chain once with the calibration batch through the float network and the network quantized so far:
- the input quantizer from the calibration set (a lossless grid when the data lie on one, e.g. digits' k/16),
  or from --input-dtype;
- each linear layer (BatchNorm already folded): per-output-channel weight scales (calib.weight_scales), then bias
  correction: the mean shift of its outputs against the float network's (over the batch and the pixels) is added
  to its float bias, which hwgen folds into the thresholds;
- an activation quantizer after every ReLU (unsigned) and before a linear layer whose input is not quantized
  (signed), its range from what the quantized network produces on the calibration set (calib.act_scale).
With scales="pow2" (the default) every scale is a power of two (the searches pick the best power of two), so
qonnx's float32 products and sums are exact and the build equals qonnx on every input; with "float" only the last
layer's weights and input are: qonnx's float32 sum of it is then exact, so hwgen keeps it in hardware instead of
the CPU tail, but qonnx's sums of the others may round across a quantizer step where the hardware's do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hwgen.quantize import calib
from hwgen.quantize.floatnet import FloatNet, QuantizeError, run_step

SCALES = ("pow2", "float")
AUTO_ADAPTIVE_BITS = 2  # --rounding auto: adaptive rounding for weights this narrow (it helped accuracy there)


@dataclass
class ActQ:
    after: int  # step index the quantizer follows (-1: the graph input)
    bits: int
    signed: bool
    scale: float
    owner: int | None  # index of the linear layer (in net.linears) whose output it quantizes; None: the input
    how: str = ""
    sqnr_db: float | None = None


@dataclass
class WeightQ:
    step: int
    bits: int
    scales: np.ndarray  # (O,)
    w: np.ndarray  # de-quantized weights (levels * scale), what the QONNX initializer holds
    b: np.ndarray  # bias after correction
    pow2: bool = False
    bias_shift: float = 0.0  # largest |correction| added to the bias
    w_sqnr_db: float | None = None
    out_sqnr_db: float | None = None
    adaptive: bool = False  # levels from calib.adaptive_round instead of round to nearest


@dataclass
class QNet:
    net: FloatNet
    input_q: ActQ
    weights: dict = field(default_factory=dict)  # step index -> WeightQ
    acts: dict = field(default_factory=dict)  # step index -> ActQ (after that step)
    removed: dict = field(default_factory=dict)  # linear name -> output channels removed by --prune

    def forward(self, x, upto: int | None = None) -> np.ndarray:
        """The quantized network in numpy float32 (a close proxy of qonnx's execution)."""
        q = self.input_q
        x = calib.fake_quant(x, q.scale, q.bits, q.signed, False)
        for i, s in enumerate(self.net.steps[:upto]):
            wq = self.weights.get(i)
            x = run_step(s, x, w=wq.w, b=wq.b) if wq is not None else run_step(s, x)
            a = self.acts.get(i)
            if a is not None:
                x = calib.fake_quant(x, a.scale, a.bits, a.signed, False)
        return x

    def bits(self) -> list[tuple[int, int | None]]:
        """(weight bits, bits of its output quantizer or None) per linear layer."""
        owners = {a.owner: a.bits for a in self.acts.values()}
        return [(self.weights[i].bits, owners.get(k)) for k, i in enumerate(linear_steps(self.net))]


def linear_steps(net: FloatNet) -> list[int]:
    return [i for i, s in enumerate(net.steps) if s.fn == "linear"]


def act_positions(net: FloatNet) -> dict:
    """{step index: (signed, owner linear index)} of the activation quantizers (see the module doc)."""
    lin = linear_steps(net)
    pos, quantized, owner = {}, True, None
    for i, s in enumerate(net.steps):
        later = any(j > i for j in lin)
        if s.fn == "linear":
            if not quantized:
                prev = i - 1
                while prev >= 0 and net.steps[prev].fn == "flatten":
                    prev -= 1
                pos[prev] = (True, owner)
            owner = lin.index(i)
            quantized = False
        elif s.fn == "relu" and later:
            pos[i] = (False, owner)
            quantized = True
    return pos


def is_pow2(v: float) -> bool:
    m, _ = np.frexp(np.float32(v))
    return bool(m == 0.5)


def input_quantizer(x, input_dtype: str | None, bits: int, method: str, pow2: bool = False) -> ActQ:
    """The input quantizer: declared (--input-dtype), a lossless grid the calibration data lie on, or a range."""
    if input_dtype:
        from hwgen.frontend.input_types import parse

        g = parse(input_dtype, where="--input-dtype")
        if g is None or g.bipolar or g.name == "TERNARY":
            raise QuantizeError(f"--input-dtype {input_dtype!r}: give an integer or fixed-point type (INT8, UINT8, "
                                "FIXED<8,1>, ...) for the input quantizer.")
        signed = g.lo < 0
        nbits = int(g.hi - g.lo).bit_length()
        return ActQ(-1, nbits, signed, float(2.0 ** -g.frac_bits), None, f"--input-dtype {g.name}")
    v = np.unique(np.asarray(x, dtype=np.float32).ravel())
    signed = bool(v.min() < 0)
    if 1 < v.size <= 256:
        d = float(np.diff(v).min())
        k = v.astype(np.float64) / d
        top = float(np.abs(k).max())
        need = int(np.ceil(np.log2(top + 1))) + (1 if signed else 0)
        if np.abs(k - np.round(k)).max() < 1e-4 and need <= max(bits, 8) and (is_pow2(d) or not pow2):
            d32 = np.float32(d)
            if np.array_equal(calib.fake_quant(v, d32, need, signed, False), v):
                return ActQ(-1, need, signed, float(d32), None, f"lossless grid of the calibration data (step {d:g})")
    s = calib.act_scale(x, bits, signed, method, pow2=pow2)
    return ActQ(-1, bits, signed, s, None, f"calibration range ({method}{', power of two' if pow2 else ''})")


def quantize_net(net: FloatNet, x, wbits, abits, input_dtype=None, input_bits: int = 8, weight_method="mse",
                 act_method="mse", bias_correction=True, last_pow2=True, input_q: ActQ | None = None,
                 ref: FloatNet | None = None, frozen: dict | None = None, rounding: str = "auto",
                 scales: str = "pow2") -> QNet:
    """wbits / abits: one per linear layer (abits[k]: the quantizer on layer k's output; ignored where none).
    ref: the float network bias correction aims at (default `net`; the unpruned one after --prune, so the mean
    shift the removed channels cause is corrected too); frozen: {linear name: channels whose bias stays as it is
    (pruned channels stay exactly 0)}. rounding: "nearest", "adaptive" (calib.adaptive_round) or "auto" (adaptive
    for weights of 2 bits or fewer, where it measurably helps: see the README). scales: "pow2" (every scale a power
    of two: qonnx's float32 sums are then exact, so the build equals qonnx on every input) or "float" (free scales,
    a smaller error; the last layer and its input stay powers of two)."""
    if scales not in SCALES:
        raise QuantizeError(f"--scales {scales!r}: use one of {', '.join(SCALES)}.")
    every = scales == "pow2"
    lin = linear_steps(net)
    if len(wbits) != len(lin) or len(abits) != len(lin):
        raise QuantizeError(f"give one weight and one activation bit width per linear layer ({len(lin)}).")
    positions = act_positions(net)
    last = lin[-1]
    feeding_last = max((p for p in positions if p < last), default=None)
    qn = QNet(net, input_q or input_quantizer(x, input_dtype, input_bits, act_method, pow2=every))
    xq = qn.forward(x, 0)
    qn.input_q.sqnr_db = calib.sqnr_db(x, xq)
    xf = np.asarray(x, dtype=np.float32)
    ref = ref or net
    for i, s in enumerate(net.steps):
        yf = run_step(ref.steps[i], xf)
        if s.fn == "linear":
            k = lin.index(i)
            qn.weights[i] = wq = quantize_linear(s, xq, yf, wbits[k], weight_method, bias_correction,
                                                 pow2=every or last_pow2 and i == last,
                                                 frozen=(frozen or {}).get(s.linear.name, ()),
                                                 adaptive=rounding == "adaptive" or rounding == "auto"
                                                 and 1 < wbits[k] <= AUTO_ADAPTIVE_BITS)
            wq.step = i
            yq = run_step(s, xq, w=wq.w, b=wq.b)
            wq.out_sqnr_db = calib.sqnr_db(yf, yq)
        else:
            yq = run_step(s, xq)
        if i in positions:
            signed, owner = positions[i]
            bits = abits[owner] if owner is not None else input_bits
            pow2 = every or last_pow2 and i == feeding_last
            scale = calib.act_scale(yq, bits, signed, act_method, pow2=pow2)
            a = ActQ(i, int(bits), signed, scale, owner, f"{act_method}{', power of two' if pow2 else ''}")
            yq_new = calib.fake_quant(yq, scale, a.bits, signed, False)
            a.sqnr_db = calib.sqnr_db(yq, yq_new)
            qn.acts[i] = a
            yq = yq_new
        xf, xq = yf, yq
    return qn


def quantize_linear(s, xq, yf, bits: int, method: str, bias_correction: bool, pow2: bool, frozen=(),
                    adaptive: bool = False) -> WeightQ:
    lin = s.linear
    scales = calib.weight_scales(lin.w, bits, method, pow2=pow2)
    shape = (-1,) + (1,) * (lin.w.ndim - 1)
    if adaptive and bits > 1:
        from hwgen.quantize.floatnet import layer_inputs

        w = calib.adaptive_round(lin.w, scales, bits, layer_inputs(lin, xq))
    else:
        w = calib.fake_quant(lin.w, scales.reshape(shape), bits, True, True)
    b = lin.b.astype(np.float32).copy()
    shift = 0.0
    if bias_correction:
        yq = run_step(s, xq, w=w, b=b)
        axes = (0,) if yq.ndim == 2 else (0, 2, 3)
        delta = (yf.astype(np.float64) - yq).mean(axis=axes).astype(np.float32)
        delta[list(frozen)] = 0
        b = (b + delta).astype(np.float32)
        shift = float(np.abs(delta).max())
    return WeightQ(0, int(bits), scales, w, b, pow2, shift, calib.sqnr_db(lin.w, w), adaptive=adaptive and bits > 1)
