"""HLS C simulation (the csim backend) speed: compile time and frames/s, against the reference backend in the same run.

C simulation runs the generated HLS C++ as the hardware runs it: the DATAFLOW processes concurrently (coroutines,
templates/hls/hwgen_csim.hpp), every stream a FIFO of its depth, compiled with g++ -O2, the kernels' per-cycle
arithmetic on 64-bit integers (templates/hls/hwgen_native.hpp), one ctypes call per batch. Cases:
- TFC_1W1A / 1W2A / 2W2A (../shared) at `--target-fps 1e6` on the MNIST test images;
- the jet tagger look-alike (tests/frontend_models.py `qkeras_mlp`, `--input-dtype FIXED<16,6>`: every layer in
  hardware) on random FIXED<16,6> inputs;
- CNV-1W1A (tests/models/cnn) at FINN's fold_cnv_large on its saved CIFAR-10 inputs, repeated.
Per case: `hwgen build`, the csim backend's compile from an empty cache (a private HWGEN_CACHE_DIR), then the
hardware part (`execute_ints` on the quantized frames), median of --repeat runs after a warm-up; the reference
backend (the layers' numpy `execute()`) on the same frames as the baseline; outputs checked equal.

    python benchmarks/bench_csim.py [--images 10000] [--cnv-frames 1000] [--repeat 3] [--only TFC_1W1A,jet,CNV]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TFC = ROOT.parent / "shared" / "models" / "tfc"
MNIST = ROOT.parent / "shared" / "data" / "mnist" / "t10k-images-idx3-ubyte.gz"
QUIET = dict(log=lambda *a, **k: None)


def mnist_images(n: int) -> np.ndarray:
    with gzip.open(MNIST) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    return (x / 255.0).astype(np.float32)


def median_s(fn, repeat: int) -> tuple[float, object]:
    r = fn()  # warm-up
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), r


def build_case(name: str, d: Path, a) -> tuple[Path, np.ndarray]:
    """OUT of the case and its float inputs."""
    from hwgen.build import build, compile_model
    from hwgen.cli import main as hwgen_main

    out = d / name
    if name.startswith("TFC"):
        build(TFC / f"{name}.onnx", out, target_fps=1e6, **QUIET)
        return out, mnist_images(a.images)
    if name == "jet":
        import onnx

        from tests.frontend_models import qkeras_mlp

        onnx.save(qkeras_mlp(seed=1), d / "jet.onnx")
        hwgen_main(["build", str(d / "jet.onnx"), "-o", str(out), "-q", "--input-dtype", "FIXED<16,6>",
                    "--target-fps", "1000000"])
        x = np.random.default_rng(0).integers(-2 ** 15, 2 ** 15, (a.jet_frames, 16)) * 2.0 ** -10
        return out, x.astype(np.float32)
    from tests.cnn_models import io_pair, model_path
    from tests.handmade_cnv import fold_cnv_large_file

    model = model_path("cnv_1w1a.onnx.gz", d)
    names = [lay.name for lay in compile_model(model).layers if lay.op in ("MVAU", "VVAU")]
    (d / "FOLD.json").write_text(json.dumps(fold_cnv_large_file(names)))
    build(model, out, folding_file=d / "FOLD.json", **QUIET)
    x, _ = io_pair("cnv_1w1a.onnx.gz")
    return out, np.resize(x, (a.cnv_frames, *x.shape[1:]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--jet-frames", type=int, default=20000)
    ap.add_argument("--cnv-frames", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="TFC_1W1A,TFC_1W2A,TFC_2W2A,jet,CNV")
    a = ap.parse_args()
    from hwgen.report import table
    from hwgen.runtime.accelerator import Accelerator

    cases = a.only.split(",")
    if any(c.startswith("TFC") for c in cases) and not (TFC.is_dir() and MNIST.is_file()):
        print(f"no TFC models in {TFC} or no MNIST at {MNIST}; the TFC cases need ../shared", file=sys.stderr)
        return 1
    rows = []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        os.environ["HWGEN_CACHE_DIR"] = str(d / "cache")  # a cold compile, measured
        for name in cases:
            out, x = build_case(name, d, a)
            t = time.perf_counter()
            acc = Accelerator(out, "csim")
            compile_s = time.perf_counter() - t
            ref = Accelerator(out, "reference")
            q = acc.graph.head_ints(x)
            n = len(q)
            t_csim, y = median_s(lambda: acc.execute_ints(q), a.repeat)
            t_ref, y_ref = median_s(lambda: ref.execute_ints(q), a.repeat)
            if not np.array_equal(y, y_ref):
                print(f"{name}: C simulation differs from the reference", file=sys.stderr)
                return 1
            rows.append([name, str(n), f"{compile_s:.1f}", f"{n / t_csim:,.0f}", f"{t_csim:.2f}",
                         f"{n / t_ref:,.0f}", f"{t_ref / t_csim:.2f}x"])
    print(table(rows, ["model", "frames", "compile s (g++ -O2, cold)", "csim frames/s", "csim s",
                       "reference frames/s", "csim / reference"]))
    print(f"\nhardware part only (integer frames in -> integer frames out), one call per batch; frames/s: median of "
          f"{a.repeat} runs after a warm-up; the processes of each DATAFLOW region concurrent on FIFOs of their "
          "depths.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
