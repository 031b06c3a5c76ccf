"""`hwgen quantize --prune R`: structured pruning before calibration.

For every linear layer but the last (whose outputs are the model's), the fraction R of its output channels with
the smallest score get zero weights and zero bias, so after the ReLU they are exactly 0: the quantized model then
has constant channels, which the build's prune_channels pass (hwgen.transforms.prune_channels) removes from the
layer and from the next layer's weights. The calibration that follows (hwgen.quantize.ptq) sees the pruned network,
so ranges and bias corrections are re-derived for it. Before that, each layer after a pruned one is re-fitted
(least squares with a small ridge term, numpy only) so that on the calibration set its outputs from the remaining
channels match the unpruned network's. Scores: `magnitude` (L1 norm of the channel's weights, with
BatchNorm folded in) or `energy` (mean square of the channel's output after its ReLU on the calibration set).
"""

from __future__ import annotations

import numpy as np

from hwgen.quantize.floatnet import FloatNet, QuantizeError, run_step

RULES = ("magnitude", "energy")


def prune_net(net: FloatNet, x, ratio: float, rule: str = "magnitude") -> list[dict]:
    if rule not in RULES:
        raise QuantizeError(f"--prune-rule {rule!r}: use one of {', '.join(RULES)}.")
    import copy

    lin = [i for i, s in enumerate(net.steps) if s.fn == "linear"]
    records = []
    ref = copy.deepcopy(net.steps)
    acts = ref_acts = np.asarray(x, dtype=np.float32)
    for i, s in enumerate(net.steps):
        if s.fn == "linear" and records:
            refit(s.linear, acts, run_step(ref[i], ref_acts))
        if s.fn == "linear" and i != lin[-1]:
            lay = s.linear
            o = lay.out_channels
            n = int(np.floor(o * ratio + 1e-9))
            if n:
                score = _score(net, i, acts, rule)
                order = np.argsort(score, kind="stable")
                drop = np.sort(order[:min(n, o - 1)])
                lay.w[drop] = 0
                lay.b[drop] = 0
                records.append({"layer": lay.name, "rule": rule, "removed": [int(c) for c in drop],
                                "kept": int(o - len(drop)), "of": int(o)})
        acts = run_step(s, acts)
        ref_acts = run_step(ref[i], ref_acts)
    return records


def refit(lay, x, target, ridge: float = 1e-3) -> None:
    """Least-squares weights and bias of `lay` mapping its input x (pruned network) to target (unpruned)."""
    from hwgen.quantize.floatnet import layer_inputs

    o = lay.out_channels
    a = layer_inputs(lay, x)
    t = (target if lay.kind == "gemm" else target.transpose(0, 2, 3, 1)).reshape(-1, o).astype(np.float64)
    used = np.abs(a).max(axis=0) > 0  # columns of removed (all-zero) inputs keep weight 0
    a1 = np.concatenate([a[:, used], np.ones((len(a), 1))], axis=1)
    reg = ridge * np.mean(a1 ** 2) * len(a1)
    g = a1.T @ a1 + reg * np.eye(a1.shape[1])
    sol = np.linalg.solve(g, a1.T @ t)  # (used + 1, O)
    w = np.zeros((o, a.shape[1]))
    w[:, used] = sol[:-1].T
    lay.w = w.reshape(lay.w.shape).astype(np.float32)
    lay.b = sol[-1].astype(np.float32)


def _score(net: FloatNet, i: int, acts, rule: str) -> np.ndarray:
    lay = net.steps[i].linear
    if rule == "magnitude":
        return np.abs(lay.w).reshape(lay.out_channels, -1).sum(axis=1)
    y = run_step(net.steps[i], acts)
    j = i + 1
    while j < len(net.steps) and net.steps[j].fn in ("relu", "maxpool"):
        y = run_step(net.steps[j], y)
        j += 1
    axes = (0,) if y.ndim == 2 else (0, 2, 3)
    return (y.astype(np.float64) ** 2).mean(axis=axes)
