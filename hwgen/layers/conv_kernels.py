"""Integer semantics of the convolutional hardware blocks, as plain numpy functions (the golden models).

Everything here is NHWC with int64 element values (BIPOLAR as -1/+1), batch first: x has shape (N, H, W, C).
A 1-D signal (N, L, C) is the H = 1 case: `as_2d` / `as_1d` convert, and every spatial parameter is a pair
(height, width) -- for 1-D pass (1, k), (1, stride), ...

Window order (the sliding-window generator's output stream, as FINN's ConvolutionInputGenerator): for each output
pixel in raster order (oy, then ox), for each kernel position (ky, then kx), the C channels of that input pixel,
channels innermost. `sliding_window` returns that order as an (N, OH, OW, KH*KW*C) array whose last axis is
(ky, kx, c) flattened; a conv is then an MVAU over the last axis with its ONNX OIHW weights reordered to
(O, KH*KW*I) by `conv_weights_to_window_order`. With SIMD < C the hardware emits the same elements in the same
order, SIMD of them per word.

Padding is described by `pads` = (top, left, bottom, right), i.e. ONNX's (y_begin, x_begin, y_end, x_end);
`onnx_pads` converts from an ONNX Conv/Pool `pads` attribute (begins then ends).

This module imports nothing above hwgen.layers (no codegen, plan or runtime): emitters and backends read it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from hwgen.layers.kernels import apply_thresholds, mvau

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]

ROUNDING_MODES = ("ROUND", "HALF_EVEN", "CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN")


# --- shapes and layout -------------------------------------------------------------------------------------------
def pair(v: int | Sequence[int]) -> Pair:
    if np.ndim(v) == 0:
        return int(v), int(v)
    v = tuple(int(i) for i in v)
    if len(v) == 1:  # a 1-D parameter: height 1
        return 1, v[0]
    if len(v) != 2:
        raise ValueError(f"expected one or two spatial values, got {v}")
    return v


def onnx_pads(pads: Sequence[int] | None, rank: int = 2) -> Pads:
    """ONNX `pads` (x1_begin, x2_begin, ..., x1_end, x2_end) of a 1-D or 2-D op -> (top, left, bottom, right)."""
    if not pads:
        return 0, 0, 0, 0
    pads = [int(p) for p in pads]
    if len(pads) != 2 * rank:
        raise ValueError(f"{len(pads)} pads for a {rank}-D op")
    if rank == 1:
        return 0, pads[0], 0, pads[1]
    return pads[0], pads[1], pads[2], pads[3]


def as_2d(x: np.ndarray) -> np.ndarray:
    """(N, L, C) -> (N, 1, L, C)."""
    return np.asarray(x)[:, None]


def as_1d(x: np.ndarray) -> np.ndarray:
    """(N, 1, L, C) -> (N, L, C)."""
    if x.shape[1] != 1:
        raise ValueError(f"not a 1-D feature map: shape {x.shape}")
    return x[:, 0]


def out_size(size: int, k: int, stride: int = 1, dilation: int = 1, pad_begin: int = 0, pad_end: int = 0) -> int:
    """Output length of one spatial axis (floor mode, as ONNX with ceil_mode=0)."""
    span = dilation * (k - 1) + 1
    n = size + pad_begin + pad_end - span
    if n < 0:
        raise ValueError(f"kernel span {span} exceeds the padded input {size + pad_begin + pad_end}")
    return n // stride + 1


def out_shape(in_hw: Pair, kernel, stride=1, dilation=1, pads: Pads = (0, 0, 0, 0)) -> Pair:
    (kh, kw), (sh, sw), (dh, dw) = pair(kernel), pair(stride), pair(dilation)
    return (out_size(in_hw[0], kh, sh, dh, pads[0], pads[2]), out_size(in_hw[1], kw, sw, dw, pads[1], pads[3]))


def pad(x: np.ndarray, pads: Pads, value: int = 0) -> np.ndarray:
    """Constant padding of the spatial axes of an NHWC tensor (ONNX Pad, mode=constant, on H and W)."""
    top, left, bottom, right = (int(p) for p in pads)
    if min(pads) < 0:
        raise ValueError(f"negative pads {pads} (cropping) are not padding")
    return np.pad(np.asarray(x, dtype=np.int64), ((0, 0), (top, bottom), (left, right), (0, 0)),
                  constant_values=value)


# --- sliding windows ---------------------------------------------------------------------------------------------
def window_positions(x: np.ndarray, kernel, stride=1, dilation=1, pads: Pads = (0, 0, 0, 0),
                     pad_value: int = 0) -> np.ndarray:
    """All windows as (N, OH, OW, KH*KW, C): kernel positions (ky, kx) raster-ordered on axis 3."""
    x = np.asarray(x, dtype=np.int64)
    (kh, kw), (sh, sw), (dh, dw) = pair(kernel), pair(stride), pair(dilation)
    oh, ow = out_shape(x.shape[1:3], (kh, kw), (sh, sw), (dh, dw), pads)
    xp = pad(x, pads, pad_value)
    taps = [xp[:, ky * dh: ky * dh + (oh - 1) * sh + 1: sh, kx * dw: kx * dw + (ow - 1) * sw + 1: sw, :]
            for ky in range(kh) for kx in range(kw)]
    return np.stack(taps, axis=3)


def sliding_window(x: np.ndarray, kernel, stride=1, dilation=1, pads: Pads = (0, 0, 0, 0),
                   pad_value: int = 0) -> np.ndarray:
    """The sliding-window generator: (N, H, W, C) -> (N, OH, OW, KH*KW*C), last axis (ky, kx, c) flattened.

    Streamed, the output is every output pixel's window in raster order, channels innermost (module docstring).
    `pad_value` fills the padding (an integer level: 0, or the zero point of an asymmetric quantizer).
    """
    win = window_positions(x, kernel, stride, dilation, pads, pad_value)
    return win.reshape(*win.shape[:3], -1)


def sliding_window_stream(x: np.ndarray, kernel, stride=1, dilation=1, pads: Pads = (0, 0, 0, 0),
                          pad_value: int = 0, simd: int | None = None) -> np.ndarray:
    """The generator's output as stream words of one frame: (words, simd) for x of shape (1, H, W, C)."""
    c = x.shape[-1]
    simd = c if simd is None else int(simd)
    if c % simd:
        raise ValueError(f"SIMD {simd} does not divide the {c} channels")
    return sliding_window(x, kernel, stride, dilation, pads, pad_value).reshape(-1, simd)


