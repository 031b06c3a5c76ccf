#!/usr/bin/env python3
"""Build and export small Brevitas CNNs as QONNX / QCDQ test models (tests/models/cnn/).

These are the convolutional fixtures of the hwgen test suite. They are checked in; re-run this script only to
regenerate them (it is deterministic: fixed seeds, deterministic torch algorithms).

How to run (needs torch + brevitas, kept OUT of the main environment)::

    python3 -m venv --system-site-packages /tmp/cnn-venv
    /tmp/cnn-venv/bin/pip install torch==2.13.0 brevitas==0.13.4 onnxoptimizer
    /tmp/cnn-venv/bin/python examples/brevitas/export_cnn_models.py      # from the repo root
    # optional: --out DIR (default tests/models/cnn), --only NAME[,NAME...]

Versions used for the checked-in files: torch 2.13.0+cpu, brevitas 0.13.4, onnx 1.23.2, onnxoptimizer 0.4.2,
qonnx 1.0.0, numpy 2.4.6.

The models (tests/models/cnn/README.md lists each one's ops and shapes):

* ``cnv_1w1a``, ``cnv_1w2a``, ``cnv_2w2a``: FINN's CNV topology, built by ``brevitas_examples.bnn_pynq``
  itself (3x32x32 input, 6 convs, 2 max pools, 3 FCs, TensorNorm). No trained weights are at hand (no
  downloads here), so the weights are random and already at their quantized levels (so that the file
  compresses: the Quant nodes are idempotent on them), and every BatchNorm/TensorNorm gets random running
  mean/var, gamma (about a quarter negative) and beta scaled to the layer's fan-in so that activations do not
  collapse to one level. 1.5 M parameters: the ONNX is stored gzip-compressed (``.onnx.gz``).
* ``mnist_cnn_w4a4``: a small CNN trained on the MNIST images in ../shared/data/mnist. Only the 10,000-image
  test set is there, so it is trained on the first 8,000 of those and the script reports accuracy on the 2,000
  held out and on all 10,000 (the latter includes its own training images: an optimistic figure).
* ``resnet_w4a4``: a residual net: a block with a strided 3x3 path and a strided 1x1 downsample shortcut
  (different scales on the two inputs of the Add), a block with an identity shortcut and a shared quantizer
  (equal scales), TruncAvgPool2d with a FLOOR Trunc (as FINN's QuantAvgPool), FC. Brevitas' QCDQ export
  turns that Trunc into QuantizeLinear, which rounds: the QCDQ file differs from PyTorch there (kept, noted).
* ``mobilenet_w4a4``: depthwise-separable (MobileNet-style): depthwise 3x3 (groups = channels) + pointwise 1x1,
  one depthwise with stride 2, global TruncAvgPool2d with Brevitas' default rounding Trunc (ROUND), FC.
* ``conv1d_w4a4``: 1-D convs with dilation 2 and 4, stride 2, bias on some, MaxPool1d with padding, FC.
* ``concat_pad_w4a4``: non-square input (3x12x16), asymmetric ZeroPad2d (an ONNX Pad node), 1x3 and 3x1
  kernels, two branches concatenated on channels (shared quantizer), nearest Upsample x2 (Resize), MaxPool2d
  with padding, FC.

Each model is exported with ``export_qonnx(..., dynamo=False)`` (QONNX) and, except CNV, with
``export_onnx_qcdq(..., dynamo=False)`` (QCDQ) where Brevitas can. Besides each model the script writes
``<name>_io.npz`` with ``x`` (4 inputs) and ``y`` (the PyTorch outputs); every export is then executed by qonnx
(ModelWrapper -> cleanup_model -> execute_onnx) and compared with ``y``; the script fails if they disagree.
"""

import argparse
import gzip
import io
import json
import os
import random
import tempfile

import numpy as np
import torch
import torch.nn as nn

