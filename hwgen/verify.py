"""`hwgen verify`: random valid inputs through chosen backends and the original QONNX graph; bit-exact or not."""

from __future__ import annotations

import time

import numpy as np

from hwgen.report import table


def random_model_inputs(graph, n: int, seed: int = 0) -> np.ndarray:
    """Inputs spanning the input quantizer's range and beyond (saturation), plus exact level values.

    The head's first quantizer decides the range; inputs are drawn around it in the model's input shape.
    """
    from hwgen.frontend.input_types import declared_grid

    rng = np.random.default_rng(seed)
    shape = (n, *graph.input_shape[1:])
    grid = declared_grid(graph)
    if grid is not None:  # the build is bit-exact for inputs of the declared type: draw those
        return grid.random(rng, shape)
    # probe the head to find the input scale region that changes the quantized value
    scale = _input_span(graph)
    x = rng.uniform(-1.5 * scale, 1.5 * scale, size=shape).astype(np.float32)
    k = max(1, n // 4)
    x[:k] = np.round(x[:k] / (scale / 16)) * (scale / 16)  # grid values: ties and exact levels
    return x.astype(np.float32)


def _input_span(graph) -> float:
    """A magnitude of input at which the first layer's input saturates (searched on the head itself)."""
    first = graph.layers[0]
    lo, hi = first.in_dtype.min, first.in_dtype.max
    for mag in [2.0 ** k for k in range(-8, 20)]:
        probe = np.full((2, *graph.input_shape[1:]), mag, np.float32)
        probe[1] = -mag
        q = graph.head_ints(probe)
        if q.max() >= hi and q.min() <= lo:
            return mag
    return 1.0


def golden(model_path, x):
    """The original graph executed by qonnx (the golden reference), batched."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.util.cleanup import cleanup_model

    m = cleanup_model(ModelWrapper(str(model_path)))
    m = cleanup_model(m.transform(ChangeBatchSize(x.shape[0])))
    return execute_onnx(m, {m.graph.input[0].name: x})[m.graph.output[0].name]


def verify(out, n: int = 100, backends=("reference",), seed: int = 0, log=print) -> bool:
    from hwgen.runtime.accelerator import Accelerator

    ref_acc = Accelerator(out, "reference")
    g = ref_acc.graph
    x = random_model_inputs(g, n, seed)
    q0 = g.head_ints(x)
    ref_ints = ref_acc.execute_ints(q0)
    ref_out = g.tail.run(ref_ints)
    rows, ok_all = [], True
    try:
        t = time.perf_counter()
        gold = golden(g.model_path, x)
        dt = time.perf_counter() - t
        exact = np.array_equal(gold, ref_out)
        close = exact or np.allclose(gold, ref_out, rtol=1e-5, atol=1e-5 * float(np.abs(gold).max() or 1))
        rows.append(["qonnx (original graph)", "golden", "exact" if exact else ("float32 rounding" if close
                     else "DIFFERS"), f"{n / dt:,.0f}"])
        ok_all &= close
    except Exception as e:  # the original model may have moved; the backends are still compared
        rows.append(["qonnx (original graph)", "unavailable", type(e).__name__, "-"])
    for b in backends:
        acc = ref_acc if b == "reference" else Accelerator(out, b)
        t = time.perf_counter()
        ints = acc.execute_ints(q0)
        dt = time.perf_counter() - t
        same = np.array_equal(ints, ref_ints)
        mism = int((ints != ref_ints).any(axis=-1).sum()) if ints.shape == ref_ints.shape else n
        rows.append([b, f"{n - mism}/{n} frames bit-exact", "yes" if same else "NO", f"{n / dt:,.0f}"])
        ok_all &= same
    log(table(rows, ["path", "result", "bit-exact", "frames/s"]))
    return ok_all
