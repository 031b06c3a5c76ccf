#!/usr/bin/env python3
"""Train the hwgen demo model: a 2-bit MLP on scikit-learn's digits, export QONNX.

Produces ``examples/digits/digits_mlp_w2a2.onnx`` (checked in) and prints the
test accuracy of the exported ONNX executed with qonnx. Also writes
``examples/digits/digits_test.npz`` (the test split as raw uint8 pixel values
``X_test`` (540, 64) in 0..16 and labels ``y_test`` (540,)) so that the model can
be evaluated where scikit-learn is not installed: input = ``X_test / 16.0``.

How to run (needs torch + brevitas, kept OUT of the main environment)::

    python3 -m venv /tmp/brevenv
    /tmp/brevenv/bin/pip install torch==2.13.0 brevitas onnx onnxscript qonnx scikit-learn onnxoptimizer
    /tmp/brevenv/bin/python examples/digits/train_digits_mlp.py        # from the repo root
    # optional: --out PATH, --epochs N

Data: ``X, y = load_digits(return_X_y=True)``; ``X = (X / 16.0).astype(float32)``
(shape (N, 64), values in [0, 1]); split
``train_test_split(X, y, test_size=0.3, random_state=0)``.

Network: QuantIdentity input quantizer (5-bit unsigned, constant scale 1/16,
so X/16.0 is represented exactly: the integers are the raw 0..16 pixel values)
-> QuantLinear(64, 64) 2-bit weights -> BatchNorm1d -> QuantReLU 2-bit
-> QuantLinear(64, 32) 2-bit -> BatchNorm1d -> QuantReLU 2-bit
-> QuantLinear(32, 10) 2-bit -> logits (float). Linear layers have float bias.
"""

import argparse
import os
import random

import numpy as np
import torch
import torch.nn as nn

import brevitas
import brevitas.nn as qnn
from brevitas.core.scaling import ScalingImplType
from brevitas.export import export_qonnx
from brevitas.quant import Int8WeightPerTensorFloat, Uint8ActPerTensorFloat
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0


class InputQuant(Uint8ActPerTensorFloat):
    """5-bit unsigned, fixed scale 31/16 / (2**5 - 1) = 1/16 (lossless for X/16)."""
    bit_width = 5
    scaling_impl_type = ScalingImplType.CONST
    scaling_const = 31.0 / 16.0
    max_val = 31.0 / 16.0


class DigitsMLP(nn.Module):

    def __init__(self, sizes=(64, 64, 32, 10), wbits=2, abits=2):
        super().__init__()
        layers = [qnn.QuantIdentity(act_quant=InputQuant, return_quant_tensor=True)]
        for li, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(
                qnn.QuantLinear(i, o, bias=True, weight_quant=Int8WeightPerTensorFloat,
                                weight_bit_width=wbits))
            if li < len(sizes) - 2:
                layers.append(nn.BatchNorm1d(o))
                layers.append(qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=abits,
                                            return_quant_tensor=True))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "digits_mlp_w2a2.onnx"))
    ap.add_argument("--epochs", type=int, default=100)
    args = ap.parse_args()

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)

    model = DigitsMLP()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    lossf = nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(Xtr), torch.from_numpy(ytr.astype(np.int64))
    g = torch.Generator().manual_seed(SEED)
    for ep in range(args.epochs):
        model.train()
        perm = torch.randperm(len(Xt), generator=g)
        for s in range(0, len(Xt), 64):
            idx = perm[s:s + 64]
            if len(idx) < 2:
                continue
            opt.zero_grad()
            loss = lossf(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        torch_out = model(torch.from_numpy(Xte)).numpy()
    torch_acc = float((torch_out.argmax(1) == yte).mean())
    print(f"brevitas/torch test accuracy: {torch_acc:.4f}")

    export_qonnx(model, input_t=torch.zeros(1, 64), export_path=args.out, dynamo=False)
    print("exported", args.out, os.path.getsize(args.out), "bytes")

    # Execute the exported ONNX with qonnx on the whole test split.
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model

    m = cleanup_model(ModelWrapper(args.out))
    iname, oname = m.graph.input[0].name, m.graph.output[0].name
    onnx_out = np.concatenate(
        [execute_onnx(m, {iname: Xte[i:i + 1]})[oname] for i in range(len(Xte))])
    onnx_acc = float((onnx_out.argmax(1) == yte).mean())
    print(f"ONNX (qonnx execute_onnx) test accuracy: {onnx_acc:.4f} "
          f"({int((onnx_out.argmax(1) == yte).sum())}/{len(yte)}), "
          f"max |onnx - torch| = {np.abs(onnx_out - torch_out).max():.2e}")
    print(f"torch {torch.__version__}, brevitas {brevitas.__version__}")

    # The test split as raw pixel integers, so environments without
    # scikit-learn can evaluate the model: X_test / 16.0 is the model input.
    X_raw, _ = load_digits(return_X_y=True)
    _, Xte_raw, _, yte_raw = train_test_split(X_raw, y, test_size=0.3, random_state=0)
    assert np.array_equal((Xte_raw / 16.0).astype(np.float32), Xte)
    npz = os.path.join(os.path.dirname(args.out), "digits_test.npz")
    np.savez_compressed(npz, X_test=Xte_raw.astype(np.uint8), y_test=yte_raw.astype(np.uint8))
    print("wrote", npz, os.path.getsize(npz), "bytes")


if __name__ == "__main__":
    main()