import brevitas
import brevitas.nn as qnn
from brevitas.export import export_onnx_qcdq, export_qonnx
from brevitas.quant import (
    Int8ActPerTensorFloat,
    Int8WeightPerChannelFloat,
    Int8WeightPerTensorFloat,
    TruncTo8bit,
    Uint8ActPerTensorFloat,
)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MNIST = os.path.join(REPO, "..", "shared", "data", "mnist")
SEED = 0


def seed_all(seed=SEED):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------------------------
def qin(bits=8, signed=False):
    q = Int8ActPerTensorFloat if signed else Uint8ActPerTensorFloat
    return qnn.QuantIdentity(act_quant=q, bit_width=bits, return_quant_tensor=True)


def qrelu(bits=4):
    return qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=bits, return_quant_tensor=True)


def qid(bits=4):
    return qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=bits, return_quant_tensor=True)


def wkw(bits=4, per_channel=True, bias=False):
    return dict(weight_quant=Int8WeightPerChannelFloat if per_channel else Int8WeightPerTensorFloat,
                weight_bit_width=bits, bias=bias, return_quant_tensor=False)


def conv2d(i, o, k, **kw):
    extra = {n: kw.pop(n) for n in ("stride", "padding", "dilation", "groups") if n in kw}
    return qnn.QuantConv2d(i, o, k, **extra, **wkw(**kw))


def randomize_norms(model, gen):
    """Random BatchNorm statistics: mean ~ N(0, 0.5*sqrt(fan-in)), var ~ fan-in*U(0.3, 1.5), gamma with about a
    quarter negative, beta ~ N(0, 0.3). The fan-in is the preceding conv/linear's, so that normalised values
    stay near N(0, 1) and every quantizer level is used."""
    fan_in = 1
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            fan_in = m.in_channels // m.groups * int(np.prod(m.kernel_size))
        elif isinstance(m, nn.Linear):
            fan_in = m.in_features
        norm = isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) or type(m).__name__ == "TensorNorm"
        if not norm:
            continue
        n = m.running_mean.numel()
        with torch.no_grad():
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.5 * fan_in**0.5)
            m.running_var.copy_((0.3 + 1.2 * torch.rand(n, generator=gen)) * fan_in)
            sign = torch.where(torch.rand(n, generator=gen) < 0.25, -1.0, 1.0)
            m.weight.copy_(sign * (0.5 + torch.rand(n, generator=gen)))
            m.bias.copy_(torch.randn(n, generator=gen) * 0.3)


def quantize_weights_in_place(model):
    """Replace each quantized layer's float weight by its dequantized value (idempotent under its Quant node):
    the export then stores exact levels, which compress well."""
    with torch.no_grad():
        for m in model.modules():
            if hasattr(m, "quant_weight") and hasattr(m, "weight"):
                m.weight.copy_(m.quant_weight().value)


# --------------------------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------------------------
def make_cnv(wbits, abits):
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    model, _ = model_with_cfg(f"cnv_{wbits}w{abits}a", pretrained=False)
    gen = torch.Generator().manual_seed(SEED + 10 * wbits + abits)
    for m in model.modules():
        if isinstance(m, (qnn.QuantConv2d, qnn.QuantLinear)):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) * 2 - 1)
    randomize_norms(model, gen)
    quantize_weights_in_place(model)
    return model.eval()


