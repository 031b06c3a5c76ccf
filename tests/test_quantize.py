"""Issue 21: `hwgen quantize` from float ONNX models (tests/models/float, made by
examples/quantize/train_digits_float.py) to QONNX that builds and runs bit-exact with qonnx; pruning that shrinks
the hardware; mixed precision under a budget; bad input exits 2 with one line."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hwgen.build import build
from hwgen.cli import main
from hwgen.quantize.evaluate import Candidate, accuracy
from hwgen.quantize.floatnet import load_float
from hwgen.quantize.run import quantize
from hwgen.verify import verify
from tests.conftest import ROOT

FLOAT = ROOT / "tests" / "models" / "float"
FPS = 100000  # the rate every LUT comparison is folded for
QUIET = dict(log=None)


def digits(kind: str):
    d = np.load(FLOAT / "digits_data.npz")
    shape = (-1, 64) if kind == "mlp" else (-1, 1, 8, 8)
    f = lambda v: (v / 16.0).astype(np.float32).reshape(shape)  # noqa: E731
    return f(d["X_train"]), d["y_train"].astype(np.int64), f(d["X_test"]), d["y_test"].astype(np.int64)


def float_test_accuracy(name: str) -> float:
    kind = "mlp" if "mlp" in name else "cnn"
    _, _, xte, yte = digits(kind)
    return accuracy(load_float(FLOAT / f"{name}.onnx").forward(xte), yte)


def quantized(tmp, name: str, bits: int, **kw):
    kind = "mlp" if "mlp" in name else "cnn"
    xtr, ytr, _, _ = digits(kind)
    out = tmp / f"{name}_w{bits}a{bits}.onnx"
    r = quantize(FLOAT / f"{name}.onnx", xtr[:600], out, weights=bits, acts=bits, labels=ytr[:600],
                 target_fps=FPS, **QUIET, **kw)
    return out, r


def test_accuracy_at_w4a4_and_w8a8_and_bit_exact_reference_cpu(tmp_path):
    """w8a8 loses at most 0.5 points of test accuracy, w4a4 at most 2 (cpu backend, bit-exact with qonnx); the
    MLP and the CNN build and agree with qonnx on the test images and on verify's aimed inputs."""
    for name in ("digits_mlp", "digits_cnn"):
        fa = float_test_accuracy(name)
        _, _, xte, yte = digits("mlp" if "mlp" in name else "cnn")
        for bits, budget in ((8, 0.005), (4, 0.02)):
            q, r = quantized(tmp_path, name, bits)
            assert [L["w_bits"] for L in r["layers"]] == [bits] * 3
            assert all(L["w_sqnr_db"] > 0 and L["out_sqnr_db"] > 0 for L in r["layers"])
            assert r["layers"][-1]["w_pow2"]  # the last layer stays exact in hardware
            with Candidate(onnx.load(q), target_fps=FPS) as c:
                acc = c.accuracy(xte, yte)
                assert sum(lay["op"] == "MVAU" for lay in c.summary["layers"]) == 3  # the last FC too
            assert acc >= fa - budget, (name, bits, acc, fa)
            if bits == 4:
                out = tmp_path / f"b_{name}"
                build(q, out, target_fps=FPS, log=lambda *a: None)
                assert verify(out, n=12, backends=("reference", "cpu"), log=lambda *a: None)
                from hwgen.runtime.accelerator import Accelerator
                from tests.conftest import qonnx_golden

                y = Accelerator(out, "cpu", wait_for_kernels=True).execute(xte[:16])
                assert np.array_equal(y, qonnx_golden(q, xte[:16]))


@pytest.mark.slow
def test_cnn_w4a4_and_pruned_csim_rtlsim_bit_exact(tmp_path):
    for name in ("digits_cnn", "digits_cnn_pruned"):
        q, _ = quantized(tmp_path, name, 4)
        out = tmp_path / f"b_{name}"
        build(q, out, target_fps=FPS, log=lambda *a: None)
        assert verify(out, n=8, backends=("reference", "cpu", "csim", "rtlsim"), log=lambda *a: None)


