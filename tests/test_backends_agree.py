"""Acceptance (issue 5): Accelerator.execute gives identical outputs for reference, cpu, csim and rtlsim on
generated test models (the TFC models are covered per backend in test_cpu_backend / test_csim_tfc /
test_rtlsim_network, each against the reference on all 10,000 images)."""

import numpy as np
import onnx
import pytest

from hwgen.build import build
from hwgen.runtime.accelerator import Accelerator
from tests.qonnx_gen import MLPSpec, make_mlp, random_inputs, random_spec

SPECS = {
    "random3": random_spec(3),
    "random7": random_spec(7),
    "bipolar": MLPSpec(sizes=[33, 7, 10], in_bits=1, in_signed=True, w_bits=1, w_bipolar=True, act_bits=1,
                       act_bipolar=True, batchnorm=True, act_relu=False),
    "w4a3_zero_points": MLPSpec(sizes=[9, 11, 4], in_bits=4, in_signed=False, in_zero_point=-3, w_bits=4,
                                act_bits=3, act_zero_point=-2, act_relu=False, bias=True),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_all_backends_identical(name, tmp_path):
    m = make_mlp(SPECS[name])
    p = tmp_path / "m.onnx"
    onnx.save(m, p)
    out = tmp_path / "o"
    build(p, out, target_fps=2_000_000, log=lambda *a: None)
    x = random_inputs(m, 200, seed=5)
    ref = Accelerator(out, "reference").execute(x)
    for backend in ("cpu", "csim", "rtlsim"):
        acc = Accelerator(out, backend, wait_for_kernels=True)  # cpu: the compiled kernels, not their stand-in
        np.testing.assert_array_equal(acc.execute(x), ref, err_msg=backend)
