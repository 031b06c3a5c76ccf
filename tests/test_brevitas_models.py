"""Acceptance: models exported by Brevitas (tests/models/brevitas, made by examples/brevitas/export_models.py)
compile and run bit-exactly with qonnx, QONNX and QCDQ exports alike."""

from pathlib import Path

import numpy as np
import pytest

from hwgen.build import compile_model
from tests.conftest import ROOT, qonnx_golden

BREVITAS = ROOT / "tests" / "models" / "brevitas"
MODELS = sorted(p.name for p in BREVITAS.glob("*.onnx"))
DIGITS = ROOT / "examples" / "digits"


def _inputs(n=300, seed=0):
    """Digits-like inputs (64 features in [0, 1]) plus out-of-range and tie values."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 17, size=(n, 64)).astype(np.float32) / 16.0
    x[: n // 6] = rng.normal(0, 3, size=(n // 6, 64)).astype(np.float32)  # saturating, negative
    x[n // 6: n // 3] = np.round(x[n // 6: n // 3] * 255) / 255 + np.float32(0.5 / 255)  # half-step ties (8-bit)
    return x


def test_corpus_present():
    assert len(MODELS) >= 7, MODELS


@pytest.mark.parametrize("name", MODELS)
def test_brevitas_model_bit_exact(name):
    path = BREVITAS / name
    g = compile_model(path)
    x = _inputs()
    y = g.execute(x)
    ref = qonnx_golden(path, x)
    # Brevitas scales are learned floats: qonnx's float32 sum of the last Gemm rounds, so that Gemm runs on the
    # CPU from the hardware's integers, as qonnx computes it: the logits are identical
    np.testing.assert_array_equal(y, ref)
    io = BREVITAS / name.replace(".onnx", "_io.npz")
    if io.is_file():  # the PyTorch outputs at export time
        d = np.load(io)
        np.testing.assert_allclose(g.execute(d["x"]), d["y"], rtol=1e-4, atol=1e-4)


def test_qcdq_export_equals_qonnx_export():
    for base in ("mlp_w4a4_relu", "mlp_w8a8"):
        x = _inputs(seed=1)
        a = compile_model(BREVITAS / f"{base}.onnx").execute(x)
        b = compile_model(BREVITAS / f"{base}_qcdq.onnx").execute(x)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * float(np.abs(a).max()))
        np.testing.assert_array_equal(a.argmax(1), b.argmax(1))


def test_digits_demo_model_accuracy():
    d = np.load(DIGITS / "digits_test.npz")
    x = (d["X_test"] / 16.0).astype(np.float32)
    y = d["y_test"]
    g = compile_model(DIGITS / "digits_mlp_w2a2.onnx")
    out = g.execute(x)
    ref = qonnx_golden(DIGITS / "digits_mlp_w2a2.onnx", x)
    np.testing.assert_array_equal(out, ref)  # logits bit-exact (non-power-of-two scales: the last Gemm on the CPU)
    assert (out.argmax(1) == y).mean() > 0.95
