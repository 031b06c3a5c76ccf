"""Self-test of the random QONNX MLP generator (tests/qonnx_gen.py) and the malformed-model corpus."""

import os
import sys
import warnings

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(__file__))

from qonnx_gen import (  # noqa: E402
    MLPSpec,
    make_mlp,
    numpy_reference,
    ort_execute,
    qonnx_execute,
    quant_range,
    random_inputs,
    random_spec,
    to_qcdq,
)

SEEDS = range(60)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _inits(model):
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


@pytest.mark.parametrize("seed", SEEDS)
def test_random_model_checks_executes_and_qcdq_agrees(seed):
    spec = random_spec(seed)
    assert 1 <= spec.n_layers <= 4 and all(1 <= s <= 40 for s in spec.sizes)
    model = make_mlp(spec)
    onnx.checker.check_model(model, full_check=True)
    assert model.graph.input[0].name == "inp" and model.graph.output[0].name == "out"
    x = random_inputs(model, 48, seed)
    assert x.dtype == np.float32 and x.shape == (48, spec.sizes[0])
    y = qonnx_execute(model, x)
    assert y.shape == (48, spec.sizes[-1]) and np.all(np.isfinite(y))
    if spec.scales_pow2:  # float32 evaluation is exact: equals an own float64 evaluation bit for bit
        assert np.array_equal(y.astype(np.float64), numpy_reference(model, x))
    else:
        ref = numpy_reference(model, x)
        assert np.allclose(y, ref, rtol=1e-4, atol=1e-4 * (np.abs(ref).max() + 1))
    q = to_qcdq(model)
    if q is not None:
        onnx.checker.check_model(q)
        assert not any(n.op_type in ("Quant", "BipolarQuant") for n in q.graph.node)
        assert np.array_equal(ort_execute(q, x), y)
        assert np.array_equal(qonnx_execute(q, x), y)


def test_determinism_and_batched_equals_per_sample():
    spec = random_spec(4)
    a, b = make_mlp(spec), make_mlp(spec)
    assert a.SerializeToString() == b.SerializeToString()
    x = random_inputs(a, 6, 1)
    assert np.array_equal(qonnx_execute(a, x), qonnx_execute(a, x, batched=False))


def test_enough_models_have_qcdq_versions():
    n = sum(to_qcdq(make_mlp(random_spec(s))) is not None for s in SEEDS)
    assert n >= 15


def _spec(**kw):
    base = dict(sizes=[9, 5, 3], in_bits=8, in_signed=True, in_scale=0.125, w_bits=4, act_bits=4, seed=3)
    base.update(kw)
    return MLPSpec(**base)


@pytest.mark.parametrize(
    "kw, via_qonnx",
    [
        (dict(), True),
        (dict(w_per_channel=True, use_gemm=True, bias=True, batchnorm=True, scales_pow2=False), True),
        (dict(use_gemm=True, gemm_trans_b=False, w_per_channel=True), True),
        (dict(in_signed=False, in_narrow=True), False),  # qonnx QuantToQCDQ: no Clip for unsigned narrow 8 bit
        (dict(act_bits=1, act_signed=False), False),  # 1-bit unsigned {0, 1}
        (dict(final_quant=True, final_mul=False, act_signed=True, act_narrow=True), True),
    ],
)
def test_qcdq_specific(kw, via_qonnx):
    model = make_mlp(_spec(**kw))
    q = to_qcdq(model)
    assert q is not None
    # qonnx's rewriter emits Constant nodes; the own conversion uses initializers
    assert any(n.op_type == "Constant" for n in q.graph.node) == via_qonnx
    x = random_inputs(model, 200, 7)
    y = qonnx_execute(model, x)
    assert np.array_equal(ort_execute(q, x), y)
    assert np.array_equal(qonnx_execute(q, x), y)


@pytest.mark.parametrize(
    "kw",
    [
        dict(w_bits=1, w_bipolar=True),
        dict(w_bits=1, w_bipolar=False, w_signed=True),  # 1-bit signed Quant acts bipolar in qonnx
        dict(act_bits=1, act_bipolar=True),
        dict(in_signed=False, in_zero_point=-3.0),  # odd zero point: tie rounding differs from QuantizeLinear
        dict(in_signed=False, in_zero_point=-2.0, in_bits=7),  # zp != 0: only near-exact, see to_qcdq
    ],
)
def test_qcdq_not_representable(kw):
    assert to_qcdq(make_mlp(_spec(**kw))) is None
    assert to_qcdq(make_mlp(_spec(**kw)), allow_zero_point=True) is None or kw.get("in_zero_point") == -2.0


def test_qcdq_even_zero_point_folded_into_clip():
    # power-of-two scale, inputs on the grid / exact ties / uniform: the folded conversion agrees
    model = make_mlp(_spec(in_signed=False, in_zero_point=-2.0, in_bits=7, in_scale=0.0625))
    assert to_qcdq(make_mlp(_spec(in_signed=False, in_zero_point=-2.0, in_bits=8)), allow_zero_point=True) is None
    q = to_qcdq(model, allow_zero_point=True)
    x = random_inputs(model, 300, 5)
    assert np.array_equal(ort_execute(q, x), qonnx_execute(model, x))
    # a near-tie: x/s = 1.5 - 2^-23, zp = +2: fl32(x/s + 2) = 3.5 (float add rounds) -> half-even 4 -> q - zp = 2,
    # while round(x/s) = 1 (QuantizeLinear semantics)
    model = make_mlp(_spec(sizes=[9, 3], in_signed=True, in_zero_point=2.0, in_bits=7, in_scale=0.0625))
    q = to_qcdq(model, allow_zero_point=True)
    xs = np.zeros((1, 9), np.float32)
    xs[0, :] = np.float32(1.5 - 2.0**-23) * np.float32(0.0625)
    y_q, y_o = qonnx_execute(model, xs), ort_execute(q, xs)
    assert not np.array_equal(y_q, y_o)  # documents the inexactness


