"""Frames/s of the `cpu` backend (sw_fallback, numba) on convolutional networks, next to baselines measured in the
same run; ratios = cpu frames/s / baseline frames/s, both measured on the same frames (the slow baselines,
qonnx and the numpy reference, on a slice of the batch: the cpu figure of the ratio is then the cpu backend on
that same slice, not on the whole batch). Warm-up (numba compile or cache load, head threshold
search, ORT session creation) is excluded.

- `cnv-handmade`: a CNV-1W1A-shaped hardware graph made by hand (tests/handmade.py): 8-bit 3x32x32 input,
  binary 3x3 convs 64, 64, [max pool 2], 128, 128, [max pool 2], 256, 256, FCs 512, 512, 10; random weights and
  thresholds. Baseline: hwgen's numpy reference (`HwGraph.execute`, the kinds' golden semantics: im2col + matmul).
- models compiled from ONNX (tests/models/cnn, when the streamliner lowers them: `--models`): baselines qonnx's
  `execute_onnx` on the QONNX model (batched) and onnxruntime on its QCDQ twin (ORT_ENABLE_ALL) where there is
  one (CNV has none: QCDQ has no BIPOLAR type).

    python benchmarks/bench_cnn_cpu.py [--frames 2000] [--repeat 3] [--threads N] [--models cnv_1w1a,...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(fn, repeat):
    ts, r = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        r = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), r


def cnv_handmade(seed: int = 0):
    """The CNV-1W1A topology as hardware layers: [SWG -> MVAU] x 6 with 2 x [SWG -> Pool], then 3 MVAUs."""
    from hwgen.dtypes import from_name
    from hwgen.layers.mvau import MVAU
    from hwgen.layers.pool import Pool
    from hwgen.layers.swg import SlidingWindow
    from tests.handmade import handmade_graph

    rng = np.random.default_rng(seed)
    B = from_name("BIPOLAR")
    layers, hw, c, dt = [], (32, 32), 3, from_name("UINT8")
    for i, o in enumerate([64, 64, "pool", 128, 128, "pool", 256, 256]):
        if o == "pool":
            swg = SlidingWindow(f"pool{i}_swg", dt, hw, c, 2, 2)
            layers += [swg, Pool(f"pool{i}", dt, dt, swg.ofm, 4, c, "max")]
            hw = swg.ofm
            continue
        swg = SlidingWindow(f"conv{i}_swg", dt, hw, c, 3)
        w = rng.choice([-1, 1], size=(o, 9 * c))
        mv = MVAU(f"conv{i}", dt, B, w, None, B, num_vectors=swg.ofm[0] * swg.ofm[1], spatial=swg.ofm)
        lo, hi = mv.acc_range()
        thr = ((lo + hi) // 2 + rng.integers(-3, 4, o))[:, None]
        layers += [swg, MVAU(mv.name, dt, B, w, thr, B, num_vectors=mv.num_vectors, spatial=swg.ofm)]
        hw, c, dt = swg.ofm, o, B
    f = hw[0] * hw[1] * c
    for i, o in enumerate([512, 512, 10]):
        w = rng.choice([-1, 1], size=(o, f))
        thr = None if o == 10 else rng.integers(-8, 9, (o, 1))
        layers.append(MVAU(f"fc{i}", B, B, w, thr, B if thr is not None else from_name("INT16")))
        f = o
    return handmade_graph(layers, input_shape=[1, 32, 32, 3])


def bench_handmade(args, rows):
    from sw_fallback.backend import CpuBackend
    from tests.handmade import random_input

    g = cnv_handmade()
    x = random_input(g, args.frames, seed=1)
    be = CpuBackend(None, g, threads=args.threads)
    t_cpu, y = timed(lambda: be.execute(x), args.repeat)
    n_ref = max(8, args.frames // 50)
    t_ref, y_ref = timed(lambda: g.execute(x[:n_ref]), 1)
    assert np.array_equal(y[:n_ref], y_ref), "cpu backend differs from the reference"
    t_same, _ = timed(lambda: be.execute(x[:n_ref]), args.repeat)  # the ratio: the same frames on both sides
    cpu_fps, ref_fps = args.frames / t_cpu, n_ref / t_ref
    rows.append(("cnv-handmade (1W1A shape)", cpu_fps, "numpy reference", ref_fps, (n_ref / t_same) / ref_fps))
    rows.append(("", None, "onnxruntime QCDQ", None, None))


def batch_free(path) -> bytes:
    """The ONNX model with a symbolic batch dimension (the exports fix it to 1)."""
    import onnx

    m = onnx.load(str(path))
    for vi in list(m.graph.input) + list(m.graph.output):
        vi.type.tensor_type.shape.dim[0].dim_param = "N"
    del m.graph.value_info[:]
    return m.SerializeToString()


def bench_model(name, args, rows):
    """A committed CNN test model compiled by hwgen (needs the streamliner's CNN lowering)."""
    from hwgen.build import compile_model
    from sw_fallback.backend import CpuBackend
    from tests.cnn_models import CNN_DIR, model_path

    with tempfile.TemporaryDirectory() as tmp:
        fname = next(f for f in (f"{name}.onnx.gz", f"{name}.onnx") if (CNN_DIR / f).is_file())
        path = model_path(fname, Path(tmp))
        g = compile_model(path)
        io = np.load(CNN_DIR / f"{name}_io.npz")
        x0 = np.asarray(io[io.files[0]], dtype=np.float32)
        x = np.concatenate([x0] * (args.frames // len(x0) + 1))[: args.frames]
        be = CpuBackend(None, g, threads=args.threads)
        t_cpu, y = timed(lambda: be.execute(x), args.repeat)
        cpu_fps = args.frames / t_cpu
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.core.onnx_exec import execute_onnx
        from qonnx.transformation.change_batchsize import ChangeBatchSize
        from qonnx.util.cleanup import cleanup_model

        n_q = max(8, args.frames // 20)
        m = cleanup_model(ModelWrapper(str(path)))  # as hwgen.verify.golden, prepared once (not timed)
        m = cleanup_model(m.transform(ChangeBatchSize(n_q)))
        iname, oname = m.graph.input[0].name, m.graph.output[0].name
        t_q, yq = timed(lambda: execute_onnx(m, {iname: x[:n_q]})[oname], 1)
        assert np.array_equal(np.asarray(y[:n_q]).reshape(yq.shape), yq), f"{name}: cpu differs from qonnx"
        t_same, _ = timed(lambda: be.execute(x[:n_q]), args.repeat)  # the ratio: the same frames on both sides
        q_fps = n_q / t_q
        rows.append((name, cpu_fps, "qonnx execute_onnx", q_fps, (n_q / t_same) / q_fps))
        qcdq = CNN_DIR / f"{name}_qcdq.onnx"
        if qcdq.is_file():
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if args.threads:
                so.intra_op_num_threads = args.threads
            sess = ort.InferenceSession(batch_free(qcdq), so, providers=["CPUExecutionProvider"])
            oin = sess.get_inputs()[0].name
            sess.run(None, {oin: x[:8]})
            t_o, _ = timed(lambda: sess.run(None, {oin: x}), args.repeat)
            o_fps = args.frames / t_o
            rows.append(("", None, "onnxruntime QCDQ", o_fps, cpu_fps / o_fps))
        else:
            rows.append(("", None, "onnxruntime QCDQ", None, None))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--models", default="", help="comma-separated committed CNN models (needs CNN lowering)")
    ap.add_argument("--no-handmade", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    if not args.no_handmade:
        bench_handmade(args, rows)
    for name in filter(None, args.models.split(",")):
        bench_model(name, args, rows)
    print(f"{'model':28s} {'cpu frames/s':>13s}  {'baseline':22s} {'frames/s':>10s} {'cpu / baseline':>15s}")
    for model, cpu, base, bfps, ratio in rows:
        print(f"{model:28s} {'' if cpu is None else f'{cpu:13,.0f}':>13s}  {base:22s} "
              f"{'n/a (no QCDQ twin)' if bfps is None else f'{bfps:10,.1f}':>10s} "
              f"{'' if ratio is None else f'{ratio:14.1f}x':>15s}")


if __name__ == "__main__":
    main()
