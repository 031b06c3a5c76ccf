"""The lead's hardware layer classes (hwgen.layers) through their template_params() contract: a design built
from layer objects is bit-exact with the layers' own execute() in C simulation."""

from __future__ import annotations

import numpy as np
import pytest

from hls_testlib import compiler_params, rand_values
from hwgen.codegen import hls
from hwgen.dtypes import BIPOLAR, DType
from hwgen.sim import csim

import hwgen.layers.mvau as layers_mod  # noqa: E402
from hwgen.layers.label_select import LabelSelect  # noqa: E402
from hwgen.layers.mvau import MVAU  # noqa: E402
from hwgen.layers.thresholding import Thresholding  # noqa: E402

I, U = (lambda b: DType(b, True)), (lambda b: DType(b, False))


def make_layers():
    rng = np.random.default_rng(8)
    w0 = rand_values(rng, I(3), (6, 10))
    t0 = np.sort(rng.integers(-30, 30, size=(6, 3)), axis=1)
    w1 = rand_values(rng, BIPOLAR, (4, 6))
    t2 = np.sort(rng.integers(-8, 9, size=(4, 7)), axis=1)
    return [
        MVAU("l0", U(3), I(3), w0, t0, U(2), out_base=0, mem_style="block", pe=3, simd=5, num_vectors=2),
        MVAU("l1", U(2), BIPOLAR, w1, None, I(6), pe=2, simd=6, num_vectors=2),
        Thresholding("l2", I(6), t2, I(3), out_base=-4, pe=4, num_vectors=2),
        LabelSelect("l3", I(3), channels=8, k=3, out_dtype=U(3), pe=2),
    ]


@pytest.mark.parametrize("compiler", compiler_params())
def test_design_from_layer_objects(tmp_path, hls_include, compiler):
    layers = make_layers()
    proj = hls.write_project(tmp_path, "from_layers", layers)
    acc = csim.CsimAccelerator(proj, compiler=compiler)
    rng = np.random.default_rng(0)
    x = rand_values(rng, U(3), (40, 2, 10))
    h = x
    for layer in layers:
        h = layer.execute(h)
        if layer.op == "Thresholding":
            h = h.reshape(h.shape[0], -1)  # 2 pixels x 4 channels -> 8 values for the label select
    np.testing.assert_array_equal(acc.run(x.reshape(40, -1)), h.reshape(40, -1))
