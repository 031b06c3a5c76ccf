"""Images/s of the `cpu` backend (sw_fallback, numba) on TFC_1W1A and TFC_2W2A, 100,000 MNIST images (the
10,000 test images tiled), next to qonnx's batched execute_onnx of the original graph and onnxruntime on an
equivalent standard-ONNX model, all measured in the same run. Every figure is end to end: float input to float
output (head, hardware layers, tail). Warm-up (JIT compile or numba cache load, head threshold search, session
creation) is timed separately and not included.

onnxruntime models:
- TFC_2W2A: the QCDQ model (QuantizeLinear -> Clip -> DequantizeLinear, tests/qonnx_gen.py to_qcdq, which uses
  qonnx's QuantToQCDQ), ORT graph optimizations on (ORT_ENABLE_ALL).
- TFC_1W1A: QCDQ has no bipolar type, so ORT runs the float graph with the weight quantizers folded into +-1
  weights and each activation BipolarQuant(x) written as Where(x < 0, -s, s): exact, and checked against qonnx.

    python benchmarks/bench_cpu.py [--images 100000] [--repeat 3] [--threads N]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TFC = ROOT.parent / "shared" / "models" / "tfc"


def timed(fn, repeat):
    ts, r = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        r = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), r


def bipolar_to_float(model):
    """TFC_1W1A as plain ONNX: BipolarQuant on constants folded, on activations Where(x < 0, -s, s)."""
    import onnx
    from onnx import helper, numpy_helper

    from hwgen.quant import bipolar_quant

    m = copy.deepcopy(model)
    g = m.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    nodes = []
    for node in g.node:
        if node.op_type != "BipolarQuant":
            nodes.append(node)
            continue
        x, s = node.input[0], np.asarray(inits[node.input[1]], dtype=np.float32)
        y = node.output[0]
        if x in inits:
            g.initializer.append(numpy_helper.from_array(bipolar_quant(inits[x], s).astype(np.float32), y))
            continue
        zero, pos, neg = f"{y}__zero", f"{y}__pos", f"{y}__neg"
        g.initializer.extend([numpy_helper.from_array(np.zeros((), np.float32), zero),
                              numpy_helper.from_array(s.reshape(()), pos),
                              numpy_helper.from_array(-s.reshape(()), neg)])
        nodes += [helper.make_node("Less", [x, zero], [f"{y}__lt"]),
                  helper.make_node("Where", [f"{y}__lt", neg, pos], [y])]
    del g.node[:]
    g.node.extend(nodes)
    keep = [o for o in m.opset_import if o.domain in ("", "ai.onnx")]
    del m.opset_import[:]
    m.opset_import.extend(keep)
    onnx.checker.check_model(m)
    return m


def ort_session(model):
    import onnxruntime as ort

    m = model
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    name = m.graph.input[0].name
    return lambda x: sess.run(None, {name: x})[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--models", default="TFC_1W1A,TFC_2W2A")
    a = ap.parse_args()
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.util.cleanup import cleanup_model

    from hwgen.build import build
    from hwgen.report import table
    from hwgen.runtime.accelerator import Accelerator
    from tests.conftest import MNIST_DIR, load_mnist
    from tests.qonnx_gen import to_qcdq

    if not TFC.is_dir() or not MNIST_DIR.is_dir():
        print(f"this benchmark needs ../shared ({TFC}, {MNIST_DIR})", file=sys.stderr)
        return 1
    x10, labels = load_mnist()
    reps = -(-a.images // x10.shape[0])
    x = np.ascontiguousarray(np.tile(x10, (reps, 1, 1, 1))[: a.images])
    n = x.shape[0]
    opts = {"threads": a.threads} if a.threads else {}
    rows, notes = [], []
    for name in a.models.split(","):
        path = TFC / f"{name}.onnx"
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "build"
            build(path, out)
            t = time.perf_counter()
            acc = Accelerator(out, backend="cpu", wait_for_kernels=True, **opts)
            warm = time.perf_counter() - t  # includes kernel compile / cache load and the head threshold search
            be = acc.backend
            run = be.execute if hasattr(be, "execute") else acc.execute  # the backend's whole-model path
            t_cpu, y_cpu = timed(lambda: run(x), a.repeat)
            ref_acc = Accelerator(out, backend="reference")
            y_ref = ref_acc.execute(x10)
        assert np.array_equal(y_cpu[: x10.shape[0]], y_ref), f"{name}: cpu backend differs from reference"
        acc_pct = 100.0 * float((y_cpu[: x10.shape[0]].argmax(1) == labels).mean())

        # qonnx, batched, original graph
        t = time.perf_counter()
        m = cleanup_model(ModelWrapper(str(path)))
        m = cleanup_model(m.transform(ChangeBatchSize(n)))
        iname, oname = m.graph.input[0].name, m.graph.output[0].name
        q_setup = time.perf_counter() - t
        t_q, y_q = timed(lambda: execute_onnx(m, {iname: x})[oname], 1)
        same_q = np.array_equal(y_q, y_cpu)

        # onnxruntime on the equivalent standard-ONNX model
        model = copy.deepcopy(m.model)  # qonnx's cleaned graph at batch n (its Reshape targets name the batch)
        if name == "TFC_1W1A":
            std, kind = bipolar_to_float(model), "float, bipolar folded"
        else:
            std, kind = to_qcdq(model), "QCDQ"
        t = time.perf_counter()
        ort_run = ort_session(std)
        ort_run(x)  # first run: allocations, kernel selection
        o_setup = time.perf_counter() - t
        t_o, y_o = timed(lambda: ort_run(x), a.repeat)
        same_o = float((y_o.argmax(1) == y_cpu.argmax(1)).mean())
        rows.append([name, f"{warm:.2f}", f"{n / t_cpu:,.0f}", f"{n / t_q:,.0f}", f"{n / t_o:,.0f}",
                     f"{t_q / t_cpu:.1f}x", f"{t_o / t_cpu:.1f}x", f"{acc_pct:.2f}"])
        st = be.stats() if hasattr(be, "stats") else {}
        notes.append(f"{name}: cpu {t_cpu:.3f} s, qonnx {t_q:.2f} s (+{q_setup:.2f} s cleanup/batch), "
                     f"onnxruntime ({kind}) {t_o:.3f} s (+{o_setup:.2f} s session); cpu == qonnx on all "
                     f"{n:,}: {same_q}; onnxruntime argmax agreement {same_o:.4f}; last run split "
                     f"{ {k: round(v, 4) for k, v in be.last_timing.items()} }; kernels {st.get('layers')}")
    print(table(rows, ["model", "cpu warm-up s", "cpu img/s", "qonnx img/s", "onnxruntime img/s",
                       "vs qonnx", "vs onnxruntime", "accuracy %"]))
    print(f"\n{n:,} images (MNIST test set tiled), float input -> float output; median of {a.repeat} runs "
          "(qonnx: 1 run). Warm-up = Accelerator(...) construction (numba cache load or compile, head thresholds).")
    for s in notes:
        print(" ", s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
