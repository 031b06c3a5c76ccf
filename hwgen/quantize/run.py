"""`hwgen quantize FLOAT.onnx --calib X.npy -o Q.onnx`: the whole command as a function (the CLI and explore call
it): check the inputs, quantize (uniform bits, or per layer under an accuracy budget), optionally prune, write
the QONNX model and its report (Q.report.json, Q.report.md beside it)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx

from hwgen.quantize.floatnet import FloatNet, QuantizeError, load_float

MAX_BITS = 8


def check_bits(value, option: str) -> int:
    try:
        b = int(value)
    except (TypeError, ValueError):
        raise QuantizeError(f"{option} {value!r}: give a whole number of bits from 1 to {MAX_BITS}.") from None
    if b != value and str(b) != str(value).strip() or not 1 <= b <= MAX_BITS:
        raise QuantizeError(f"{option} {value!r} is out of range: give a whole number of bits from 1 to {MAX_BITS}.")
    return b


def load_array(path, what: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise QuantizeError(f"{what} file {str(p)!r} does not exist; give a .npy file.")
    try:
        return np.load(p, allow_pickle=False)
    except Exception as e:
        raise QuantizeError(f"{what} file {str(p)!r} is not a readable .npy array ({type(e).__name__}); save it "
                            "with numpy.save.") from None


def check_calib(x, net: FloatNet, path: str) -> np.ndarray:
    want = tuple(net.input_shape[1:])
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise QuantizeError(f"--calib {path!r}: dtype {x.dtype} is not numeric; give float32 inputs.")
    if x.ndim == len(want) + 1 and x.shape[0] == 0:
        raise QuantizeError(f"--calib {path!r} is empty (0 samples); give at least one input of shape {want}.")
    if tuple(x.shape[1:]) != want:
        raise QuantizeError(f"--calib {path!r} has shape {tuple(x.shape)}; the model's input {net.input_name!r} "
                            f"needs (N, {', '.join(map(str, want))}) (N samples of shape {want}).")
    x = x.astype(np.float32)
    bad = ~np.isfinite(x)
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise QuantizeError(f"--calib {path!r} holds NaN or inf (first at index {tuple(int(i) for i in idx)}, "
                            f"{int(bad.sum())} values); remove or fix those samples.")
    return x


def check_labels(y, n: int, path: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise QuantizeError(f"--labels {path!r} has shape {tuple(y.shape)}; give one class index per calibration "
                            f"sample: shape ({n},).")
    if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y))):
        raise QuantizeError(f"--labels {path!r}: labels must be integer class indices (dtype {y.dtype}).")
    return y.astype(np.int64)


def load_data(net: FloatNet, calib, labels=None) -> tuple[np.ndarray, np.ndarray | None]:
    """--calib and --labels (paths or arrays), checked against the model: (X float32, Y int64 or None)."""
    x = check_calib(load_array(calib, "--calib") if isinstance(calib, (str, Path)) else calib, net, str(calib))
    y = None
    if labels is not None:
        y = check_labels(load_array(labels, "--labels") if isinstance(labels, (str, Path)) else labels, len(x),
                         str(labels))
    return x, y


def quantize(model, calib, out, weights=8, acts=8, labels=None, input_dtype=None, accuracy_drop=None, prune=None,
             prune_rule="magnitude", board=None, target_fps=None, weight_method="mse", act_method="mse",
             bias_correction=True, rounding="auto", scales="pow2", log=print) -> dict:
    """Returns the report (also written to OUT with suffix .report.json / .report.md)."""
    from hwgen.quantize import calib as cal
    from hwgen.quantize.evaluate import Candidate, accuracy
    from hwgen.quantize.export import to_qonnx
    from hwgen.quantize.ptq import linear_steps, quantize_net

    log = log or (lambda *a: None)
    wb, ab = check_bits(weights, "--weights"), check_bits(acts, "--acts")
    if weight_method not in cal.WEIGHT_METHODS:
        raise QuantizeError(f"--weight-method {weight_method!r}: use one of {', '.join(cal.WEIGHT_METHODS)}.")
    if act_method not in cal.ACT_METHODS:
        raise QuantizeError(f"--act-method {act_method!r}: use one of {', '.join(cal.ACT_METHODS)}.")
    if scales not in ("pow2", "float"):
        raise QuantizeError(f"--scales {scales!r}: use pow2 or float.")
    if rounding not in ("auto", "nearest", "adaptive"):
        raise QuantizeError(f"--rounding {rounding!r}: use auto, nearest or adaptive.")
    if accuracy_drop is not None:
        if labels is None:
            raise QuantizeError("--accuracy-drop needs --labels Y.npy (the accuracy it keeps is measured on them).")
        if not (math.isfinite(accuracy_drop) and 0 <= accuracy_drop <= 100):
            raise QuantizeError(f"--accuracy-drop {accuracy_drop!r}: give points of accuracy between 0 and 100.")
    if target_fps is not None and not (math.isfinite(target_fps) and target_fps > 0):
        raise QuantizeError(f"--target-fps {target_fps!r}: give a positive rate in frames/s.")
    if prune is not None and not (math.isfinite(prune) and 0 <= prune < 1):
        raise QuantizeError(f"--prune {prune!r}: give the fraction of each layer's output channels to remove, "
                            "0 <= R < 1 (e.g. --prune 0.5).")
    out = Path(out)
    if out.is_dir() or not out.parent.is_dir():
        raise QuantizeError(f"-o {str(out)!r}: give a file name in an existing directory (e.g. q.onnx).")
    net = load_float(model)
    x, y = load_data(net, calib, labels)
    n_lin = len(linear_steps(net))
    report = {"model": str(model), "output": str(out), "calibration_samples": int(len(x)),
              "options": {"weights": wb, "acts": ab, "input_dtype": input_dtype, "weight_method": weight_method,
                          "act_method": act_method, "bias_correction": bool(bias_correction), "prune": prune,
                          "rounding": rounding, "scales": scales,
                          "prune_rule": prune_rule, "accuracy_drop": accuracy_drop, "board": board,
                          "target_fps": target_fps}}
    float_acc = None if y is None else accuracy(net.forward(x), y)
    opts = dict(input_dtype=input_dtype, weight_method=weight_method, act_method=act_method,
                bias_correction=bias_correction, rounding=rounding, scales=scales)
    if prune:
        from hwgen.quantize.prune import prune_net

        ref = load_float(model)  # bias correction aims at the unpruned network's outputs
        report["pruned"] = prune_net(net, x, prune, prune_rule)
        opts.update(ref=ref, frozen={r["layer"]: r["removed"] for r in report["pruned"]})
    if accuracy_drop is not None:
        from hwgen.quantize.mixed import search

        qn, report["mixed_precision"] = search(net, x, y, accuracy_drop, board=board, target_fps=target_fps,
                                               max_bits=(wb, ab), log=log, **opts)
    else:
        qn = quantize_net(net, x, [wb] * n_lin, [ab] * n_lin, **opts)
    if prune:
        qn.removed = {r["layer"]: r["removed"] for r in report["pruned"]}
    report["layers"] = layer_rows(qn)
    report["input_quantizer"] = {"bits": qn.input_q.bits, "signed": qn.input_q.signed, "scale": qn.input_q.scale,
                                 "how": qn.input_q.how}
    model_proto = to_qonnx(qn)
    with Candidate(model_proto, board=board, target_fps=target_fps) as cand:
        report["hardware"] = cand.estimate().as_dict()
        if y is not None:
            report["accuracy"] = {"float": float_acc, "quantized": cand.accuracy(x, y),
                                  **({"pruned_float": accuracy(net.forward(x), y)} if prune else {}),
                                  "quantized_numpy": accuracy(qn.forward(x), y), "on": "calibration set",
                                  "quantized_backend": "cpu"}
    onnx.save(model_proto, str(out))
    write_report(out, report)
    log(format_report(report))
    return report


def layer_rows(qn) -> list[dict]:
    rows = []
    acts = {a.owner: a for a in qn.acts.values()}
    for k, i in enumerate(sorted(qn.weights)):
        s, wq = qn.net.steps[i], qn.weights[i]
        a = acts.get(k)
        rows.append({"layer": s.linear.name, "kind": s.linear.kind, "shape": list(s.linear.w.shape),
                     "folded_bn": s.linear.folded_bn, "w_bits": wq.bits,
                     "w_scale_min": float(wq.scales.min()), "w_scale_max": float(wq.scales.max()),
                     "w_pow2": wq.pow2, "w_rounding": "adaptive" if wq.adaptive else "nearest",
                     "w_sqnr_db": _r(wq.w_sqnr_db), "bias_shift": _r(wq.bias_shift, 5),
                     "out_sqnr_db": _r(wq.out_sqnr_db), "a_bits": a and a.bits, "a_signed": a and a.signed,
                     "a_scale": a and a.scale, "a_how": a and a.how, "a_sqnr_db": a and _r(a.sqnr_db),
                     "removed": qn.removed.get(s.linear.name, [])})
    return rows


def _r(v, nd=2):
    return None if v is None else (v if math.isinf(v) else round(float(v), nd))


def format_report(r: dict) -> str:
    from hwgen.report import table

    q = r["input_quantizer"]
    lines = [f"input quantizer: {'INT' if q['signed'] else 'UINT'}{q['bits']}, scale {q['scale']:.6g} ({q['how']})",
             ""]
    rows = [[L["layer"], L["kind"], "x".join(map(str, L["shape"])), L["w_bits"],
             f"{L['w_scale_min']:.3g}..{L['w_scale_max']:.3g}" + (" 2^k" if L["w_pow2"] else ""),
             L["w_rounding"], L["w_sqnr_db"],
             L["bias_shift"], L["out_sqnr_db"], "-" if L["a_bits"] is None else
             f"{'INT' if L['a_signed'] else 'UINT'}{L['a_bits']}", "-" if L["a_scale"] is None else
             f"{L['a_scale']:.4g}", "-" if L["a_sqnr_db"] is None else L["a_sqnr_db"], len(L["removed"]) or "-"]
            for L in r["layers"]]
    lines.append(table(rows, ["layer", "kind", "weights", "W bits", "W scales (per channel)", "rounding", "W SQNR dB",
                              "bias corr", "out SQNR dB", "act", "act scale", "act SQNR dB", "pruned"]))
    if r.get("mixed_precision"):
        from hwgen.quantize.mixed import format_table

        lines += ["", format_table(r["mixed_precision"])]
    h = r["hardware"]
    lines += ["", f"hardware (estimate, {r['options']['board'] or 'pynq-z2'}"
                  f"{', target ' + format(r['options']['target_fps'], ',.0f') + ' fps' if r['options']['target_fps'] else ''}"
                  f"): {h['luts']:,} LUTs ({h['layer_luts']:,} in layers), {h['bram18']:g} BRAM18, {h['dsps']} DSP, "
                  f"{h['fps']:,.0f} frames/s"]
    if h.get("pruned"):
        from hwgen.report import pruned_lines

        lines += ["removed by the build (prune_channels):"] + ["  " + ln for ln in pruned_lines(h)]
    if r.get("accuracy"):
        a = r["accuracy"]
        pr = f"pruned float {a['pruned_float'] * 100:.2f} %, " if "pruned_float" in a else ""
        lines.append(f"accuracy on the {a['on']} ({r['calibration_samples']} samples): float {a['float'] * 100:.2f} %, "
                     f"{pr}quantized {a['quantized'] * 100:.2f} % (cpu backend, bit-exact with qonnx)")
    lines.append(f"wrote {r['output']} and its report {report_paths(Path(r['output']))[1]}")
    return "\n".join(lines)


def report_paths(out: Path) -> tuple[Path, Path]:
    stem = out.name[:-5] if out.name.endswith(".onnx") else out.name
    return out.with_name(stem + ".report.json"), out.with_name(stem + ".report.md")


def write_report(out: Path, r: dict) -> None:
    js, md = report_paths(out)
    js.write_text(json.dumps(r, indent=1, default=_json))
    md.write_text(f"# hwgen quantize: {Path(r['model']).name}\n\n```\n{format_report(r)}\n```\n")


def _json(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(type(v).__name__)
