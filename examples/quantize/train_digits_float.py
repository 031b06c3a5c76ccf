#!/usr/bin/env python3
"""Train the float models `hwgen quantize` is tested on, on scikit-learn's 8x8 digits, and export them with
torch.onnx.export (plain float ONNX: no quantizers).

Writes into tests/models/float/ (checked in; tests never need torch):
  digits_mlp.onnx           Linear(64,64) BN ReLU Linear(64,32) BN ReLU Linear(32,10); input (1, 64)
  digits_cnn.onnx           Conv3x3(1->16, pad 1) BN ReLU MaxPool2  Conv3x3(16->32, pad 1) BN ReLU MaxPool2
                            Flatten Linear(128,10); input (1, 1, 8, 8)
  digits_cnn_pruned.onnx    the same CNN trained with half the output channels of each conv removed by magnitude
                            (structured pruning: the channel's weights, bias and BatchNorm gamma / beta held at 0,
                            so the channel's output is exactly 0) and fine-tuned
  digits_data.npz           the split: X_train (1257, 64) / X_test (540, 64) uint8 raw pixel values 0..16, y_train,
                            y_test uint8. Model input = X / 16 as float32 (the CNN: reshaped to (N, 1, 8, 8)).

Data: `load_digits(return_X_y=True)`, `train_test_split(X, y, test_size=0.3, random_state=0)` (as the digits
demo). Seeds 0 everywhere, Adam lr 0.01 with a cosine schedule, batch 64, cross-entropy.

Run (torch stays out of the main environment; the 2.13.0 CPU wheel, no other torch):
    python3 -m venv --system-site-packages /tmp/qtorch
    /tmp/qtorch/bin/pip install torch==2.13.0 scikit-learn
    /tmp/qtorch/bin/python examples/quantize/train_digits_float.py        # from the repository root
"""

import argparse
import os
import random

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "models", "float")
SEED = 0


def mlp():
    return nn.Sequential(nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(),
                         nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))


class CNN(nn.Module):
    def __init__(self, c1=16, c2=32):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(c2 * 4, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def seed_all():
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)


def train(model, x, y, epochs, masks=None, lr=0.01):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    lossf = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(SEED)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        for s in range(0, len(x), 64):
            idx = perm[s:s + 64]
            if len(idx) < 2:
                continue
            opt.zero_grad()
            lossf(model(x[idx]), y[idx]).backward()
            opt.step()
            apply_masks(masks)
        sched.step()
    model.eval()
    return model


def channel_masks(model, ratio):
    """Keep the (1 - ratio) output channels of each conv with the largest L1 weight norm."""
    masks = []
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.features if isinstance(m, nn.BatchNorm2d)]
    for conv, bn in zip(convs, bns):
        norm = conv.weight.detach().abs().sum(dim=(1, 2, 3))
        keep = torch.zeros_like(norm, dtype=torch.bool)
        keep[torch.argsort(norm, descending=True)[:int(round(len(norm) * (1 - ratio)))]] = True
        masks.append((keep, [conv.weight, conv.bias, bn.weight, bn.bias]))
    return masks


def apply_masks(masks):
    with torch.no_grad():
        for keep, params in masks or []:
            for p in params:
                p[~keep] = 0


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def export(model, shape, path):
    torch.onnx.export(model, torch.zeros(*shape), path, input_names=["x"], output_names=["logits"],
                      dynamo=False, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE)  # keeps BatchNormalization (EVAL folds it)
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=60)
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X.astype(np.uint8), y.astype(np.uint8), test_size=0.3, random_state=0)
    np.savez_compressed(os.path.join(OUT, "digits_data.npz"), X_train=Xtr, y_train=ytr, X_test=Xte, y_test=yte)
    f = lambda v: torch.from_numpy((v / 16.0).astype(np.float32))  # noqa: E731
    xtr, xte = f(Xtr), f(Xte)
    ttr, tte = torch.from_numpy(ytr.astype(np.int64)), torch.from_numpy(yte.astype(np.int64))
    img = lambda t: t.reshape(-1, 1, 8, 8)  # noqa: E731

    seed_all()
    m = train(mlp(), xtr, ttr, a.epochs)
    print(f"digits_mlp: test accuracy {accuracy(m, xte, tte):.4f}")
    export(m, (1, 64), os.path.join(OUT, "digits_mlp.onnx"))

    seed_all()
    c = train(CNN(), img(xtr), ttr, a.epochs)
    print(f"digits_cnn: test accuracy {accuracy(c, img(xte), tte):.4f}")
    export(c, (1, 1, 8, 8), os.path.join(OUT, "digits_cnn.onnx"))

    seed_all()  # the pruned twin: dense training, half the conv channels masked by magnitude, fine-tuning
    p = train(CNN(), img(xtr), ttr, a.epochs // 2)
    masks = channel_masks(p, 0.5)
    apply_masks(masks)
    p = train(p, img(xtr), ttr, a.epochs, masks=masks, lr=0.005)
    kept = [int(k.sum()) for k, _ in masks]
    print(f"digits_cnn_pruned: channels kept {kept} of {[len(k) for k, _ in masks]}, "
          f"test accuracy {accuracy(p, img(xte), tte):.4f}")
    export(p, (1, 1, 8, 8), os.path.join(OUT, "digits_cnn_pruned.onnx"))


if __name__ == "__main__":
    main()
