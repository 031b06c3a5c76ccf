"""cpu backend start: time to the first result on the digits demo model, cold (empty NUMBA_CACHE_DIR) and warm,
for the default (kernels compiled in the background, numpy reference meanwhile) and for waiting for the kernels
(the behaviour before: wait_for_kernels=True). Each case is a fresh process; ratios are to the waiting cold start.

    python benchmarks/bench_cpu_cold.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from hwgen.runtime.accelerator import Accelerator
d = np.load(sys.argv[2]); x = (d["X_test"] / 16.0).astype(np.float32)
t1 = time.perf_counter()
acc = Accelerator(sys.argv[1], "cpu", wait_for_kernels=sys.argv[3] == "1")
y = acc.execute(x)
t2 = time.perf_counter()
ref = Accelerator(sys.argv[1], "reference").execute(x)
print(json.dumps({"imports_s": t1 - t0, "first_result_s": t2 - t1, "ready": acc.backend.ready,
                  "exact": bool(np.array_equal(y, ref))}), flush=True)
"""


def run(out, cache, wait):
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", PROBE, str(out), str(ROOT / "examples/digits/digits_test.npz"),
                        "1" if wait else "0"], capture_output=True, text=True, cwd=ROOT, check=True,
                       env={**__import__("os").environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)})
    d = json.loads(r.stdout.strip().splitlines()[-1])
    d["process_s"] = time.perf_counter() - t
    return d


def main():
    from hwgen.build import build
    from hwgen.report import table

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "digits"
        build(ROOT / "examples/digits/digits_mlp_w2a2.onnx", out, target_fps=1_000_000, log=lambda *a: None)
        rows, base = [], None
        for wait in (True, False):
            cache = Path(tmp) / f"numba_cache_{int(wait)}"
            for state in ("cold", "warm"):
                d = run(out, cache, wait)
                base = base or d["first_result_s"]
                rows.append(["wait for kernels (before)" if wait else "background compile (default)", state,
                             f"{d['first_result_s']:.2f}", f"{base / d['first_result_s']:.1f}x",
                             f"{d['process_s']:.1f}", "yes" if d["ready"] else "no (numpy reference)",
                             "yes" if d["exact"] else "NO"])
        print(table(rows, ["cpu backend", "numba cache", "first result s", "speed-up", "process s",
                           "kernels used", "bit-exact"]))


if __name__ == "__main__":
    main()
