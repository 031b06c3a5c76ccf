"""Sliding-window / Pad / Pool kinds in rtlsim: the handmade graphs of tests/test_window_kinds.py built and run in
the Verilator harness; per layer the model's cycles() against the measured figures (steady cycles per frame on the
layer's output stream, and active cycles: neither starved nor blocked), and the graph's measured cycles per frame
against the slowest layer's cycles().

    python benchmarks/bench_window_rtlsim.py [--frames N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwgen.build import write_build  # noqa: E402
from hwgen.runtime.accelerator import Accelerator  # noqa: E402
from tests.handmade import handmade_graph, random_input  # noqa: E402
from tests.test_window_kinds import GRAPHS  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=8)
    a = ap.parse_args()
    print(f"{'graph':11} {'layer':8} {'model':>7} {'active':>8} {'err%':>6} {'cpf':>8}")
    with tempfile.TemporaryDirectory() as d:
        for name, make in GRAPHS.items():
            layers, shape = make()
            g = handmade_graph(layers, input_shape=shape)
            out = Path(d) / name
            write_build(g, out, log=lambda *x: None)
            acc = Accelerator(out, backend="rtlsim")
            t = time.perf_counter()
            acc.execute_ints(acc.graph.head_ints(random_input(acc.graph, a.frames, seed=1)))
            st = acc.stats()
            for lay in g.layers:
                m = st["layers"][lay.name]
                err = 100.0 * (m["active_cycles"] - lay.cycles()) / lay.cycles()
                print(f"{name:11} {lay.name:8} {lay.cycles():7d} {m['active_cycles']:8.1f} {err:6.1f} "
                      f"{m['cycles_per_frame']:8.1f}")
            bound = max(lay.cycles() for lay in g.layers)
            print(f"{name:11} {'graph':8} {bound:7d} {'':8} {100.0 * (st['cycles_per_frame'] - bound) / bound:6.1f} "
                  f"{st['cycles_per_frame']:8.1f}   ({time.perf_counter() - t:.1f} s rtlsim)")


if __name__ == "__main__":
    main()
