"""Stitched chain: MVAU -> DWC -> MVAU -> thresholding -> label select, with FIFOs, TLAST and stream bubbles."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.dtypes import DType
from hwgen.layers import kernels
from hwgen.packing import pack_words, unpack_words

from harness import run_chain
from test_mvau import _d, make_mvau

U = lambda b: DType(b, False)  # noqa: E731
S = lambda b: DType(b, True)  # noqa: E731


@pytest.mark.parametrize("bubbles", [(1.0, 1.0), (0.6, 0.5)], ids=["full", "bubbles"])
def test_chain(tmp_path, bubbles):
    nv = 4
    p1, X, y1, o1 = make_mvau("top_l1", 16, 8, 2, 4, U(2), S(2), U(2), True, nv=nv, seed=11)
    p2, _, _, _ = make_mvau("top_l2", 8, 4, 1, 4, U(2), S(3), None, False, nv=1, seed=12)
    acc2 = kernels.mvau(y1, p2["weights"])
    o2 = DType(**p2["out_dtype"])
    rng = np.random.default_rng(13)
    thr = np.sort(rng.integers(acc2.min(), acc2.max() + 1, size=(4, 7)), axis=1)
    y3 = kernels.apply_thresholds(acc2, thr, -4, False)
    p3 = dict(name="top_l3", C=4, PE=1, num_vectors=1, in_dtype=_d(o2), out_dtype=_d(S(3)), thresholds=thr,
              out_base=-4)
    k = 2
    y4 = kernels.label_select(y3, k)
    p4 = dict(name="top_l4", C=4, PE=1, k=k, in_dtype=_d(S(3)), out_dtype=_d(U(2)))
    dwc = dict(name="top_dwc", in_width=4, out_width=8, elem_bits=2)
    blocks = [("mvau", p1), ("dwc", dwc), ("mvau", p2), ("thresholding", p3), ("label_select", p4)]
    ins = pack_words(X.ravel(), U(2), 4)
    res = run_chain("top_chain", blocks, tmp_path, ins, y4.size, frame_words=k, fifo_depths=[2, 3, 0, 8],
                    p_in=bubbles[0], p_out=bubbles[1], seed=7)
    got = unpack_words(res["outputs"], U(2), 1).reshape(y4.shape)
    np.testing.assert_array_equal(got, y4)
    assert res["tlast"] == ([0] * (k - 1) + [1]) * nv
    assert res["extra_outputs"] == 0