def test_model_pruned_in_training_builds_smaller_bit_exact(tmp_path):
    """Half the conv channels zeroed in training: >= 40 % fewer estimated LUTs than the unpruned twin at the same
    rate, with no option; the pass lists what it removed."""
    luts = {}
    for name in ("digits_cnn", "digits_cnn_pruned"):
        q, r = quantized(tmp_path, name, 4)
        luts[name] = r["hardware"]["luts"]
        if name == "digits_cnn_pruned":
            pruned = r["hardware"]["pruned"]
            assert [(p["kept"], p["of"]) for p in pruned] == [(8, 16), (16, 32)]
            out = tmp_path / "b"
            s = build(q, out, target_fps=FPS, log=lambda *a: None)
            assert s["pruned"] == pruned
            assert verify(out, n=12, backends=("reference", "cpu"), log=lambda *a: None)
        else:
            assert r["hardware"]["pruned"] == []
    assert luts["digits_cnn_pruned"] <= 0.6 * luts["digits_cnn"], luts


def test_constant_nonzero_channel_folds_into_next_thresholds(tmp_path):
    """Hidden neurons with zero weights and a positive bias send the same non-zero level for every input: the pass
    removes them and shifts the next layer's thresholds by their contribution; outputs stay bit-exact. Removing
    them only where the count stays foldable (8 -> 4, not 8 -> 7)."""
    rng = np.random.default_rng(1)
    w1, b1 = rng.normal(size=(8, 8)), rng.normal(size=8) * 0.1
    w1[[1, 2, 4, 6]], b1[[1, 2, 4, 6]] = 0, [0.7, 0.4, 0.2, 0.9]
    w2, b2 = rng.normal(size=(5, 8)), rng.normal(size=5) * 0.1
    w3, b3 = rng.normal(size=(3, 5)), np.zeros(3)
    path = tmp_path / "f.onnx"
    inits = [numpy_helper.from_array(a.astype(np.float32), n)
             for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"), (w3, "w3"), (b3, "b3"))]
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1, name="fc1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu1"),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["h2"], transB=1, name="fc2"),
             helper.make_node("Relu", ["h2"], ["r2"], name="relu2"),
             helper.make_node("Gemm", ["r2", "w3", "b3"], ["y"], transB=1, name="fc3")]
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    x = rng.normal(size=(200, 8)).astype(np.float32)
    q = tmp_path / "q.onnx"
    r = quantize(path, x, q, weights=4, acts=4, **QUIET)
    (p,) = r["hardware"]["pruned"]
    assert p["removed"] == [1, 2, 4, 6] and max(p["constant_levels"]) > 0
    out = tmp_path / "b"
    build(q, out, log=lambda *a: None)
    assert verify(out, n=30, backends=("reference", "cpu"), log=lambda *a: None)
    from hwgen.transforms.prune_channels import how_many

    assert [how_many(c, n) for c, n in ((512, 1), (8, 1), (8, 4), (64, 8), (64, 3), (6, 1), (16, 16))] == \
        [0, 0, 4, 8, 0, 0, 15]


def test_prune_option_removes_channels_and_refits(tmp_path):
    _, r = quantized(tmp_path, "digits_cnn", 4, prune=0.5)
    assert [(p["kept"], p["of"]) for p in r["pruned"]] == [(8, 16), (16, 32)]
    assert [(p["kept"], p["of"]) for p in r["hardware"]["pruned"]] == [(8, 16), (16, 32)]
    assert r["accuracy"]["pruned_float"] > 0.95  # the next layers are re-fitted to the unpruned outputs
    assert r["accuracy"]["quantized"] > 0.95


