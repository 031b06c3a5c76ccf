"""Every template, rendered at a few parameter points, passes `verilator --lint-only -Wall` without warnings."""

from __future__ import annotations

import pytest

from hwgen.codegen.rtl import write_block
from hwgen.dtypes import BIPOLAR, DType
from hwgen.sim.verilator import lint

from test_blocks import make_thresholding
from test_mvau import make_mvau

U = lambda b: DType(b, False)  # noqa: E731
S = lambda b: DType(b, True)  # noqa: E731


def _points():
    pts = []
    for i, (MW, MH, PE, SIMD, idt, wdt, odt, thr) in enumerate([
        (16, 8, 2, 4, BIPOLAR, BIPOLAR, BIPOLAR, True),
        (7, 5, 1, 1, BIPOLAR, BIPOLAR, None, False),
        (8, 4, 4, 8, S(4), S(4), U(2), True),
        (33, 5, 5, 3, U(8), S(8), None, False),
        (12, 6, 3, 2, S(2), U(4), S(3), True),
        (8, 4, 1, 2, BIPOLAR, S(3), U(1), True),
        (4, 4, 1, 4, U(1), U(1), S(16), False),
    ]):
        params, *_ = make_mvau(f"lint_mvau{i}", MW, MH, PE, SIMD, idt, wdt, odt, thr)
        pts.append(("mvau", params))
    # MVAU without thresholds, output narrower than the accumulator
    params, *_ = make_mvau("lint_mvau_narrow", 8, 2, 1, 8, S(4), S(4), S(6), False)
    pts.append(("mvau", params))
    for i, (C, PE, idt, odt) in enumerate([(6, 2, S(8), U(2)), (5, 5, U(4), BIPOLAR), (4, 1, S(4), S(4)),
                                          (3, 1, BIPOLAR, U(1))]):
        params, *_ = make_thresholding(f"lint_thr{i}", C, PE, idt, odt, 1)
        pts.append(("thresholding", params))
    for i, (C, PE, k, idt) in enumerate([(10, 1, 1, S(8)), (10, 2, 3, U(4)), (6, 6, 6, BIPOLAR), (1, 1, 1, U(3))]):
        pts.append(("label_select", dict(name=f"lint_ls{i}", C=C, PE=PE, k=k,
                                         in_dtype={"bits": idt.bits, "signed": idt.signed, "bipolar": idt.bipolar},
                                         out_dtype={"bits": 4, "signed": False, "bipolar": False})))
    for i, (w, d, st) in enumerate([(8, 1, "srl"), (5, 4, "srl"), (12, 5, "srl"), (8, 2, "ram"), (9, 7, "ram"),
                                    (32, 512, "auto"), (1, 3, "auto")]):
        pts.append(("fifo", dict(name=f"lint_fifo{i}", width=w, depth=d, style=st)))
    for i, (iw, ow) in enumerate([(4, 12), (3, 6), (16, 4), (10, 5), (8, 8), (1, 8), (8, 1), (24, 8)]):
        pts.append(("dwc", dict(name=f"lint_dwc{i}", in_width=iw, out_width=ow)))
    return pts


POINTS = _points()


@pytest.mark.parametrize("kind,params", POINTS, ids=[p[1]["name"] for p in POINTS])
def test_lint(tmp_path, kind, params):
    paths = write_block(kind, params, tmp_path)
    lint([paths[0]], params["name"], cwd=tmp_path)


def test_lint_top(tmp_path):
    """The stitched top (with its blocks and FIFOs) lints clean as one design."""
    p1, *_ = make_mvau("lt_l1", 16, 8, 2, 4, DType(2, False), DType(2, True), DType(2, False), True)
    p2, *_ = make_mvau("lt_l2", 8, 4, 1, 4, DType(2, False), DType(3, True), None, False)
    dwc = dict(name="lt_dwc", in_width=4, out_width=8, elem_bits=2)
    from hwgen.codegen.rtl import write_chain

    paths = write_chain("lt_top", [("mvau", p1), ("dwc", dwc), ("mvau", p2)], tmp_path, frame_words=4,
                        fifo_depths=[2, 100])
    lint([p for p in paths if p.suffix == ".v"], "lt_top", cwd=tmp_path)


_DTS = [BIPOLAR, U(1), U(2), S(2), U(3), S(4), U(8), S(8)]
_SWEEP = [(a, b, thr) for a in _DTS for b in _DTS for thr in (True, False)]


@pytest.mark.parametrize("idt,wdt,thr", _SWEEP, ids=[f"{a.name}_{b.name}_{'thr' if t else 'acc'}" for a, b, t in _SWEEP])
def test_lint_mvau_dtypes(tmp_path, idt, wdt, thr):
    """Every in/weight dtype pair, with and without thresholds (BIPOLAR output when the input is BIPOLAR)."""
    odt = (BIPOLAR if idt.bipolar else S(3)) if thr else None
    params, *_ = make_mvau("lsw", 6, 4, 2, 3, idt, wdt, odt, thr, nv=1)
    paths = write_block("mvau", params, tmp_path)
    lint([paths[0]], "lsw", cwd=tmp_path)


def test_lint_top_single_frame_word(tmp_path):
    from hwgen.codegen.rtl import write_chain

    p = dict(name="lt1_ls", C=4, PE=4, k=1, in_dtype={"bits": 4, "signed": True},
             out_dtype={"bits": 2, "signed": False})
    f = dict(name="lt1_dwc", in_width=16, out_width=8, elem_bits=4)
    paths = write_chain("lt1_top", [("dwc", f), ("dwc", dict(f, name="lt1_dwc2", in_width=8, out_width=16)),
                                    ("label_select", p)], tmp_path, frame_words=1, fifo_depths=[0, 1])
    lint([x for x in paths if x.suffix == ".v"], "lt1_top", cwd=tmp_path)
