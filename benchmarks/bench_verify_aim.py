"""`hwgen verify` input generation: threshold boundaries exercised, inputs made and seconds, before (one input
aimed at one boundary, `verify_inputs(method="boundary")`, model inputs random) and after (the coverage climb,
`method="cover"`, and model inputs searched through the CPU head / CPU islands), in the same run.

A boundary is (layer, channel, value) with value = t or t - 1 for a threshold t (hwgen.verify_cover). "island
level" counts the boundaries hit by the inputs each hardware island gets in its own check (for a float head or an
island after a CPU island: values of its quantizer's input tensor); "model level" counts the boundaries hit by
the model inputs the whole-model check runs on every backend. Backend time grows with the number of inputs.
Second table: one-step (+-1) threshold changes that alter the outputs on the 10,000 MNIST test images, and how
many of them the inputs of each method catch (TFC_1W1A / TFC_1W2A from ../shared).

    python benchmarks/bench_verify_aim.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwgen.build import compile_model  # noqa: E402
from hwgen.frontend.input_types import declared_grid  # noqa: E402
from hwgen.report import table  # noqa: E402
from hwgen.verify import MODEL_SEARCH_INPUTS, MODEL_SEARCH_S  # noqa: E402
from hwgen.verify_cover import Coverage, ModelCoverage, model_inputs  # noqa: E402
from hwgen.verify_inputs import quantizer_view, raw_inputs, verify_inputs  # noqa: E402
from tests.frontend_models import qkeras_mlp, unsw_mlp  # noqa: E402


def models(tmp: Path):
    onnx.save(qkeras_mlp(), tmp / "jet.onnx")
    onnx.save(unsw_mlp(), tmp / "unsw.onnx")
    return [("jet tagger look-alike (float input, first layer on the CPU)", tmp / "jet.onnx"),
            ("UNSW-NB15 look-alike (declared BIPOLAR input)", tmp / "unsw.onnx"),
            ("LayerNorm MLP (2 hardware islands, CPU island between)",
             ROOT / "tests/models/islands/layernorm_mlp.onnx"),
            ("Brevitas MLP w8a8", ROOT / "tests/models/brevitas/mlp_w8a8.onnx")]


def model_start(g, n, rng):
    """The whole-model check's raw inputs, as hwgen.verify.verify_islands draws them."""
    first = g.islands[0]
    grid = declared_grid(first) if hasattr(first, "layers") else None
    if grid is not None:
        return grid.random(rng, (n, *g.input_shape[1:])), grid.values()
    if hasattr(first, "layers") and first.input_name == g.input_name:
        return raw_inputs(first, n, rng), None
    return rng.standard_normal((n, *g.input_shape[1:])).astype(np.float32), None


def island_level(g, method):
    """(boundaries hit, boundaries, inputs, seconds) over every hardware island's own check."""
    hit = total = inputs = 0
    secs = 0.0
    for hw in g.hw_islands:
        view = quantizer_view(hw) or hw
        t = time.perf_counter()
        x, _ = verify_inputs(view, 100, 0, method=method)
        secs += time.perf_counter() - t
        cov = Coverage(view.layers)
        cov.add(cov.pre(view.head_ints(x)))
        hit, total, inputs = hit + cov.hit, total + cov.total, inputs + len(x)
    return hit, total, inputs, secs


def model_level(g, search):
    """(boundaries hit, boundaries, inputs, seconds) by the whole-model check's inputs."""
    rng = np.random.default_rng(0)
    x, values = model_start(g, 100, rng)
    t = time.perf_counter()
    if search:
        xs, _ = model_inputs(g, x, MODEL_SEARCH_S, MODEL_SEARCH_INPUTS, rng, values)
        x = np.concatenate([x, xs])
    secs = time.perf_counter() - t
    cov = ModelCoverage(g)
    cov.add(cov.pre(x))
    return cov.hit, cov.total, len(x), secs


def pct(h, t):
    return f"{h:,}/{t:,} ({100 * h / max(t, 1):.0f} %)"


def mutations_caught(name, want, seed=2026):
    """(effective one-step threshold changes found, caught before, caught after) on a TFC model."""
    from hwgen.verify import compare_with_golden, golden
    from tests.conftest import load_mnist, tfc_model

    model = tfc_model(name)
    g = compile_model(model).single
    xm, _ = load_mnist()

    def layer_inputs(x):
        q = [g.head_ints(x)]
        for layer in g.layers:
            q.append(layer.execute(q[-1]))
        return q

    def run_from(k, q):
        for layer in g.layers[k:]:
            q = layer.execute(q)
        return q

    mn = layer_inputs(xm)
    sets = []
    for method in ("boundary", "cover"):
        x, _ = verify_inputs(g, 100, method=method)
        sets.append((golden(model, x), layer_inputs(x)))
    rng = np.random.default_rng(seed)
    ks = [k for k, layer in enumerate(g.layers) if getattr(layer, "thresholds", None) is not None]
    found, caught = 0, [0, 0]
    while found < want:
        k = int(rng.choice(ks))
        thr = g.layers[k].thresholds
        c, j, d = int(rng.integers(thr.shape[0])), int(rng.integers(thr.shape[1])), int(rng.choice([-1, 1]))
        thr[c, j] += d
        try:
            if not np.all(np.diff(thr[c]) >= 0) or np.array_equal(run_from(k, mn[k]), mn[-1]):
                continue
            found += 1
            for i, (gold, vq) in enumerate(sets):
                caught[i] += compare_with_golden(gold, g.tail.run(run_from(k, vq[k])))[0] == "DIFFERS"
        finally:
            thr[c, j] -= d
    return found, caught[0], caught[1]


def main():
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name, path in models(Path(d)):
            g = compile_model(path)
            b, a = island_level(g, "boundary"), island_level(g, "cover")
            rows.append([name, "island", pct(b[0], b[1]), f"{b[2]:,}", f"{b[3]:.1f}", pct(a[0], a[1]), f"{a[2]:,}",
                         f"{a[3]:.1f}"])
            if g.single is None or quantizer_view(g.single) is not None:  # verify's whole-model check runs
                b, a = model_level(g, False), model_level(g, True)
                rows.append(["", "model", pct(b[0], b[1]), f"{b[2]:,}", f"{b[3]:.1f}", pct(a[0], a[1]), f"{a[2]:,}",
                             f"{a[3]:.1f}"])
            print(rows[-1], flush=True)
    print(table(rows, ["model", "level", "before: boundaries hit", "inputs", "s", "after: boundaries hit", "inputs",
                       "s"]))
    rows = []
    for name, want in (("TFC_1W1A", 150), ("TFC_1W2A", 100)):
        found, before, after = mutations_caught(name, want)
        rows.append([name, f"{found}", f"{before}", f"{after}"])
    print(table(rows, ["model", "one-step changes altering MNIST outputs", "caught before", "caught after"]))


if __name__ == "__main__":
    main()
