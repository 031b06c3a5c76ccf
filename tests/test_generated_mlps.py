"""Acceptance: generated QONNX MLPs (1-8 bit weights and activations, signed / unsigned / bipolar / narrow,
per-tensor and per-channel scales, bias, BatchNorm, Gemm, zero points, odd sizes) run through the reference
backend bit-exactly with qonnx on random inputs including saturating values and exact rounding ties; the same
networks as QCDQ give the same results."""

import numpy as np
import onnx
import pytest

from hwgen.build import compile_model
from tests.qonnx_gen import MLPSpec, make_mlp, qonnx_execute, random_inputs, random_spec, to_qcdq

N_RANDOM = 60


def _compile(model, tmp_path, name="m.onnx"):
    p = tmp_path / name
    onnx.save(model, p)
    return compile_model(p)


def assert_matches_qonnx(y, ref, exact: bool = True):
    """Identical outputs, whatever the scales. With dyadic scales (`exact`) every float32 op of the QONNX graph
    is exact; with others qonnx's float32 MatMul rounds its sum (in BLAS order) where the hardware sums integers
    exactly, so a last MatMul whose float output is the model's runs on the CPU, as qonnx computes it (the
    hardware's integer activations before it agree exactly either way)."""
    assert y.shape == ref.shape
    np.testing.assert_array_equal(y, ref)


def _check(model, tmp_path, n=256, seed=0, exact=True):
    g = _compile(model, tmp_path)
    x = random_inputs(model, n, seed=seed)
    assert_matches_qonnx(g.execute(x), qonnx_execute(model, x), exact)
    return g


@pytest.mark.parametrize("seed", range(N_RANDOM))
def test_random_mlp_bit_exact(seed, tmp_path):
    spec = random_spec(seed)
    _check(make_mlp(spec), tmp_path, seed=seed, exact=spec.scales_pow2)


EDGE_SPECS = {
    "bipolar_xnor": MLPSpec(sizes=[33, 7, 10], in_bits=1, in_signed=True, w_bits=1, w_bipolar=True, act_bits=1,
                            act_bipolar=True, batchnorm=True, act_relu=False),
    "w8a8_signed_saturating": MLPSpec(sizes=[17, 9, 5], in_bits=8, w_bits=8, act_bits=8, act_signed=True,
                                      act_relu=False, bias=True),
    "w1_binary_unsigned": MLPSpec(sizes=[7, 33, 3], in_bits=2, in_signed=False, w_bits=2, act_bits=1,
                                  act_signed=False, act_relu=True),
    "negative_zero_point": MLPSpec(sizes=[9, 11, 4], in_bits=4, in_signed=False, in_zero_point=-3, w_bits=3,
                                   act_bits=4, act_zero_point=-2, act_relu=False),
    "narrow_per_channel_bn": MLPSpec(sizes=[33, 7, 7, 10], in_bits=3, in_narrow=True, w_bits=3, w_narrow=True,
                                     w_per_channel=True, batchnorm=True, act_bits=3, act_narrow=True,
                                     act_signed=True, act_relu=False),
    "gemm_no_bias_and_bias": MLPSpec(sizes=[13, 7, 5], use_gemm=True, bias=[False, True], w_bits=4, act_bits=5),
    "arbitrary_scales": MLPSpec(sizes=[33, 7, 10], w_bits=5, act_bits=3, batchnorm=True, bias=True,
                                scales_pow2=False, final_mul=True),
    "fractional_zero_points": MLPSpec(sizes=[9, 11, 4], in_bits=4, in_signed=False, in_zero_point=0.5,
                                      act_bits=3, act_zero_point=-1.5, act_relu=False),
    "final_quant": MLPSpec(sizes=[7, 7, 3], final_quant=True, act_bits=[4, 6], act_signed=[False, True]),
}


@pytest.mark.parametrize("name", sorted(EDGE_SPECS))
def test_edge_mlp_bit_exact(name, tmp_path):
    spec = EDGE_SPECS[name]
    _check(make_mlp(spec), tmp_path, n=512, exact=spec.scales_pow2)


def _qcdq_seeds(n=20, limit=200):
    """Seeds whose random MLP has a QCDQ equivalent (no bipolar, <= 8 bit, zero point 0, ROUND)."""
    out = []
    for s in range(limit):
        if to_qcdq(make_mlp(random_spec(s))) is not None:
            out.append(s)
        if len(out) == n:
            break
    return out


@pytest.mark.parametrize("seed", _qcdq_seeds())
def test_qcdq_same_results(seed, tmp_path):
    model = make_mlp(random_spec(seed))
    qcdq = to_qcdq(model)
    assert qcdq is not None
    x = random_inputs(model, 128, seed=seed)
    y_qonnx = _compile(model, tmp_path, "a.onnx").execute(x)
    y_qcdq = _compile(qcdq, tmp_path, "b.onnx").execute(x)
    np.testing.assert_array_equal(y_qcdq, y_qonnx)
    assert_matches_qonnx(y_qcdq, qonnx_execute(model, x), make_mlp(random_spec(seed)) is not None and
                         random_spec(seed).scales_pow2)