# --- matrix layers over windows ----------------------------------------------------------------------------------
def conv_weights_to_window_order(w_oihw: np.ndarray) -> np.ndarray:
    """ONNX Conv weights (O, I, KH, KW) (or (O, I, K) for 1-D) -> MVAU matrix (O, KH*KW*I) in window order."""
    w = np.asarray(w_oihw)
    if w.ndim == 3:
        w = w[:, :, None, :]
    if w.ndim != 4:
        raise ValueError(f"conv weights must be OIHW or OIK, got shape {w.shape}")
    return w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1)


def conv(x: np.ndarray, w_oihw: np.ndarray, stride=1, dilation=1, pads: Pads = (0, 0, 0, 0), pad_value: int = 0,
         thresholds: np.ndarray | None = None, out_base: int = 0, out_bipolar: bool = False) -> np.ndarray:
    """Conv (groups = 1) as sliding window + MVAU: (N, H, W, I) -> (N, OH, OW, O) accumulators, or thresholded
    levels when `thresholds` (O, T) are given (as `kernels.mvau`)."""
    w = np.asarray(w_oihw)
    kernel = w.shape[2:] if w.ndim == 4 else (1, w.shape[2])
    if w.shape[1] != np.shape(x)[-1]:
        raise ValueError(f"weights expect {w.shape[1]} input channels, input has {np.shape(x)[-1]}")
    win = sliding_window(x, kernel, stride, dilation, pads, pad_value)
    return mvau(win, conv_weights_to_window_order(w), thresholds, out_base, out_bipolar)


def depthwise_weights(w_c1hw: np.ndarray) -> np.ndarray:
    """ONNX depthwise Conv weights (C, 1, KH, KW) (or (C, 1, K)) -> VVAU matrix (C, KH*KW), kernel raster order."""
    w = np.asarray(w_c1hw)
    if w.ndim not in (3, 4) or w.shape[1] != 1:
        raise ValueError(f"depthwise weights must be (C, 1, KH, KW) or (C, 1, K), got shape {w.shape}")
    return w.reshape(w.shape[0], -1)


