#!/usr/bin/env python3
"""Build and export the Brevitas models of hwgen's island tests (tests/models/islands/): networks with what the
hardware cannot compute exactly somewhere in the middle, and Brevitas' own MobileNet-v1 with per-channel scales.

Deterministic (fixed seeds); the exported files are checked in, re-run only to regenerate them. Same environment
as export_cnn_models.py (whose helpers it uses)::

    python3 -m venv --system-site-packages /tmp/cnn-venv
    /tmp/cnn-venv/bin/pip install torch==2.13.0 brevitas==0.13.4 onnxoptimizer
    /tmp/cnn-venv/bin/python examples/brevitas/export_island_models.py    # from the repo root

The models (random weights at their quantized levels, BatchNorm statistics from a few passes on random data: no
trained weights can be downloaded here):

* ``mobilenet_v1_w4a4``: ``brevitas_examples.imagenet_classification.models.mobilenetv1.MobileNet`` (the class
  behind ``quant_mobilenet_v1``), 4-bit weights and activations, per-channel weight scales and the per-channel
  activation scales Brevitas gives every pointwise conv but the last (each feeds a depthwise conv), an 8-bit
  per-channel first layer, TruncAvgPool2d (FLOOR) and a 4-bit per-tensor FC with a 32-bit bias. Width
  0.25 and a 64x64 input (avg pool kernel 2 instead of 7 at 224x224) keep rtlsim affordable; a QuantIdentity
  (8-bit) in front quantizes the input, as a deployment does. Everything but the FC (the float tail) maps to
  hardware.
* ``residual_float_sum``: 3x16x16 -> conv(8) BN relu4 -> h; relu4(bn2(conv2(h)) + bn1(conv1(x))): the branch
  sum is taken in float, before its quantizer (power-of-two scales, so the accumulators leave hardware exactly);
  -> TruncAvgPool -> FC.
* ``se_gate_cnn``: 3x16x16 -> conv(16) BN relu4 = f; a float squeeze-excite gate (mean over the map, Linear
  16->4, ReLU, Linear 4->16, Sigmoid) multiplies f; -> quant -> conv(16) BN relu4 -> max pool -> FC.
* ``layernorm_mlp``: 64 -> QuantLinear(48, power-of-two scales) -> LayerNorm -> relu4 -> QuantLinear(32) BN relu4 -> QuantLinear(10).
* ``softmax_cnn``: 3x12x12 -> conv(8, power-of-two scales) BN -> Softmax over channels -> uint4 quant -> conv(12) BN relu4 -> max pool
  -> FC.

Each is exported with ``export_qonnx`` and ``<name>_io.npz`` (x: 4 inputs, y: PyTorch's outputs) written beside it;
the export is executed by qonnx and compared with PyTorch (the script fails on a mismatch beyond float rounding).
"""

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_cnn_models import (SEED, calibrate, conv2d, export_bytes, qin, qonnx_run,  # noqa: E402
                               quantize_weights_in_place, qrelu, seed_all, torch_predict, write)

import brevitas.nn as qnn  # noqa: E402
from brevitas.export import export_qonnx  # noqa: E402
from brevitas.quant import (Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint,  # noqa: E402
                            TruncTo8bit, Uint8ActPerTensorFixedPoint)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def fx_conv(i, o, k, **kw):  # power-of-two weight scale: the accumulator de-quantizes exactly
    return qnn.QuantConv2d(i, o, k, weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=4, bias=False,
                           return_quant_tensor=False, **kw)


def fx_relu(bits=4):
    return qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=bits, return_quant_tensor=True)


def fx_in(bits=8):
    return qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=bits, return_quant_tensor=True)


def make_mobilenet():
    from brevitas_examples.imagenet_classification.models.mobilenetv1 import MobileNet

    channels = [[32], [64], [128, 128], [256, 256], [512, 512, 512, 512, 512, 512], [1024, 1024]]
    channels = [[int(c * 0.25) for c in stage] for stage in channels]
    net = MobileNet(channels=channels, first_stage_stride=False, round_average_pool=False, act_bit_width=4,
                    weight_bit_width=4, last_layer_bit_width=4, avg_pool_kernel_size=2, num_classes=10)
    return nn.Sequential(qin(8), net)