class MnistCNN(nn.Module):
    """1x28x28 -> conv3x3(8) BN relu4 -> maxpool2 -> conv3x3(16) BN relu4 -> maxpool2 -> FC(10). 4-bit weights."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            qin(8), conv2d(1, 8, 3), nn.BatchNorm2d(8), qrelu(4), nn.MaxPool2d(2),
            conv2d(8, 16, 3), nn.BatchNorm2d(16), qrelu(4), nn.MaxPool2d(2))
        self.fc = qnn.QuantLinear(16 * 5 * 5, 10, **wkw(4, bias=True))

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class ResNetSmall(nn.Module):
    """3x16x16 stem conv3x3(8); block 1: [conv3x3 s2 (16) BN relu, conv3x3 (16) BN, act] + [conv1x1 s2 (16) BN,
    act] (two quantizers: different scales at the Add) -> relu; block 2: [conv3x3 BN relu, conv3x3 BN] + identity
    with one shared quantizer on both Add inputs (equal scales) -> relu; TruncAvgPool2d(8, FLOOR) -> FC(10)."""

    def __init__(self):
        super().__init__()
        self.inp = qin(8)
        self.stem = nn.Sequential(conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), qrelu())
        self.b1_main = nn.Sequential(conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), qrelu(),
                                     conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), qid())
        self.b1_short = nn.Sequential(conv2d(8, 16, 1, stride=2), nn.BatchNorm2d(16), qid())
        self.b1_out = qrelu()
        self.b2_main = nn.Sequential(conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), qrelu(),
                                     conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16))
        self.b2_shared = qid()  # applied to both inputs of block 2's Add: one scale
        self.b2_out = qrelu()
        self.pool = qnn.TruncAvgPool2d(kernel_size=8, trunc_quant=TruncTo8bit, float_to_int_impl_type="FLOOR")
        self.fc = qnn.QuantLinear(16, 10, **wkw(4, bias=True))

    def forward(self, x):
        x = self.stem(self.inp(x))
        x = self.b1_out(self.b1_main(x).value + self.b1_short(x).value)  # two scales: a float Add
        x = self.b2_shared(x)
        x = self.b2_out(self.b2_shared(self.b2_main(x)) + x)
        return self.fc(torch.flatten(self.pool(x), 1))


class MobileNetSmall(nn.Module):
    """3x16x16 conv3x3 s2 (8) -> [dw3x3 (groups 8) BN relu, pw1x1 (16) BN relu] -> [dw3x3 s2 (groups 16) BN relu,
    pw1x1 (24) BN relu] -> TruncAvgPool2d(4, ROUND) -> FC(10)."""

    def __init__(self):
        super().__init__()

        def dw_pw(c, o, stride):
            return [conv2d(c, c, 3, stride=stride, padding=1, groups=c), nn.BatchNorm2d(c), qrelu(),
                    conv2d(c, o, 1), nn.BatchNorm2d(o), qrelu()]

        self.features = nn.Sequential(
            qin(8), conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), qrelu(),
            *dw_pw(8, 16, 1), *dw_pw(16, 24, 2))
        # Brevitas' default trunc_quant (RoundTo8bit): round-half-even, unlike the FLOOR in ResNetSmall
        self.pool = qnn.TruncAvgPool2d(kernel_size=4)
        self.fc = qnn.QuantLinear(24, 10, **wkw(4, bias=True))

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class Conv1dNet(nn.Module):
    """2x64 -> conv1d k5 (8, bias) relu -> conv1d k3 dilation 2 (12) BN relu -> conv1d k3 dilation 4 stride 2
    (16, bias) relu -> MaxPool1d(3, stride 2, padding 1) -> FC(4)."""

    def __init__(self):
        super().__init__()

        def c1d(i, o, k, bias, **kw):
            return qnn.QuantConv1d(i, o, k, **kw, **wkw(4, bias=bias))

        self.features = nn.Sequential(
            qin(8, signed=True), c1d(2, 8, 5, True), qrelu(),
            c1d(8, 12, 3, False, dilation=2), nn.BatchNorm1d(12), qrelu(),
            c1d(12, 16, 3, True, dilation=4, stride=2), qrelu(),
            nn.MaxPool1d(3, stride=2, padding=1))
        self.fc = qnn.QuantLinear(16 * 12, 4, **wkw(4, bias=True))

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class ConcatPadNet(nn.Module):
    """3x12x16 -> ZeroPad2d(left 0, right 1, top 1, bottom 0) -> conv 2x2 (8) BN relu [shared quantizer A] ->
    branch a: conv1x3 pad (0,1) (8) BN -> A; branch b: conv3x1 pad (1,0) (4) BN -> A; Concat on channels (12)
    -> nearest Upsample x2 -> MaxPool2d(3, stride 2, padding 1) -> conv3x3 s2 (8) BN relu -> FC(10)."""

    def __init__(self):
        super().__init__()
        self.inp = qin(8)
        self.pad = nn.ZeroPad2d((0, 1, 1, 0))
        self.stem = nn.Sequential(conv2d(3, 8, 2), nn.BatchNorm2d(8))
        self.shared = qrelu()  # one quantizer for the stem output and both concat inputs: one scale
        self.a = nn.Sequential(conv2d(8, 8, (1, 3), padding=(0, 1)), nn.BatchNorm2d(8))
        self.b = nn.Sequential(conv2d(8, 4, (3, 1), padding=(1, 0)), nn.BatchNorm2d(4))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.tail = nn.Sequential(conv2d(12, 8, 3, stride=2), nn.BatchNorm2d(8), qrelu())
        self.fc = qnn.QuantLinear(8 * 5 * 7, 10, **wkw(4, bias=True))

    def forward(self, x):
        x = self.shared(self.stem(self.pad(self.inp(x))))
        x = torch.cat([self.shared(self.a(x)).value, self.shared(self.b(x)).value], dim=1)
        x = self.tail(self.pool(self.up(x)))
        return self.fc(torch.flatten(x, 1))


# name -> (constructor, input shape (C, H[, W]), qcdq export wanted)
MODELS = {
    "cnv_1w1a": (lambda: make_cnv(1, 1), (3, 32, 32), False),
    "cnv_1w2a": (lambda: make_cnv(1, 2), (3, 32, 32), False),
    "cnv_2w2a": (lambda: make_cnv(2, 2), (3, 32, 32), False),
    "mnist_cnn_w4a4": (MnistCNN, (1, 28, 28), True),
    "resnet_w4a4": (ResNetSmall, (3, 16, 16), True),
    "mobilenet_w4a4": (MobileNetSmall, (3, 16, 16), True),
    "conv1d_w4a4": (Conv1dNet, (2, 64), True),
    "concat_pad_w4a4": (ConcatPadNet, (3, 12, 16), True),
}
GZIP = {"cnv_1w1a", "cnv_1w2a", "cnv_2w2a"}
# Brevitas' QCDQ export writes a FLOOR Trunc as QuantizeLinear (round half to even): that QCDQ file computes a
# different function from the PyTorch model (and from its QONNX twin) at the average pool. It is kept (its own
# qonnx execution is the golden for it); the script reports, not asserts, its distance from PyTorch.
QCDQ_ROUNDS_FLOOR_TRUNC = {"resnet_w4a4"}


def calibrate(model, shape, passes=4):
    """Random BatchNorm gamma (about a quarter negative) and beta, then a few training-mode passes on random
    inputs: BatchNorm running statistics (cumulative) and the activation quantizers' scales come from data,
    so that every quantizer uses its levels."""
    gen = torch.Generator().manual_seed(SEED + 1)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            with torch.no_grad():
                sign = torch.where(torch.rand(n, generator=gen) < 0.25, -1.0, 1.0)
                m.weight.copy_(sign * (0.5 + torch.rand(n, generator=gen)))
                m.bias.copy_(torch.randn(n, generator=gen) * 0.3)
            m.momentum = None
            m.reset_running_stats()
    model.train()
    with torch.no_grad():
        for _ in range(passes):
            model(torch.rand(16, *shape, generator=gen))
    model.eval()


# --------------------------------------------------------------------------------------------------------------
def load_mnist():
    def read(name, offset):
        with gzip.open(os.path.join(MNIST, name)) as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)

    x = read("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)
    y = read("t10k-labels-idx1-ubyte.gz", 8)
    return (x / 255.0).astype(np.float32), y.astype(np.int64)


def train_mnist(model, x, y, epochs=4, batch=64, lr=0.01):
    """Brief Adam training on CPU (a minute or two)."""
    g = torch.Generator().manual_seed(SEED)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    lossf = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=g)
        for s in range(0, len(xt), batch):
            idx = perm[s:s + batch]
            opt.zero_grad()
            lossf(model(xt[idx]), yt[idx]).backward()
            opt.step()
        sched.step()
    model.eval()


def torch_predict(model, x, batch=500):
    with torch.no_grad():
        outs = [model(torch.from_numpy(x[i:i + batch])) for i in range(0, len(x), batch)]
    return np.concatenate([(o.value if hasattr(o, "value") else o).numpy() for o in outs])


def qonnx_run(model_bytes, x):
    """qonnx's execution (cleanup_model + execute_onnx), sample by sample: the golden every hwgen path matches."""
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model

    m = cleanup_model(ModelWrapper(onnx.load_from_string(model_bytes)))
    iname, oname = m.graph.input[0].name, m.graph.output[0].name
    return np.concatenate([execute_onnx(m, {iname: x[i:i + 1]})[oname] for i in range(len(x))])


