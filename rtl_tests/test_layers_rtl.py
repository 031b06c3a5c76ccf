"""The lead's layer classes -> template_params() -> RTL -> simulation == layer.execute()."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.codegen.rtl import write_block
from hwgen.dtypes import BIPOLAR, DType
from hwgen.packing import pack_words, unpack_words

from harness import run_paths

import hwgen.layers.mvau as layers  # noqa: E402


def _run(tmp_path, kind, layer, x, in_epw, out_epw):
    y = layer.execute(x)
    paths = write_block(kind, layer.template_params(), tmp_path / "rtl")
    ins = pack_words(x.ravel(), layer.in_dtype, in_epw)
    res = run_paths(paths, layer.name, tmp_path, ins, y.size // out_epw, p_in=0.8, p_out=0.7, seed=9)
    got = unpack_words(res["outputs"], layer.out_dtype, out_epw).reshape(y.shape)
    np.testing.assert_array_equal(got, y)


@pytest.mark.parametrize("binary", [False, True], ids=["int", "xnor"])
def test_mvau_layer(tmp_path, binary):
    from hwgen.layers.mvau import MVAU

    rng = np.random.default_rng(21)
    MW, MH, nv = 12, 6, 3
    if binary:
        idt = wdt = BIPOLAR
        w = rng.choice([-1, 1], size=(MH, MW))
        x = rng.choice([-1, 1], size=(nv, MW))
        thr = rng.integers(-4, 5, size=(MH, 1))
        odt, base = BIPOLAR, 0
    else:
        idt, wdt = DType(3, False), DType(3, True)
        w = rng.integers(-4, 4, size=(MH, MW))
        x = rng.integers(0, 8, size=(nv, MW))
        thr = np.sort(rng.integers(-40, 40, size=(MH, 3)), axis=1)
        odt, base = DType(2, True), -2
    layer = MVAU("lay_mvau_" + ("x" if binary else "i"), idt, wdt, w, thr, odt, out_base=base, num_vectors=nv,
                 pe=3, simd=4)
    _run(tmp_path, "mvau", layer, x, 4, 3)


def test_thresholding_and_label_select_layers(tmp_path):
    from hwgen.layers.label_select import LabelSelect
    from hwgen.layers.thresholding import Thresholding

    rng = np.random.default_rng(22)
    thr = np.sort(rng.integers(-20, 20, size=(6, 3)), axis=1)
    t = Thresholding("lay_thr", DType(6, True), thr, DType(2, False), out_base=0, num_vectors=4, pe=2)
    _run(tmp_path / "t", "thresholding", t, rng.integers(-32, 32, size=(4, 6)), 2, 2)
    ls = LabelSelect("lay_ls", DType(4, True), 6, 2, DType(3, False), num_vectors=1, pe=3)
    _run(tmp_path / "l", "label_select", ls, rng.integers(-8, 8, size=(5, 6)), 3, 1)
