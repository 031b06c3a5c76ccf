"""Fit the LUT and FF constants of the resource cost model (hwgen/layers/cost.py) to yosys, and print the errors.

The model of each block kind is a sum of structural features (what the RTL instantiates: adder bits of the trees,
register bits by group, comparator bits, ...) times constants. This script rebuilds every point of the two
calibration sweeps (benchmarks/calibrate_resources.py, benchmarks/calibrate_vvau.py: the same seeded layers),
takes their yosys figures from the cache those scripts fill (~/.cache/hwgen/yosys; run them first, they print
"missing" otherwise), and fits, per (kind, resource), the constants on the "fit" points only:

  nnls     non-negative least squares on the relative error (each row divided by the yosys figure), then a few
           iterations reweighting the rows by their error (pulls the worst points in: the acceptance is a max)
  minimax  a linear program: non-negative constants minimizing the largest relative error

The "conv" points of calibrate_vvau.py (CNV's MVAUs at fold_cnv_large) are fitted with the "fit" points; the
"holdout" points are never fitted, their errors are printed separately. The VVAU shares the MVAU's constants (the
same core): both kinds' points fit them. Constants in cost.FIT_HELD keep their value (register groups counted bit
for bit), cost.EXACT_MODELS are not fitted. Prints the constants as Python dicts (to paste into cost.py, or
--write), then the error table of the constants it fitted and the worst error per (kind, resource, set).

    PYTHONPATH=$PWD python benchmarks/fit_resources.py [--method nnls|minimax] [--current] [--only KIND] [--write]

--current prints the errors of the constants now in cost.py (no fit); --write puts the fitted ones there (then
re-run benchmarks/calibrate_resources.py and calibrate_vvau.py --no-synth to regenerate their CSVs).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hwgen.layers import cost  # noqa: E402
from hwgen.layers.pipeline import tree_leaves  # noqa: E402


def _load(name: str, fname: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / fname)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


CAL = _load("calibrate_resources", "calibrate_resources.py")
VV = _load("calibrate_vvau", "calibrate_vvau.py")

# (kind, resource) -> name of the constants' dict in hwgen.layers.cost
MODELS = {("MVAU", "luts"): "MVAU_LUT", ("MVAU", "ffs"): "MVAU_FF", ("Thresholding", "luts"): "THR_LUT",
          ("Thresholding", "ffs"): "THR_FF", ("LabelSelect", "luts"): "LS_LUT", ("LabelSelect", "ffs"): "LS_FF"}
# the sets fitted: calibrate_resources' "fit" points and calibrate_vvau's "fit" and "conv" ones (CNV's MVAUs at
# fold_cnv_large: deep block-RAM weights, the conv input buffer); "holdout" points never are
FIT_SETS = {"fit", "conv"}
# block kinds fitted together with another (the VVAU is the MVAU's core, hwgen_mvu: one set of constants)
FIT_WITH = {"VVAU": "MVAU"}
YOSYS_KEY = {"luts": "LUT", "ffs": "FF"}


def points() -> list[tuple[str, str, object]]:
    """(id, set, layer) of every point of both sweeps; set: fit, holdout or conv."""
    out = [(p[0], "holdout" if p[0] in CAL.HOLDOUT else "fit", CAL.make_layer(p)) for p in CAL.POINTS]
    out += [(p[0], p[9], VV.make_layer(p)) for p in VV.POINTS]
    return out


def features(lay) -> tuple[str, dict]:
    """(kind, {"luts": LUT features, "ffs": FF features}) of a layer, with the arguments its resources() gives
    hwgen.layers.cost."""
    kind = type(lay).__name__
    if kind == "LabelSelect":
        sh = lay.rtl_shape()
        return kind, {"luts": cost.label_select_features(sh), "ffs": cost.label_select_ff_features(sh)}
    roms = cost._roms(lay.memories())
    if kind == "Thresholding":
        sh = lay.rtl_shape()
        return kind, {"luts": cost.thresholding_features(sh, roms), "ffs": cost.thresholding_ff_features(sh, roms)}
    binary = bool(getattr(lay, "binary_xnor", False))
    sh = lay.spec().as_dict()
    dsp = cost.products_in_dsp(sh["IB"], sh["WB"], binary)
    sh["NL"] = tree_leaves(sh["SIMD"], lay.in_dtype, lay.w_dtype, binary, dsp)
    sh.update(cost.selector_bits(lay.in_dtype, lay.w_dtype))
    vvau = kind == "VVAU"
    lut = cost.vvau_features(sh, roms) if vvau else cost.mvau_features(sh, binary, roms)
    return kind, {"luts": lut, "ffs": cost.matrix_ff_features(sh, binary, roms, vvau)}


def collect() -> list[dict]:
    """One row per point: id, set, kind, yosys figures, and the model's features per resource."""
    rows, missing = [], []
    for pid, st, lay in points():
        y = CAL.synth_cached(lay, use_tool=False)
        if y is None:
            missing.append(pid)
            continue
        kind, feats = features(lay)
        rows.append({"id": pid, "set": st, "kind": kind, "yosys": y, "features": feats, "est": lay.resources()})
    if missing:
        print(f"missing from the yosys cache (run the calibration scripts): {', '.join(missing)}", file=sys.stderr)
    return rows


def _matrix(rows, key, res):
    names = list(getattr(cost, MODELS[key]))
    F = np.array([[r["features"][res].get(n, 0.0) for n in names] for r in rows], dtype=float)
    y = np.array([float(r["yosys"][YOSYS_KEY[res]]) for r in rows])
    return names, F, y


