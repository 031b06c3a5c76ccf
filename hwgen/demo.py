"""`hwgen demo`: the main job end to end on a model shipped with the repository.

Builds examples/digits/digits_mlp_w2a2.onnx (a 2-bit MLP trained on scikit-learn's digits by
examples/digits/train_digits_mlp.py), runs its test split through every backend available in this version,
compares each with qonnx's execution of the original graph, and prints accuracy, agreement and throughput.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from hwgen.errors import HwgenError
from hwgen.verify import golden as qonnx_golden

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "digits"


def run_demo(out: Path, log=print) -> int:
    from hwgen.build import build
    from hwgen.report import layer_table, table

    model = EXAMPLES / "digits_mlp_w2a2.onnx"
    data = EXAMPLES / "digits_test.npz"
    if not model.is_file() or not data.is_file():
        raise HwgenError(f"demo model or data not found in {str(EXAMPLES)!r}; run from a source checkout "
                         "(pip install -e .).")
    d = np.load(data)
    x, y = (d["X_test"] / 16.0).astype(np.float32), d["y_test"]
    log(f"[1/3] building {model.name} for pynq-z2 at 1,000,000 frames/s -> {out}/")
    s = build(model, out, target_fps=1_000_000, log=lambda *a: None)
    log(layer_table(s))
    e = s["estimate"]
    log(f"      {e['cycles_per_frame']} cycles/frame at {s['clock_mhz']:g} MHz = {e['fps']:,.0f} frames/s "
        f"estimated; build took {s['build_seconds']:.2f} s")
    log(f"[2/3] golden: qonnx execute_onnx of the original graph on {len(x)} test images")
    t = time.perf_counter()
    golden = qonnx_golden(model, x)
    t_q = time.perf_counter() - t
    log("[3/3] backends (the slow steps compile once: numba kernels, C simulation, the Verilator model)")
    from hwgen.runtime.accelerator import Accelerator

    rows = [["qonnx (golden)", f"{(golden.argmax(1) == y).mean() * 100:.2f} %", "-", f"{len(x) / t_q:,.0f}", "-"]]
    ok_all = True
    ref = None
    for name in BACKENDS:  # csim / rtlsim show a bar of frames, the first cpu run one while compiling
        log(f"      {name}: preparing ...")
        t = time.perf_counter()
        acc = Accelerator(out, name, wait_for_kernels=True)  # the cpu kernels themselves, not their stand-in
        t_prep = time.perf_counter() - t
        t = time.perf_counter()
        y_b = acc.execute(x)
        dt = time.perf_counter() - t
        if ref is None:
            ref = y_b
        same = np.array_equal(y_b, ref)
        close = np.array_equal(y_b.argmax(1), golden.argmax(1)) and np.allclose(
            y_b, golden, rtol=1e-5, atol=1e-5 * np.abs(golden).max())
        ok_all &= same and close
        extra = acc.stats().get("cycles_per_frame")
        rows.append([name, f"{(y_b.argmax(1) == y).mean() * 100:.2f} %",
                     ("yes" if close else "NO") + (", = reference" if same else ", != reference"),
                     f"{len(x) / dt:,.0f}", f"{t_prep:.1f} s" + (f"; {extra} cycles/frame" if extra else "")])
        log(f"      {name}: done in {t_prep + dt:.1f} s")
    log(table(rows, ["backend", "accuracy", "agrees with qonnx", "images/s", "setup"]))
    log("all backends bit-exact" if ok_all else "MISMATCH between backends")
    return 0 if ok_all else 1


BACKENDS = ("reference", "cpu", "csim", "rtlsim")
