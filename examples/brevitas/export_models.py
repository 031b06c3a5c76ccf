#!/usr/bin/env python3
"""Train and export small Brevitas MLPs as QONNX / QCDQ test models.

These models are the real-exporter fixtures of the hwgen test suite
(``tests/models/brevitas/``). They are checked in; re-run this script only to
regenerate them.

How to run (needs torch + brevitas, kept OUT of the main environment)::

    python3 -m venv /tmp/brevenv
    /tmp/brevenv/bin/pip install torch==2.13.0 brevitas onnx onnxscript qonnx scikit-learn onnxoptimizer
    /tmp/brevenv/bin/python examples/brevitas/export_models.py          # from the repo root
    # optional: --out DIR (default tests/models/brevitas), --epochs N

Versions used for the checked-in files: torch 2.13.0+cpu, brevitas 0.13.4,
onnx 1.23.2, onnxoptimizer 0.4.2 (needed by the dynamo=False export path),
qonnx 1.0.0, scikit-learn 1.9.1.

Every model is an MLP on scikit-learn's ``load_digits`` (8x8 = 64 features,
10 classes, shipped with scikit-learn, no download). Inputs are float32
``X / 16.0`` (range [0, 1]) with shape (N, 64); the models are exported with
input shape (1, 64). Each model is trained briefly (fixed seeds) so that its
weights are meaningful, then exported with ``brevitas.export.export_qonnx``
(TorchScript exporter, ``dynamo=False``: the classic QONNX graph with
``qonnx.custom_op.general`` Quant / BipolarQuant nodes). Two of them are also
exported with ``export_onnx_qcdq`` (standard QuantizeLinear / Clip /
DequantizeLinear).

Besides each ``<name>.onnx`` the script writes ``<name>_io.npz`` holding
``x`` (8 test inputs, float32 (8, 64)) and ``y`` (the Brevitas/PyTorch output
for those inputs, float32 (8, 10)) so tests can check an ONNX execution (or a
compiled accelerator) against the training framework. After export each ONNX
file is executed with qonnx (cleanup_model + execute_onnx) and compared with
``y``; the script fails if they disagree.
"""

import argparse
import json
import os
import random

import numpy as np
import torch
import torch.nn as nn

import brevitas
import brevitas.nn as qnn
from brevitas.export import export_onnx_qcdq, export_qonnx
from brevitas.quant import (
    Int8ActPerTensorFloat,
    Int8WeightPerTensorFloat,
    Int8WeightPerChannelFloat,
    SignedBinaryActPerTensorConst,
    SignedBinaryWeightPerTensorConst,
    Uint8ActPerTensorFloat,
)
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEED = 0


def seed_all(seed=SEED):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_data():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    return Xtr, Xte, ytr.astype(np.int64), yte.astype(np.int64)


# --------------------------------------------------------------------------
# model definitions
# --------------------------------------------------------------------------
def input_quant(bits, signed):
    q = Int8ActPerTensorFloat if signed else Uint8ActPerTensorFloat
    return qnn.QuantIdentity(act_quant=q, bit_width=bits, return_quant_tensor=True)


def act(kind, bits):
    """Hidden activation (quantizer that follows Linear [+ BN])."""
    if kind == "bipolar":
        # 1-bit {-1,+1} activation -> exported as BipolarQuant
        return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst,
                                 return_quant_tensor=True)
    if kind == "identity":  # signed uniform quantizer, learned scale
        return qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=bits,
                                 return_quant_tensor=True)
    if kind == "relu":  # unsigned uniform quantizer, learned scale
        return qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=bits,
                             return_quant_tensor=True)
    if kind == "hardtanh":  # signed, min/max-initialised scale
        return qnn.QuantHardTanh(bit_width=bits, min_val=-1.0, max_val=1.0,
                                 return_quant_tensor=True)
    raise ValueError(kind)


def linear(i, o, cfg):
    kw = dict(bias=cfg["bias"], return_quant_tensor=False)
    if cfg["wbits"] == 1:
        kw["weight_quant"] = SignedBinaryWeightPerTensorConst
    else:
        kw["weight_quant"] = (Int8WeightPerChannelFloat if cfg.get("per_channel")
                              else Int8WeightPerTensorFloat)
        kw["weight_bit_width"] = cfg["wbits"]
        # Int8Weight* quantizers are narrow-range by default; make it explicit.
        kw["weight_narrow_range"] = cfg.get("narrow", True)
    return qnn.QuantLinear(i, o, **kw)


class QuantMLP(nn.Module):

    def __init__(self, cfg):
        super().__init__()
        sizes = cfg["sizes"]
        layers = [input_quant(cfg["in_bits"], cfg.get("in_signed", False))]
        for li, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(linear(i, o, cfg))
            if li < len(sizes) - 2:
                if cfg["bn"]:
                    layers.append(nn.BatchNorm1d(o))
                layers.append(act(cfg["act"], cfg["abits"]))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