def export_bytes(fn, model, shape):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.onnx")
        fn(model, input_t=torch.zeros(1, *shape), export_path=path, dynamo=False)
        with open(path, "rb") as f:
            return f.read()


def write(out, fname, data, compress):
    path = os.path.join(out, fname + (".gz" if compress else ""))
    if compress:  # mtime=0: byte-identical files on every run
        data = gzip.compress(data, compresslevel=9, mtime=0)
    with open(path, "wb") as f:
        f.write(data)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "models", "cnn"))
    ap.add_argument("--only", default="", help="comma-separated model names")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(2)
    only = set(filter(None, args.only.split(",")))
    summary = {}
    for name, (make, shape, qcdq) in MODELS.items():
        if only and name not in only:
            continue
        seed_all()
        model = make()
        info = {}
        if name.startswith("mnist"):
            x, y = load_mnist()
            train_mnist(model, x[:8000], y[:8000])
            pred = torch_predict(model, x).argmax(1)
            info.update(torch_acc_heldout_2000=float((pred[8000:] == y[8000:]).mean()),
                        torch_acc_all_10000=float((pred == y).mean()))
            xio = x[8000:8004]
        else:
            if not name.startswith("cnv"):
                calibrate(model, shape)
            xio = np.random.default_rng(1).random((4, *shape)).astype(np.float32)
        yio = torch_predict(model, xio).astype(np.float32)
        np.savez(os.path.join(args.out, name + "_io.npz"), x=xio, y=yio)
        forms = [("", export_qonnx)] + ([("_qcdq", export_onnx_qcdq)] if qcdq else [])
        for suffix, fn in forms:
            data = export_bytes(fn, model, shape)
            path = write(args.out, name + suffix + ".onnx", data, name in GZIP)
            got = qonnx_run(data, xio)
            err = float(np.abs(got - yio).max())
            info[f"qonnx{suffix}_vs_torch_maxabs"] = err
            info[f"bytes{suffix}"] = os.path.getsize(path)
            print(f"{os.path.basename(path)}: {os.path.getsize(path)} bytes, |qonnx - torch| max {err:.2e}")
            if suffix == "_qcdq" and name in QCDQ_ROUNDS_FLOOR_TRUNC:
                info["qcdq_note"] = "FLOOR Trunc exported as QuantizeLinear (round): differs from torch"
                continue
            assert np.allclose(got, yio, atol=1e-4, rtol=1e-4), name + suffix
        summary[name] = info
    summary["_versions"] = dict(torch=torch.__version__, brevitas=brevitas.__version__)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
