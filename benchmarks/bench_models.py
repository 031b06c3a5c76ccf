"""The README's model table: every model in ../shared, built for a target rate on pynq-z2, measured in rtlsim,
estimated and synthesized (yosys), with BRAM efficiency and build time.

    python benchmarks/bench_models.py [--fps 500000] [--frames 1000] [--no-synth] [--markdown]
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
MODELS = ROOT.parent / "shared" / "models"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fps", type=float, default=500_000)
    ap.add_argument("--board", default="pynq-z2")
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table for the README")
    a = ap.parse_args()
    from hwgen.build import build
    from hwgen.report import markdown_table, table
    from hwgen.runtime.accelerator import Accelerator
    from tests.conftest import load_mnist

    models = sorted(MODELS.rglob("*.onnx"))
    if not models:
        print(f"no models under {MODELS}; this benchmark needs ../shared", file=sys.stderr)
        return 1
    x, _ = load_mnist(a.frames)
    rows = []
    for m in models:
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            s = build(m, Path(d) / "o", board=a.board, target_fps=a.fps, synth=not a.no_synth,
                      log=lambda *_: None)
            t_build = time.perf_counter() - t - s.get("synth", {}).get("seconds", 0)
            acc = Accelerator(Path(d) / "o", "rtlsim")
            y = acc.execute(x)
            exact = np.array_equal(y, Accelerator(Path(d) / "o", "reference").execute(x))
            meas = acc.stats()
            e, syn, mem = s["totals"]["design_estimate"], s.get("synth", {}), s["memory"]["totals"]
            rows.append([m.stem, f"{a.fps:,.0f}", s["estimate"]["cycles_per_frame"],
                         f"{meas.get('cycles_per_frame', float('nan')):.1f}", "yes" if exact else "NO",
                         f"{e['luts']:,} / {e['ffs']:,} / {e['bram18']} / {e['dsps']}",
                         f"{syn['luts']:,} / {syn['ffs']:,} / {syn['brams']} / {syn['dsps']}" if syn else "-",
                         f"{mem['efficiency'] * 100:.0f} %", f"{t_build:.2f}"])
    head = ["model", "target fps", "cycles/frame (model)", "cycles/frame (rtlsim)", "bit-exact",
            "estimate LUT/FF/BRAM18/DSP", "yosys LUT/FF/BRAM18/DSP", "BRAM efficiency", "build s"]
    print(markdown_table(rows, head) if a.markdown else table(rows, head))
    print(f"\nboard {a.board}; rtlsim on {a.frames} MNIST images; build s excludes yosys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
