"""`hwgen verify`'s qonnx float32 tie classification (hwgen.verify_ties) against injected bugs, in one run.

For each model: verify's own inputs (seed 0, -n 100); how many differ from qonnx and how many of those are
classified as qonnx float32 ties. Then one-step (+-1) threshold changes, one at a time (layer, channel, threshold
drawn at random), each kept if it changes the reference's outputs on verify's inputs: every such mutation must be
reported as a failure (not hidden among ties), counted here.

    python benchmarks/bench_verify_ties.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwgen.build import build  # noqa: E402
from hwgen.graph import HwGraph  # noqa: E402
from hwgen.report import table  # noqa: E402
from hwgen.verify import check_golden, golden, golden_model  # noqa: E402
from hwgen.verify_inputs import verify_inputs  # noqa: E402
from tests.conftest import tfc_model  # noqa: E402

MODELS = [ROOT / "tests/models/brevitas/mlp_w8a8.onnx", ROOT / "tests/models/brevitas/mlp_w8a8_qcdq.onnx",
          ROOT / "tests/models/brevitas/mlp_w4a4_relu.onnx", tfc_model("TFC_2W2A")]  # the last: power-of-two scales
MUTATIONS = 40


def main():
    rows, mrows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in MODELS:
            out = Path(tmp) / Path(name).stem
            build(name, out, log=lambda *a: None)
            g = HwGraph.load(out)
            x, _ = verify_inputs(g, 100, 0)
            gold = golden(g.model_path, x)
            model = golden_model(g.model_path)
            ref = g.execute(x)
            diffs, warns = [], []
            t = time.perf_counter()
            status = check_golden(model, x, gold, ref, "ref vs qonnx", diffs, warns)
            rows.append([Path(name).name, len(x), status, f"{time.perf_counter() - t:.2f}"])
            rng = np.random.default_rng(2026)
            layers = [k for k, layer in enumerate(g.layers) if getattr(layer, "thresholds", None) is not None]
            found = failed = tried = 0
            while found < MUTATIONS and tried < 3000:
                tried += 1
                thr = g.layers[int(rng.choice(layers))].thresholds
                c, j, d = int(rng.integers(thr.shape[0])), int(rng.integers(thr.shape[1])), int(rng.choice([-1, 1]))
                thr[c, j] += d
                try:
                    if not np.all(np.diff(thr[c]) >= 0):
                        continue
                    y = g.execute(x)
                    if np.array_equal(y, ref):
                        continue  # no effect on verify's inputs
                    found += 1
                    dd, ww = [], []
                    failed += check_golden(model, x, gold, y, "mutated", dd, ww) == "DIFFERS"
                finally:
                    thr[c, j] -= d
            mrows.append([Path(name).name, tried, found, failed, found - failed])
    print(table(rows, ["model", "verify inputs", "reference vs qonnx", "classify s"]))
    print()
    print(table(mrows, ["model", "mutations tried", "change outputs", "reported as failures", "hidden as ties"]))


if __name__ == "__main__":
    main()
