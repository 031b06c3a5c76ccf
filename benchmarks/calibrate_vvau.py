"""Calibrate the VVAU cost model (hwgen.layers.cost.vvau_resources) against yosys `synth_xilinx -family xc7`, and
check the MVAU model at conv sizes (CNV's matrix layers at fold_cnv_large: the MVAU sweep of
benchmarks/calibrate_resources.py has MLP shapes only; a conv's MVAU is the same block, num_vectors aside).

Each block is rendered by its kind (template + context, as in a build) and synthesized by
benchmarks/calibrate_resources.synth_cached (cached by content under ~/.cache/hwgen/yosys). Prints estimate vs
yosys and writes benchmarks/results/vvau_calibration.csv.

    python benchmarks/calibrate_vvau.py [--only ID,ID] [--no-synth] [--jobs N] [--out CSV]

Acceptance (issue 18): estimated LUTs and FFs within 15 % of yosys on every point, DSP48 counts equal, BRAM18
exact. The VVAU is the MVAU's core (hwgen_mvu): one set of constants (MVAU_LUT, MVAU_FF in cost.py), fitted by
benchmarks/fit_resources.py on the "fit" points of both sweeps and the "conv" points here; "holdout" points are
not used. Prints the worst LUT and FF error per set.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hwgen.dtypes import BIPOLAR, DType, from_name  # noqa: E402
from hwgen.layers import MVAU  # noqa: E402
from hwgen.layers.vvau import VVAU  # noqa: E402

CSV_PATH = ROOT / "benchmarks" / "results" / "vvau_calibration.csv"
LUT_TOL = 0.15  # (and FFs: calibrate_resources.FF_TOL)


def _cal():
    spec = importlib.util.spec_from_file_location("calibrate_resources", ROOT / "benchmarks" / "calibrate_resources.py")
    if "calibrate_resources" in sys.modules:
        return sys.modules["calibrate_resources"]
    mod = importlib.util.module_from_spec(spec)
    sys.modules["calibrate_resources"] = mod  # (its --jobs pool finds its functions by module name)
    spec.loader.exec_module(mod)
    return mod


CAL = _cal()

# (id, op, dims, PE, SIMD, in, w, out (None: accumulator), mem_style, set)
#   VVAU dims = (C, K, order); MVAU dims = (MW, MH)
POINTS = [
    ("dw_u4w4_c32_p4", "VVAU", (32, 9, "window"), 4, 1, "UINT4", "INT4", "UINT4", "auto", "fit"),
    ("dw_u4w4_c32_p1", "VVAU", (32, 9, "window"), 1, 1, "UINT4", "INT4", "UINT4", "auto", "fit"),
    ("dw_u4w4_c32_p32", "VVAU", (32, 9, "window"), 32, 1, "UINT4", "INT4", "UINT4", "auto", "fit"),
    ("dw_u2w2_c64_p8", "VVAU", (64, 9, "window"), 8, 1, "UINT2", "INT2", "UINT2", "auto", "fit"),
    ("dw_u2w2_c64_p8_acc", "VVAU", (64, 9, "window"), 8, 1, "UINT2", "INT2", None, "auto", "fit"),
    ("dw_s8w8_c16_p4", "VVAU", (16, 9, "window"), 4, 1, "INT8", "INT8", "UINT4", "auto", "fit"),
    ("dw_u4w4_c128_p2", "VVAU", (128, 9, "window"), 2, 1, "UINT4", "INT4", "UINT4", "auto", "fit"),
    ("dw_u4w4_c16_k3_p16", "VVAU", (16, 3, "window"), 16, 1, "UINT4", "INT4", "UINT4", "auto", "fit"),
    ("v_dw_u4w4_c64_p16", "VVAU", (64, 9, "window"), 16, 1, "UINT4", "INT4", "UINT4", "auto", "holdout"),
    ("v_dw_u3w3_c96_p4", "VVAU", (96, 9, "window"), 4, 1, "UINT3", "INT3", "UINT3", "auto", "holdout"),
    ("v_dw_u4w4_c32_p2_dw", "VVAU", (32, 9, "depthwise"), 2, 3, "UINT4", "INT4", "UINT4", "auto", "holdout"),
    # CNV-1W1A's conv layers at fold_cnv_large (the MVAU model, fitted on MLP shapes, at conv sizes)
    ("cnv_conv0_p16s3", "MVAU", (27, 64), 16, 3, "INT8", "BIPOLAR", "BIPOLAR", "auto", "conv"),
    ("cnv_conv1_p32s32", "MVAU", (576, 64), 32, 32, "BIPOLAR", "BIPOLAR", "BIPOLAR", "auto", "conv"),
    ("cnv_conv2_p16s32", "MVAU", (576, 128), 16, 32, "BIPOLAR", "BIPOLAR", "BIPOLAR", "auto", "conv"),
    ("cnv_conv4_p4s32", "MVAU", (1152, 256), 4, 32, "BIPOLAR", "BIPOLAR", "BIPOLAR", "auto", "conv"),
    ("cnv_conv5_p1s32", "MVAU", (2304, 256), 1, 32, "BIPOLAR", "BIPOLAR", "BIPOLAR", "auto", "conv"),
]


def _dt(name):
    return BIPOLAR if name == "BIPOLAR" else from_name(name)


def _rand(rng, dt: DType, shape):
    if dt.bipolar:
        return rng.choice([-1, 1], size=shape)
    return rng.integers(dt.min, dt.max + 1, size=shape)


def make_layer(point):
    """The layer of one point (random weights / thresholds, seeded by the point id)."""
    pid, op, dims, pe, simd, i, w, o, mem, _ = point
    rng = np.random.default_rng(int(hashlib.sha256(pid.encode()).hexdigest()[:8], 16))
    idt, wdt = _dt(i), _dt(w)
    name = "cal_" + pid
    if op == "VVAU":
        c, k, order = dims
        lay = VVAU(name, idt, wdt, _rand(rng, wdt, (c, k)), None, DType(1, False), ofm=(4, 4), mem_style=mem,
                   order=order, pe=pe, simd=simd)
        rows, n_in = c, k
    else:
        mw, mh = dims
        lay = MVAU(name, idt, wdt, _rand(rng, wdt, (mh, mw)), None, DType(1, False), mem_style=mem, pe=pe, simd=simd)
        rows, n_in = mh, mw
    if o is None:
        lay.out_dtype = lay.acc_dtype()
        return lay
    odt = _dt(o)
    lo, hi = lay.acc_range()
    levels = 1 if odt.bipolar else odt.max - odt.min
    sd = max(1.0, float(np.sqrt(n_in)) * max(abs(idt.min), idt.max) * max(abs(wdt.min), wdt.max) / 2)
    t = np.sort(np.clip(np.round(rng.normal(0, sd, size=(rows, levels))), lo.min(), hi.max()), axis=1)
    lay.thresholds = t.astype(np.int64)
    lay.out_dtype = odt
    lay.out_base = 0 if odt.bipolar else odt.min
    return lay


FIELDS = ["id", "set", "op", "dims", "PE", "SIMD", "in", "w", "out", "est_luts", "yosys_luts", "lut_err_pct",
          "est_ffs", "yosys_ffs", "ff_err_pct", "est_bram18", "yosys_bram18", "est_lutram", "yosys_lutram", "est_dsps",
          "yosys_dsps", "yosys_seconds"]


def run(points, use_tool=True, jobs: int = 1) -> list[dict]:
    if use_tool:
        CAL.warm_cache(points, make_layer, jobs)
    rows = []
    for pt in points:
        lay = make_layer(pt)
        y = CAL.synth_cached(lay, use_tool=use_tool)
        e = lay.resources()
        row = {"id": pt[0], "set": pt[9], "op": pt[1], "dims": "x".join(map(str, pt[2])), "PE": pt[3],
               "SIMD": pt[4], "in": pt[5], "w": pt[6], "out": pt[7] or "acc", "est_luts": e["luts"],
               "est_ffs": e["ffs"], "est_bram18": e["bram18"], "est_lutram": e["lutram"], "est_dsps": e["dsps"]}
        if y is None:
            row.update({f: "" for f in FIELDS if f.startswith("yosys") or f.endswith("_err_pct")})
        else:
            row.update(yosys_luts=y["LUT"], yosys_ffs=y["FF"], yosys_bram18=y["BRAM18"],
                       yosys_lutram=y["LUTRAM"] + y["SRL"], yosys_dsps=y["DSP"], yosys_seconds=y.get("seconds", ""),
                       lut_err_pct=round(CAL.err_pct(e["luts"], y["LUT"]), 1),
                       ff_err_pct=round(CAL.err_pct(e["ffs"], y["FF"]), 1))
        print(f"  {pt[0]}: est {e['luts']} LUT, yosys {row['yosys_luts']}", file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated point ids")
    ap.add_argument("--no-synth", action="store_true", help="use cached yosys results only")
    ap.add_argument("--out", default=str(CSV_PATH))
    ap.add_argument("--jobs", type=int, default=1, help="yosys runs at a time for the points not cached")
    a = ap.parse_args(argv)
    pts = [p for p in POINTS if not a.only or p[0] in set(a.only.split(","))]
    rows = run(pts, use_tool=not a.no_synth, jobs=a.jobs)
    from hwgen.report import table

    keys = ["id", "set", "dims", "PE", "SIMD", "in", "w", "out", "est_luts", "yosys_luts", "lut_err_pct", "est_ffs",
            "yosys_ffs", "ff_err_pct", "est_bram18", "yosys_bram18", "est_lutram", "yosys_lutram", "est_dsps",
            "yosys_dsps"]
    print(table([[r[k] for k in keys] for r in rows], keys))
    done = [r for r in rows if r["yosys_luts"] != ""]
    bad = CAL.summarize(done, ("fit", "holdout", "conv"))
    if len(done) == len(rows) and a.out and not a.only:
        out = Path(a.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="") as f:
            wr = csv.DictWriter(f, fieldnames=FIELDS)
            wr.writeheader()
            wr.writerows({k: r[k] for k in FIELDS} for r in rows)
        print(f"wrote {out}")
    return 0 if len(done) == len(rows) and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
