"""Every CNN test model through every backend: `hwgen build` (default folding for pynq-z2), then reference, cpu,
csim and rtlsim on the model's saved inputs plus random ones, each bit-exact with qonnx's execution of the
original graph (`hwgen.verify.golden`), and both HLS tops in the dataflow C simulation at the rule's FIFO depths
(tests/test_dataflow_csim.py; not again for a QCDQ twin: same hardware); the MNIST CNN on 1,000 test images
through csim and rtlsim with qonnx's accuracy. Slow: one Verilator build and one C++ compile per model (cached by content in ~/.cache/hwgen, so QCDQ
twins with the same hardware reuse them)."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.build import build
from hwgen.runtime.accelerator import Accelerator
from hwgen.verify import golden
from tests.cnn_models import io_pair, model_path
from tests.test_dataflow_csim import both_tops

MODELS = ["mnist_cnn_w4a4.onnx", "mnist_cnn_w4a4_qcdq.onnx", "resnet_w4a4.onnx", "resnet_w4a4_qcdq.onnx",
          "mobilenet_w4a4.onnx", "mobilenet_w4a4_qcdq.onnx", "conv1d_w4a4.onnx", "conv1d_w4a4_qcdq.onnx",
          "concat_pad_w4a4.onnx", "concat_pad_w4a4_qcdq.onnx", "cnv_1w1a.onnx.gz", "cnv_1w2a.onnx.gz",
          "cnv_2w2a.onnx.gz"]


def _inputs(name, n_random, seed=1):
    x, _ = io_pair(name)
    rng = np.random.default_rng(seed)
    r = rng.standard_normal((n_random, *x.shape[1:])) * float(x.std()) + float(x.mean())
    return np.concatenate([x, r.astype(np.float32)])


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_every_backend_bit_exact_with_qonnx(name, tmp_path):
    p = model_path(name, tmp_path)
    out = tmp_path / "out"
    build(p, out, log=lambda *a, **k: None)
    x = _inputs(name, 2 if name.startswith("cnv") else 8)
    want = golden(p, x)
    for backend in ("reference", "cpu", "csim", "rtlsim"):
        got = Accelerator(out, backend=backend).execute(x)
        assert got.shape == want.shape, backend
        np.testing.assert_array_equal(got, want, err_msg=f"{name}: {backend} differs from qonnx")
    if "_qcdq" not in name:
        both_tops(out, tmp_path)


@pytest.mark.slow
def test_mnist_cnn_1000_images_csim_and_rtlsim(tmp_path):
    from tests.conftest import load_mnist

    x, labels = load_mnist()
    x, labels = x[:1000], labels[:1000]
    p = model_path("mnist_cnn_w4a4.onnx", tmp_path)
    out = tmp_path / "out"
    build(p, out, log=lambda *a, **k: None)
    want = golden(p, x)
    acc_qonnx = float((want.argmax(axis=1) == labels).mean())
    for backend in ("csim", "rtlsim"):
        got = Accelerator(out, backend=backend).execute(x)
        np.testing.assert_array_equal(got, want, err_msg=f"mnist_cnn: {backend} differs from qonnx")
        assert float((got.argmax(axis=1) == labels).mean()) == acc_qonnx