@pytest.mark.slow
def test_accuracy_drop_fewer_luts_than_w8a8(tmp_path):
    """--accuracy-drop 1 on the digits CNN: fewer estimated LUTs than uniform w8a8, within 1 point on the labelled
    calibration set (what the budget is measured on, as the README says), and the quantized model run again on
    it gives that accuracy; on the unseen test set within 2 points (2026-12-07: the search takes 3/2 2/2 3/-
    bits, 99.5 % on the calibration set, 97.4 % on the test set against the float model's 98.9 %)."""
    xtr, ytr, xte, yte = digits("cnn")
    q = tmp_path / "mixed.onnx"
    r = quantize(FLOAT / "digits_cnn.onnx", xtr, q, labels=ytr, accuracy_drop=1, target_fps=FPS, **QUIET)
    m = r["mixed_precision"]
    assert m["chosen"]["luts"] < m["uniform"]["luts"]
    assert m["chosen"]["accuracy"] >= m["floor"] and m["on"] == "calibration set"
    with Candidate(onnx.load(q), target_fps=FPS) as c:
        assert c.accuracy(xtr, ytr) == pytest.approx(m["chosen"]["accuracy"])
        assert c.accuracy(xte, yte) >= float_test_accuracy("digits_cnn") - 0.02
    assert (tmp_path / "mixed.report.md").read_text().count("chosen") >= 1


def test_adaptive_rounding_lowers_the_output_error(tmp_path):
    """--rounding adaptive: every layer's output error on the calibration set smaller than round-to-nearest's;
    auto picks it at 2 bits only; the model still builds bit-exact."""
    xtr, _, _, _ = digits("cnn")
    sq = {}
    for r, bits in (("nearest", 2), ("adaptive", 2), ("auto", 2), ("auto", 4)):
        rep = quantize(FLOAT / "digits_cnn.onnx", xtr[:300], tmp_path / f"{r}{bits}.onnx", weights=bits, acts=bits,
                       rounding=r, **QUIET)
        sq[r, bits] = [L["out_sqnr_db"] for L in rep["layers"]]
        assert {L["w_rounding"] for L in rep["layers"]} == {"adaptive" if (r, bits) != ("nearest", 2) and
                                                            (r, bits) != ("auto", 4) else "nearest"}
    assert all(a > n for a, n in zip(sq["adaptive", 2], sq["nearest", 2])), sq
    out = tmp_path / "b"
    build(tmp_path / "adaptive2.onnx", out, log=lambda *a: None)
    assert verify(out, n=12, backends=("reference", "cpu"), log=lambda *a: None)


@pytest.fixture(scope="module")
def calib_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("calib")
    xtr, ytr, _, _ = digits("mlp")
    files = {"ok": xtr[:50], "img": xtr[:50].reshape(-1, 1, 8, 8), "nan": np.where(np.arange(64) == 3, np.nan,
                                                                                    xtr[:50]),
             "empty": np.zeros((0, 64), np.float32), "labels_bad": ytr[:7]}
    for k, v in files.items():
        np.save(d / f"{k}.npy", v)
    return d


