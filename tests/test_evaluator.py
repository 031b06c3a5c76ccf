"""The one CPU evaluator (hwgen.evaluator) on its two engines: onnxruntime per node as qonnx runs it (the host) and
numpy alone (the board). On the island test models' CPU pieces the numpy engine gives onnxruntime's bits where
the ops are element-wise IEEE operations, layout ops or exact sums, and stays within float32 rounding where they
sum in another order or use other approximations (Softmax, LayerNormalization, Sigmoid, ReduceMean)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwgen.build import compile_model
from hwgen.evaluator import INEXACT, Evaluator
from hwgen.islands import CpuIsland

MODELS = Path(__file__).resolve().parents[1] / "tests" / "models" / "islands"


def _pieces(name, n=200):
    """(what, evaluator on the host, the same nodes on numpy, feeds, outputs) for every CPU piece of the model,
    fed the values the host computes there."""
    g = compile_model(MODELS / f"{name}.onnx")
    x = np.random.default_rng(0).uniform(-1.2, 1.2, (n, *g.input_shape[1:])).astype(np.float32)
    env = {g.input_name: g.check_input(x)}
    out = []
    for isl in g.islands:
        if isinstance(isl, CpuIsland):
            feeds = {t: env[t] for t in isl.inputs}
            out.append((isl.nodes, isl.evaluator(), Evaluator(isl.nodes, isl.constants, isl.opset, engine="numpy"),
                        feeds, isl.outputs))
            env.update(isl.run(env))
            continue
        q = isl.head_ints(env[isl.input_name])
        y = isl.run_layers(q)
        t = isl.tail
        if t.nodes:
            v = t.entry_values(y)
            out.append((t.nodes, t.evaluator(), Evaluator(t.nodes, t.constants, t.opset, engine="numpy"),
                        {t.input: v}, [t.output]))
        env[isl.output_name] = t.run(y)
    return out


@pytest.mark.parametrize("name", ["residual_float_sum", "se_gate_cnn", "layernorm_mlp", "softmax_cnn"])
def test_numpy_engine_against_onnxruntime(name):
    for nodes, host, board, feeds, outs in _pieces(name):
        assert host.engine == "ort" and board.engine == "numpy"
        a, b = host.run(feeds, outs), board.run(feeds, outs)
        inexact = {n.op_type for n in nodes} & INEXACT
        for o in outs:
            if not inexact or name == "residual_float_sum":  # exact ops, or sums exact in any order (2^k scales)
                np.testing.assert_array_equal(b[o], a[o], err_msg=f"{name} {o}")
            else:  # another summation order / approximation: float32 rounding apart, no more
                np.testing.assert_allclose(b[o], a[o], rtol=2e-5, atol=1e-6, err_msg=f"{name} {o} ({inexact})")
