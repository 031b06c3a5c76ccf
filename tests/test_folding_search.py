"""Folding search: a target rate gets the cheapest folding that reaches it; without a target, the fastest
design within the board's budget; FOLD.json overrides; every choice explained in the report."""

import json

import pytest

from hwgen.build import build, compile_model
from hwgen.errors import FoldingError
from tests.conftest import ROOT, tfc_model

PUBLISHED = {"MVAU_0": {"PE": 16, "SIMD": 49}, "MVAU_1": {"PE": 8, "SIMD": 8}, "MVAU_2": {"PE": 8, "SIMD": 8},
             "MVAU_3": {"PE": 10, "SIMD": 8}}
QUIET = dict(log=lambda *a: None)


def _luts(summary):
    return summary["totals"]["estimate"]["luts"]


def test_tfc_1w1a_target_rate_no_more_luts_than_published(tmp_path):
    model = tfc_model("TFC_1W1A")
    (tmp_path / "fold.json").write_text(json.dumps(PUBLISHED))
    pub = build(model, tmp_path / "pub", folding_file=tmp_path / "fold.json", **QUIET)
    s = build(model, tmp_path / "t", board="pynq-z2", target_fps=1_500_000, **QUIET)
    assert s["clock_mhz"] == 100
    assert s["estimate"]["cycles_per_frame"] <= 66
    assert _luts(s) <= _luts(pub), (s["totals"], pub["totals"])
    assert s["folding"]["max_cycles"] == 66
    for lay in s["layers"]:
        assert lay["cycles"] <= 66
        assert "cheapest" in s["folding"]["layers"][lay["name"]]["why"]


def test_fastest_design_fits_budget_and_is_fastest(tmp_path):
    model = ROOT / "tests" / "models" / "brevitas" / "mlp_w4a4_relu.onnx"
    s = build(model, tmp_path / "o", board="pynq-z1", **QUIET)
    cap, tot = s["totals"]["capacity"], s["totals"]["estimate"]
    assert all(tot[r] <= 0.9 * cap[r] for r in cap if cap[r])
    assert "fastest design" in s["folding"]["mode"]
    # a smaller board gets a slower (or equal) design, never one that overflows it
    g_big = compile_model(model, board="alveo-u250")
    g_small = compile_model(model, board="pynq-z1")
    assert max(layer.cycles() for layer in g_big.layers) <= max(layer.cycles() for layer in g_small.layers)


def test_unreachable_target_is_a_clear_error(tmp_path):
    model = ROOT / "tests" / "models" / "brevitas" / "mlp_w3a5_narrow.onnx"
    with pytest.raises(FoldingError, match="more than one frame per clock cycle"):
        build(model, tmp_path / "o", target_fps=1e12, **QUIET)


def test_folding_file_overrides_search(tmp_path):
    model = ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx"
    (tmp_path / "f.json").write_text(json.dumps({"MVAU_1": {"PE": 1, "SIMD": 1}}))
    s = build(model, tmp_path / "o", folding_file=tmp_path / "f.json", **QUIET)
    lay = next(x for x in s["layers"] if x["name"] == "MVAU_1")
    assert (lay["pe"], lay["simd"]) == (1, 1)
    assert s["folding"]["layers"]["MVAU_1"]["why"] == "set by the folding file"


def test_folding_file_naming_a_layer_now_on_the_cpu(tmp_path):
    """The digits MLP's last MatMul (non-power-of-two scales: qonnx's float32 sum rounds) runs on the CPU; a
    folding file written when it was MVAU_2 in hardware still builds, its entry ignored with a warning."""
    from hwgen.errors import HwgenWarning

    model = ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx"
    (tmp_path / "f.json").write_text(json.dumps({"MVAU_1": {"PE": 1, "SIMD": 1}, "MVAU_2": {"PE": 2, "SIMD": 2}}))
    with pytest.warns(HwgenWarning, match="folding for layer 'MVAU_2' ignored: it runs on the CPU"):
        s = build(model, tmp_path / "o", folding_file=tmp_path / "f.json", **QUIET)
    assert [x["name"] for x in s["layers"]] == ["MVAU_0", "MVAU_1"]
    (tmp_path / "g.json").write_text(json.dumps({"MVAU_3": {"PE": 1, "SIMD": 1}}))
    with pytest.raises(FoldingError, match="'MVAU_3', which does not exist"):
        build(model, tmp_path / "o2", folding_file=tmp_path / "g.json", **QUIET)


def test_tfc_1w1a_target_rate_measured_in_rtlsim(tmp_path):
    from hwgen.runtime.accelerator import Accelerator
    from tests.conftest import load_mnist

    out = tmp_path / "t"
    build(tfc_model("TFC_1W1A"), out, board="pynq-z2", target_fps=1_500_000, **QUIET)
    x, _ = load_mnist(300)
    acc = Accelerator(out, "rtlsim")
    y = acc.execute(x)
    assert (y == Accelerator(out).execute(x)).all()
    measured = acc.stats()["cycles_per_frame"]
    assert measured <= 66, measured
    s = json.loads((out / "report" / "summary.json").read_text())
    assert s["rtlsim"]["cycles_per_frame"] <= 66
