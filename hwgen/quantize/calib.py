"""Choosing quantizer scales: per-output-channel weight scales and per-tensor activation ranges.

Every search minimizes the squared error of the de-quantized tensor against the float one over candidate clipping
ranges (`mse`), or clips at a percentile of |x| (`percentile`), or at the maximum (`max` / `minmax`). `pow2=True`
restricts the candidates to powers of two (the last layer: its float32 sum in qonnx is then exact, so it runs in
hardware). Quantization here is QONNX `Quant` with ROUND (half to even), zero point 0, as hwgen.quant computes it.
"""

from __future__ import annotations

import numpy as np

from hwgen.quant import int_bounds

WEIGHT_METHODS = ("mse", "percentile", "max")
ACT_METHODS = ("mse", "percentile", "minmax")
PERCENTILE = 99.99
MAX_SAMPLES = 1 << 18  # activation values a range search looks at (a fixed random subset beyond that)


def levels(bits: int, signed: bool, narrow: bool) -> tuple[int, int]:
    return int_bounds(signed, narrow, bits)


def fake_quant(x, scale, bits: int, signed: bool, narrow: bool):
    """De-quantized QONNX Quant (zero point 0, ROUND) in float32; 1-bit signed is bipolar, as qonnx does."""
    x = np.asarray(x, dtype=np.float32)
    s = np.asarray(scale, dtype=np.float32)
    y = x / s
    if bits == 1 and signed:
        return np.where(y >= 0, np.float32(1), np.float32(-1)) * s
    lo, hi = levels(bits, signed, narrow)
    return (np.round(np.clip(y, lo, hi)) * s).astype(np.float32)


def _pow2_candidates(ref):
    """Powers of two around ref (a scale), enough to cover clipping hard and not clipping at all."""
    k = np.floor(np.log2(np.maximum(ref, 1e-30)))
    return [np.exp2(k + d) for d in range(-6, 3)]


def weight_scales(w, bits: int, method: str = "mse", pow2: bool = False) -> np.ndarray:
    """Per-output-channel scales (O,) for signed narrow weights (Brevitas' Int8WeightPerChannelFloat levels
    +-(2^(b-1) - 1); 1 bit: bipolar +-s)."""
    o = w.shape[0]
    wf = np.asarray(w, dtype=np.float32).reshape(o, -1)
    amax = np.abs(wf).max(axis=1)
    qmax = 1 if bits == 1 else (1 << (bits - 1)) - 1
    if bits == 1:  # sign quantizer: the MSE-optimal scale is the mean magnitude
        base = np.abs(wf).mean(axis=1)
        cands = [base * a for a in np.linspace(0.5, 1.5, 21)]
    elif method == "max":
        cands = [amax / qmax]
    elif method == "percentile":
        cands = [np.percentile(np.abs(wf), 99.9, axis=1) / qmax]
    else:
        cands = [amax / qmax * a for a in np.linspace(0.25, 1.0, 76)]
    if pow2:
        cands = _pow2_candidates(cands[-1] if method == "mse" and bits > 1 else cands[0])
    best, best_err = None, None
    for s in cands:
        s = np.where(s > 0, s, 1.0).astype(np.float32)
        err = ((fake_quant(wf, s[:, None], bits, True, True) - wf) ** 2).sum(axis=1)
        if best is None:
            best, best_err = s.copy(), err
        else:
            better = err < best_err
            best[better], best_err[better] = s[better], err[better]
    return best


def act_scale(x, bits: int, signed: bool, method: str = "mse", pow2: bool = False, seed: int = 0) -> float:
    """Per-tensor scale for an activation quantizer (narrow = False; unsigned after ReLU) from calibration values."""
    v = np.asarray(x, dtype=np.float32).ravel()
    v = v[np.isfinite(v)]
    if v.size > MAX_SAMPLES:
        v = np.random.default_rng(seed).choice(v, MAX_SAMPLES, replace=False)
    lo, hi = levels(bits, signed, False)
    top = hi if not (bits == 1 and signed) else 1
    a = np.abs(v) if signed else np.maximum(v, 0)
    amax = float(a.max()) if a.size else 0.0
    if amax <= 0:
        return 1.0
    if method == "minmax":
        clips = [amax]
    elif method == "percentile":
        clips = [float(np.percentile(a, PERCENTILE)) or amax]
    else:
        clips = list(amax * np.linspace(0.1, 1.0, 91))
    cands = [c / top for c in clips]
    if pow2:
        cands = [float(c) for c in _pow2_candidates(np.float32(cands[-1]))]
    errs = [float(((fake_quant(v, np.float32(s), bits, signed, False) - v) ** 2).mean()) for s in cands]
    return float(np.float32(cands[int(np.argmin(errs))]))


def sqnr_db(ref, approx) -> float:
    """Signal-to-quantization-noise ratio of approx against ref, in dB (inf when identical)."""
    ref = np.asarray(ref, dtype=np.float64)
    noise = float(((ref - np.asarray(approx, dtype=np.float64)) ** 2).sum())
    sig = float((ref ** 2).sum())
    if noise == 0:
        return float("inf")
    return 10 * np.log10(max(sig, 1e-30) / noise)


def adaptive_round(w, scales, bits: int, x2, damp: float = 0.01) -> np.ndarray:
    """Layer-wise rounding optimization (numpy): the levels of each output channel chosen one input at a time, each
    rounding error pushed onto the inputs not yet rounded in proportion to their correlation on the calibration
    inputs x2 (N, I) (error feedback through the Cholesky factor of the inverse input Hessian, as OBQ / GPTQ do;
    AdaRound's goal, ||W x - Wq x||^2 small, without its gradient descent). Scales stay as chosen; returns the
    de-quantized weights (levels x scale) in w's shape."""
    o = w.shape[0]
    wk = np.asarray(w, dtype=np.float64).reshape(o, -1).copy()
    h = x2.T @ x2 / max(len(x2), 1)
    dead = np.diag(h) == 0  # inputs that are always 0: any level does; keep the Hessian invertible
    h[dead, dead] = 1.0
    h += damp * float(np.mean(np.diag(h))) * np.eye(h.shape[0])
    u = np.linalg.cholesky(np.linalg.inv(h)).T
    lo, hi = levels(bits, True, True)
    s = np.asarray(scales, dtype=np.float64)
    out = np.zeros_like(wk)
    for i in range(wk.shape[1]):
        q = np.clip(np.round(wk[:, i] / s), lo, hi) * s
        out[:, i] = q
        wk[:, i + 1:] -= np.outer((wk[:, i] - q) / u[i, i], u[i, i + 1:])
    return fake_quant(out.reshape(w.shape), s.reshape((-1,) + (1,) * (w.ndim - 1)), bits, True, True)