def vvau(windows: np.ndarray, weights: np.ndarray, thresholds: np.ndarray | None = None, out_base: int = 0,
         out_bipolar: bool = False) -> np.ndarray:
    """Vector-vector(-activation) unit (depthwise): windows (..., K*C) in window order (channels innermost),
    weights (C, K) -> acc (..., C) with acc[c] = sum_k window[k, c] * w[c, k]; then optional thresholds (C, T)."""
    w = np.asarray(weights, dtype=np.int64)
    c, k = w.shape
    win = np.asarray(windows, dtype=np.int64)
    if win.shape[-1] != k * c:
        raise ValueError(f"window of {win.shape[-1]} elements, weights expect {k} x {c}")
    acc = np.einsum("...kc,ck->...c", win.reshape(*win.shape[:-1], k, c), w)
    if thresholds is None:
        return acc
    return apply_thresholds(acc, thresholds, out_base, out_bipolar)


def depthwise_conv(x: np.ndarray, w_c1hw: np.ndarray, stride=1, dilation=1, pads: Pads = (0, 0, 0, 0),
                   pad_value: int = 0, thresholds: np.ndarray | None = None, out_base: int = 0,
                   out_bipolar: bool = False) -> np.ndarray:
    """Depthwise Conv (groups = channels, one output per channel) as sliding window + VVAU."""
    w = np.asarray(w_c1hw)
    kernel = w.shape[2:] if w.ndim == 4 else (1, w.shape[2])
    if w.shape[0] != np.shape(x)[-1]:
        raise ValueError(f"depthwise weights for {w.shape[0]} channels, input has {np.shape(x)[-1]}")
    win = sliding_window(x, kernel, stride, dilation, pads, pad_value)
    return vvau(win, depthwise_weights(w), thresholds, out_base, out_bipolar)


# --- pooling -----------------------------------------------------------------------------------------------------
def max_pool(x: np.ndarray, kernel, stride=None, dilation=1, pads: Pads = (0, 0, 0, 0)) -> np.ndarray:
    """ONNX MaxPool (ceil_mode 0) on integers: padding never wins (it is below every value)."""
    stride = kernel if stride is None else stride
    low = np.iinfo(np.int64).min
    return window_positions(x, kernel, stride, dilation, pads, pad_value=low).max(axis=3)


def pool_sum(x: np.ndarray, kernel, stride=None, pads: Pads = (0, 0, 0, 0)) -> np.ndarray:
    """Window sums with zero padding: AveragePool (count_include_pad=1) times KH*KW, exactly."""
    stride = kernel if stride is None else stride
    return window_positions(x, kernel, stride, 1, pads, pad_value=0).sum(axis=3)


def shift_round(acc: np.ndarray, shift: int, rounding_mode: str = "FLOOR") -> np.ndarray:
    """acc / 2**shift rounded as qonnx's `resolve_rounding_mode`, exactly in integers (shift <= 0 multiplies)."""
    acc = np.asarray(acc, dtype=np.int64)
    mode = rounding_mode.upper()
    if mode not in ROUNDING_MODES:
        raise ValueError(f"unknown rounding mode {rounding_mode!r}; known: {', '.join(ROUNDING_MODES)}")
    if shift <= 0:
        return acc << -shift
    d = np.int64(1) << shift
    q, r = np.divmod(acc, d)  # floor quotient, remainder in [0, d)
    if mode == "FLOOR":
        return q
    above = r > 0
    if mode == "CEIL":
        return q + above
    neg = acc < 0
    if mode == "DOWN":  # toward zero
        return q + (above & neg)
    if mode == "UP":  # away from zero
        return q + (above & ~neg)
    half, tie = 2 * r > d, 2 * r == d
    if mode in ("ROUND", "HALF_EVEN"):
        return q + (half | (tie & (q % 2 == 1)))
    if mode == "HALF_UP":  # ties away from zero
        return q + (half | (tie & ~neg))
    return q + (half | (tie & neg))  # HALF_DOWN: ties toward zero


