"""Duplicate, AddStreams, Concat and Upsample in hardware: handmade graphs (tests/handmade.py) through the
reference, csim and rtlsim backends, bit-exact with the kinds' numpy `execute`; rtlsim per-layer cycles against
cycles(); the join-FIFO rule of hwgen.transforms.streams on a skip connection (full rate with it, a stall named
by the watchdog without it)."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.build import write_build
from hwgen.dtypes import DType
from hwgen.errors import ToolError
from hwgen.graph import Edge
from hwgen.layers import MVAU, Thresholding
from hwgen.layers.branching import AddStreams, Concat, Duplicate
from hwgen.layers.upsample import Upsample
from hwgen.runtime.accelerator import Accelerator
from tests.handmade import handmade_graph, random_input

U = lambda b: DType(b, False)  # noqa: E731
S = lambda b: DType(b, True)  # noqa: E731
RNG = np.random.default_rng(7)


def _thr(c, t, lo, hi, rng=RNG):
    return np.sort(rng.integers(lo, hi + 1, size=(c, t)), axis=1)


def residual_layers(hw=(4, 5), c=8, dt=U(4), pe_dup=2, pe_long=4, pe_add=2, add=None, long=None):
    """Duplicate -> (skip | long branch) -> AddStreams: [layers], [edges]."""
    n = hw[0] * hw[1]
    dup = Duplicate("Dup_0", dt, hw, c, pe=pe_dup)
    long = long or [Thresholding("Thr_0", dt, _thr(c, dt.max, dt.min, dt.max), dt, num_vectors=n, pe=pe_long)]
    add = add or AddStreams("Add_0", dt, dt, U(dt.bits + 1), hw, c, pe=pe_add)
    edges = [Edge(None, 0, "Dup_0", 0), Edge("Dup_0", 0, "Add_0", 0), Edge("Dup_0", 1, long[0].name, 0)]
    edges += [Edge(a.name, 0, b.name, 0) for a, b in zip(long, long[1:])]
    edges += [Edge(long[-1].name, 0, "Add_0", 1), Edge("Add_0", 0, None, 0)]
    return [dup, *long, add], edges, [1, *hw, c]


def build(tmp_path, layers, edges, shape, name="o", fifo_depths=None):
    g = handmade_graph(layers, edges=edges, input_shape=shape)
    if fifo_depths:
        g.fifo_depths = dict(fifo_depths)
    out = tmp_path / name
    write_build(g, out, log=lambda *a: None)
    return out


def check_backends(out, n=6, backends=("csim", "rtlsim"), seed=0):
    ref = Accelerator(out, backend="reference")
    x = random_input(ref.graph, n, seed=seed)
    q = ref.graph.head_ints(x)
    want = ref.execute_ints(q)
    res = {}
    for be in backends:
        acc = Accelerator(out, backend=be)
        np.testing.assert_array_equal(acc.execute_ints(q).reshape(n, -1), want.reshape(n, -1), err_msg=be)
        res[be] = acc
    return ref, want, res


def test_residual_exact(tmp_path):
    layers, edges, shape = residual_layers()
    out = build(tmp_path, layers, edges, shape)
    ref, want, _ = check_backends(out)
    # the skip and the long branch both matter: y = x + thr(x)
    x = ref.graph.head_ints(random_input(ref.graph, 6, seed=0)).reshape(6, -1)
    thr = layers[1].execute(x.reshape(6 * 20, 8)).reshape(6, -1)
    np.testing.assert_array_equal(want.reshape(6, -1), x + thr)


def test_residual_thresholds_multipliers(tmp_path):
    """Different scales: acc = 3a - 2b on INT4 / UINT3 inputs (signed, negative multiplier), thresholds per channel
    to UINT2; PE 4 on the add, 1 on the fork."""
    c, hw = 8, (3, 4)
    thr = _thr(c, 3, -30, 40)
    add = AddStreams("Add_0", S(4), U(3), U(2), hw, c, a_mul=3, b_mul=-2, thresholds=thr, pe=4)
    long = [Thresholding("Thr_0", S(4), _thr(c, 7, -8, 7), U(3), num_vectors=12, pe=2)]
    layers, edges, shape = residual_layers(hw, c, S(4), pe_dup=1, add=add, long=long)
    out = build(tmp_path, layers, edges, shape)
    ref, want, _ = check_backends(out)
    assert len(np.unique(want)) == 4  # every threshold level is reached


def test_concat_channels_and_dtypes(tmp_path):
    """Concat of a 4-channel UINT2 branch and a 6-channel INT3 branch (thresholds to INT3) into INT4, PE 2."""
    hw = (3, 3)
    dup = Duplicate("Dup_0", U(2), hw, 4, pe=4)
    thr = Thresholding("Thr_0", U(2), np.tile([0, 1, 2, 3, 3, 3, 3], (4, 1)), S(3), out_base=-4, num_vectors=9)
    # a second branch with 6 channels: an MVAU 4 -> 6
    w = RNG.integers(-1, 2, size=(6, 4))
    mv = MVAU("Mv_0", U(2), S(2), w, _thr(6, 7, -6, 6), S(3), out_base=-4, num_vectors=9, spatial=hw, pe=3, simd=2)
    cat = Concat("Cat_0", [S(3), S(3)], S(4), hw, [4, 6], pe=2)
    edges = [Edge(None, 0, "Dup_0", 0), Edge("Dup_0", 0, "Thr_0", 0), Edge("Dup_0", 1, "Mv_0", 0),
             Edge("Thr_0", 0, "Cat_0", 0), Edge("Mv_0", 0, "Cat_0", 1), Edge("Cat_0", 0, None, 0)]
    out = build(tmp_path, [dup, thr, mv, cat], edges, [1, *hw, 4])
    check_backends(out)


def test_concat_three_inputs_mixed_types(tmp_path):
    """Three inputs of different types (UINT2, INT3, UINT1) into INT4: the sign / zero extension per input."""
    hw = (2, 3)
    dup = Duplicate("Dup_0", S(3), hw, 2, n_outputs=3, pe=1)
    t0 = Thresholding("T0", S(3), np.tile([-2, 0, 2], (2, 1)), U(2), num_vectors=6)
    t2 = Thresholding("T2", S(3), np.tile([0], (2, 1)), U(1), num_vectors=6)
    cat = Concat("Cat_0", [U(2), S(3), U(1)], S(4), hw, [2, 2, 2], pe=2)
    edges = [Edge(None, 0, "Dup_0", 0), Edge("Dup_0", 0, "T0", 0), Edge("Dup_0", 1, "Cat_0", 1),
             Edge("Dup_0", 2, "T2", 0), Edge("T0", 0, "Cat_0", 0), Edge("T2", 0, "Cat_0", 2),
             Edge("Cat_0", 0, None, 0)]
    out = build(tmp_path, [dup, t0, t2, cat], edges, [1, *hw, 2])
    check_backends(out)


@pytest.mark.parametrize("ifm,c,factor,pe", [((3, 4), 4, (2, 3), 2), ((2, 3), 3, (3, 1), 1), ((4, 1), 2, (1, 2), 2)])
def test_upsample(tmp_path, ifm, c, factor, pe):
    up = Upsample("Up_0", S(4), ifm, c, factor, pe=pe)
    out = build(tmp_path, [up], [Edge(None, 0, "Up_0", 0), Edge("Up_0", 0, None, 0)], [1, *ifm, c])
    ref, want, accs = check_backends(out)
    st = accs["rtlsim"].stats()
    m = st["layers"]["Up_0"]
    assert abs(m["active_cycles"] - up.cycles()) <= 0.05 * up.cycles(), m
