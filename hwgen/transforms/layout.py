"""Where the elements of an ONNX tensor are in a hardware stream.

Streams carry NHWC frames: for an ONNX tensor (1, C, H, W) (or (1, C, L), a 1-D map with H = 1) the stream holds
pixel (h, w)'s C channels one pixel after the other. A tensor's `perm` says, for every stream position i, which
element of the ONNX tensor (its C-order flat index) is there; None means the canonical channels-last order of
its shape. Shape ops (Flatten, Reshape, Transpose, ...) move the ONNX indices but not the stream, so they only
rewrite `perm`; the first FC after a Flatten reads its weight columns through it (NCHW- to NHWC-flatten order).
"""

from __future__ import annotations

import numpy as np

from hwgen.onnx_eval import attr


def is_spatial(shape) -> bool:
    return shape is not None and len(shape) in (3, 4)


def hwc(shape) -> tuple[int, int, int]:
    """(H, W, C) of a stream for an ONNX tensor shape: NCHW, NCL (H = 1) or (1, F) (one pixel of F channels)."""
    s = [int(d) for d in shape]
    if len(s) == 4:
        return s[2], s[3], s[1]
    if len(s) == 3:
        return 1, s[2], s[1]
    return 1, 1, int(np.prod(s[1:])) if len(s) > 1 else int(s[0])


def channels_last_perm(shape) -> np.ndarray:
    """Stream position -> ONNX flat index for the canonical NHWC stream of `shape`."""
    s = [int(d) for d in shape]
    idx = np.arange(int(np.prod(s)), dtype=np.int64).reshape(s)
    if len(s) == 4:
        return idx.transpose(0, 2, 3, 1).ravel()
    if len(s) == 3:
        return idx.transpose(0, 2, 1).ravel()
    return idx.ravel()


def to_channels_last(shape) -> list[int] | None:
    """The Transpose perm from an ONNX NCHW / NCL tensor to its stream layout (None: already flat)."""
    if len(shape) == 4:
        return [0, 2, 3, 1]
    if len(shape) == 3:
        return [0, 2, 1]
    return None


def from_channels_last(shape) -> list[int] | None:
    if len(shape) == 4:
        return [0, 3, 1, 2]
    if len(shape) == 3:
        return [0, 2, 1]
    return None


def explicit(perm, shape) -> np.ndarray:
    return channels_last_perm(shape) if perm is None else perm


def simplify(perm, shape):
    """None when `perm` is the canonical order of `shape`."""
    if perm is None:
        return None
    return None if np.array_equal(perm, channels_last_perm(shape)) else perm


def after_shape_op(node, perm, in_shape, out_shape):
    """The stream's perm after a shape op (Reshape / Flatten / Squeeze / Unsqueeze / Identity keep the C-order
    flat index of every element; Transpose moves it)."""
    p = explicit(perm, in_shape)
    if node.op_type == "Transpose":
        n = len(in_shape)
        tperm = attr(node, "perm", list(range(n))[::-1])
        idx = np.arange(p.size, dtype=np.int64).reshape([int(d) for d in in_shape]).transpose(tperm).ravel()
        inv = np.empty_like(idx)
        inv[idx] = np.arange(idx.size, dtype=np.int64)  # old flat index -> new flat index
        p = inv[p]
    return simplify(p, out_shape)
