"""The committed CNN test models (tests/models/cnn, made by examples/brevitas/export_cnn_models.py): where they
are, what ops they hold, and a path to each that qonnx and hwgen can open (the CNV models are stored gzipped)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

CNN_DIR = Path(__file__).resolve().parent / "models" / "cnn"

# file name -> op_type counts after qonnx's cleanup_model (the exporter's shape-computing Constant / Shape /
# Concat chains folded away)
_CNV_COMMON = {"Add": 1, "BatchNormalization": 8, "Conv": 6, "Div": 1, "MatMul": 3, "MaxPool": 2, "Mul": 2,
               "Reshape": 1, "Sub": 2}
EXPECTED_OPS = {
    "cnv_1w1a.onnx.gz": {**_CNV_COMMON, "BipolarQuant": 17, "Quant": 1},
    "cnv_1w2a.onnx.gz": {**_CNV_COMMON, "BipolarQuant": 9, "Quant": 9},
    "cnv_2w2a.onnx.gz": {**_CNV_COMMON, "Quant": 18},
    "mnist_cnn_w4a4.onnx": {"BatchNormalization": 2, "Conv": 2, "Flatten": 1, "Gemm": 1, "MaxPool": 2, "Quant": 6,
                            "Relu": 2},
    "mnist_cnn_w4a4_qcdq.onnx": {"BatchNormalization": 2, "Clip": 2, "Conv": 2, "DequantizeLinear": 6,
                                 "Flatten": 1, "Gemm": 1, "MaxPool": 2, "QuantizeLinear": 3, "Relu": 2},
    "resnet_w4a4.onnx": {"Add": 2, "AveragePool": 1, "BatchNormalization": 6, "Conv": 6, "Flatten": 1, "Gemm": 1,
                         "Quant": 17, "Relu": 5, "Trunc": 1},
    "resnet_w4a4_qcdq.onnx": {"Add": 2, "AveragePool": 1, "BatchNormalization": 6, "Clip": 9, "Conv": 6,
                              "DequantizeLinear": 18, "Flatten": 1, "Gemm": 1, "QuantizeLinear": 11, "Relu": 5},
    "mobilenet_w4a4.onnx": {"AveragePool": 1, "BatchNormalization": 5, "Conv": 5, "Flatten": 1, "Gemm": 1,
                            "Quant": 12, "Relu": 5, "Trunc": 1},
    "mobilenet_w4a4_qcdq.onnx": {"AveragePool": 1, "BatchNormalization": 5, "Clip": 5, "Conv": 5,
                                 "DequantizeLinear": 13, "Flatten": 1, "Gemm": 1, "QuantizeLinear": 7, "Relu": 5},
    "conv1d_w4a4.onnx": {"BatchNormalization": 1, "Conv": 3, "Flatten": 1, "Gemm": 1, "MaxPool": 1, "Quant": 8,
                         "Relu": 3},
    "conv1d_w4a4_qcdq.onnx": {"BatchNormalization": 1, "Clip": 3, "Conv": 3, "DequantizeLinear": 8, "Flatten": 1,
                              "Gemm": 1, "MaxPool": 1, "QuantizeLinear": 4, "Relu": 3},
    "concat_pad_w4a4.onnx": {"BatchNormalization": 4, "Concat": 1, "Conv": 4, "Flatten": 1, "Gemm": 1,
                             "MaxPool": 1, "Pad": 1, "Quant": 10, "Relu": 4, "Resize": 1},
    "concat_pad_w4a4_qcdq.onnx": {"BatchNormalization": 4, "Clip": 4, "Concat": 1, "Conv": 4,
                                  "DequantizeLinear": 10, "Flatten": 1, "Gemm": 1, "MaxPool": 1, "Pad": 1,
                                  "QuantizeLinear": 5, "Relu": 4, "Resize": 1},
}
# QCDQ files whose function differs from the PyTorch model: Brevitas exports a FLOOR Trunc as QuantizeLinear,
# which rounds (their own qonnx execution is still the golden for them)
QCDQ_DIFFERS_FROM_TORCH = {"resnet_w4a4_qcdq.onnx"}


def committed_models() -> list[str]:
    return sorted(p.name for p in CNN_DIR.iterdir() if p.name.endswith((".onnx", ".onnx.gz")))


def base_name(file_name: str) -> str:
    """'cnv_1w1a.onnx.gz' -> 'cnv_1w1a'; 'resnet_w4a4_qcdq.onnx' -> 'resnet_w4a4'."""
    return file_name.split(".")[0].removesuffix("_qcdq")


def model_bytes(file_name: str) -> bytes:
    data = (CNN_DIR / file_name).read_bytes()
    return gzip.decompress(data) if file_name.endswith(".gz") else data


def model_path(file_name: str, scratch: Path) -> Path:
    """A plain .onnx path for the model: the committed file, or the gzipped one unpacked into `scratch`."""
    if not file_name.endswith(".gz"):
        return CNN_DIR / file_name
    out = Path(scratch) / file_name.removesuffix(".gz")
    if not out.is_file():
        out.write_bytes(model_bytes(file_name))
    return out


def io_pair(file_name: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): the inputs saved at export and PyTorch's outputs for them (float32, NCHW / NCL inputs)."""
    d = np.load(CNN_DIR / f"{base_name(file_name)}_io.npz")
    return d["x"], d["y"]
