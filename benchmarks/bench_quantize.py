#!/usr/bin/env python3
"""hwgen quantize against onnxruntime's quantize_static on the same float models and calibration set.

For the digits MLP and CNN (tests/models/float, trained by examples/quantize/train_digits_float.py): the float
model (onnxruntime), `hwgen quantize` at w8a8 and w4a4 (and with --mixed, `--accuracy-drop 1`), and
onnxruntime.quantization.quantize_static (QDQ, per-channel int8 weights, uint8 activations, MinMax calibration).
Calibration: the training split (1,257 images); accuracy: the 540 test images, quantized hwgen models on the `cpu`
backend (bit-exact with qonnx), onnxruntime's on onnxruntime. Hardware: each quantized model compiled by hwgen for
pynq-z2 at --target-fps (folding search, resource estimate: totals.design_estimate = layers + FIFOs + width
converters); an ORT model hwgen cannot build says why.

    python benchmarks/bench_quantize.py [--target-fps 100000] [--mixed] [--markdown]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FLOAT = ROOT / "tests" / "models" / "float"


def data(kind):
    d = np.load(FLOAT / "digits_data.npz")
    shape = (-1, 64) if kind == "mlp" else (-1, 1, 8, 8)
    f = lambda v: (v / 16.0).astype(np.float32).reshape(shape)  # noqa: E731
    return f(d["X_train"]), d["y_train"].astype(np.int64), f(d["X_test"]), d["y_test"].astype(np.int64)


def ort_outputs(path, x):
    import onnxruntime as ort

    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    return np.concatenate([s.run(None, {name: x[i:i + 1]})[0] for i in range(len(x))])


def ort_quantize(src, dst, calib):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter({"x": calib[i:i + 1]} for i in range(len(calib)))

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)


def drop_requant_after_flatten(src, dst) -> int:
    """Remove a QuantizeLinear -> DequantizeLinear pair right after a Flatten whose input comes from a
    DequantizeLinear with the same scale and zero point: Q(DQ(q)) = q, an exact no-op. hwgen's lowering refuses
    a quantizer on a flattened feature map ("quantize before the Flatten"); without the no-op it builds."""
    m = onnx.load(str(src))
    g = m.graph
    by_out = {o: n for n in g.node for o in n.output}
    readers = {}
    for n in g.node:
        for t in n.input:
            readers.setdefault(t, []).append(n)
    dropped = 0
    for fl in [n for n in g.node if n.op_type == "Flatten"]:
        up, (q,) = by_out.get(fl.input[0]), readers.get(fl.output[0], [None])
        if up is None or up.op_type != "DequantizeLinear" or q is None or q.op_type != "QuantizeLinear":
            continue
        (dq,) = readers[q.output[0]]
        if _const(m, up.input[1]) != _const(m, q.input[1]) or _const(m, up.input[2]) != _const(m, q.input[2]):
            continue
        for r in readers.get(dq.output[0], []):
            r.input[:] = [fl.output[0] if t == dq.output[0] else t for t in r.input]
        g.node.remove(q)
        g.node.remove(dq)
        dropped += 1
    onnx.save(m, str(dst))
    return dropped


def _const(m, name):
    from onnx import numpy_helper

    return next(numpy_helper.to_array(i).tolist() for i in m.graph.initializer if i.name == name)


def hw(path, fps):
    from hwgen.quantize.evaluate import Candidate

    try:
        with Candidate(onnx.load(str(path)), target_fps=fps) as c:
            return c.estimate(), None
    except Exception as e:  # an ORT model hwgen cannot build: say why
        return None, " ".join(str(e).split())[:140]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target-fps", type=float, default=100000)
    ap.add_argument("--mixed", action="store_true", help="also --accuracy-drop 1 (a few minutes per model)")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    from hwgen.quantize.evaluate import Candidate, accuracy
    from hwgen.quantize.run import quantize
    from hwgen.report import markdown_table, table

    tmp = Path(tempfile.mkdtemp(prefix="bench-quantize-"))
    rows = []
    for name, kind in (("digits_mlp", "mlp"), ("digits_cnn", "cnn")):
        xtr, ytr, xte, yte = data(kind)
        src = FLOAT / f"{name}.onnx"
        fa = accuracy(ort_outputs(src, xte), yte)
        rows.append([name, "float (onnxruntime)", f"{fa * 100:.2f}", "-", "-", "-", "-", "-", "-", ""])
        runs = [("hwgen w8a8", dict(weights=8, acts=8)), ("hwgen w4a4", dict(weights=4, acts=4))]
        if a.mixed:
            runs.append(("hwgen --accuracy-drop 1", dict(accuracy_drop=1, labels=ytr)))
        for label, kw in runs:
            q = tmp / f"{name}_{label.split()[-1].replace('-', '')}.onnx"
            t = time.perf_counter()
            quantize(src, xtr, q, target_fps=a.target_fps, log=None, **kw)
            dt = time.perf_counter() - t
            with Candidate(onnx.load(q), target_fps=a.target_fps) as c:
                acc, est = c.accuracy(xte, yte), c.estimate()
            rows.append(_row(name, label, acc, fa, est, f"quantize {dt:.1f} s"))
        q = tmp / f"{name}_ort.onnx"
        t = time.perf_counter()
        ort_quantize(src, q, xtr)
        dt = time.perf_counter() - t
        acc = accuracy(ort_outputs(q, xte), yte)
        est, why = hw(q, a.target_fps)
        note = f"quantize {dt:.1f} s"
        if why:  # as written, hwgen refuses it: the same model without the no-op requantization after Flatten
            q2 = tmp / f"{name}_ort_noflatq.onnx"
            if drop_requant_after_flatten(q, q2):
                assert np.array_equal(ort_outputs(q2, xte), ort_outputs(q, xte))
                est, why2 = hw(q2, a.target_fps)
                note += ("; built without its no-op Q/DQ after the Flatten (hwgen refuses a quantizer on a flattened "
                         "map)") if est is not None else f"; hwgen build: {why2}"
            else:
                note += f"; hwgen build: {why}"
        rows.append(_row(name, "onnxruntime quantize_static (QDQ, per-channel int8)", acc, fa, est, note))
    head = ["model", "quantizer", "test accuracy %", "vs float (points)", "LUTs (design)", "LUTs (layers)", "BRAM18",
            "DSP", "fps", "notes"]
    print(markdown_table(rows, head) if a.markdown else table(rows, head))
    print(f"\n(pynq-z2, --target-fps {a.target_fps:,.0f}; calibration: 1,257 training images; test: 540 images)")


def _row(name, label, acc, fa, est, note):
    if est is None:
        return [name, label, f"{acc * 100:.2f}", f"{(acc - fa) * 100:+.2f}", "-", "-", "-", "-", "-", note]
    return [name, label, f"{acc * 100:.2f}", f"{(acc - fa) * 100:+.2f}", f"{est.luts:,}", f"{est.layer_luts:,}",
            f"{est.bram18:g}", est.dsps, f"{est.fps:,.0f}", note]


if __name__ == "__main__":
    main()
