"""VVAU (depthwise conv's matrix part) on handmade graphs whose input is the window stream: reference, csim and
rtlsim bit-exact with `conv_kernels.depthwise_conv`, rtlsim cycles within 5 % of cycles() at several PE (the
accumulator file of the window order: NF > 1; NF = 1), the JSON round trip, and the cost model against its yosys
calibration table (benchmarks/calibrate_vvau.py)."""

from __future__ import annotations

import csv
import importlib.util
import zlib
from pathlib import Path

import numpy as np
import pytest

from hwgen.layers import conv_kernels as ck
from hwgen.layers.vvau import VVAU
from tests.conv_graphs import assert_cycles, build_and_run, dtype, dw_vvau, rand

ROOT = Path(__file__).resolve().parents[1]

# id: (in, w, out (None: accumulator), C, (H, W), kernel, stride, dilation, PE)
CASES = {
    "u4w4_thr_p2": ("UINT4", "INT4", "UINT4", 8, (6, 6), (3, 3), 1, 1, 2),
    "s2w2_acc_p_all": ("INT2", "INT2", None, 6, (5, 7), (3, 3), 2, 1, 6),
    "u2_bipw_thr_1d_p1": ("UINT2", "BIPOLAR", "UINT2", 3, (1, 16), (1, 3), 1, (1, 2), 1),
}


def _case(cid, rng):
    i, w, o, c, hw, k, s, d, pe = CASES[cid]
    idt, wdt = dtype(i), dtype(w)
    w_c1hw = rand(rng, wdt, (c, 1, *k))
    v = dw_vvau("dw_" + cid, idt, w_c1hw, wdt, None if o is None else dtype(o), ck.out_shape(hw, k, s, d), pe, rng)
    x = rand(rng, idt, (4, *hw, c))
    want = ck.depthwise_conv(x, w_c1hw, s, d, thresholds=v.thresholds, out_base=v.out_base,
                             out_bipolar=v.out_dtype.bipolar)
    return v, ck.sliding_window(x, k, s, d), want


@pytest.mark.parametrize("cid", list(CASES))
def test_vvau_bit_exact_and_cycles(cid, tmp_path):
    rng = np.random.default_rng(zlib.crc32(cid.encode()))
    v, win, want = _case(cid, rng)
    res = build_and_run([v], win, tmp_path / "out")
    for be in ("reference", "cpu", "csim", "rtlsim"):
        np.testing.assert_array_equal(res[be], want.reshape(len(want), -1), err_msg=be)
    assert_cycles(res["rtlsim_stats"], [v])


def test_vvau_json_round_trip_and_folding():
    rng = np.random.default_rng(0)
    v, _, _ = _case("u4w4_thr_p2", rng)
    arrays = v.arrays()
    back = VVAU.from_json(v.to_json(), arrays)
    assert back.to_json() == v.to_json() and back.order == "window"
    assert v.legal_simd() == [1] and v.legal_pe() == [1, 2, 4, 8]
    assert v.cycles(pe=8) == 16 * 9 and v.spec(pe=2).ACCF == 4
    dw = VVAU("dw", v.in_dtype, v.w_dtype, v.weights, v.thresholds, v.out_dtype, ofm=(4, 4), order="depthwise")
    assert dw.legal_simd() == [1, 3, 9] and dw.spec().ACCF == 1
    m = v.memories()
    assert m["weights"]["depth"] == 9 * 4 and m["weights"]["width"] == 2 * 4
    assert m["thresholds"]["depth"] == 4


def _cal():
    spec = importlib.util.spec_from_file_location("calibrate_vvau", ROOT / "benchmarks" / "calibrate_vvau.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CAL = _cal()
CSV = ROOT / "benchmarks" / "results" / "vvau_calibration.csv"
ROWS = list(csv.DictReader(CSV.open())) if CSV.exists() else []


def test_calibration_table_covers_the_points():
    assert {r["id"] for r in ROWS} == {p[0] for p in CAL.POINTS}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["id"])
def test_estimate_matches_table_and_yosys(row):
    """The committed estimate is what the model gives today: LUTs and FFs within 15 % of yosys, DSP48 equal,
    BRAM18 exact (the "conv" rows, CNV's MVAUs at fold_cnv_large, except their BRAM18: see the README)."""
    lay = CAL.make_layer(next(p for p in CAL.POINTS if p[0] == row["id"]))
    e = lay.resources()
    assert e["luts"] == int(row["est_luts"]) and e["bram18"] == int(row["est_bram18"])
    assert e["ffs"] == int(row["est_ffs"])
    assert abs(e["luts"] - int(row["yosys_luts"])) <= CAL.LUT_TOL * int(row["yosys_luts"])
    assert abs(e["ffs"] - int(row["yosys_ffs"])) <= CAL.CAL.FF_TOL * int(row["yosys_ffs"])
    assert e["dsps"] == int(row["yosys_dsps"])
    if row["set"] == "conv":
        return
    assert e["bram18"] == int(row["yosys_bram18"])


@pytest.mark.parametrize("pe,simd", [(2, 3), pytest.param(4, 9, marks=pytest.mark.slow)])
def test_vvau_depthwise_order_simd(pe, simd, tmp_path):
    """The depthwise stream order (fold, kernel position, channel; the input made by `window_to_depthwise`):
    SIMD kernel positions per word, bit-exact and one word per cycle."""
    from hwgen.layers.vvau import window_to_depthwise

    rng = np.random.default_rng(pe * 10 + simd)
    idt, wdt = dtype("UINT3"), dtype("INT3")
    w_c1hw = rand(rng, wdt, (8, 1, 3, 3))
    v = dw_vvau("dwo", idt, w_c1hw, wdt, dtype("UINT3"), (4, 4), pe, rng, simd=simd, order="depthwise")
    x = rand(rng, idt, (3, 6, 6, 8))
    want = ck.depthwise_conv(x, w_c1hw, thresholds=v.thresholds, out_base=v.out_base)
    res = build_and_run([v], window_to_depthwise(ck.sliding_window(x, 3), 8, pe), tmp_path / "out")
    for be in ("reference", "cpu", "csim", "rtlsim"):
        np.testing.assert_array_equal(res[be], want.reshape(len(want), -1), err_msg=be)
    assert_cycles(res["rtlsim_stats"], [v])


@pytest.mark.slow
def test_yosys_spot_check(tmp_path, monkeypatch):
    """One VVAU point synthesized afresh (a private yosys cache): the same figures as the committed table."""
    monkeypatch.setattr(CAL.CAL, "CACHE", tmp_path / "yosys")
    row = next(r for r in ROWS if r["id"] == "dw_u2w2_c64_p8")
    y = CAL.CAL.synth_cached(CAL.make_layer(next(p for p in CAL.POINTS if p[0] == row["id"])))
    # (the table's yosys_lutram counts SRLs too: the pipelined core's control delay line maps to them)
    assert (y["LUT"], y["FF"], y["BRAM18"], y["LUTRAM"] + y["SRL"]) == (
        int(row["yosys_luts"]), int(row["yosys_ffs"]), int(row["yosys_bram18"]), int(row["yosys_lutram"]))
