"""Calibrate the SWG / Pad / Pool cost models (hwgen/layers/window_cost.py) against yosys `synth_xilinx -family
xc7` on the generated RTL (each kind's own template and context, as in a build).

Sweeps sliding-window generators (line buffers from a few words in LUT-RAM to several BRAM18, 1-D and 2-D, SIMD,
stride, dilation), padding blocks and pools (max and Trunc average, PE, channel folds). yosys results are cached
like benchmarks/calibrate_resources.py (~/.cache/hwgen/yosys). Prints estimate vs yosys per point with the error
and the mean / worst absolute LUT and FF error per kind; writes benchmarks/results/window_calibration.csv.

    python benchmarks/calibrate_window.py [--no-synth] [--only ID,ID] [--fit]

--fit prints least-squares LUT constants for the model's structural terms (what window_cost.py holds).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from calibrate_resources import synth_cached  # noqa: E402

from hwgen.dtypes import BIPOLAR, DType  # noqa: E402
from hwgen.layers import window_cost  # noqa: E402
from hwgen.layers.pool import Pool  # noqa: E402
from hwgen.layers.swg import Pad, SlidingWindow  # noqa: E402

CSV_PATH = ROOT / "benchmarks" / "results" / "window_calibration.csv"
U, S = (lambda b: DType(b, False)), (lambda b: DType(b, True))

# SWG: id, dtype, (H, W), C, SIMD, kernel, stride, dilation, mem_style
SWG_POINTS = [
    ("swg_1d_k3", U(4), (1, 32), 8, 8, (1, 3), (1, 1), (1, 1), "auto"),
    ("swg_1d_k5_d2", S(8), (1, 64), 16, 4, (1, 5), (1, 1), (1, 2), "auto"),
    ("swg_8x8_k3_s1", U(2), (8, 8), 16, 4, (3, 3), (1, 1), (1, 1), "auto"),
    ("swg_cnv0", U(8), (32, 32), 3, 3, (3, 3), (1, 1), (1, 1), "auto"),
    ("swg_cnv1", BIPOLAR, (30, 30), 64, 32, (3, 3), (1, 1), (1, 1), "auto"),
    ("swg_cnv3", BIPOLAR, (12, 12), 128, 32, (3, 3), (1, 1), (1, 1), "auto"),
    ("swg_cnv5", BIPOLAR, (3, 3), 256, 32, (3, 3), (1, 1), (1, 1), "auto"),
    ("swg_16x16_k2_s2", S(4), (16, 16), 32, 8, (2, 2), (2, 2), (1, 1), "auto"),
    ("swg_28x28_k5", U(4), (28, 28), 8, 2, (5, 5), (1, 1), (1, 1), "auto"),
    ("swg_20x24_k3x2_d2", S(4), (20, 24), 12, 6, (3, 2), (1, 2), (2, 1), "auto"),
    ("swg_64x64_k3_c32", U(4), (64, 64), 32, 16, (3, 3), (1, 1), (1, 1), "auto"),
    ("swg_16x16_k3_dist", U(4), (16, 16), 16, 8, (3, 3), (1, 1), (1, 1), "distributed"),
    ("swg_16x16_k3_block", U(4), (16, 16), 16, 8, (3, 3), (1, 1), (1, 1), "block"),
    ("swg_10x10_k3_c4", S(2), (10, 10), 4, 1, (3, 3), (1, 1), (1, 1), "auto"),
    ("swg_1d_k9_c64", U(4), (1, 128), 64, 16, (1, 9), (1, 2), (1, 1), "auto"),
    ("swg_7x7_k7_c32", U(8), (7, 7), 32, 32, (7, 7), (1, 1), (1, 1), "auto"),
]
# Pad: id, dtype, (H, W), C, SIMD, pads, value
PAD_POINTS = [
    ("pad_32x32_c3", U(8), (32, 32), 3, 3, (1, 1, 1, 1), 0),
    ("pad_30x30_c64", BIPOLAR, (30, 30), 64, 32, (1, 1, 1, 1), -1),
    ("pad_1d", S(4), (1, 100), 16, 4, (0, 2, 0, 2), 0),
    ("pad_asym", S(6), (13, 7), 8, 8, (0, 1, 2, 0), -3),
]
# Pool: id, in dtype, out dtype, (OH, OW), window, C, PE, mode, shift, rounding
POOL_POINTS = [
    ("pool_max_b_c64", BIPOLAR, BIPOLAR, (14, 14), 4, 64, 32, "max", 0, "FLOOR"),
    ("pool_max_u2_c128", U(2), U(2), (5, 5), 4, 128, 16, "max", 0, "FLOOR"),
    ("pool_max_s8_c16", S(8), S(8), (8, 8), 9, 16, 4, "max", 0, "FLOOR"),
    ("pool_max_u4_pe1", U(4), U(4), (16, 16), 4, 8, 1, "max", 0, "FLOOR"),
    ("pool_avg_u4_g", U(4), U(4), (1, 1), 64, 32, 8, "trunc_avg", 6, "FLOOR"),
    ("pool_avg_s4_round", S(4), S(4), (7, 7), 4, 16, 16, "trunc_avg", 2, "ROUND"),
    ("pool_avg_u8_hu", U(8), U(8), (4, 4), 9, 32, 4, "trunc_avg", 3, "HALF_UP"),
    ("pool_avg_s4_g49", S(4), S(8), (1, 1), 49, 64, 2, "trunc_avg", 2, "CEIL"),
    ("pool_max_s4_c32", S(4), S(4), (8, 8), 4, 32, 32, "max", 0, "FLOOR"),
    ("pool_max_u8_c8", U(8), U(8), (4, 4), 9, 8, 8, "max", 0, "FLOOR"),
    ("pool_avg_u2_pe1", U(2), U(3), (6, 6), 4, 16, 1, "trunc_avg", 1, "HALF_DOWN"),
    ("pool_avg_s8_c8", S(8), S(8), (1, 1), 16, 8, 8, "trunc_avg", 4, "UP"),
]


def layers():
    for pid, dt, ifm, c, simd, k, s, d, ms in SWG_POINTS:
        yield pid, SlidingWindow(pid, dt, ifm, c, k, s, d, mem_style=ms, simd=simd)
    for pid, dt, ifm, c, simd, pads, v in PAD_POINTS:
        yield pid, Pad(pid, dt, ifm, c, pads, v, simd=simd)
    for pid, idt, odt, ofm, win, c, pe, mode, shift, rnd in POOL_POINTS:
        yield pid, Pool(pid, idt, odt, ofm, win, c, mode, shift=shift, rounding_mode=rnd, pe=pe)


def features(lay) -> dict:
    """The structural terms the LUT model weighs (window_cost), per kind."""
    if lay.op == "SWG":
        return window_cost.swg_features(lay.spec().template_context(), lay.memories()["line_buffer"])
    if lay.op == "Pad":
        return window_cost.pad_features(lay.spec().template_context())
    return window_cost.pool_features(lay.spec().template_context())


def err(est, ref) -> float:
    return 100.0 * (est - ref) / max(ref, 1)


def run(use_tool: bool, only=None) -> list[dict]:
    rows = []
    for pid, lay in layers():
        if only and pid not in only:
            continue
        r = synth_cached(lay, use_tool=use_tool)
        if r is None:
            print(f"{pid}: not synthesized (run without --no-synth)")
            continue
        est = lay.resources()
        mem = lay.memories().get("line_buffer", {})
        rows.append({"id": pid, "op": lay.op, "cycles": lay.cycles(),
                     "est_luts": est["luts"] + est["lutram"], "yosys_luts": r["LUT"] + r["LUTRAM"] + r["SRL"],
                     "est_ffs": est["ffs"], "yosys_ffs": r["FF"], "est_bram18": est["bram18"],
                     "yosys_bram18": r["BRAM18"], "est_lutram": est["lutram"], "yosys_lutram": r["LUTRAM"],
                     "buffer": f"{mem.get('depth', '')}x{mem.get('width', '')} {mem.get('style', '')}".strip(),
                     "features": features(lay), "logic_luts": r["LUT"] + r["SRL"]})
    return rows


def fit(rows):
    """Least squares (relative error) of the logic-LUT constants per kind."""
    for op in ("SWG", "Pad", "Pool"):
        rs = [r for r in rows if r["op"] == op]
        if not rs:
            continue
        keys = list(rs[0]["features"])
        a = np.array([[r["features"][k] for k in keys] for r in rs], dtype=float)
        y = np.array([r["logic_luts"] for r in rs], dtype=float)
        w = 1.0 / np.maximum(y, 1)
        coef, *_ = np.linalg.lstsq(a * w[:, None], y * w, rcond=None)
        print(op, {k: round(float(c), 3) for k, c in zip(keys, coef)})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-synth", action="store_true", help="cached yosys results only")
    ap.add_argument("--only", default="", help="comma-separated point ids")
    ap.add_argument("--fit", action="store_true", help="print least-squares LUT constants")
    a = ap.parse_args()
    rows = run(not a.no_synth, set(filter(None, a.only.split(","))))
    hdr = f"{'point':22} {'buffer':24} {'LUT est':>8} {'yosys':>6} {'err%':>6} {'FF est':>7} {'yosys':>6} {'err%':>6}" \
          f" {'BRAM est':>8} {'yosys':>5}"
    print(hdr)
    for r in rows:
        print(f"{r['id']:22} {r['buffer']:24} {r['est_luts']:8d} {r['yosys_luts']:6d} "
              f"{err(r['est_luts'], r['yosys_luts']):6.1f} {r['est_ffs']:7d} {r['yosys_ffs']:6d} "
              f"{err(r['est_ffs'], r['yosys_ffs']):6.1f} {r['est_bram18']:8d} {r['yosys_bram18']:5d}")
    for op in ("SWG", "Pad", "Pool"):
        rs = [r for r in rows if r["op"] == op]
        if rs:
            le = [abs(err(r["est_luts"], r["yosys_luts"])) for r in rs]
            fe = [abs(err(r["est_ffs"], r["yosys_ffs"])) for r in rs]
            bram = sum(r["est_bram18"] == r["yosys_bram18"] for r in rs)
            print(f"{op}: {len(rs)} points, LUT error mean {np.mean(le):.1f} % worst {max(le):.1f} %, FF error mean "
                  f"{np.mean(fe):.1f} % worst {max(fe):.1f} %, BRAM18 exact on {bram}/{len(rs)}")
    if a.fit:
        fit(rows)
    if rows and not a.only:
        CSV_PATH.parent.mkdir(parents=True, exist_ok=True)
        with open(CSV_PATH, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=[k for k in rows[0] if k not in ("features", "logic_luts")])
            w.writeheader()
            for r in rows:
                w.writerow({k: v for k, v in r.items() if k not in ("features", "logic_luts")})


if __name__ == "__main__":
    main()