def test_unsigned_narrow_8bit_qonnx_quant_to_qcdq_is_wrong():
    """Documents the qonnx QuantToQCDQ limit that to_qcdq works around."""
    import copy

    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.qonnx_to_qcdq import QuantToQCDQ

    model = make_mlp(_spec(sizes=[5, 3], in_signed=False, in_narrow=True, in_scale=0.25))
    q = ModelWrapper(copy.deepcopy(model)).transform(QuantToQCDQ()).model
    x = np.full((1, 5), 1e3, np.float32)
    assert not np.array_equal(ort_execute(q, x), qonnx_execute(model, x))
    assert np.array_equal(ort_execute(to_qcdq(model), x), qonnx_execute(model, x))


def test_random_inputs_mix():
    spec = _spec(in_scale=0.25, in_bits=4, in_signed=True)
    x = random_inputs(spec, 400, 0).astype(np.float64)
    lo, hi = quant_range(4, True, False)
    v = x / 0.25
    assert np.any((x == 0) & ~np.signbit(x)) and np.any((x == 0) & np.signbit(x))
    assert np.any(v > hi + 1) and np.any(v < lo - 1)  # saturating
    assert np.any((np.abs(v - np.floor(v) - 0.5) == 0) & (v > lo) & (v < hi))  # exact ties
    inner = (v > lo) & (v < hi) & (v != np.rint(v))
    assert inner.mean() > 0.2


def test_weights_cover_integer_range_and_bn_signs():
    spec = _spec(sizes=[33, 7, 10], w_bits=[3, 5], w_signed=[True, False], w_narrow=[True, False],
                 w_per_channel=[True, False], batchnorm=True)
    model = make_mlp(spec)
    inits = _inits(model)
    for node in model.graph.node:
        if node.op_type == "Quant" and node.input[0] in inits:
            w, s, z, b = (inits[n] for n in node.input)
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            lo, hi = quant_range(int(b), bool(attrs["signed"]), bool(attrs["narrow"]))
            q = np.clip(np.round(w / s), lo, hi)
            assert q.min() == lo and q.max() == hi
            assert np.any(w / s > hi + 0.5) or np.any(w / s < lo - 0.5) or w.size < 40
        if node.op_type == "BatchNormalization":
            gamma = inits[node.input[1]]
            assert np.any(gamma < 0) and np.any(gamma > 0)


def test_qonnx_zero_point_semantics():
    """Quant adds the zero point before round-half-even: with an odd zero point ties round the other way."""
    model = make_mlp(_spec(sizes=[4, 1], in_bits=8, in_signed=False, in_zero_point=-3.0, in_scale=1.0,
                           w_bits=2, w_signed=False))
    ctx_x = np.array([[0.5 + 3, 1.5 + 3, 2.5 + 3, -100.0]], np.float32)  # x/s + zp = .5, 1.5, 2.5 ; saturate
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    mw = ModelWrapper(model).transform(InferShapes())
    ctx = execute_onnx(mw, {"inp": ctx_x}, return_full_exec_context=True)
    qout = ctx[model.graph.node[0].output[0]]
    # round(.5)=0, round(1.5)=2, round(2.5)=2 then +3; -100 clamps to integer 0 -> value 3
    assert qout.tolist() == [[3.0, 5.0, 5.0, 3.0]]


# ---------------------------------------------------------------------------------------------------------------
# malformed / hostile corpus (tests/malformed_models.py)

import malformed_models as mm  # noqa: E402


def test_malformed_corpus_self_check(tmp_path):
    assert len(mm.CASES) >= 18
    required = {"missing_file", "empty_file", "random_bytes", "truncated_model", "no_nodes", "dynamic_feature_dim",
                "weights_from_graph_input", "quant_scale_from_graph_input", "bitwidth_2_5", "bitwidth_0",
                "bitwidth_40", "nan_scale", "inf_scale", "zero_scale", "dangling_tensor", "matmul_shape_mismatch",
                "unknown_custom_op", "unquantized_float_matmul", "unsupported_sin"}
    assert required <= {c.id for c in mm.CASES}
    mm.self_check(tmp_path)


def test_hostile_names_are_hostile(tmp_path):
    def names(case):
        m = onnx.load(str(case.make(tmp_path)))
        g = m.graph
        return [n.name for n in g.node] + [t.name for t in g.initializer] + [o for n in g.node for o in n.output]

    by_id = {c.id: c for c in mm.HOSTILE_CASES}
    assert max(len(n) for n in names(by_id["very_long"])) >= 5000
    assert any("\n" in n for n in names(by_id["newlines"]))
    assert any("*/" in n for n in names(by_id["comment_terminators"]))
    assert any("$(rm -rf /)" in n for n in names(by_id["shell"]))
    assert any("<script>" in n for n in names(by_id["html_script"]))
    assert any(ord(ch) > 127 for n in names(by_id["unicode"]) for ch in n)
    low = [n.lower() for n in names(by_id["case_only"])]
    assert len(set(low)) < len(low)
    coll = names(by_id["sanitize_collision"])
    assert len({n.replace("-", "_").replace(" ", "_").replace(".", "_").replace("__", "_").lower()
                for n in coll}) < len(coll)
    try:
        from hwgen.naming import sanitize
    except Exception:  # pragma: no cover - compiler package not importable
        return
    assert len({sanitize(n).lower() for n in coll}) < len(coll)
