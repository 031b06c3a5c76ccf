"""Handmade conv graphs for the matrix layers of convolutions (tests/test_conv_mvau.py, tests/test_vvau.py): random
layers whose golden result is `conv_kernels.conv` / `depthwise_conv`, built with hwgen.build.write_build and run
on the backends, with the rtlsim cycle figures."""

from __future__ import annotations

import numpy as np

from hwgen.build import write_build
from hwgen.dtypes import BIPOLAR, DType, from_name
from hwgen.layers import conv_kernels as ck
from hwgen.layers.mvau import MVAU
from hwgen.layers.vvau import VVAU
from hwgen.runtime.accelerator import Accelerator
from tests.handmade import handmade_graph


def dtype(name: str) -> DType:
    return BIPOLAR if name == "BIPOLAR" else from_name(name)


def rand(rng, dt: DType, shape) -> np.ndarray:
    if dt.bipolar:
        return rng.choice([-1, 1], size=shape)
    return rng.integers(dt.min, dt.max + 1, size=shape)


def rand_thresholds(rng, lo: np.ndarray, hi: np.ndarray, out_dt: DType) -> np.ndarray:
    """Ascending thresholds per row inside the row's accumulator range (so every level is reachable)."""
    n = 1 if out_dt.bipolar else out_dt.max - out_dt.min
    t = [np.sort(rng.integers(int(a), int(b) + 1, size=n)) for a, b in zip(lo, hi)]
    return np.asarray(t, dtype=np.int64)


def conv_mvau(name, in_dt: DType, w_oihw: np.ndarray, w_dt: DType, out_dt: DType | None, ofm, pe, simd, rng):
    """The matrix part of a conv: an MVAU over the window stream (num_vectors = OH*OW), thresholds when out_dt
    is given (random, reachable), the accumulator otherwise."""
    wm = ck.conv_weights_to_window_order(w_oihw)
    m = MVAU(name, in_dt, w_dt, wm, None, DType(1, False), num_vectors=ofm[0] * ofm[1], spatial=ofm, pe=pe,
             simd=simd)
    if out_dt is None:
        m.out_dtype = m.acc_dtype()
    else:
        m.thresholds = rand_thresholds(rng, *m.acc_range(), out_dt)
        m.out_dtype, m.out_base = out_dt, 0 if out_dt.bipolar else out_dt.min
    return m


def dw_vvau(name, in_dt: DType, w_c1hw: np.ndarray, w_dt: DType, out_dt: DType | None, ofm, pe, rng, simd=1,
            order="window"):
    v = VVAU(name, in_dt, w_dt, ck.depthwise_weights(w_c1hw), None, DType(1, False), ofm=ofm, pe=pe, simd=simd,
             order=order)
    if out_dt is None:
        v.out_dtype = v.acc_dtype()
    else:
        v.thresholds = rand_thresholds(rng, *v.acc_range(), out_dt)
        v.out_dtype, v.out_base = out_dt, 0 if out_dt.bipolar else out_dt.min
    return v


def build_and_run(layers, x_graph: np.ndarray, out, backends=("reference", "cpu", "csim", "rtlsim"), input_shape=None):
    """write_build the chain, run x_graph (N, *input shape) on each backend; {backend: ints (N, ...)}, and the
    rtlsim stats under "rtlsim_stats"."""
    g = handmade_graph(list(layers), input_shape=input_shape or [1, *x_graph.shape[1:]])
    write_build(g, out, log=lambda *a: None)
    q = x_graph.reshape(len(x_graph), -1).astype(np.int64)
    res = {}
    for be in backends:
        acc = Accelerator(out, backend=be)
        res[be] = np.asarray(acc.execute_ints(q)).reshape(len(q), -1)
        if be == "rtlsim":
            res["rtlsim_stats"] = acc.stats()
    return res


def assert_cycles(stats: dict, layers, tol: float = 0.05):
    """Every layer's measured active cycles per frame within tol of layer.cycles()."""
    for lay in layers:
        got = stats["layers"][lay.name]["active_cycles"]
        assert abs(got - lay.cycles()) <= tol * lay.cycles(), (lay.name, got, lay.cycles())
