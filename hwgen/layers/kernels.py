"""Integer semantics of the hardware blocks, as plain numpy functions.

These are the golden models: the layers' `execute()` calls them, and every testbench (cocotb, C simulation)
compares against them. Inputs are integer arrays holding element *values* (BIPOLAR as -1/+1).
"""

from __future__ import annotations

import numpy as np


def apply_thresholds(acc: np.ndarray, thresholds: np.ndarray, out_base: int, out_bipolar: bool) -> np.ndarray:
    """Multi-threshold activation, per channel on the last axis.

    acc: (..., C) integers. thresholds: (C, T) integers, each row ascending.
    count = number of thresholds t in row c with acc >= t; output = out_base + count, or for a BIPOLAR output
    (T == 1) -1 / +1 for count 0 / 1.
    """
    acc = np.asarray(acc, dtype=np.int64)
    thr = np.asarray(thresholds, dtype=np.int64)
    if thr.ndim != 2 or thr.shape[0] != acc.shape[-1]:
        raise ValueError(f"thresholds shape {thr.shape} does not match {acc.shape[-1]} channels")
    count = np.zeros(acc.shape, dtype=np.int64)
    for j in range(thr.shape[1]):  # T is small (<= 255); avoids a (..., C, T) temporary
        count += acc >= thr[:, j]
    if out_bipolar:
        return 2 * count - 1
    return out_base + count


def mvau(x: np.ndarray, weights: np.ndarray, thresholds: np.ndarray | None = None, out_base: int = 0,
         out_bipolar: bool = False) -> np.ndarray:
    """Matrix-vector(-activation) unit: acc = x @ W.T over the last axis, then optional thresholds.

    x: (..., MW) integer values; weights: (MH, MW) integer values. In binary (XNOR-popcount) mode both hold
    -1/+1 and acc is still the true dot product (= 2 * popcount(xnor) - MW).
    """
    x = np.asarray(x, dtype=np.int64)
    w = np.asarray(weights, dtype=np.int64)
    if x.shape[-1] != w.shape[1]:
        raise ValueError(f"input has {x.shape[-1]} features, weights expect {w.shape[1]}")
    bound = float(np.abs(x).max(initial=0)) * float(np.abs(w).sum(axis=1).max(initial=0))
    if bound < 2.0**52:  # float64 BLAS is exact here and much faster than numpy's integer matmul
        acc = np.rint(x.astype(np.float64) @ w.T.astype(np.float64)).astype(np.int64)
    else:
        acc = x @ w.T
    if thresholds is None:
        return acc
    return apply_thresholds(acc, thresholds, out_base, out_bipolar)


def label_select(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values on the last axis, largest first; equal values: lower index first
    (as ONNX TopK with sorted=1)."""
    x = np.asarray(x, dtype=np.int64)
    order = np.argsort(-x, axis=-1, kind="stable")
    return order[..., :k]
