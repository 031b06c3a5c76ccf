"""Stitched whole network (OUT/rtl/hwgen_top from `hwgen build`) under cocotb: TFC_1W1A on MNIST images, bit-exact
with the reference, TLAST on every frame's last word, with and without stream bubbles."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hwgen.build import build
from hwgen.dtypes import from_name
from hwgen.graph import HwGraph
from hwgen.packing import pack_words, unpack_words

from harness import run_paths

TFC_FOLD = {"MVAU_0": {"PE": 16, "SIMD": 49}, "MVAU_1": {"PE": 8, "SIMD": 8}, "MVAU_2": {"PE": 8, "SIMD": 8},
            "MVAU_3": {"PE": 10, "SIMD": 8}}


@pytest.fixture(scope="module")
def tfc_out(tmp_path_factory):
    from tests.conftest import tfc_model

    d = tmp_path_factory.mktemp("cocotb_net")
    (d / "fold.json").write_text(json.dumps(TFC_FOLD))
    build(tfc_model("TFC_1W1A"), d / "o", folding_file=d / "fold.json", log=lambda *a: None)
    return d / "o"


@pytest.mark.parametrize("n,bubbles", [(200, (1.0, 1.0)), (40, (0.7, 0.5))], ids=["200_full", "40_bubbles"])
def test_tfc_1w1a_network(tfc_out, tmp_path, n, bubbles):
    from tests.conftest import load_mnist

    g = HwGraph.load(tfc_out)
    m = json.loads((tfc_out / "rtl" / "hwgen_top.json").read_text())
    x, _ = load_mnist(n)
    q = g.head_ints(x)
    want = q
    for layer in g.layers:
        want = layer.execute(want)
    mi, mo = m["in"], m["out"]
    ins = pack_words(q.ravel(), from_name(mi["dtype"]), mi["elems_per_word"])
    rtl = tfc_out / "rtl"
    paths = [rtl / f for f in m["verilog"]] + [rtl / f for f in m["mem"]]
    n_out = n * mo["words_per_frame"]
    res = run_paths(paths, "hwgen_top", tmp_path, ins, n_out, p_in=bubbles[0], p_out=bubbles[1], seed=3,
                    max_cycles=200 * n * 4 + 2000, tlast=True)
    got = unpack_words(res["outputs"], from_name(mo["dtype"]), mo["elems_per_word"]).reshape(want.shape)
    np.testing.assert_array_equal(got, want)
    assert res["tlast"] == ([0] * (mo["words_per_frame"] - 1) + [1]) * n
    assert res["extra_outputs"] == 0
    if bubbles == (1.0, 1.0):  # full rate: one frame every 64 cycles in steady state
        oc = res["out_cycles"]
        assert abs((oc[-1] - oc[n // 2]) / (n - 1 - n // 2) - 64) <= 0.02 * 64
