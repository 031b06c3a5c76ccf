"""CNV-1W1A (FINN's CIFAR-10 CNV, tests/models/cnn) figures: build time, RTL simulation speed, yosys resources.

Prints three tables, each with TFC_1W1A (../shared) measured in the same run as the baseline:
1. build time of `hwgen build` (default folding search, and FINN's fold_cnv_large as a FOLD.json of the 9 matrix
   layers), split into phases (import, streamline, fold, summary + write) - goal: < 5 s;
2. rtlsim at fold_cnv_large: Verilator harness build time, simulated cycles/s, frames/s, measured cycles per
   frame against the 32,768-cycle bound, per-layer measured active cycles against cycles();
3. yosys synth_xilinx LUT / FF / BRAM18 / DSP of CNV-1W1A at fold_cnv_large, per block, and how long it took
   (--no-synth to skip).

    python benchmarks/bench_cnv.py [--frames 8] [--no-synth] [--no-rtlsim] [--handmade]

--handmade: the handmade CNV-1W1A graph (tests/handmade_cnv.py: same shapes, random weights) instead of the ONNX
model (no import / streamline phases).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TFC = ROOT.parent / "shared" / "models" / "tfc" / "TFC_1W1A.onnx"
TFC_FOLD = {"MVAU_0": {"PE": 16, "SIMD": 49}, "MVAU_1": {"PE": 8, "SIMD": 8}, "MVAU_2": {"PE": 8, "SIMD": 8},
            "MVAU_3": {"PE": 10, "SIMD": 8}}
QUIET = dict(log=lambda *_: None)


def phases(model, out: Path, folding=None) -> tuple[dict, object]:
    """Seconds per phase of `hwgen build` (the same calls build() makes, timed one by one)."""
    from hwgen.build import compile_model, write_build
    from hwgen.frontend import import_model
    from hwgen.transforms.passes import lower

    t = {}
    t0 = time.perf_counter()
    mw = import_model(str(model))
    t["import"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    lower(mw, str(model), None)
    t["streamline"] = time.perf_counter() - t1
    # compile_model repeats import + streamline: its fold share is the rest
    t2 = time.perf_counter()
    g = compile_model(model, folding_file=folding)
    t["fold"] = max(0.0, time.perf_counter() - t2 - t["import"] - t["streamline"])
    t3 = time.perf_counter()
    s = write_build(g, out, **QUIET)
    t["write (summary, HLS, RTL, driver)"] = time.perf_counter() - t3
    t["total"] = t["import"] + t["streamline"] + t["fold"] + t["write (summary, HLS, RTL, driver)"]
    return t, s


def handmade_phases(out: Path, folding=None) -> tuple[dict, object]:
    from hwgen.boards import get_board
    from hwgen.build import write_build
    from hwgen.fold import fold_graph
    from tests.handmade_cnv import cnv_graph

    t = {}
    t0 = time.perf_counter()
    g = cnv_graph()
    t["make graph"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    g.meta["folding"] = fold_graph(g.layers, get_board(g.meta["board"]), folding_file=folding, edges=g.edges)
    t["fold"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    s = write_build(g, out, **QUIET)
    t["write (summary, HLS, RTL, driver)"] = time.perf_counter() - t2
    t["total"] = sum(t.values())
    return t, s


def matrix_names(model, handmade: bool) -> list[str]:
    """The matrix layers (op MVAU / VVAU) in graph order, as summary.json lists them."""
    if handmade:
        from tests.handmade_cnv import cnv_graph, matrix_layers

        return [lay.name for lay in matrix_layers(cnv_graph().layers)]
    from hwgen.build import compile_model, summary

    return [lay["name"] for lay in summary(compile_model(model))["layers"] if lay["op"] in ("MVAU", "VVAU")]


def rtlsim(out: Path, x) -> dict:
    from hwgen.runtime.accelerator import Accelerator

    t = time.perf_counter()
    acc = Accelerator(out, "rtlsim")
    t_vl = time.perf_counter() - t
    t = time.perf_counter()
    y = acc.execute(x)
    t_run = time.perf_counter() - t
    st, tm = acc.stats(), acc.backend.last_timing
    exact = bool(np.array_equal(y, Accelerator(out).execute(x)))
    return {"verilator_build": t_vl, "run": t_run, "stats": st, "timing": tm, "exact": exact, "frames": len(x)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--no-rtlsim", action="store_true")
    ap.add_argument("--handmade", action="store_true")
    a = ap.parse_args()
    from hwgen.report import table
    from tests.cnn_models import model_path
    from tests.handmade_cnv import CNV_BOUND_CYCLES, fold_cnv_large_file

    with tempfile.TemporaryDirectory(prefix="bench_cnv-") as d:
        d = Path(d)
        model = None if a.handmade else model_path("cnv_1w1a.onnx.gz", d)
        (d / "tfc.json").write_text(json.dumps(TFC_FOLD))
        (d / "cnv.json").write_text(json.dumps(fold_cnv_large_file(matrix_names(model, a.handmade))))
        runs = {}
        base, _ = phases(TFC, d / "tfc", d / "tfc.json")
        runs["TFC_1W1A, published folding (baseline)"] = base
        for label, ff in (("CNV-1W1A, default search", None), ("CNV-1W1A, fold_cnv_large", d / "cnv.json")):
            out = d / ("cnv_large" if ff else "cnv_search")
            runs[label], s = handmade_phases(out, ff) if a.handmade else phases(model, out, ff)
            runs[label]["cycles/frame (estimate)"] = s["estimate"]["cycles_per_frame"]
            runs[label]["bottleneck"] = s["estimate"]["bottleneck"]
        order = ["make graph", "import", "streamline", "fold", "write (summary, HLS, RTL, driver)", "total",
                 "cycles/frame (estimate)", "bottleneck"]
        cols = [k for k in order if any(k in r for r in runs.values())]
        rows = []
        for label, r in runs.items():
            rows.append([label] + [f"{r[k]:.2f}" if isinstance(r.get(k), float) else r.get(k, "-") for k in cols]
                        + [f"{r['total'] / base['total']:.1f}x"])
        print("hwgen build, seconds per phase (goal for CNV: total < 5 s)\n")
        print(table(rows, ["build"] + cols + ["total / TFC"]))
        if not a.handmade:  # the images saved with the model (CIFAR-10-like, scaled as trained), repeated
            from tests.cnn_models import io_pair

            xs, _ = io_pair("cnv_1w1a.onnx.gz")
            x = np.concatenate([xs] * (a.frames // len(xs) + 1))[:a.frames]
        else:
            from tests.handmade import random_input
            from hwgen.graph import HwGraph

            x = random_input(HwGraph.load(d / "cnv_large"), a.frames)
        if not a.no_rtlsim:
            from tests.conftest import load_mnist

            xt, _ = load_mnist(1000)
            tfc = rtlsim(d / "tfc", xt)
            cnv = rtlsim(d / "cnv_large", x)
            rows = []
            for label, r in (("TFC_1W1A (baseline), 1,000 frames", tfc), (f"CNV-1W1A fold_cnv_large, {a.frames} "
                                                                           "frames", cnv)):
                tm, st = r["timing"], r["stats"]
                rows.append([label, f"{r['verilator_build']:.1f}", f"{tm['sim_seconds']:.2f}",
                             f"{tm['cycles_per_second'] / 1e6:.2f}", f"{r['frames'] / tm['sim_seconds']:,.1f}",
                             st["cycles_per_frame"], r["exact"]])
            print("\nrtlsim (Verilator)\n")
            print(table(rows, ["design", "harness build s", "sim s", "M cycles/s", "frames/s", "cycles/frame",
                               "bit-exact"]))
            cpf = cnv["stats"]["cycles_per_frame"]
            print(f"\nCNV-1W1A measured {cpf} cycles/frame; bound {CNV_BOUND_CYCLES} "
                  f"({100 * (cpf / CNV_BOUND_CYCLES - 1):+.2f} %, acceptance: within 2 %)\n")
            print(table([[n, v["estimate"], v["active_cycles"], f"{100 * (v['active_cycles'] / v['estimate'] - 1):+.2f} %",
                          v["cycles_per_frame"]] for n, v in cnv["stats"]["layers"].items()],
                        ["layer", "cycles()", "measured active", "difference", "measured interval"]))
        if not a.no_synth:
            from hwgen.boards import get_board
            from hwgen.graph import HwGraph
            from hwgen.sim.yosys import synth_build

            t = time.perf_counter()
            s = synth_build(d / "cnv_large", HwGraph.load(d / "cnv_large"), get_board(None), log=None, jobs=2)
            t_syn = time.perf_counter() - t
            est = json.loads((d / "cnv_large" / "report" / "summary.json").read_text())
            est_l = {lay["name"]: lay["resources"]["estimate"] for lay in est["layers"]}
            rows = [[n, v["luts"], est_l.get(n, {}).get("luts", "-"), v["ffs"], v["brams"],
                     est_l.get(n, {}).get("bram18", "-"), v["dsps"], v["seconds"]]
                    for n, v in list(s["layers"].items()) + list(s["glue"].items())]
            de = est["totals"]["design_estimate"]
            rows.append(["total", s["luts"], de["luts"], s["ffs"], s["brams"], de["bram18"], s["dsps"],
                         f"{t_syn:.0f} (wall)"])
            print(f"\nyosys synth_xilinx -family {s['family']}, CNV-1W1A at fold_cnv_large (out of context, per "
                  f"block; 2 jobs): {t_syn:.0f} s\n")
            print(table(rows, ["block", "LUT", "LUT est.", "FF", "BRAM18", "BRAM18 est.", "DSP", "yosys s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
