"""Thresholding, label select, FIFO and data-width converter RTL vs the golden models, with stream bubbles."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.dtypes import BIPOLAR, DType
from hwgen.layers import kernels
from hwgen.packing import pack_words, unpack_words

from harness import run_lib, run_stream
from hwgen.codegen.rtl import fifo_params


def _d(dt: DType) -> dict:
    return {"bits": dt.bits, "signed": dt.signed, "bipolar": dt.bipolar}


def _rand(rng, dt: DType, shape):
    return dt.random(rng, shape)


def make_thresholding(name, C, PE, idt, odt, n_pix, seed=0):
    rng = np.random.default_rng(seed)
    nt = 1 if odt.bipolar else odt.max - odt.min
    thr = np.sort(rng.integers(idt.min - 1, idt.max + 2, size=(C, nt)), axis=1)
    out_base = 0 if odt.bipolar else odt.min
    x = _rand(rng, idt, (n_pix, C))
    y = kernels.apply_thresholds(x, thr, out_base, odt.bipolar)
    params = dict(name=name, C=C, PE=PE, num_vectors=n_pix, in_dtype=_d(idt), out_dtype=_d(odt), thresholds=thr,
                  out_base=out_base)
    return params, x, y


THR_CASES = [
    ("s8_u2", 6, 2, DType(8, True), DType(2, False), 5),
    ("u4_bip", 5, 5, DType(4, False), BIPOLAR, 4),
    ("s4_s4", 4, 1, DType(4, True), DType(4, True), 3),
    ("u8_u4", 8, 4, DType(8, False), DType(4, False), 3),
]


@pytest.mark.parametrize("case", THR_CASES, ids=[c[0] for c in THR_CASES])
def test_thresholding(tmp_path, case):
    cid, C, PE, idt, odt, n = case
    params, x, y = make_thresholding(f"thr_{cid}", C, PE, idt, odt, n, seed=C * 7 + PE)
    res = run_stream("thresholding", params, tmp_path, pack_words(x.ravel(), idt, PE), y.size // PE,
                     p_in=0.6, p_out=0.6, seed=3)
    got = unpack_words(res["outputs"], odt, PE).reshape(y.shape)
    np.testing.assert_array_equal(got, y)
    assert res["extra_outputs"] == 0


def test_thresholding_throughput(tmp_path):
    params, x, y = make_thresholding("thr_tp", 8, 2, DType(4, True), DType(2, False), 6, seed=1)
    res = run_stream("thresholding", params, tmp_path, pack_words(x.ravel(), DType(4, True), 2), y.size // 2)
    np.testing.assert_array_equal(unpack_words(res["outputs"], DType(2, False), 2).reshape(y.shape), y)
    oc = res["out_cycles"]
    assert oc[-1] - oc[0] == len(oc) - 1  # one word per cycle


LS_CASES = [
    ("c10_pe1_k1_s8", 10, 1, 1, DType(8, True), 4),
    ("c10_pe2_k3_u4", 10, 2, 3, DType(4, False), 4),  # narrow values: many ties
    ("c6_pe6_k6_s2", 6, 6, 6, DType(2, True), 3),
    ("c4_pe2_k2_bip", 4, 2, 2, BIPOLAR, 4),
]


@pytest.mark.parametrize("case", LS_CASES, ids=[c[0] for c in LS_CASES])
def test_label_select(tmp_path, case):
    cid, C, PE, k, idt, n = case
    rng = np.random.default_rng(C + PE + k)
    odt = DType(max(1, (C - 1).bit_length()), False)
    x = _rand(rng, idt, (n, C))
    y = kernels.label_select(x, k)
    params = dict(name=f"ls_{cid}", C=C, PE=PE, k=k, in_dtype=_d(idt), out_dtype=_d(odt))
    res = run_stream("label_select", params, tmp_path, pack_words(x.ravel(), idt, PE), y.size, p_in=0.7,
                     p_out=0.5, seed=4)
    got = unpack_words(res["outputs"], odt, 1).reshape(y.shape)
    np.testing.assert_array_equal(got, y)
    assert res["extra_outputs"] == 0


FIFO_CASES = [("w8_d1_srl", 8, 1, "srl"), ("w5_d4_srl", 5, 4, "srl"), ("w12_d5_srl", 12, 5, "srl"),
              ("w8_d2_ram", 8, 2, "ram"), ("w9_d7_ram", 9, 7, "ram"), ("w16_d100", 16, 100, "auto")]


@pytest.mark.parametrize("case", FIFO_CASES, ids=[c[0] for c in FIFO_CASES])
@pytest.mark.parametrize("bubbles", [(1.0, 1.0), (0.9, 0.3), (0.3, 0.9)], ids=["full", "slow_out", "slow_in"])
def test_fifo(tmp_path, case, bubbles):
    cid, width, depth, style = case
    rng = np.random.default_rng(depth)
    words = [int(v) for v in rng.integers(0, 1 << width, size=3 * depth + 40)]
    params = fifo_params(width, depth, style)
    res = run_lib("hwgen_fifo", params, tmp_path, words, len(words), p_in=bubbles[0], p_out=bubbles[1], seed=5)
    assert res["outputs"] == words
    assert res["extra_outputs"] == 0
    if bubbles == (1.0, 1.0):
        oc = res["out_cycles"]
        assert oc[-1] - oc[0] == len(oc) - 1  # one word per cycle


@pytest.mark.parametrize("case", [c for c in FIFO_CASES if c[1] == 8], ids=[c[0] for c in FIFO_CASES if c[1] == 8])
@pytest.mark.parametrize("bubbles", [(1.0, 1.0), (0.9, 0.3)], ids=["full", "slow_out"])
def test_sizing_fifo_is_the_fifo_cycle_for_cycle(tmp_path, case, bubbles):
    """hwgen_fifo with SIZING = 1 (room for 128 words, depth and style read from its file at time 0) takes and
    gives every word in the same cycle as the real FIFO of that depth and style."""
    cid, width, depth, style = case
    words = [int(v) for v in np.random.default_rng(depth).integers(0, 1 << width, size=3 * depth + 40)]
    runs = []
    for sizing in (False, True):
        d = tmp_path / ("sizing" if sizing else "real")
        d.mkdir()
        params = fifo_params(width, depth, style)
        if sizing:
            (d / "f.depth").write_text(f"{depth:x}\n{int(style == 'ram')}\n")
            params = dict(fifo_params(width, 128), SIZING=1, CFG_FILE="f.depth")
        runs.append(run_lib("hwgen_fifo", params, d, words, len(words), p_in=bubbles[0], p_out=bubbles[1],
                            seed=5))
    real, sized = runs
    assert sized["outputs"] == real["outputs"] == words
    assert (sized["in_cycles"], sized["out_cycles"]) == (real["in_cycles"], real["out_cycles"])


DWC_CASES = [("up_4to12", 4, 12, 4), ("up_3to6", 3, 6, 3), ("down_16to4", 16, 4, 2), ("down_10to5", 10, 5, 5),
             ("eq_8", 8, 8, 8), ("up_1to8", 1, 8, 1)]


@pytest.mark.parametrize("case", DWC_CASES, ids=[c[0] for c in DWC_CASES])
@pytest.mark.parametrize("bubbles", [(1.0, 1.0), (0.6, 0.6)], ids=["full", "bubbles"])
def test_dwc(tmp_path, case, bubbles):
    cid, iw, ow, eb = case
    rng = np.random.default_rng(iw * 31 + ow)
    dt = DType(eb, False)
    n_elems = 6 * max(iw, ow) // eb
    elems = rng.integers(0, 1 << eb, size=n_elems)
    ins = pack_words(elems, dt, iw // eb)
    exp = pack_words(elems, dt, ow // eb)
    params = dict(name=f"dwc_{cid}", in_width=iw, out_width=ow, elem_bits=eb)
    res = run_stream("dwc", params, tmp_path, ins, len(exp), p_in=bubbles[0], p_out=bubbles[1], seed=6)
    assert res["outputs"] == exp
    assert res["extra_outputs"] == 0
    if bubbles == (1.0, 1.0):
        # the narrow side runs at one word per cycle
        narrow = res["out_cycles"] if iw >= ow else res["in_cycles"]
        assert narrow[-1] - narrow[0] == len(narrow) - 1, "narrow side not one word per cycle"
