"""QONNX quantizer semantics (Quant, BipolarQuant, Trunc) in numpy, with the same float32 steps as qonnx.

hwgen must agree with qonnx's execution of a graph bit for bit, so these functions follow the QONNX operator
definitions step by step in the same dtype (divide by scale, add zero point, clip, round, subtract zero
point, multiply by scale). `*_int` variants stop before de-quantization and return the integer level q,
which is what hardware streams carry.
"""

from __future__ import annotations

import numpy as np


def int_bounds(signed: bool, narrow: bool, bits: int) -> tuple[int, int]:
    """Integer range of a QONNX Quant output level q (before zero point subtraction)."""
    bits = int(bits)
    if signed:
        lo = -(1 << (bits - 1)) + (1 if narrow else 0)
        hi = (1 << (bits - 1)) - 1
    else:
        lo = 0
        hi = (1 << bits) - 1 - (1 if narrow else 0)
    return lo, hi


def _round(y: np.ndarray, mode: str) -> np.ndarray:
    m = mode.upper()
    if m in ("ROUND", "HALF_EVEN"):
        return np.round(y)
    if m == "CEIL":
        return np.ceil(y)
    if m == "FLOOR":
        return np.floor(y)
    if m == "UP":
        return np.sign(y) * np.ceil(np.abs(y))
    if m == "DOWN":
        return np.fix(y)
    if m == "HALF_UP":
        return np.sign(y) * np.floor(np.abs(y) + 0.5)
    if m == "HALF_DOWN":
        return np.sign(y) * np.ceil(np.abs(y) - 0.5)
    raise ValueError(f"unknown rounding mode {mode!r}")


ROUNDING_MODES = ("ROUND", "HALF_EVEN", "CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN")


def quant_int(x, scale, zero_point, bits, signed: bool, narrow: bool, rounding_mode: str = "ROUND") -> np.ndarray:
    """Integer level q of QONNX Quant (float array holding integers, same dtype as the computation)."""
    y = x / scale
    y = y + zero_point
    if int(bits) == 1 and signed:
        # QONNX treats 1-bit signed Quant as bipolar (sign of the scaled input).
        ones = np.ones(y.shape, dtype=y.dtype)
        return np.where(y >= 0.0, ones, -ones)
    lo, hi = int_bounds(signed, narrow, bits)
    y = np.where(y > hi, np.asarray(hi).astype(y.dtype), y)
    y = np.where(y < lo, np.asarray(lo).astype(y.dtype), y)
    return _round(y, rounding_mode)


def quant(x, scale, zero_point, bits, signed, narrow, rounding_mode="ROUND"):
    q = quant_int(x, scale, zero_point, bits, signed, narrow, rounding_mode)
    return (q - zero_point) * scale


def bipolar_quant_int(x, scale=None) -> np.ndarray:
    x = np.asarray(x)
    ones = np.ones(x.shape, dtype=x.dtype if x.dtype.kind == "f" else np.float32)
    return np.where(x >= 0.0, ones, -ones)


def bipolar_quant(x, scale):
    return bipolar_quant_int(x) * scale


def trunc_params(node_inputs: list, rounding_mode: str, narrow: bool = False, signed: bool = True):
    """Unpack Trunc inputs (v1: x, scale, zp, in_bits, out_bits; v2: x, scale, zp, in_bits, out_scale, out_bits)."""
    if len(node_inputs) == 5:
        x, scale, zp, in_bits, out_bits = node_inputs
        return dict(version=1, x=x, scale=scale, zp=zp, in_bits=in_bits, out_bits=out_bits)
    x, scale, zp, in_bits, out_scale, out_bits = node_inputs
    return dict(version=2, x=x, scale=scale, zp=zp, in_bits=in_bits, out_scale=out_scale, out_bits=out_bits)


def trunc_int(p: dict, rounding_mode: str, narrow: bool = False, signed: bool = True):
    """Integer level and (de-quantization zero point, scale) of QONNX Trunc (v1 or v2)."""
    y = p["x"] / p["scale"]
    y = y + p["zp"]
    y = np.round(y)
    if p["version"] == 1:
        trunc_scale = 2.0 ** (p["in_bits"] - p["out_bits"])
        y = y / trunc_scale
        q = _round(y, rounding_mode)
        return q, p["zp"], p["scale"]
    trunc_scale = 2 ** np.round(np.log2(p["out_scale"] / p["scale"]))
    y = y / trunc_scale
    lo, hi = int_bounds(signed, narrow, p["out_bits"])
    y = np.where(y > hi, np.asarray(hi).astype(y.dtype), y)
    y = np.where(y < lo, np.asarray(lo).astype(y.dtype), y)
    q = _round(y, rounding_mode)
    return q, p["zp"] / trunc_scale, p["out_scale"]
