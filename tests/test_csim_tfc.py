"""Acceptance (issue 4, item 2): TFC_1W1A / 1W2A / 2W2A through the generated Vitis HLS C++ in C simulation
(`--backend csim`: g++ against Xilinx's ap_types headers, one ctypes call per batch) are bit-exact with the
reference backend on all 10,000 MNIST test images: every integer output of the hardware part and every logit.

The folding is the one `--target-fps 1000000` picks on the default board (pynq-z2, 100 MHz); C-simulation speed
barely depends on it. The dataflow processes run concurrently on FIFOs of their depths (templates/hls/hwgen_csim.hpp):
TFC_1W1A ~8,000 images/s, the 2-bit models ~3,000 on the loaded 2-core machine (benchmarks/bench_csim.py), plus
~20 s of compile per model: `slow`.
"""

import numpy as np
import pytest

from hwgen.cli import main
from hwgen.runtime.accelerator import Accelerator
from tests.conftest import TFC_ACCURACY, tfc_model

from tests.tools import require_module  # noqa: E402

require_module("hls4ml", "C simulation needs the ap_types headers (pip install hls4ml)")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TFC_ACCURACY))
def test_tfc_csim_bit_exact_full_mnist(name, mnist, tmp_path):
    model = tfc_model(name)
    x, labels = mnist
    out = tmp_path / "build"
    assert main(["build", str(model), "-o", str(out), "-q", "--target-fps", "1000000"]) == 0
    ref = Accelerator(out, "reference")
    csim = Accelerator(out, "csim")  # compiles OUT/hls/hwgen_top.cpp with g++
    q = ref.graph.head_ints(x)
    assert q.shape == (10000, 784)
    want = ref.execute_ints(q)
    got = csim.execute_ints(q)
    assert got.shape == want.shape == (10000, ref.graph.layers[-1].out_features)
    np.testing.assert_array_equal(got, want)
    # the whole model (CPU head + C-simulated hardware + CPU tail) equals the reference model's logits
    y_ref = ref.execute(x)
    y = csim.graph.tail.run(got)
    np.testing.assert_array_equal(y, y_ref)
    assert (y.argmax(1) == labels).mean() == pytest.approx(TFC_ACCURACY[name], abs=1e-9)
