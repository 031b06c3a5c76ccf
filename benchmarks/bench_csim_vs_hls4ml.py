"""hwgen's C simulation against hls4ml's compiled `predict()` on the same model and the same frames, in one run.

The model: the look-alike of the QONNX zoo's QKeras jet tagger (tests/frontend_models.py `qkeras_mlp`: 16 float
inputs -> 64 -> 32 -> 32 -> 5, quantized_bits(6, 0) weights and biases, quantized_relu(6), Softmax), as qonnx's
QKeras converter writes it.
- hwgen: `hwgen build --input-dtype FIXED<16,6> --target-fps 1e6` (every layer in hardware, as hls4ml builds it),
  then `Accelerator(out, "csim").execute(x)`: the HLS C++ compiled with g++ -O2, its DATAFLOW processes run
  concurrently on FIFOs of their depths (templates/hls/hwgen_csim.hpp), one call per batch; the float input
  quantized on the CPU and the Softmax after it, as the accelerator runs the model. Also the hardware part alone
  (`execute_ints` on the already quantized frames).
- hls4ml: the same QONNX file (qonnx cleanup, channels-last, Gemm->MatMul), `config_from_onnx_model` with
  `fixed<16,6>` default precision, Vitis backend, `compile()` (g++ -O3 of its firmware), then `predict(x)`.
The outputs are not compared with each other (hls4ml's Softmax is a table approximation and its layer
precisions are its own); hwgen's are checked bit-exact against hwgen's reference backend.

    python benchmarks/bench_csim_vs_hls4ml.py [--frames 20000] [--repeat 3]

Prints frames/s of each (median of --repeat runs after a warm-up run) and the ratio hwgen / hls4ml.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_csim import median_s as timed  # noqa: E402  (median of repeat runs after a warm-up)


def hls4ml_model(onnx_path: Path, out_dir: Path):
    """The hls4ml model of the QONNX file, compiled; or (None, reason)."""
    try:
        import hls4ml
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
        from qonnx.transformation.gemm_to_matmul import GemmToMatMul
        from qonnx.util.cleanup import cleanup_model
    except ImportError as e:
        return None, f"hls4ml or qonnx is not installed ({e})"
    m = cleanup_model(ModelWrapper(str(onnx_path)))
    m = cleanup_model(m.transform(ConvertToChannelsLastAndClean()).transform(GemmToMatMul()))
    cfg = hls4ml.utils.config.config_from_onnx_model(m, granularity="name", backend="Vitis",
                                                     default_precision="fixed<16,6>")
    hm = hls4ml.converters.convert_from_onnx_model(m, output_dir=str(out_dir), backend="Vitis", hls_config=cfg)
    hm.compile()
    return hm, ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    import contextlib
    import io
    import warnings

    import onnx

    from hwgen.cli import main as hwgen_main
    from hwgen.report import table
    from hwgen.runtime.accelerator import Accelerator
    from tests.frontend_models import qkeras_mlp

    n = a.frames
    x = (np.random.default_rng(0).integers(-2 ** 15, 2 ** 15, (n, 16)) * 2.0 ** -10).astype(np.float32)  # FIXED<16,6>
    rows = []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        model = d / "jet_tagger.onnx"
        onnx.save(qkeras_mlp(seed=1), model)
        t = time.perf_counter()
        if hwgen_main(["build", str(model), "-o", str(d / "out"), "-q", "--input-dtype", "FIXED<16,6>",
                       "--target-fps", "1000000"]) != 0:
            print("hwgen build failed", file=sys.stderr)
            return 1
        acc = Accelerator(d / "out", "csim")
        hw_build = time.perf_counter() - t
        ref = Accelerator(d / "out", "reference")
        q = acc.graph.head_ints(x)
        t_e2e, y = timed(lambda: acc.execute(x), a.repeat)
        t_hw, yq = timed(lambda: acc.execute_ints(q), a.repeat)
        if not (np.array_equal(yq, ref.execute_ints(q)) and np.array_equal(y, ref.execute(x))):
            print("hwgen csim differs from hwgen's reference backend", file=sys.stderr)
            return 1
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # hls4ml prints its config
            warnings.simplefilter("ignore")
            hm, why = hls4ml_model(model, d / "hls4ml")
        h4_build = time.perf_counter() - t
        rows.append(["hwgen csim, execute(x) (quantize, C simulation, Softmax)", f"{n / t_e2e:,.0f}",
                     f"{hw_build:.1f}"])
        rows.append(["hwgen csim, hardware part (execute_ints)", f"{n / t_hw:,.0f}", ""])
        if hm is None:
            print(table(rows, ["run", "frames/s", "build + compile s"]))
            print(f"\nhls4ml: not run: {why}")
            return 0
        t_h4, _ = timed(lambda: hm.predict(x), a.repeat)
        rows.append(["hls4ml 1.3 predict(x) (compiled C++)", f"{n / t_h4:,.0f}", f"{h4_build:.1f}"])
    print(table(rows, ["run", "frames/s", "build + compile s"]))
    print(f"\nhwgen csim execute / hls4ml predict: {t_h4 / t_e2e:.2f}x; hardware part / hls4ml predict: "
          f"{t_h4 / t_hw:.2f}x ({n} frames, median of {a.repeat} runs after a warm-up, one process, one thread "
          "each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
