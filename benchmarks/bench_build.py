"""Time of `hwgen build` on the TFC models and the digits MLP (import, lowering (hwgen.transforms.passes), then
folding search + HLS/driver/Vivado generation + writing), split by phase.

Baseline in the same run: qonnx's own `cleanup_model` of the same file (the first step any QONNX flow,
FINN included, runs before it starts streamlining). Target: a whole build well under 2 s per model.

    python benchmarks/bench_build.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TFC = ROOT.parent / "shared" / "models" / "tfc"


def timed(fn, repeat):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    from hwgen.build import build
    from hwgen.frontend import import_model
    from hwgen.report import table
    from hwgen.transforms.passes import lower

    models = sorted(TFC.glob("TFC_*.onnx"))
    if not models:
        print(f"no TFC models in {TFC}; this benchmark needs ../shared", file=sys.stderr)
        return 1
    models.append(ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx")
    import_model(models[0])  # warm imports (onnxruntime, qonnx) outside the timings
    rows = []
    for m in models:
        t_import, mw = timed(lambda: import_model(m), a.repeat)
        imported = iter([import_model(m) for _ in range(a.repeat)])
        t_stream, _ = timed(lambda: lower(next(imported), str(m)), a.repeat)
        with tempfile.TemporaryDirectory() as d:
            t_build, _ = timed(lambda: build(m, Path(d) / "o"), a.repeat)
        t_base, _ = timed(lambda: cleanup_model(ModelWrapper(str(m))), a.repeat)
        rows.append([m.stem, f"{t_import:.3f}", f"{t_stream:.3f}", f"{t_build - t_import - t_stream:.3f}",
                     f"{t_build:.3f}", f"{t_base:.3f}", f"{t_build / t_base:.2f}x"])
    print(table(rows, ["model", "import s", "lower s", "fold + generate + write s", "build total s", "qonnx cleanup s",
                       "build / cleanup"]))
    print(f"\nmedian of {a.repeat} runs each; target: build total well under 2 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