def fit_nnls(F, t, y, rounds: int = 20):
    """Constants c >= 0 with F c ~ t, the error of each row relative to y."""
    from scipy.optimize import nnls

    w = np.ones(len(y))
    A0, b0 = F / y[:, None], t / y
    best = None
    for _ in range(rounds):
        c, _ = nnls(A0 * w[:, None], b0 * w)
        err = np.abs(A0 @ c - b0)
        if best is None or err.max() < best[1]:
            best = (c, err.max())
        w = np.sqrt(w ** 2 * (1 + err / max(err.mean(), 1e-9)))  # heavier rows where the error is large
        w /= w.mean()
    return best[0]


def fit_minimax(F, t, y):
    from scipy.optimize import linprog

    n, m = F.shape
    A0, b0 = F / y[:, None], t / y
    # variables c (m), t; minimize t subject to -t <= A0 c - 1 <= t, c >= 0; a tiny pull towards small constants
    cost_vec = np.concatenate([np.full(m, 1e-6), [1.0]])
    A_ub = np.vstack([np.hstack([A0, -np.ones((n, 1))]), np.hstack([-A0, -np.ones((n, 1))])])
    b_ub = np.concatenate([b0, -b0])
    r = linprog(cost_vec, A_ub=A_ub, b_ub=b_ub, bounds=[(0, None)] * (m + 1), method="highs")
    if not r.success:
        raise RuntimeError(r.message)
    return r.x[:m]


def write_constants(fitted: dict) -> None:
    """Replace the values of the fitted dicts in hwgen/layers/cost.py (`NAME = {"key": value, ...}`, one or
    several lines, comments kept)."""
    import re

    path = ROOT / "hwgen" / "layers" / "cost.py"
    text = path.read_text()
    for dname, coef in fitted.items():
        start = text.index(f"{dname} = {{")
        end = text.index("}", start)
        body = text[start:end]
        for k, v in coef.items():
            body, n = re.subn(rf'"{k}": -?[0-9.eE+-]+', f'"{k}": {v}', body, count=1)
            if n != 1:
                raise SystemExit(f"{dname}[{k!r}] not found in {path}")
        text = text[:start] + body + text[end:]
    path.write_text(text)
    print(f"wrote the constants into {path}")


def predict(names, coef, feats) -> int:
    return int(round(sum(coef[n] * feats.get(n, 0.0) for n in names)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", choices=("nnls", "minimax"), default="nnls")
    ap.add_argument("--current", action="store_true", help="errors of the constants in cost.py, no fit")
    ap.add_argument("--only", help="one block kind (MVAU (with VVAU), Thresholding, LabelSelect)")
    ap.add_argument("--write", action="store_true", help="write the fitted constants into hwgen/layers/cost.py")
    a = ap.parse_args(argv)
    rows = collect()
    fitted, table = {}, []
    for key, dname in MODELS.items():
        kind, res = key
        if a.only and kind != a.only:
            continue
        sub = [r for r in rows if FIT_WITH.get(r["kind"], r["kind"]) == kind]
        if not sub:
            continue
        names, F, y = _matrix(sub, key, res)
        coef = dict(getattr(cost, dname))
        fit_rows = [i for i, r in enumerate(sub) if r["set"] in FIT_SETS]
        if not a.current and dname not in cost.EXACT_MODELS:
            held = cost.FIT_HELD.get(dname, set())
            live = [j for j, n in enumerate(names) if F[fit_rows, j].any() and n not in held]
            hcols = [j for j, n in enumerate(names) if n in held]
            rest = y[fit_rows] - F[np.ix_(fit_rows, hcols)] @ np.array([coef[names[j]] for j in hcols])
            # relative to yosys: the held part is subtracted from the target, the error still divided by yosys
            c = (fit_nnls if a.method == "nnls" else fit_minimax)(F[np.ix_(fit_rows, live)], rest, y[fit_rows])
            coef = {n: (coef[n] if n in held else 0.0) for n in names}
            coef.update({names[j]: round(float(v), 3) for j, v in zip(live, c)})
            fitted[dname] = coef
        for r in sub:
            est = predict(names, coef, r["features"][res])
            if a.current and est != r["est"][res]:  # the features here must be what resources() sums
                print(f"warning: {r['id']} {res}: features give {est}, resources() {r['est'][res]}", file=sys.stderr)
            table.append((r["id"], r["set"], r["kind"], res, est, int(r["yosys"][YOSYS_KEY[res]])))
    for dname, coef in fitted.items():
        print(f"{dname} = {{" + ", ".join(f'"{k}": {v}' for k, v in coef.items()) + "}")
    if a.write and fitted:
        write_constants(fitted)
    from hwgen.report import table as fmt

    print()
    print(fmt([[i, s, k, r, e, y, f"{100 * (e - y) / max(y, 1):+.1f}"] for i, s, k, r, e, y in table],
              ["point", "set", "kind", "res", "est", "yosys", "err %"]))
    print()
    worst = 0.0
    for key in sorted({(k, r) for _, _, k, r, _, _ in table}, key=lambda x: (x[0] != "MVAU", x)):
        for st in ("fit", "holdout", "conv"):
            errs = [(abs(100 * (e - y) / max(y, 1)), i) for i, s, k, r, e, y in table if (k, r) == key and s == st]
            if errs:
                m = max(errs)
                worst = max(worst, m[0])
                print(f"{key[0]:>12} {key[1]:4} {st:7}: {len(errs):2} points, max |error| {m[0]:5.1f} % ({m[1]}), "
                      f"mean {np.mean([e for e, _ in errs]):.1f} %")
    print(f"worst |error| over all: {worst:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