@pytest.mark.parametrize("case, args, words", [
    ("already quantized", ["EXAMPLE", "--calib", "ok"], ["already quantized", "hwgen build"]),
    ("wrong shape", ["MLP", "--calib", "img"], ["shape", "(N, 64)"]),
    ("NaN", ["MLP", "--calib", "nan"], ["NaN"]),
    ("empty", ["MLP", "--calib", "empty"], ["empty"]),
    ("weights 0", ["MLP", "--calib", "ok", "--weights", "0"], ["--weights", "1 to 8"]),
    ("acts 9", ["MLP", "--calib", "ok", "--acts", "9"], ["--acts", "1 to 8"]),
    ("weights text", ["MLP", "--calib", "ok", "--weights", "four"], ["--weights"]),
    ("drop without labels", ["MLP", "--calib", "ok", "--accuracy-drop", "1"], ["--labels"]),
    ("labels shape", ["MLP", "--calib", "ok", "--labels", "labels_bad"], ["--labels", "(50,)"]),
    ("prune 1", ["MLP", "--calib", "ok", "--prune", "1"], ["--prune"]),
    ("missing calib", ["MLP", "--calib", "nope"], ["does not exist"]),
])
def test_bad_input_exits_2_with_one_line(calib_files, tmp_path, capsys, case, args, words):
    subst = {"EXAMPLE": str(ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx"),
             "MLP": str(FLOAT / "digits_mlp.onnx")}
    argv = ["quantize"]
    for i, a in enumerate(args):
        if i > 0 and args[i - 1] in ("--calib", "--labels"):
            a = str(calib_files / f"{a}.npy")
        argv.append(subst.get(a, a))
    assert main(argv + ["-o", str(tmp_path / "q.onnx")]) == 2, case
    err = capsys.readouterr().err.strip()
    assert err.startswith("hwgen: error:") and "\n" not in err and "Traceback" not in err
    for w in words:
        assert w in err, (case, err)
    assert not (tmp_path / "q.onnx").exists()


def test_explore_sweeps_prune_ratios_of_a_float_model(tmp_path):
    """`hwgen explore FLOAT.onnx --calib --labels --weights --acts --prune`: each point quantizes in its Dask task,
    builds and measures accuracy on the cpu backend; accuracy against LUTs in pareto.svg and index.html."""
    from hwgen.explore.sweep import explore

    xtr, ytr, _, _ = digits("mlp")
    res = explore(FLOAT / "digits_mlp.onnx", tmp_path / "sw", targets=[FPS], calib=xtr[:200], labels=ytr[:200],
                  weights=[4], acts=[4], prunes=[0.0, 0.5], workers=1, log=None, progress=False)
    rows = res["points"]
    assert res["failed"] == 0 and [(r["weights"], r["acts"], r["prune"]) for r in rows] == [(4, 4, 0.0),
                                                                                          (4, 4, 0.5)]
    assert all(0.8 < r["accuracy"] <= 1 and r["luts"] > 0 for r in rows)
    import json

    assert any(r["pareto"] for r in json.loads((tmp_path / "sw" / "results.json").read_text())["points"])
    assert "Accuracy against LUTs" in (tmp_path / "sw" / "pareto.svg").read_text()
    assert "<th>W bits</th>" in (tmp_path / "sw" / "index.html").read_text()
    again = explore(FLOAT / "digits_mlp.onnx", tmp_path / "sw", targets=[FPS], calib=xtr[:200], labels=ytr[:200],
                    weights=[4], acts=[4], prunes=[0.0, 0.5], workers=1, log=None, progress=False)
    assert again["cached"] == 2
    assert main(["explore", str(FLOAT / "digits_mlp.onnx"), "-o", str(tmp_path / "x"), "--weights", "4"]) == 2


def test_input_quantizer_from_data_or_declared(tmp_path):
    """The calibration data's lossless grid (digits: x / 16 -> UINT5, scale 1/16), or --input-dtype."""
    xtr, _, _, _ = digits("mlp")
    r = quantize(FLOAT / "digits_mlp.onnx", xtr[:200], tmp_path / "a.onnx", weights=4, acts=4, **QUIET)
    assert r["input_quantizer"] == {**r["input_quantizer"], "bits": 5, "signed": False, "scale": 0.0625}
    r = quantize(FLOAT / "digits_mlp.onnx", xtr[:200], tmp_path / "b.onnx", weights=4, acts=4,
                 input_dtype="UFIXED<8,1>", **QUIET)
    assert r["input_quantizer"] == {**r["input_quantizer"], "bits": 8, "signed": False, "scale": 2.0 ** -7}
    assert r["layers"][0]["out_sqnr_db"] > 20


def test_scales_pow2_by_default_float_on_request(tmp_path):
    """Default: every scale a power of two (qonnx's float32 arithmetic exact: the build equals qonnx on every
    input); --scales float: free scales but for the last layer and its input."""
    xtr, _, _, _ = digits("mlp")

    def pow2(v):
        return float(np.frexp(np.float32(v))[0]) == 0.5

    r = quantize(FLOAT / "digits_mlp.onnx", xtr[:200], tmp_path / "a.onnx", weights=4, acts=4, **QUIET)
    assert all(L["w_pow2"] and pow2(L["a_scale"] or 1.0) for L in r["layers"])
    r = quantize(FLOAT / "digits_mlp.onnx", xtr[:200], tmp_path / "b.onnx", weights=4, acts=4, scales="float",
                 **QUIET)
    assert [L["w_pow2"] for L in r["layers"]] == [False, False, True] and pow2(r["layers"][1]["a_scale"])
    assert main(["quantize", str(FLOAT / "digits_mlp.onnx"), "--calib", str(tmp_path / "nope.npy"), "-o",
                 str(tmp_path / "c.onnx"), "--scales", "pow2"]) == 2
