"""sw_fallback.gemm_m1: onnxruntime's one-row Gemm replayed in numba (and its steps in numpy, the construction
check), which a batch-1 tail uses instead of a session call once it matched the session here. Both bit for bit
against the session itself (the evaluator's kind of
single-node model: constants fed as inputs, as qonnx runs it) on every block shape of the kernel (N % 4 = 0..3,
K % 8 = 0..7), with and without C, on values of many scales and signed zeros; a replica that disagrees is
refused; Gemms the one-row kernel does not run are not replayed; the CNN tails use it at batch 1 and give the
evaluator's outputs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tools import require_module

require_module("numba", "the cpu backend")
require_module("onnxruntime", "the Gemm sessions")

import onnx  # noqa: E402
import onnxruntime as rt  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

from sw_fallback import gemm_m1 as G  # noqa: E402


def _session(bias: bool, **attrs):
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("a", "B", "c")[:3 if bias else 2]]
    node = helper.make_node("Gemm", [i.name for i in ins], ["y"], **attrs)
    g = helper.make_graph([node], "g", ins, [onnx.ValueInfoProto(name="y")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    s = rt.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return node, s


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("K,N", [(1, 1), (7, 2), (8, 3), (13, 4), (16, 5), (23, 6), (64, 7), (100, 10), (192, 4),
                                 (385, 9)])
def test_replica_equals_the_session(K, N, bias):
    node, s = _session(bias, transB=1)
    rng = np.random.default_rng(K * 31 + N)
    B = rng.standard_normal((N, K)).astype(np.float32)
    c = rng.standard_normal(N).astype(np.float32)
    ins = [("data", "a"), ("const", B)] + ([("const", c)] if bias else [])
    B1, c1 = G.m1_operands(node, ins, "a", K)
    out = np.empty(N, dtype=np.float32)
    rows = [np.zeros(K, np.float32), np.full(K, -0.0, np.float32)]
    rows += [(rng.standard_normal(K) * 10.0 ** rng.integers(-4, 5)).astype(np.float32) for _ in range(200)]
    for a in rows:
        feed = {"a": a.reshape(1, K), "B": B}
        if bias:
            feed["c"] = c
        want = s.run(None, feed)[0].reshape(-1)
        G.gemm_m1_transb(a, B1, c1, out)
        np.testing.assert_array_equal(out.view(np.int32), want.view(np.int32))
        np.testing.assert_array_equal(G.m1_steps(a.reshape(1, K), B1, c1)[0].view(np.int32), want.view(np.int32))
    feed_of = (lambda r: {"a": r, "B": B, "c": c}) if bias else (lambda r: {"a": r, "B": B})
    assert G.check_m1(B1, c1, lambda f: s.run(None, f), feed_of)


def test_a_replica_that_disagrees_is_refused():
    """A session whose sums are not the one-row kernel's (here: float64 dot products rounded once)."""
    rng = np.random.default_rng(1)
    B, c = rng.standard_normal((4, 192)).astype(np.float32), np.zeros(4, np.float32)

    def other(feed):
        return [(feed["a"].astype(np.float64) @ feed["B"].T.astype(np.float64)).astype(np.float32)]

    assert not G.check_m1(B, c, other, lambda r: {"a": r, "B": B})


@pytest.mark.parametrize("attrs,ok", [({"transB": 1}, True), ({"transB": 0}, False), ({"transB": 1, "alpha": 2.0}, False),
                                      ({"transB": 1, "beta": 0.5}, False), ({"transB": 1, "transA": 1}, False)])
def test_only_gemms_the_one_row_kernel_runs(attrs, ok):
    node, _ = _session(True, **attrs)
    B = np.ones((3, 5) if attrs.get("transB") else (5, 3), np.float32)
    ins = [("data", "a"), ("const", B), ("const", np.ones(3, np.float32))]
    assert (G.m1_operands(node, ins, "a", 5) is not None) == ok
    assert G.m1_operands(node, [("data", "a"), ("const", B.astype(np.float64)), ins[2]], "a", 5) is None


def test_cnn_tail_uses_it_at_batch_1(tmp_path):
    """conv1d_w4a4's tail (Flatten -> Gemm) runs the replica for one-row calls: the evaluator's outputs on every
    frame, and the replica is what ran."""
    from hwgen.build import compile_model
    from sw_fallback.backend import CpuBackend
    from tests.cnn_models import io_pair, model_path

    g = compile_model(model_path("conv1d_w4a4.onnx", tmp_path))
    x = io_pair("conv1d_w4a4")[0][:24]
    be = CpuBackend(None, g, threads=1, driver="wait")
    for i in range(len(x)):
        np.testing.assert_array_equal(be.execute(x[i:i + 1]), g.execute(x[i:i + 1]))
    assert be.tail_plan.mode == "layout" and be.tail_plan.layout._one_node[4] is not None
