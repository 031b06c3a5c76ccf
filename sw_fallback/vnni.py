"""Integer MVAU on AVX-512 VNNI (VPDPBUSD: 64 unsigned x signed byte products summed four by four into sixteen
int32 lanes, one instruction), for int8 operands whose weights span at most 256 values.

LLVM does not derive VPDPBUSD (nor VPMADDUBSW / VPMADDWD) from numba's integer loops (they widen to int64 and
vectorize into VPMULLD at best: 4x slower than kernels.mvau_acc16), so the dot products of a block of four frames x
four weight rows are one LLVM loop written here (dot_block), sixteen zmm accumulators, each input and weight
vector loaded once per block. Weights are stored shifted, wu = w - wmin in [0, 255] (unsigned operand), rows padded
with zeros to a multiple of 64 bytes and of four rows; then dot(x, w) = dot(x, wu) + wmin * sum(x), all modulo
2^32 (VPDPBUSD adds without saturation; the four-product sums are exact), and the final dot product fits in
int32 (the layer's accumulator range), so it is exact.

A 64-byte load reads up to 63 bytes past a frame's MW inputs: the next frame's inputs (multiplied by the zero
padding of wu) inside the batch, a zero-padded copy for the last frames (never past the array's end).
"""

from __future__ import annotations

import functools

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from sw_fallback.kernels import OPTS

VEC = 64  # bytes per VPDPBUSD operand (zmm)
ROWS = 4  # weight rows per block (four frames each: 16 accumulators)


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """Whether this host runs the kernel (numba compiles for the host CPU)."""
    try:
        import llvmlite.binding as llvm

        f = llvm.get_host_cpu_features()
        return bool(f.get("avx512vnni", False) and f.get("avx512bw", False) and f.get("avx512f", False))
    except Exception:  # noqa: BLE001 (no feature list: the portable kernels)
        return False


