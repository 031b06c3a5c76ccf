"""Shared fixtures: the ../shared reference material (models, MNIST), read in place; skipped when absent (a
failure under HWGEN_REQUIRE_TOOLS=1, see tests/tools.py)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from tests.tools import pytest_runtest_setup, require_path  # noqa: F401 (hook)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TFC_DIR = SHARED / "models" / "tfc"
MNIST_DIR = SHARED / "data" / "mnist"
TFC_ACCURACY = {"TFC_1W1A": 0.9296, "TFC_1W2A": 0.9474, "TFC_2W2A": 0.9660}


def tfc_model(name: str) -> Path:
    p = TFC_DIR / f"{name}.onnx"
    require_path(p, "../shared is not beside this checkout")
    return p


def load_mnist(n: int | None = None):
    """MNIST test set as the TFC models expect it: float32 x/255, shape (N, 1, 28, 28), and uint8 labels."""
    img, lab = MNIST_DIR / "t10k-images-idx3-ubyte.gz", MNIST_DIR / "t10k-labels-idx1-ubyte.gz"
    require_path(img, "../shared is not beside this checkout")
    with gzip.open(img) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(lab) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    if n is not None:
        x, y = x[:n], y[:n]
    return (x / 255.0).astype(np.float32), y


def qonnx_golden(model_path, x: np.ndarray) -> np.ndarray:
    """The original graph executed by qonnx (the golden reference), batched."""
    from hwgen.verify import golden

    return golden(model_path, x)


@pytest.fixture(scope="session")
def mnist():
    return load_mnist()
