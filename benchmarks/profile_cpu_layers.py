"""Where the cpu backend's time goes: each step of a design's plan timed alone, process CPU time, one thread.

    python benchmarks/profile_cpu_layers.py mnist_cnn_w4a4,resnet_w4a4,TFC_2W2A [--frames 1000]

Models: the CNNs of tests/models/cnn by name, or TFC_* from ../shared/models/tfc. Prints per step its kernel
class and milliseconds on --frames random frames (uniform in [0, 1)), then the whole `execute` (the compiled
per-design driver, head and tail included) and the head alone. Each step's kernel runs on the whole batch
here, whereas `execute` runs tiles that stay in L2: the sum of the steps can exceed `execute`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def model_path(name: str) -> Path:
    if name.startswith("TFC"):
        return ROOT.parent / "shared" / "models" / "tfc" / f"{name}.onnx"
    from tests.cnn_models import CNN_DIR

    return CNN_DIR / f"{name}.onnx"


def profile(name: str, n: int) -> None:
    from hwgen.build import build
    from hwgen.runtime.accelerator import Accelerator
    from sw_fallback.formats import convert

    out = Path(tempfile.mkdtemp()) / "out"
    build(model_path(name), out, log=lambda *a: None)
    acc = Accelerator(out, "cpu", threads=1, driver="wait")
    be = acc.backend
    be.plan  # waits for the compiled backend
    be = getattr(be, "_inner", be)
    x = np.random.default_rng(0).uniform(0, 1, (n,) + tuple(acc.graph.input_shape[1:])).astype(np.float32)
    acc.execute(x[:2])
    first = be.head_first(x)
    for _ in range(2):  # the second round is the one printed (kernels loaded, memory touched)
        vals, rows = {(None, 0): first}, []
        for (run, ins, out_fmts, outs, _drop), st in zip(be._prog, be.steps):
            t = time.process_time()
            xs = [vals[k] if c is None else convert(vals[k], *c) for k, c in ins]
            for k, v in zip(outs, run(xs, out_fmts)):
                vals[k] = v
            rows.append((st.layer.name, type(st.kernel).__name__, time.process_time() - t))
    acc.execute(x)
    t = time.process_time()
    acc.execute(x)
    whole = time.process_time() - t
    t = time.process_time()
    be.head_first(x)
    head = time.process_time() - t
    print(f"== {name}, {n} frames: steps {sum(r[2] for r in rows) * 1e3:.1f} ms, execute {whole * 1e3:.1f} ms, "
          f"head {head * 1e3:.1f} ms (driver: {be.stats()['driver']})")
    for layer, kind, s in rows:
        print(f"  {layer:40s} {kind:20s} {s * 1e3:8.2f} ms")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models")
    ap.add_argument("--frames", type=int, default=1000)
    a = ap.parse_args(argv)
    for name in a.models.split(","):
        profile(name, a.frames)


if __name__ == "__main__":
    main()