def int_range(bits: int, signed: bool, narrow: bool = False) -> tuple[int, int]:
    """qonnx's min_int / max_int."""
    if signed:
        return -(1 << (bits - 1)) + int(narrow), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1 - int(narrow)


def trunc(acc: np.ndarray, shift: int, out_bits: int, signed: bool, narrow: bool = False,
          rounding_mode: str = "FLOOR") -> np.ndarray:
    """QONNX `Trunc` (v2, zero point 0) on the integer accumulator: clamp(acc / 2**shift) to the output range,
    rounded by `rounding_mode`.

    qonnx computes y = round(x / scale) / trunc_scale, clamps y to [min_int, max_int] of (signed, narrow,
    output_bit_width), applies the rounding mode, and multiplies by output_scale, with
    trunc_scale = 2**round(log2(output_scale / scale)). So shift = round(log2(output_scale / scale)), and the
    integer x / scale is the accumulator (for Brevitas' TruncAvgPool: the window sum, scale = input scale / (KH*KW)).
    Clamping first or rounding first agree because the bounds are integers.
    """
    lo, hi = int_range(out_bits, signed, narrow)
    return np.clip(shift_round(acc, shift, rounding_mode), lo, hi)


def trunc_avg_pool(x: np.ndarray, kernel, stride=None, pads: Pads = (0, 0, 0, 0), *, shift: int, out_bits: int,
                   signed: bool, narrow: bool = False, rounding_mode: str = "FLOOR") -> np.ndarray:
    """Brevitas TruncAvgPool2d (AveragePool -> Trunc) in integers: window sum, then `trunc`."""
    return trunc(pool_sum(x, kernel, stride, pads), shift, out_bits, signed, narrow, rounding_mode)


def global_pool_sum(x: np.ndarray) -> np.ndarray:
    """GlobalAveragePool times H*W: (N, H, W, C) -> (N, 1, 1, C) sums."""
    return np.asarray(x, dtype=np.int64).sum(axis=(1, 2), keepdims=True)


# --- stream joins and reshapes -----------------------------------------------------------------------------------
def duplicate(x: np.ndarray, n: int = 2) -> tuple[np.ndarray, ...]:
    """One stream to n consumers (the same values)."""
    x = np.asarray(x, dtype=np.int64)
    return tuple(x.copy() for _ in range(n))


def add_streams(a: np.ndarray, b: np.ndarray, a_mul: int = 1, b_mul: int = 1,
                thresholds: np.ndarray | None = None, out_base: int = 0, out_bipolar: bool = False) -> np.ndarray:
    """AddStreams: acc = a * a_mul + b * b_mul element-wise (same shapes); then optional per-channel thresholds
    (C, T). Equal scales: a_mul = b_mul = 1 and no thresholds (exact). Different scales: the integer multipliers
    bring both onto one grid (scale ratio p/q: a_mul = q, b_mul = p) and thresholds re-quantize the sum."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if a.shape != b.shape:
        raise ValueError(f"AddStreams inputs differ in shape: {a.shape} vs {b.shape}")
    acc = a * int(a_mul) + b * int(b_mul)
    if thresholds is None:
        return acc
    return apply_thresholds(acc, thresholds, out_base, out_bipolar)


def concat_channels(xs: Sequence[np.ndarray]) -> np.ndarray:
    """Concat on channels (the last NHWC axis; ONNX axis 1 of NCHW)."""
    xs = [np.asarray(x, dtype=np.int64) for x in xs]
    if len({x.shape[:-1] for x in xs}) != 1:
        raise ValueError(f"Concat inputs differ outside the channel axis: {[x.shape for x in xs]}")
    return np.concatenate(xs, axis=-1)


def upsample_nearest(x: np.ndarray, factor) -> np.ndarray:
    """Nearest upsampling by integer factors (fh, fw): out[y, x] = in[y // fh, x // fw]
    (ONNX Resize mode=nearest, coordinate_transformation_mode=asymmetric, nearest_mode=floor, as torch exports)."""
    fh, fw = pair(factor)
    if fh < 1 or fw < 1:
        raise ValueError(f"upsampling factor {factor} is not a positive integer")
    return np.repeat(np.repeat(np.asarray(x, dtype=np.int64), fh, axis=1), fw, axis=2)