# name -> config. wbits/abits: weight/activation bit widths.
MODELS = {
    # BNN "TFC" style: bipolar weights & activations, BN before each sign.
    "mlp_w1a1": dict(sizes=[64, 64, 64, 10], wbits=1, abits=1, act="bipolar",
                     bn=True, bias=False, in_bits=8, in_signed=False,
                     lr=0.01, epochs=80),
    "mlp_w2a2_bn": dict(sizes=[64, 48, 32, 10], wbits=2, abits=2, act="identity",
                        bn=True, bias=True, in_bits=2, in_signed=False,
                        lr=0.01, epochs=80),
    "mlp_w4a4_relu": dict(sizes=[64, 32, 24, 10], wbits=4, abits=4, act="relu",
                          bn=False, bias=True, per_channel=True, in_bits=4,
                          in_signed=False, lr=0.01, epochs=60),
    "mlp_w8a8": dict(sizes=[64, 33, 17, 10], wbits=8, abits=8, act="identity",
                     bn=False, bias=True, in_bits=8, in_signed=True,
                     lr=0.01, epochs=60),
    "mlp_w3a5_narrow": dict(sizes=[64, 20, 10], wbits=3, abits=5, act="hardtanh",
                            bn=False, bias=True, narrow=True, in_bits=5,
                            in_signed=False, lr=0.01, epochs=60),
}
QCDQ = ["mlp_w8a8", "mlp_w4a4_relu"]


# --------------------------------------------------------------------------
def train(model, Xtr, ytr, epochs, lr, batch=64):
    g = torch.Generator().manual_seed(SEED)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    Xt, yt = torch.from_numpy(Xtr), torch.from_numpy(ytr)
    lossf = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(Xt), generator=g)
        for s in range(0, len(Xt), batch):
            idx = perm[s:s + batch]
            if len(idx) < 2:  # BatchNorm needs >1 sample
                continue
            opt.zero_grad()
            out = model(Xt[idx])
            out = out.value if hasattr(out, "value") else out
            loss = lossf(out, yt[idx])
            loss.backward()
            opt.step()
        sched.step()
    model.eval()


def torch_predict(model, X):
    with torch.no_grad():
        out = model(torch.from_numpy(X))
    return (out.value if hasattr(out, "value") else out).numpy()


def onnx_run(path, X):
    """Execute an ONNX model sample by sample with qonnx (batch 1 graph)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model

    m = cleanup_model(ModelWrapper(path))
    iname = m.graph.input[0].name
    oname = m.graph.output[0].name
    return np.concatenate(
        [execute_onnx(m, {iname: X[i:i + 1]})[oname] for i in range(len(X))])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "models", "brevitas"))
    ap.add_argument("--epochs", type=int, default=None, help="override epochs")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.use_deterministic_algorithms(True)

    Xtr, Xte, ytr, yte = load_data()
    xio = Xte[:8]
    summary = {}
    for name, cfg in MODELS.items():
        seed_all()
        model = QuantMLP(cfg)
        train(model, Xtr, ytr, args.epochs or cfg["epochs"], cfg["lr"])
        acc = float((torch_predict(model, Xte).argmax(1) == yte).mean())
        yio = torch_predict(model, xio)
        path = os.path.join(args.out, name + ".onnx")
        export_qonnx(model, input_t=torch.zeros(1, 64), export_path=path, dynamo=False)
        np.savez(os.path.join(args.out, name + "_io.npz"), x=xio, y=yio.astype(np.float32))
        got = onnx_run(path, xio)
        err = float(np.abs(got - yio).max())
        summary[name] = dict(torch_test_acc=acc, onnx_vs_torch_maxabs=err)
        print(f"{name}: torch test acc {acc:.4f}, |onnx - torch| max {err:.2e}")
        assert np.allclose(got, yio, atol=1e-4, rtol=1e-4), name
        if name in QCDQ:
            qpath = os.path.join(args.out, name + "_qcdq.onnx")
            export_onnx_qcdq(model, input_t=torch.zeros(1, 64), export_path=qpath,
                             dynamo=False)
            got = onnx_run(qpath, xio)
            err = float(np.abs(got - yio).max())
            summary[name + "_qcdq"] = dict(onnx_vs_torch_maxabs=err)
            print(f"{name}_qcdq: |onnx - torch| max {err:.2e}")
            assert np.allclose(got, yio, atol=1e-4, rtol=1e-4), name + "_qcdq"
    summary["_versions"] = dict(torch=torch.__version__, brevitas=brevitas.__version__)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
