"""onnxruntime's one-row Gemm (M = 1, B transposed) replayed operation for operation, so that a batch-1 tail runs
without an onnxruntime session call (~5 us of a ~20 us call) and still gives the session's float32 bits.

For M = 1, alpha 1, beta 0 or 1, A not transposed and B transposed, onnxruntime's Gemm runs MLAS's
MlasSgemmKernelM1TransposeBAvx on x86-64 with AVX. Per output row of B it keeps eight lane sums over K in chunks
of eight (each product rounded, then added: no fused multiply-add in that kernel; the last, partial chunk adds
+0 in its unused lanes), reduces them in an order that depends on whether the row falls in a block of 4, 2 or 1
rows (rows go in blocks of 4 while 4 are left, then 2, then 1), then adds C (+0 when there is none). gemm_m1_transb
does those steps in that order in numba (no fast-math: nothing is contracted into an FMA).

A replica is only as good as the match with the kernel onnxruntime really runs here (another CPU or another
version may run another one), so LayoutTail uses it only after its steps agreed bit for bit with the session on
random rows at construction (check_m1, in numpy: nothing compiled until a one-row call comes); otherwise the
session stays.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sw_fallback.kernels import OPTS

M1_CHECK_ROWS = 96  # random rows the replica must match the session on before it is used


@njit(**OPTS)
def gemm_m1_transb(a, B, c, out):
    """out (N,) = onnxruntime's Gemm of a (K,) by B (N, K) transposed, plus c (N,) (empty: no C), float32."""
    K, N = a.shape[0], B.shape[0]
    full = K - K % 8
    acc = np.empty((4, 8), dtype=np.float32)
    zero = np.float32(0.0)
    n = 0
    while n < N:
        rows = 4 if N - n >= 4 else (2 if N - n >= 2 else 1)
        for i in range(rows):  # (lanes inner: eight independent sums side by side, as the vector register)
            b, r = B[n + i], acc[i]
            for lane in range(8):
                r[lane] = zero
            for j in range(0, full, 8):
                for lane in range(8):
                    r[lane] = r[lane] + a[j + lane] * b[j + lane]
            if full < K:  # the masked chunk: +0 * +0 in the lanes past K
                for lane in range(8):
                    r[lane] = r[lane] + (a[full + lane] * b[full + lane] if full + lane < K else zero)
        for i in range(rows):
            r = acc[i]
            if rows == 4:  # transposed, then each half summed pairwise in order, then the halves
                t = (((r[0] + r[1]) + r[2]) + r[3]) + (((r[4] + r[5]) + r[6]) + r[7])
            elif rows == 2:
                t = ((r[0] + r[2]) + (r[4] + r[6])) + ((r[1] + r[3]) + (r[5] + r[7]))
            else:  # two horizontal adds, then the halves
                t = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
            out[n + i] = t + (c[n + i] if c.shape[0] > 0 else zero)
        n += rows


def m1_operands(node, ins, mid, K):
    """(B (N, K), c (N,) or empty) when `node` is a Gemm onnxruntime runs with the M1 kernel for a (1, K) float32
    data input `mid`: A the data, B and C constants, alpha 1, beta 1 (or no C), transA 0, transB 1; else None."""
    from onnx import helper

    if node.op_type != "Gemm" or not ins or ins[0] != ("data", mid) or len(ins) not in (2, 3):
        return None
    at = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if at.get("alpha", 1.0) != 1.0 or at.get("transA", 0) != 0 or at.get("transB", 0) != 1:
        return None
    if len(ins) == 3 and at.get("beta", 1.0) != 1.0:
        return None
    if any(kind != "const" for kind, _ in ins[1:]):
        return None
    B = ins[1][1]
    if B.dtype != np.float32 or B.ndim != 2 or B.shape[1] != K:
        return None
    N = B.shape[0]
    c = np.zeros(0, dtype=np.float32)
    if len(ins) == 3:
        c0 = ins[2][1]
        if c0.dtype != np.float32 or c0.size not in (1, N) or (c0.ndim == 2 and c0.shape[0] != 1) or c0.ndim > 2:
            return None
        c = np.ascontiguousarray(np.broadcast_to(c0.reshape(-1), (N,)), dtype=np.float32)
    return np.ascontiguousarray(B), c


def m1_steps(A, B, c) -> np.ndarray:
    """gemm_m1_transb's steps in numpy float32 on rows A (R, K) at once (each product and each sum its own
    rounded float32 operation, as there): what check_m1 compares with the session, without compiling the kernel
    (a cold process that never makes a one-row call must not pay ~1 s of LLVM for it)."""
    R, K = A.shape
    N = B.shape[0]
    full = K - K % 8
    acc = np.zeros((R, N, 8), dtype=np.float32)
    for j in range(0, full, 8):
        acc = acc + A[:, None, j:j + 8] * B[None, :, j:j + 8]
    if full < K:  # the masked chunk: +0 * +0 in the lanes past K
        pa, pb = np.zeros((R, 8), np.float32), np.zeros((N, 8), np.float32)
        pa[:, :K - full], pb[:, :K - full] = A[:, full:], B[:, full:]
        acc = acc + pa[:, None, :] * pb[None, :, :]
    out = np.empty((R, N), dtype=np.float32)
    n = 0
    while n < N:
        rows = 4 if N - n >= 4 else (2 if N - n >= 2 else 1)
        r = [acc[:, n:n + rows, lane] for lane in range(8)]
        if rows == 4:
            t = (((r[0] + r[1]) + r[2]) + r[3]) + (((r[4] + r[5]) + r[6]) + r[7])
        elif rows == 2:
            t = ((r[0] + r[2]) + (r[4] + r[6])) + ((r[1] + r[3]) + (r[5] + r[7]))
        else:
            t = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        out[:, n:n + rows] = t + (c[n:n + rows] if c.shape[0] > 0 else np.float32(0.0))
        n += rows
    return out


def check_m1(B, c, session_run, feed_of, values=None, seed=0) -> bool:
    """The replica's steps (m1_steps) equal the session bit for bit on M1_CHECK_ROWS random rows: of the tail's
    own input values (`values`, when known), of normal values at several scales, and signed zeros. (The
    compiled kernel does those steps: tests/test_cpu_gemm_m1.py holds it to the session directly.)"""
    rng = np.random.default_rng(seed)
    K = B.shape[1]
    rows = [np.zeros(K, np.float32), np.full(K, -0.0, np.float32)]
    for i in range(M1_CHECK_ROWS - 2):
        if values is not None and values.size and i % 2 == 0:
            rows.append(rng.choice(values, K).astype(np.float32))
        else:
            rows.append((rng.standard_normal(K) * 10.0 ** rng.integers(-3, 4)).astype(np.float32))
    got = m1_steps(np.stack(rows), B, c)
    for r, g in zip(rows, got):
        want = np.asarray(session_run(feed_of(r.reshape(1, K)))[0]).reshape(-1)
        if want.dtype != np.float32 or want.shape != g.shape or not np.array_equal(want.view(np.int32),
                                                                                  g.view(np.int32)):
            return False
    return True
