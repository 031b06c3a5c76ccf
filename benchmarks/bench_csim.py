"""HLS C simulation of the TFC models: compile time (g++ and clang++) and images/s on the MNIST test set.

For each model: `hwgen build --target-fps 1000000`, then the csim backend compiles OUT/hls/hwgen_top.cpp into a
shared library (timed from a clean build directory, per compiler) and runs the hardware part on all 10,000
MNIST test images in one ctypes call per batch. Baseline in the same run: the reference backend (the layers'
numpy `execute()`) on the same integer inputs. Outputs are checked equal.

    python benchmarks/bench_csim.py [--images 10000] [--repeat 1]     (~5 min on 2 cores: the 2-bit models
    run ~200 images/s in C simulation)
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TFC = ROOT.parent / "shared" / "models" / "tfc"
MNIST = ROOT.parent / "shared" / "data" / "mnist" / "t10k-images-idx3-ubyte.gz"
COMPILERS = ("g++", "clang++")


def mnist_images(n: int) -> np.ndarray:
    with gzip.open(MNIST) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    return (x / 255.0).astype(np.float32)


def rate(fn, n: int, repeat: int) -> tuple[float, object]:
    ts, r = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        r = fn()
        ts.append(time.perf_counter() - t)
    return n / statistics.median(ts), r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    from hwgen.build import build
    from hwgen.report import table
    from hwgen.runtime.accelerator import Accelerator

    models = sorted(TFC.glob("TFC_*.onnx"))
    if not models or not MNIST.is_file():
        print(f"no TFC models in {TFC} or no MNIST at {MNIST}; this benchmark needs ../shared", file=sys.stderr)
        return 1
    x = mnist_images(a.images)
    n = len(x)
    rows = []
    for m in models:
        row = [m.stem]
        compile_s, rates = {}, {}
        with tempfile.TemporaryDirectory() as d:
            for comp in COMPILERS:
                out = Path(d) / comp.replace("+", "x")
                build(m, out, target_fps=1e6, log=lambda *_: None)
                t = time.perf_counter()
                acc = Accelerator(out, "csim", compiler=comp)  # writes OUT/hls again and compiles it
                compile_s[comp] = time.perf_counter() - t
                q = acc.graph.head_ints(x)
                rates[comp], y = rate(lambda: acc.execute_ints(q), n, a.repeat)
                ref = Accelerator(out, "reference")
                ref_rate, y_ref = rate(lambda: ref.execute_ints(q), n, a.repeat)
                if not np.array_equal(y, y_ref):
                    print(f"{m.stem}: {comp} C simulation differs from the reference", file=sys.stderr)
                    return 1
        row += [f"{compile_s[c]:.1f}" for c in COMPILERS]
        row += [f"{rates[c]:,.0f}" for c in COMPILERS]
        row += [f"{ref_rate:,.0f}", f"{rates['g++'] / ref_rate:.2f}x"]
        rows.append(row)
    print(table(rows, ["model", "g++ compile s", "clang++ compile s", "g++ csim img/s", "clang++ csim img/s",
                       "reference img/s", "g++ csim / reference"]))
    print(f"\n{n} MNIST test images, hardware part only (integer in -> integer out), one call per batch; "
          f"images/s: median of {a.repeat} runs; compile: one cold compile per compiler (-O1).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
