"""hwgen's `cpu` backend next to onnxruntime and qonnx, every model of ../shared and tests/models, in one run.

For each model, the same frames on every side, single thread on every side (hwgen --threads 1, onnxruntime
intra_op / inter_op threads 1; qonnx as it runs: numpy and onnxruntime sessions of its own), median of --repeat rounds, timed by the
process's CPU time (--clock cpu, the default: on a machine shared with other jobs, wall-clock time mostly
measures the other jobs; every side runs in this process's one calling thread) or wall-clock time:
- batch 1,000: one call on 1,000 frames;
- batch 1: --single frames, one call each;
- qonnx: execute_onnx (batched, on the cleaned QONNX graph) on --qonnx-frames frames, next to hwgen on the same
  frames as one batch (qonnx is slow: equal frame counts, not a scaled-up figure).
onnxruntime runs each model's QCDQ twin (tests/models/cnn/*_qcdq.onnx, tests/qonnx_gen.to_qcdq for TFC_2W2A) or,
for TFC_1W1A (QCDQ has no bipolar type), the float graph with bipolar weights folded and each activation
BipolarQuant written as Where (benchmarks/bench_cpu.bipolar_to_float), ORT_ENABLE_ALL. hwgen runs through the
user's path: Accelerator(OUT, "cpu", threads=1, driver="wait").execute(x), float input to float output, warm (its
kernels and its per-design driver (sw_fallback.driver) were compiled or loaded, and it ran once, before timing; so
were ORT's sessions; without driver="wait" the driver compiles in the background once small calls repeat). hwgen == qonnx is checked
bit for bit on the qonnx frames; ORT's outputs are compared by argmax (QCDQ / float graphs round differently).
CNV_* (tests/models/cnn) have no QCDQ twin and qonnx takes minutes on them: not in this table.

    python benchmarks/bench_cpu_vs_ort.py [--repeat 3] [--single 200] [--qonnx-frames 100] [--models a,b]
    python benchmarks/bench_cpu_vs_ort.py --load [--models TFC_1W1A,mnist_cnn_w4a4]

--load: hwgen alone at batch 1,000, quiet (1 thread, default threads) and with a busy process on every core this
process may use (default threads, 1 thread): the default must stay within 2x of the quiet single thread.
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
sys.path.insert(0, str(ROOT / "benchmarks"))
TFC = ROOT.parent / "shared" / "models" / "tfc"
CNNS = ["mnist_cnn_w4a4", "resnet_w4a4", "mobilenet_w4a4", "conv1d_w4a4", "concat_pad_w4a4"]
MODELS = ["TFC_1W1A", "TFC_2W2A"] + CNNS
BATCH = 1000


CLOCK = {"cpu": time.process_time, "wall": time.perf_counter}
clock = time.process_time


def median_time(fn, repeat):
    ts = []
    for _ in range(repeat):
        t = clock()
        fn()
        ts.append(clock() - t)
    return statistics.median(ts)


def frames(name, n):
    """n input frames: MNIST test images for TFC, the committed io frames (tiled, a small jitter so tiles
    differ) for the CNNs."""
    if name.startswith("TFC"):
        from tests.conftest import load_mnist

        x, _ = load_mnist()
        return np.ascontiguousarray(x[:n])
    from tests.cnn_models import CNN_DIR

    io = np.load(CNN_DIR / f"{name}_io.npz")
    x0 = np.asarray(io[io.files[0]], dtype=np.float32)
    rng = np.random.default_rng(0)
    x = np.concatenate([x0] * (n // len(x0) + 1))[:n]
    return (x + rng.normal(0, 0.05, x.shape)).astype(np.float32)


def model_path(name, tmp):
    if name.startswith("TFC"):
        return TFC / f"{name}.onnx"
    from tests.cnn_models import model_path as cnn_path

    return cnn_path(f"{name}.onnx", Path(tmp))


def qonnx_model(path, batch):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.util.cleanup import cleanup_model

    m = cleanup_model(ModelWrapper(str(path)))
    return cleanup_model(m.transform(ChangeBatchSize(batch)))


def ort_run(name, path, batch):
    """onnxruntime on the model's standard-ONNX twin at this batch, single thread: a function x -> y."""
    import onnxruntime as ort

    if name.startswith("TFC"):
        from bench_cpu import bipolar_to_float
        from tests.qonnx_gen import to_qcdq

        m = copy.deepcopy(qonnx_model(path, batch).model)  # (its Reshape targets name the batch)
        std = bipolar_to_float(m) if name == "TFC_1W1A" else to_qcdq(m)
        data = std.SerializeToString()
    else:
        from bench_cnn_cpu import batch_free
        from tests.cnn_models import CNN_DIR

        data = batch_free(CNN_DIR / f"{name}_qcdq.onnx")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    sess = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    iname = sess.get_inputs()[0].name
    return lambda x: sess.run(None, {iname: x})[0]


