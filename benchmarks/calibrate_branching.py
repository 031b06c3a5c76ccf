"""Calibrate the resource models of Duplicate, AddStreams, Concat and Upsample (hwgen.layers.branching_cost)
against yosys `synth_xilinx -family xc7` on their generated RTL (hwgen.codegen.rtl.write_node). Prints estimate
vs yosys per point (LUT, FF, LUTRAM) and the mean / worst LUT and FF errors.

    python benchmarks/calibrate_branching.py [--only ID,ID]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hwgen.dtypes import BIPOLAR, DType  # noqa: E402
from hwgen.layers.branching import AddStreams, Concat, Duplicate  # noqa: E402
from hwgen.layers.upsample import Upsample  # noqa: E402
sys.path.insert(0, str(ROOT / "benchmarks"))
from calibrate_resources import synth_cached  # noqa: E402  (yosys results cached by a hash of the Verilog)

U = lambda b: DType(b, False)  # noqa: E731
S = lambda b: DType(b, True)  # noqa: E731


def _thr(c, t, lo, hi, seed=0):
    return np.sort(np.random.default_rng(seed).integers(lo, hi + 1, size=(c, t)), axis=1)


# not used for fitting: how the models generalize
HOLDOUT = {"add_thr_u2_p4", "add_mul_s4_p2", "cat_2x_p4_mixed", "up_w12_c6_p3"}


def points():
    return [
        AddStreams("add_thr_u2_p4", U(2), U(2), U(2), (4, 4), 16, thresholds=_thr(16, 3, 0, 6), pe=4),
        AddStreams("add_mul_s4_p2", S(4), S(4), S(7), (4, 4), 8, a_mul=2, b_mul=3, pe=2),
        Concat("cat_2x_p4_mixed", [U(3), S(2)], S(4), (4, 4), [8, 4], pe=4),
        Upsample("up_w12_c6_p3", U(5), (3, 12), 6, (2, 2), pe=3),
        Upsample("up_w64_c16_p1", U(4), (4, 64), 16, (2, 2), pe=1),
        AddStreams("add_thr_p8_nf2", U(4), S(4), U(3), (4, 4), 16, a_mul=2, b_mul=1,
                   thresholds=_thr(16, 7, -20, 40), pe=8),
        AddStreams("add_mul_u2_p2", U(2), U(2), U(6), (4, 4), 8, a_mul=7, b_mul=5, pe=2),
        Concat("cat_4x_p4", [U(2), U(3), S(4), U(1)], S(5), (4, 4), [4, 8, 4, 4], pe=4),
        Upsample("up_w8_c8_p2_f31", S(3), (8, 8), 8, (3, 1), pe=2),
        Duplicate("dup_w8", U(4), (4, 4), 8, pe=2),
        Duplicate("dup_w64_3", U(8), (4, 4), 8, n_outputs=3, pe=8),
        AddStreams("add_u4_p1", U(4), U(4), U(5), (4, 4), 16, pe=1),
        AddStreams("add_u4_p8", U(4), U(4), U(5), (4, 4), 16, pe=8),
        AddStreams("add_s8_p4", S(8), S(8), S(9), (4, 4), 16, pe=4),
        AddStreams("add_mul_p4", S(4), U(4), S(8), (4, 4), 16, a_mul=3, b_mul=-5, pe=4),
        AddStreams("add_thr_p4", S(4), U(3), U(2), (4, 4), 16, a_mul=3, b_mul=-2, thresholds=_thr(16, 3, -30, 40),
                   pe=4),
        AddStreams("add_thr_p16", S(4), S(4), U(4), (4, 4), 16, thresholds=_thr(16, 15, -16, 14), pe=16),
        AddStreams("add_thr_p4_m1", S(4), U(3), U(2), (4, 4), 16, thresholds=_thr(16, 3, -8, 20), pe=4),
        AddStreams("add_thr_p1_nf16", S(6), S(6), U(3), (4, 4), 16, thresholds=_thr(16, 7, -60, 60), pe=1),
        AddStreams("add_thr_p2_nf32", U(4), U(4), U(2), (4, 4), 64, thresholds=_thr(64, 3, 0, 30), pe=2),
        Concat("cat_2x_p1", [U(4), U(4)], U(4), (4, 4), [8, 8], pe=1),
        Concat("cat_2x_p8", [U(4), S(3)], S(5), (4, 4), [16, 8], pe=8),
        Concat("cat_3x_p2", [U(2), S(3), U(1)], S(4), (4, 4), [4, 6, 2], pe=2),
        Upsample("up_w8_c16_p4", U(4), (8, 8), 16, (2, 2), pe=4),
        Upsample("up_w16_c32_p2", U(4), (16, 16), 32, (2, 2), pe=2),
        Upsample("up_w4_c8_p8", S(8), (4, 4), 8, (3, 2), pe=8),
        Upsample("up_w16_c4_p1", U(4), (4, 16), 4, (2, 2), pe=1),
        Upsample("up_w32_c4_p1", U(4), (4, 32), 4, (2, 2), pe=1),
        Upsample("up_w32_c16_p1", U(4), (4, 32), 16, (2, 2), pe=1),
        Upsample("up_w32_c64_p1", U(2), (32, 32), 64, (2, 2), pe=1),
    ]


def measure(node) -> dict:
    r = synth_cached(node)
    return {"luts": r["LUT"], "ffs": r["FF"], "lutram": r.get("LUTRAM", 0), "bram18": r.get("BRAM18", 0)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="")
    a = ap.parse_args(argv)
    only = set(filter(None, a.only.split(",")))
    errs = {(g, k): [] for g in ("fit", "holdout") for k in ("luts", "ffs")}
    print(f"{'point':18s} {'LUT est':>8s} {'yosys':>6s} {'err%':>6s} {'FF est':>7s} {'yosys':>6s} {'err%':>6s}"
          f" {'LUTRAM est':>10s} {'yosys':>6s} {'BRAM18 est':>10s} {'yosys':>6s}")
    if True:
        for n in points():
            if only and n.name not in only:
                continue
            est, got = n.resources(), measure(n)
            row = []
            for k in ("luts", "ffs"):
                e = (est[k] - got[k]) / max(got[k], 1) * 100
                errs[("holdout" if n.name in HOLDOUT else "fit", k)].append(abs(e))
                row += [est[k], got[k], e]
            print(f"{n.name + (' *' if n.name in HOLDOUT else ''):18s} {row[0]:8d} {row[1]:6d} {row[2]:6.1f} {row[3]:7d} {row[4]:6d} {row[5]:6.1f}"
                  f" {est['lutram']:10d} {got['lutram']:6d} {est['bram18']:10d} {got['bram18']:6d}")
    print("(* holdout point, not used for fitting)")
    for (g, k), v in errs.items():
        if v:
            print(f"{g} points ({len(v)}), {k}: mean |error| {np.mean(v):.1f} %, worst {max(v):.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