def pack_weights(w: np.ndarray) -> tuple[np.ndarray, int] | None:
    """(wu, wmin) for weights w (MH, MW) whose values span at most 256 (else None): wu (MH padded to ROWS,
    MW padded to VEC) uint8 = w - wmin, zero in the padding."""
    w = np.asarray(w, dtype=np.int64)
    wmin, wmax = int(w.min(initial=0)), int(w.max(initial=0))
    if wmax - wmin > 255 or w.shape[1] > 65536:  # (65536 x 255 x 128 four-product sums stay exact in int32)
        return None
    mh, mw = w.shape
    wu = np.zeros((-(-mh // ROWS) * ROWS, -(-mw // VEC) * VEC), dtype=np.uint8)
    wu[:mh, :mw] = w - wmin
    return wu, wmin


@intrinsic
def dot_block(typingctx, x, wu, n0, n1, n2, n3, h):
    """Sixteen int32 sums (frame n_i, row h + r at 4 * i + r) of wu[h + r, :MWp] (unsigned) times the MWp int8
    bytes from x's row n_i (signed; MWp = wu.shape[1], a multiple of 64: the caller makes every read valid)."""
    if not (isinstance(x, types.Array) and isinstance(wu, types.Array) and x.ndim == 2 and wu.ndim == 2):
        return None
    sig = types.UniTuple(types.int32, 16)(x, wu, n0, n1, n2, n3, h)

    def codegen(context, builder, signature, args):
        i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
        vb, vd = ir.VectorType(i8, VEC), ir.VectorType(i32, VEC // 4)
        xa = context.make_array(signature.args[0])(context, builder, args[0])
        wa = context.make_array(signature.args[1])(context, builder, args[1])
        xs = builder.extract_value(xa.strides, 0)
        ws = builder.extract_value(wa.strides, 0)
        mwp = builder.extract_value(wa.shape, 1)
        xd = builder.bitcast(xa.data, i8.as_pointer())
        wd = builder.bitcast(wa.data, i8.as_pointer())
        ns = [context.cast(builder, a, t, types.int64) for a, t in zip(args[2:6], signature.args[2:6])]
        hh = context.cast(builder, args[6], signature.args[6], types.int64)
        xrows = [builder.gep(xd, [builder.mul(n, xs)]) for n in ns]
        wrows = [builder.gep(wd, [builder.mul(builder.add(hh, ir.Constant(i64, r)), ws)]) for r in range(ROWS)]
        dp = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vd, [vd, vd, vd]),
                                            "llvm.x86.avx512.vpdpbusd.512")
        pre = builder.block
        loop = builder.append_basic_block("vnni.loop")
        body = builder.append_basic_block("vnni.body")
        done = builder.append_basic_block("vnni.done")
        builder.branch(loop)
        builder.position_at_end(loop)
        k = builder.phi(i64)
        accs = [builder.phi(vd) for _ in range(16)]
        zero = ir.Constant(vd, None)
        k.add_incoming(ir.Constant(i64, 0), pre)
        for a in accs:
            a.add_incoming(zero, pre)
        builder.cbranch(builder.icmp_signed("<", k, mwp), body, done)
        builder.position_at_end(body)

        def load(row):
            p = builder.bitcast(builder.gep(row, [k]), vb.as_pointer())
            return builder.bitcast(builder.load(p, align=1), vd)

        xv = [load(r) for r in xrows]
        wv = [load(r) for r in wrows]
        new = [builder.call(dp, [accs[4 * i + r], wv[r], xv[i]]) for i in range(4) for r in range(ROWS)]
        k2 = builder.add(k, ir.Constant(i64, VEC))
        end = builder.block
        k.add_incoming(k2, end)
        for a, v in zip(accs, new):
            a.add_incoming(v, end)
        builder.branch(loop)
        builder.position_at_end(done)
        sums = _sum_lanes(builder, accs)
        return context.make_tuple(builder, signature.return_type,
                                  [builder.extract_element(sums, ir.Constant(i32, j)) for j in range(16)])

    return sig, codegen


def _sum_lanes(builder, vs):
    """Sixteen <16 x i32> vectors -> one whose lane j is the sum of vs[j]'s lanes: four levels of pairwise
    shuffles and adds (45 instructions, against 16 separate reductions of 8 each). At group size g each pair
    (a, b) becomes [a's and then b's lanes first g of every 2g] + [the same, last g]."""
    i32 = ir.IntType(32)
    for g in (8, 4, 2, 1):
        halves = []
        for off in (0, g):
            idx = [src + grp + off + j for src in (0, 16) for grp in range(0, 16, 2 * g) for j in range(g)]
            halves.append(ir.Constant(ir.VectorType(i32, 16), [ir.Constant(i32, i) for i in idx]))
        vs = [builder.add(builder.shuffle_vector(a, b, halves[0]), builder.shuffle_vector(a, b, halves[1]))
              for a, b in zip(vs[0::2], vs[1::2])]
    return vs[0]


@njit(**OPTS)
def mvau_vnni(x, wu, wmin, thrT, out_base, out_bipolar, out):
    """x (N, MW) int8 (rows contiguous); wu, wmin from pack_weights; out (N, MH): the sums, or through thrT (T, MH)
    (each row's thresholds ascending, transposed) as kernels._emit: out_base + #{t <= acc} (bipolar: 2 * count
    - 1). One scratch allocation (batch 1 pays per call)."""
    N, MW = x.shape
    MWp = wu.shape[1]
    if N == 0:
        return
    if x.strides[1] != 1:
        x = np.ascontiguousarray(x)
    # frames whose 64-byte reads stay inside x (row start + MWp <= the last row's end), the rest from a zero-padded
    # copy
    st = x.strides[0]
    lim = (N - 1) * st + MW - MWp
    safe = 0 if (lim < 0 or st <= 0) else min(N, lim // st + 1)
    MHp = wu.shape[0]
    scratch = np.empty(N + 5 * MHp + ((N - safe) * MWp + 7) // 8, dtype=np.int64)
    sx = scratch[:N]
    acc = scratch[N:N + 4 * MHp].reshape((4, MHp))
    cnt = scratch[N + 4 * MHp:N + 5 * MHp]
    tail = scratch[N + 5 * MHp:].view(np.int8)[:(N - safe) * MWp].reshape((N - safe, MWp))
    for n in range(N):
        s = np.int32(0)
        for k in range(MW):
            s = np.int32(s + np.int32(x[n, k]))
        sx[n] = s
    for n in range(safe, N):
        for k in range(MW):
            tail[n - safe, k] = x[n, k]
        for k in range(MW, MWp):
            tail[n - safe, k] = 0
    _blocks(x, safe, 0, wu, wmin, sx, thrT, out_base, out_bipolar, out, acc, cnt)
    _blocks(tail, N - safe, safe, wu, wmin, sx, thrT, out_base, out_bipolar, out, acc, cnt)


@njit(inline="always", **OPTS)
def _blocks(src, hi, off, wu, wmin, sx, thrT, out_base, out_bipolar, out, acc, cnt):
    """Frames src[:hi] (out rows off ...) in blocks of four frames (the last block repeats its last frame): the
    sums of every row into acc, then each frame's outputs in one pass per threshold (vectorized over rows)."""
    MH = out.shape[1]
    T = thrT.shape[0]
    for n in range(0, hi, 4):
        m = min(4, hi - n)
        for h in range(0, MH, ROWS):
            d = dot_block(src, wu, n, n + min(1, m - 1), n + min(2, m - 1), n + min(3, m - 1), h)
            for j in range(16):
                acc[j // 4, h + j % 4] = d[j]
        for i in range(m):
            c = np.int64(wmin) * sx[off + n + i]
            a = acc[i]
            o = out[off + n + i]
            for h in range(MH):
                a[h] = np.int64(np.int32(a[h] + c))  # the dot product (exact modulo 2^32, and it fits int32)
            if T == 0:
                for h in range(MH):
                    o[h] = a[h]
                continue
            cnt[:] = 0
            for t in range(T):
                for h in range(MH):
                    cnt[h] += np.int64(thrT[t, h] <= a[h])
            if out_bipolar:
                for h in range(MH):
                    o[h] = 2 * cnt[h] - 1
            else:
                for h in range(MH):
                    o[h] = out_base + cnt[h]