class ResidualFloatSum(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = fx_in(8)
        self.stem = nn.Sequential(fx_conv(3, 8, 3, padding=1), nn.BatchNorm2d(8), fx_relu())
        self.conv2 = nn.Sequential(fx_conv(8, 8, 3, padding=1), nn.BatchNorm2d(8))
        self.conv1 = nn.Sequential(fx_conv(3, 8, 1), nn.BatchNorm2d(8))
        self.out = fx_relu()
        self.pool = qnn.TruncAvgPool2d(kernel_size=4, stride=4, trunc_quant=TruncTo8bit,
                                       float_to_int_impl_type="FLOOR")
        self.fc = qnn.QuantLinear(8 * 4 * 4, 10, weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=4,
                                  bias=True)

    def forward(self, x):
        x = self.inp(x)
        h = self.stem(x)
        y = self.out(self.conv2(h) + self.conv1(x))  # the branch sum in float, then its quantizer
        return self.fc(torch.flatten(self.pool(y), 1))


class SeGateCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(qin(8), conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), qrelu())
        self.se = nn.Sequential(nn.Linear(16, 4), nn.ReLU(), nn.Linear(4, 16), nn.Sigmoid())
        self.q = qrelu()
        self.tail = nn.Sequential(conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), qrelu(), nn.MaxPool2d(4))
        self.fc = qnn.QuantLinear(16 * 4 * 4, 10, weight_bit_width=4, bias=True)

    def forward(self, x):
        f = self.features(x).value
        gate = self.se(f.mean(dim=(2, 3)))
        x = self.tail(self.q(f * gate[:, :, None, None]))
        return self.fc(torch.flatten(x, 1))


class LayerNormMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = fx_in(8)
        self.fc1 = qnn.QuantLinear(64, 48, weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=4,
                                   bias=True)
        self.ln = nn.LayerNorm(48)
        self.a1 = qrelu()
        self.fc2 = qnn.QuantLinear(48, 32, weight_bit_width=4, bias=False)
        self.bn = nn.BatchNorm1d(32)
        self.a2 = qrelu()
        self.fc3 = qnn.QuantLinear(32, 10, weight_bit_width=4, bias=True)

    def forward(self, x):
        x = self.a1(self.ln(self.fc1(self.inp(x))))
        return self.fc3(self.a2(self.bn(self.fc2(x))))


class SoftmaxCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = fx_in(8)
        self.c1 = nn.Sequential(fx_conv(3, 8, 3, padding=1), nn.BatchNorm2d(8))
        self.q = qrelu()
        self.c2 = nn.Sequential(conv2d(8, 12, 3), nn.BatchNorm2d(12), qrelu(), nn.MaxPool2d(2))
        self.fc = qnn.QuantLinear(12 * 5 * 5, 10, weight_bit_width=4, bias=True)

    def forward(self, x):
        x = torch.softmax(self.c1(self.inp(x)), dim=1)  # channel attention map, in float
        return self.fc(torch.flatten(self.c2(self.q(x)), 1))


MODELS = {
    "mobilenet_v1_w4a4": (make_mobilenet, (3, 64, 64)),
    "residual_float_sum": (ResidualFloatSum, (3, 16, 16)),
    "se_gate_cnn": (SeGateCNN, (3, 16, 16)),
    "layernorm_mlp": (LayerNormMLP, (64,)),
    "softmax_cnn": (SoftmaxCNN, (3, 12, 12)),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "models", "islands"))
    ap.add_argument("--only", default=None)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    names = a.only.split(",") if a.only else list(MODELS)
    for name in names:
        make, shape = MODELS[name]
        seed_all(SEED + sum(map(ord, name)))
        model = make()
        gen = torch.Generator().manual_seed(SEED + 7)
        for m in model.modules():
            if isinstance(m, (qnn.QuantConv2d, qnn.QuantLinear)):
                with torch.no_grad():
                    m.weight.copy_((torch.rand(m.weight.shape, generator=gen) * 2 - 1) * 0.5)
        calibrate(model, shape)
        quantize_weights_in_place(model)
        model.eval()
        x = (torch.rand(4, *shape, generator=gen) * 2 - 1).numpy().astype(np.float32)
        y = torch_predict(model, x)
        data = export_bytes(export_qonnx, model, shape)
        got = qonnx_run(data, x)
        err = float(np.abs(got - y).max())
        scale = float(np.abs(y).max()) or 1.0
        print(f"{name}: {len(data) / 1024:.0f} KiB, qonnx vs PyTorch max |diff| {err:.3g} (max |y| {scale:.3g})")
        if err > 1e-3 * scale:
            raise SystemExit(f"{name}: qonnx and PyTorch disagree")
        write(a.out, f"{name}.onnx", data, compress=len(data) > 600 * 1024)
        np.savez(os.path.join(a.out, f"{name}_io.npz"), x=x, y=y)


if __name__ == "__main__":
    main()