def bench(name, a):
    from qonnx.core.onnx_exec import execute_onnx

    from hwgen.build import build
    from hwgen.runtime.accelerator import Accelerator

    with tempfile.TemporaryDirectory() as tmp:
        path = model_path(name, tmp)
        out = Path(tmp) / "build"
        build(path, out, log=lambda *_: None)
        x = frames(name, BATCH)
        one = [x[i:i + 1] for i in range(a.single)]
        acc = Accelerator(out, "cpu", wait_for_kernels=True, threads=1, driver="wait")
        run = acc.execute
        y = run(x)
        for f in one[:3]:
            run(f)
        o1000, o1 = ort_run(name, path, BATCH), ort_run(name, path, 1)
        yo = o1000(x)
        o1(one[0])
        agree = float((np.asarray(yo).reshape(BATCH, -1).argmax(1) == y.reshape(BATCH, -1).argmax(1)).mean())
        h1000 = median_time(lambda: run(x), a.repeat)
        r1000 = median_time(lambda: o1000(x), a.repeat)
        h1 = median_time(lambda: [run(f) for f in one], a.repeat)
        r1 = median_time(lambda: [o1(f) for f in one], a.repeat)
        nq = a.qonnx_frames
        m = qonnx_model(path, nq)
        iname, oname = m.graph.input[0].name, m.graph.output[0].name
        xq = x[:nq]
        t = clock()
        yq = execute_onnx(m, {iname: xq})[oname]
        tq = clock() - t
        hq = median_time(lambda: run(xq), a.repeat)
        exact = np.array_equal(np.asarray(run(xq)).reshape(yq.shape), yq)
    return dict(h1000=BATCH / h1000, r1000=BATCH / r1000, h1=a.single / h1, r1=a.single / r1,
                hq=nq / hq, q=nq / tq, exact=exact, agree=agree)


def bench_load(names, a):
    import subprocess

    from hwgen.build import build
    from hwgen.report import table
    from hwgen.runtime.accelerator import Accelerator
    from sw_fallback.backend import default_threads

    rows = []
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            path = model_path(name, tmp)
            out = Path(tmp) / "build"
            build(path, out, log=lambda *_: None)
            x = frames(name, BATCH)
            one, many = (Accelerator(out, "cpu", wait_for_kernels=True, threads=t) for t in (1, None))
            one.execute(x), many.execute(x)
            fps = {}
            fps["quiet 1"] = BATCH / median_time(lambda: one.execute(x), a.repeat)
            fps["quiet default"] = BATCH / median_time(lambda: many.execute(x), a.repeat)
            busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(default_threads())]
            try:
                time.sleep(0.5)
                fps["busy default"] = BATCH / median_time(lambda: many.execute(x), a.repeat)
                fps["busy 1"] = BATCH / median_time(lambda: one.execute(x), a.repeat)
            finally:
                for p in busy:
                    p.kill()
                    p.wait()
        rows.append([name, str(many.backend.threads)] + [f"{fps[k]:,.0f}" for k in fps]
                    + [f"{fps['busy default'] / fps['quiet 1']:.2f}"])
    print(table(rows, ["model", "default threads", "quiet, 1 thread fr/s", "quiet, default fr/s",
                       "busy, default fr/s", "busy, 1 thread fr/s", "busy default / quiet 1"]))
    print(f"\nbatch {BATCH:,}, median of {a.repeat}; busy: one `while True: pass` process per core available.")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--single", type=int, default=200, help="frames run one call each for the batch-1 figures")
    ap.add_argument("--qonnx-frames", type=int, default=100)
    ap.add_argument("--models", default=None)
    ap.add_argument("--load", action="store_true", help="hwgen quiet vs under a busy machine instead")
    ap.add_argument("--clock", choices=["cpu", "wall"], default=None,
                    help="what is timed: the process's CPU time (default, fair on a shared machine: every side is "
                         "single-threaded in this process) or wall-clock time (default with --load)")
    a = ap.parse_args(argv)
    global clock
    clock = CLOCK[a.clock or ("wall" if a.load else "cpu")]
    if a.load:
        bench_load((a.models or "TFC_1W1A,mnist_cnn_w4a4").split(","), a)
        return 0
    a.models = a.models or ",".join(MODELS)
    from hwgen.report import table

    rows = []
    for name in filter(None, a.models.split(",")):
        r = bench(name, a)
        rows.append([name, f"{r['h1000']:,.0f}", f"{r['r1000']:,.0f}", f"{r['h1000'] / r['r1000']:.2f}",
                     f"{r['h1']:,.0f}", f"{r['r1']:,.0f}", f"{r['h1'] / r['r1']:.2f}",
                     f"{r['hq']:,.0f}", f"{r['q']:,.0f}", f"{r['hq'] / r['q']:.1f}",
                     "yes" if r["exact"] else "NO", f"{r['agree']:.3f}"])
        print(" | ".join(rows[-1]), flush=True)
    print()
    print(table(rows, ["model", "hwgen b1000 fr/s", "ort b1000 fr/s", "hwgen/ort b1000", "hwgen b1 fr/s",
                       "ort b1 fr/s", "hwgen/ort b1", f"hwgen fr/s ({a.qonnx_frames})",
                       f"qonnx fr/s ({a.qonnx_frames})", "hwgen/qonnx", "hwgen == qonnx", "ort argmax agree"]))
    print(f"\n{'process CPU' if clock is time.process_time else 'wall-clock'} time; "
          f"1 thread everywhere; median of {a.repeat} rounds; batch 1 = {a.single} single-frame calls; qonnx "
          f"and hwgen on the same {a.qonnx_frames} frames (qonnx: 1 round).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
