"""Every generated .v is Verilog-2005: `verilator --lint-only -Wall --default-language 1364-2005` and
`iverilog -g2005 -Wall` pass without a warning on every template at a few parameter points (the per-block API),
on the library modules at their parameter corners, and on the RTL of real builds: each TFC model, every CNN test
model (QONNX and QCDQ, CNV included), CNV at fold_cnv_large, a TopK MLP (label select), the FIFO-sizing top and a
design with 1- to 3-word FIFOs, each as hwgen_dma_top and as hwgen_top with `HWGEN_MONITOR`; the builds together
use every RTL template and library module (checked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwgen.codegen.rtl import LIB_MODULES, lib_modules_in, write_block, write_lib
from hwgen.dtypes import BIPOLAR, DType
from hwgen.sim import iverilog
from hwgen.sim.verilator import lint

from test_blocks import make_thresholding
from test_mvau import make_mvau

U = lambda b: DType(b, False)  # noqa: E731
S = lambda b: DType(b, True)  # noqa: E731

pytestmark = pytest.mark.requires_tool("iverilog")


def lint_both(paths, top: str, cwd, params=None, defines=()) -> None:
    """Both parsers on the .v files among `paths`, `top` as the root (params: its parameters)."""
    vfiles = [p for p in paths if Path(p).suffix == ".v"]
    lint(vfiles, top, [f"+define+{d}" for d in defines], cwd=cwd, params=params)
    iverilog.lint(vfiles, top, params=params, defines=defines, cwd=cwd)


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
    for i, (iw, ow) in enumerate([(4, 12), (3, 6), (16, 4), (10, 5), (8, 8), (1, 8), (8, 1), (24, 8)]):
        pts.append(("dwc", dict(name=f"lint_dwc{i}", in_width=iw, out_width=ow)))
    return pts


POINTS = _points()


@pytest.mark.parametrize("kind,params", POINTS, ids=[p[1]["name"] for p in POINTS])
def test_lint(tmp_path, kind, params):
    paths = write_block(kind, params, tmp_path)
    lint_both(paths, params["name"], tmp_path)


# the library modules at their parameter corners (padding or not, 1- and 2-word memories, every style)
LIB_POINTS = [("hwgen_fifo", dict(WIDTH=w, TDW=t, DEPTH=d, STYLE=st, SIZING=sz))
              for w, t, d, st, sz in [(8, 8, 1, "srl", 0), (5, 8, 4, "srl", 0), (12, 16, 5, "srl", 0),
                                      (8, 8, 2, "ram", 0), (9, 16, 7, "ram", 0), (32, 32, 512, "ram", 0),
                                      (1, 8, 3, "srl", 0), (1, 1, 1, "ram", 0), (8, 8, 2, "srl", 1),
                                      (3, 8, 100, "ram", 1), (8, 8, 1, "srl", 1)]]
LIB_POINTS += [("hwgen_out_queue", dict(WIDTH=w, TDW=t)) for w, t in [(8, 8), (5, 8), (1, 1), (70, 72)]]
LIB_POINTS += [("hwgen_rom", dict(WIDTH=w, DEPTH=d, STYLE=st, REG_OUT=r, INIT_FILE="lint_rom.mem"))
               for w, d, st, r in [(8, 5, "auto", 1), (8, 2, "block", 0), (3, 64, "distributed", 1),
                                   (16, 3, "logic", 0), (4, 1000, "block", 1)]]
LIB_POINTS += [("hwgen_thresholds", dict(PE=pe, NT=nt, TB=tb, OB=ob, BASE=base, LPS=lps))
               for pe, nt, tb, ob, base, lps in [(1, 1, 1, 1, 0, 1), (2, 3, 6, 2, 1, 2), (3, 15, 9, 4, 8, 1),
                                                 (1, 255, 12, 8, 0, 3)]]


@pytest.mark.parametrize("module,params", LIB_POINTS,
                         ids=[f"{m}-" + "-".join(map(str, p.values())) for m, p in LIB_POINTS])
def test_lint_library(tmp_path, module, params):
    (tmp_path / "lint_rom.mem").write_text("0\n")
    lint_both(write_lib(tmp_path, lib_modules_in(f"  {module} #(")), module, tmp_path, params=params)


def test_lint_top(tmp_path):
    """The stitched top (with its blocks and FIFOs) lints clean as one design."""
    p1, *_ = make_mvau("lt_l1", 16, 8, 2, 4, DType(2, False), DType(2, True), DType(2, False), True)
    p2, *_ = make_mvau("lt_l2", 8, 4, 1, 4, DType(2, False), DType(3, True), None, False)
    dwc = dict(name="lt_dwc", in_width=4, out_width=8, elem_bits=2)
    from hwgen.codegen.rtl import write_chain

    paths = write_chain("lt_top", [("mvau", p1), ("dwc", dwc), ("mvau", p2)], tmp_path, frame_words=4,
                        fifo_depths=[2, 100])
    lint_both(paths, "lt_top", tmp_path)


_DTS = [BIPOLAR, U(1), U(2), S(2), U(3), S(4), U(8), S(8)]
_SWEEP = [(a, b, thr) for a in _DTS for b in _DTS for thr in (True, False)]


@pytest.mark.parametrize("idt,wdt,thr", _SWEEP, ids=[f"{a.name}_{b.name}_{'thr' if t else 'acc'}" for a, b, t in _SWEEP])
def test_lint_mvau_dtypes(tmp_path, idt, wdt, thr):
    """Every in/weight dtype pair, with and without thresholds (BIPOLAR output when the input is BIPOLAR)."""
    odt = (BIPOLAR if idt.bipolar else S(3)) if thr else None
    params, *_ = make_mvau("lsw", 6, 4, 2, 3, idt, wdt, odt, thr, nv=1)
    paths = write_block("mvau", params, tmp_path)
    lint_both(paths, "lsw", tmp_path)


def test_lint_top_single_frame_word(tmp_path):
    from hwgen.codegen.rtl import write_chain

    p = dict(name="lt1_ls", C=4, PE=4, k=1, in_dtype={"bits": 4, "signed": True},
             out_dtype={"bits": 2, "signed": False})
    f = dict(name="lt1_dwc", in_width=16, out_width=8, elem_bits=4)
    paths = write_chain("lt1_top", [("dwc", f), ("dwc", dict(f, name="lt1_dwc2", in_width=8, out_width=16)),
                                    ("label_select", p)], tmp_path, frame_words=1, fifo_depths=[0, 1])
    lint_both(paths, "lt1_top", tmp_path)


# ---------------------------------------------------------------------------------------- real builds
def _topk_model(d: Path) -> Path:
    import onnx

    from tests.qonnx_gen import MLPSpec, make_mlp
    from tests.test_label_select import _with_topk

    p = d / "topk_mlp.onnx"
    onnx.save(_with_topk(make_mlp(MLPSpec(sizes=[17, 9, 10], w_bits=2, act_bits=2, final_mul=False)), "TopK"), p)
    return p


def _build_cases() -> dict:
    """name -> (model path maker (scratch dir -> path), folding maker (graph layer names -> FOLD dict) or None,
    variant: None (hwgen build), "sizing" (the FIFO-sizing top) or "shallow" (1- to 3-word FIFOs))."""
    from tests.cnn_models import committed_models, model_path
    from tests.conftest import tfc_model
    from tests.handmade_cnv import fold_cnv_large_file
    from tests.test_rtlsim_network import TFC_FOLD

    cases = {"tfc_1w1a_published": (lambda d: tfc_model("TFC_1W1A"), lambda names: TFC_FOLD, None),
             "tfc_1w2a": (lambda d: tfc_model("TFC_1W2A"), None, None),
             "tfc_2w2a": (lambda d: tfc_model("TFC_2W2A"), None, None),
             "cnv_1w1a_fold_cnv_large": (lambda d: model_path("cnv_1w1a.onnx.gz", d),
                                         lambda names: fold_cnv_large_file([n for n in names if n[:4] in
                                                                            ("MVAU", "VVAU")]), None),
             "topk_mlp": (_topk_model, None, None),
             "mnist_cnn_sizing_top": (lambda d: model_path("mnist_cnn_w4a4.onnx", d), None, "sizing"),
             "resnet_shallow_fifos": (lambda d: model_path("resnet_w4a4.onnx", d), None, "shallow")}
    for f in committed_models():
        cases[f.split(".")[0]] = (lambda d, f=f: model_path(f, d), None, None)
    return cases


BUILDS = _build_cases()
# the larger designs (several seconds of Verilator each) and the QCDQ twins of QONNX models run in the full suite
SLOW = {"tfc_1w2a", "tfc_2w2a", "cnv_1w1a", "cnv_1w2a", "cnv_2w2a"} | {n for n in BUILDS if n.endswith("_qcdq")}
# the simulation monitor (`HWGEN_MONITOR` in top.v.j2) is the same code in every top: a chain, a DAG, a sizing top
MONITOR = {"mnist_cnn_w4a4", "resnet_w4a4", "mnist_cnn_sizing_top"}
_built: dict[str, Path] = {}


def _rtl_of(name: str, scratch: Path) -> Path:
    """OUT/rtl of build `name` (built once per session)."""
    if name in _built:
        return _built[name]
    from hwgen.boards import get_board
    from hwgen.build import build, compile_model
    from hwgen.codegen.dma import write_dma_wrapper_rtl
    from hwgen.codegen.rtl_project import write_rtl_project

    model, fold, variant = BUILDS[name]
    d = scratch / name
    d.mkdir(parents=True, exist_ok=True)
    path = model(d)
    fold_file = None
    if fold is not None:
        fold_file = d / "FOLD.json"
        fold_file.write_text(json.dumps(fold([lay.name for lay in compile_model(path).layers])))
    if variant is None:
        build(path, d / "out", folding_file=fold_file, log=lambda *a: None)
        rtl = d / "out" / "rtl"
    else:
        g = compile_model(path)
        streams = g.design().streams
        rtl = d / "rtl"
        if variant == "sizing":  # as hwgen.sim.fifo_sizing.SizingModel writes it: room for 4x the rule's depth
            write_rtl_project(rtl, g, sizing={s.name: 4 * s.depth for s in streams})
        else:
            g.fifo_depths = {s.name: 1 + i % 3 for i, s in enumerate(streams)}
            write_rtl_project(rtl, g)
        write_dma_wrapper_rtl(rtl, g, get_board(None).dma_width)
    _built[name] = rtl
    return rtl


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("lint_builds")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in sorted(BUILDS)])
def test_build_is_verilog_2005(scratch, name):
    """hwgen_dma_top (the board boundary around hwgen_top and every block; every .v the build wrote is in it)
    and, for a few, hwgen_top with the simulation monitor: both parsers, no warning."""
    rtl = _rtl_of(name, scratch)
    m = json.loads((rtl / "hwgen_top.json").read_text())
    assert set(m["verilog"]) | {"hwgen_dma_top.v"} == {p.name for p in rtl.glob("*.v")}
    lint_both([rtl / "hwgen_dma_top.v"] + [rtl / f for f in m["verilog"]], "hwgen_dma_top", rtl)
    if name in MONITOR:
        lint_both([rtl / f for f in m["verilog"]], "hwgen_top", rtl, defines=["HWGEN_MONITOR"])


def test_builds_cover_every_rtl_template_and_library_module(scratch):
    templates = Path(__file__).resolve().parents[1] / "templates" / "rtl"
    want = {p.name.removesuffix(".v.j2") for p in templates.glob("*.v.j2")} - {"top", "dma_wrapper"}
    kinds, libs = set(), set()
    for name in sorted(set(BUILDS) - SLOW):
        m = json.loads((_rtl_of(name, scratch) / "hwgen_top.json").read_text())
        kinds |= {s["kind"] for s in m["stages"] if s["kind"] != "fifo"}
        libs |= {f.removesuffix(".v") for f in m["verilog"] if f.removesuffix(".v") in LIB_MODULES}
    assert kinds == want
    assert libs == set(LIB_MODULES)
    assert {p.name.removesuffix(".v") for p in templates.glob("*.v")} == set(LIB_MODULES)
