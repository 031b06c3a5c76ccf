"""HLS top level: chained designs through the batch entry point hwgen_csim_run (ctypes), the pragmas the vendor
flow needs, the Tcl script, compile errors, the parameter checks."""

from __future__ import annotations

import re

import numpy as np
import pytest

from hls_testlib import AP_ARITH, compiler_params, dd, rand_values
from hwgen.codegen import hls
from hwgen.dtypes import BIPOLAR, DType
from hwgen.errors import FoldingError, HwgenError, InputDataError, ToolError
from hwgen.layers import kernels
from hwgen.sim import csim

I, U = (lambda b: DType(b, True)), (lambda b: DType(b, False))


def mlp_layers(seed=3):
    """MVAU (UINT2 x INT2, 3 thresholds) -> MVAU (UINT2 x BIPOLAR, raw accumulator) -> label select top-3,
    with PE/SIMD that force width converters (4 -> 3 and 2 -> 5 elements per word)."""
    rng = np.random.default_rng(seed)
    w1 = rand_values(rng, I(2), (12, 16))
    t1 = np.sort(rng.integers(-12, 13, size=(12, 3)), axis=1)
    w2 = rand_values(rng, BIPOLAR, (10, 12))
    l1 = dict(name="fc0", MW=16, MH=12, PE=4, SIMD=8, num_vectors=1, binary_xnor=False, in_dtype=dd(U(2)),
              w_dtype=dd(I(2)), out_dtype=dd(U(2)), acc_bits=8, weights=w1, has_thresholds=True, thresholds=t1,
              out_base=0, mem_style="block")
    l2 = dict(name="fc1", MW=12, MH=10, PE=2, SIMD=3, num_vectors=1, binary_xnor=False, in_dtype=dd(U(2)),
              w_dtype=dd(BIPOLAR), out_dtype=dd(I(7)), acc_bits=7, weights=w2, has_thresholds=False,
              thresholds=None, out_base=0, mem_style="distributed")
    l3 = dict(name="top_k", C=10, PE=5, k=3, in_dtype=dd(I(7)), out_dtype=dd(U(4)))
    layers = [("mvau", l1), ("mvau", l2), ("label_select", l3)]

    def ref(x):
        h = kernels.mvau(x, w1, t1, 0)
        h = kernels.mvau(h, w2)
        return kernels.label_select(h, 3)

    return layers, ref


def bnn_layers(seed=4):
    """XNOR MVAU (bipolar out) -> XNOR MVAU (bipolar out) -> thresholding-free XNOR MVAU -> label select."""
    rng = np.random.default_rng(seed)
    ws = [rand_values(rng, BIPOLAR, s) for s in [(8, 24), (8, 8), (4, 8)]]
    ts = [np.zeros((8, 1), np.int64), rng.integers(-2, 3, size=(8, 1))]
    B = dd(BIPOLAR)
    layers = [
        ("mvau", dict(name="b0", MW=24, MH=8, PE=2, SIMD=6, num_vectors=1, binary_xnor=True, in_dtype=B,
                      w_dtype=B, out_dtype=B, acc_bits=6, weights=ws[0], has_thresholds=True, thresholds=ts[0],
                      out_base=0, mem_style="auto")),
        ("mvau", dict(name="b1", MW=8, MH=8, PE=8, SIMD=8, num_vectors=1, binary_xnor=True, in_dtype=B,
                      w_dtype=B, out_dtype=B, acc_bits=5, weights=ws[1], has_thresholds=True, thresholds=ts[1],
                      out_base=0, mem_style="block")),
        ("mvau", dict(name="b2", MW=8, MH=4, PE=1, SIMD=4, num_vectors=1, binary_xnor=True, in_dtype=B,
                      w_dtype=B, out_dtype=dd(I(5)), acc_bits=5, weights=ws[2], has_thresholds=False,
                      thresholds=None, out_base=0, mem_style="block")),
        ("label_select", dict(name="b_top", C=4, PE=1, k=2, in_dtype=dd(I(5)), out_dtype=dd(U(2)))),
    ]

    def ref(x):
        h = kernels.mvau(x, ws[0], ts[0], 0, out_bipolar=True)
        h = kernels.mvau(h, ws[1], ts[1], 0, out_bipolar=True)
        h = kernels.mvau(h, ws[2])
        return kernels.label_select(h, 2)

    return layers, ref


@pytest.fixture(scope="module")
def built(tmp_path_factory, hls_include):
    cache = {}

    def get(compiler, which):
        if (compiler, which) not in cache:
            layers, ref = mlp_layers() if which == "mlp" else bnn_layers()
            d = tmp_path_factory.mktemp(f"{which}_{compiler.replace('+', 'x')}")
            proj = hls.write_project(d, f"{which}_accel", layers, part="xc7z020clg400-1", clock_period_ns=5,
                                     depths=[2, 4, 8, 16, 32, 2, 3, 5] if which == "mlp" else None)
            cache[(compiler, which)] = (proj, csim.CsimAccelerator(proj, compiler=compiler), ref)
        return cache[(compiler, which)]

    return get


@pytest.mark.parametrize("compiler", compiler_params())
def test_chained_mlp_top(built, compiler):
    proj, acc, ref = built(compiler, "mlp")
    # 4 -> 3 and 2 -> 5 elements per word: two converters each (up to the lcm, then down), as in the RTL
    assert [k for k, _ in proj.layers] == ["mvau", "width_converter", "width_converter", "mvau", "width_converter",
                                           "width_converter", "label_select"]
    rng = np.random.default_rng(0)
    x = rand_values(rng, U(2), (200, 16))
    np.testing.assert_array_equal(acc.run(x), ref(x))
    # the default entry point, called directly on packed bytes
    from hwgen import packing

    buf = packing.pack_bytes(x, U(2), 8)
    out = acc.lib.run_bytes("hwgen_csim_run", buf, 200, 3, 1)
    np.testing.assert_array_equal(packing.unpack_bytes(out, U(4), 1).reshape(200, 3), ref(x))


@pytest.mark.parametrize("compiler", compiler_params())
def test_chained_bnn_top(built, compiler):
    proj, acc, ref = built(compiler, "bnn")
    rng = np.random.default_rng(1)
    x = rand_values(rng, BIPOLAR, (100, 24))
    np.testing.assert_array_equal(acc.run(x), ref(x))


def test_csim_input_checked(built):
    _, acc, _ = built("g++", "mlp")
    with pytest.raises(InputDataError):
        acc.run(np.zeros((2, 15), np.int64))
    with pytest.raises(InputDataError):
        acc.run(np.full((2, 16), 4))


# ------------------------------------------------------------------------------------------ structure

@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    layers, _ = mlp_layers()
    d = tmp_path_factory.mktemp("rendered")
    proj = hls.write_project(d, "mlp_accel", layers, part="xczu7ev-ffvc1156-2-e", clock_period_ns=3.3,
                             depths=[2, 4, 8, 16, 32, 64, 3, 5])
    return proj


def test_top_pragmas(rendered):
    top = rendered.top_cpp.read_text()
    assert "#pragma HLS DATAFLOW" in top
    assert "#pragma HLS INTERFACE axis port=in0_V" in top
    assert "#pragma HLS INTERFACE axis port=out_V" in top
    assert "#pragma HLS INTERFACE ap_ctrl_none port=return" in top
    pragmas = re.findall(r"#pragma HLS STREAM variable=(\w+) depth=(\d+)", top)
    assert [int(d) for _, d in pragmas] == [2, 4, 8, 16, 32, 64, 3, 5]
    assert [n for n, _ in pragmas] == [s.name for s in rendered.streams]
    assert "ap_axiu<16, 0, 0, 0>" in top  # 8 x UINT2 in, padded to whole bytes
    assert 'extern "C" int hwgen_csim_run(const uint8_t* in, uint8_t* out, int n_frames)' in top
    # Vitis HLS sees the DATAFLOW region on plain hls::stream; C simulation its concurrent twin on FIFOs of the
    # same depths (hwgen_csim.hpp), running the same process calls
    syn, sim = top.split("#ifdef __SYNTHESIS__")[1].split("#else")[:2]
    assert "#pragma HLS DATAFLOW" in syn and "hwgen::csim" not in syn and "hls::stream<ap_uint<" in syn
    # each layer is one dataflow process, in stream order
    calls = re.findall(r"^    (\w+)\((\w+), (\w+)\);", syn, re.M)
    assert [c[0] for c in calls] == [p["name"] for _, p in rendered.layers]
    assert all(a[2] == b[1] for a, b in zip(calls, calls[1:]))  # a chain: each output stream is the next input
    assert re.findall(r"calls; c\+\+\) (\w+)\((\w+), (\w+)\);", sim) == calls
    fifos = re.findall(r'hwgen::stream<ap_uint<\d+> > (\w+)\("\w+", hwgen::csim::depth_of\(\d+, (\d+)\),', sim)
    assert [(n, int(d)) for n, d in fifos] == [(n, int(d)) for n, d in pragmas]


def test_block_pragmas(rendered):
    d = rendered.dir
    # the static headers of the kinds the design uses (no thresholding layer here: no thresholding.hpp)
    assert not (d / "thresholding.hpp").exists()
    for h in ("mvau.hpp", "label_select.hpp", "width_converter.hpp", "hwgen_common.hpp"):
        assert "#pragma HLS PIPELINE II=1" in (d / h).read_text(), h
    fc0 = (d / "fc0.hpp").read_text()
    assert "#pragma HLS ARRAY_PARTITION variable=weights complete dim=1" in fc0
    assert "#pragma HLS ARRAY_PARTITION variable=thresholds complete dim=1" in fc0
    assert "#pragma HLS ARRAY_PARTITION variable=thresholds complete dim=3" in fc0
    assert "#pragma HLS BIND_STORAGE variable=weights type=rom_1p impl=bram" in fc0
    assert "#pragma HLS INLINE off" in fc0
    fc1 = (d / "fc1.hpp").read_text()
    assert "#pragma HLS BIND_STORAGE variable=weights type=rom_1p impl=lutram" in fc1


@pytest.mark.parametrize("style,impl", [("auto", "auto"), ("block", "bram"), ("distributed", "lutram"),
                                        ("ultra", "bram")])
def test_mem_style(style, impl):
    layers, _ = mlp_layers()
    p = dict(layers[0][1], mem_style=style)
    text = hls.render_layer("mvau", p)
    assert f"BIND_STORAGE variable=weights type=rom_1p impl={impl}" in text
    assert f"BIND_STORAGE variable=thresholds type=rom_1p impl={impl}" in text


def test_tcl(rendered):
    tcl = (rendered.dir / "hls.tcl").read_text()
    for line in ("open_project mlp_accel_hls", "set_top mlp_accel", "add_files mlp_accel.cpp",
                 "open_solution sol1", "set_part {xczu7ev-ffvc1156-2-e}", "create_clock -period 3.3",
                 "csynth_design", "export_design -format ip_catalog"):
        assert line in tcl, line
    assert "csim_design" not in tcl
    tcl2 = hls.render_tcl("mlp_accel", "xc7z020clg400-1", 10, ["mlp_accel.cpp"], testbench=["tb.cpp"], csim=True)
    assert "csim_design" in tcl2 and "add_files -tb tb.cpp" in tcl2
    with pytest.raises(HwgenError):
        hls.render_tcl("mlp_accel", "xc7z020; exec rm", 10, ["mlp_accel.cpp"])
    with pytest.raises(HwgenError):
        hls.render_tcl("mlp_accel", "xc7z020clg400-1", 10, ["../x.cpp"])


def test_weights_wider_than_64_bits():
    rng = np.random.default_rng(0)
    p = dict(name="wide", MW=16, MH=2, PE=1, SIMD=16, num_vectors=1, binary_xnor=False, in_dtype=dd(I(8)),
             w_dtype=dd(I(8)), out_dtype=dd(I(20)), acc_bits=20, weights=rand_values(rng, I(8), (2, 16)),
             has_thresholds=False, thresholds=None, out_base=0, mem_style="block")
    assert 'ap_uint<128>("0x' in hls.render_layer("mvau", p)


@pytest.mark.parametrize("compiler", compiler_params())
def test_synthesis_initialisers(tmp_path, hls_include, compiler):
    """-DHWGEN_AP_ROM: the ap_uint / ap_int initialisers Vitis HLS sees (incl. > 64-bit words) are bit-exact; with
    clang++ through the ap_int arithmetic too (all of what synthesis sees)."""
    layers, ref = mlp_layers()
    rng = np.random.default_rng(2)
    wide_w = rand_values(rng, I(8), (4, 24))
    wide_t = np.sort(rng.integers(-3000, 3000, size=(4, 1)), axis=1)
    wide = dict(name="wide", MW=24, MH=4, PE=2, SIMD=12, num_vectors=2, binary_xnor=False, in_dtype=dd(I(8)),
                w_dtype=dd(I(8)), out_dtype=dd(BIPOLAR), acc_bits=20, weights=wide_w, has_thresholds=True,
                thresholds=wide_t, out_base=0, mem_style="block")
    p1 = hls.write_project(tmp_path, "syn_mlp", layers, csim_entry="syn_mlp_run")
    p2 = hls.write_project(tmp_path, "syn_wide", [("mvau", wide)], csim_entry="syn_wide_run")
    assert 'ap_uint<96>("0x' in (tmp_path / "wide.hpp").read_text()
    unit = tmp_path / "unit.cpp"
    unit.write_text('#include "syn_mlp.cpp"\n#include "syn_wide.cpp"\n')
    so = csim.compile_shared([unit], tmp_path / "syn.so", compiler=compiler, include_dirs=[tmp_path],
                             defines={"HWGEN_AP_ROM": None, **(AP_ARITH if compiler == "clang++" else {})})
    lib = csim.CsimLibrary(so)
    x = rand_values(rng, U(2), (50, 16))
    np.testing.assert_array_equal(csim.CsimAccelerator(p1, lib=lib, entry="syn_mlp_run").run(x), ref(x))
    x = rand_values(rng, I(8), (50, 2, 24))
    y = csim.CsimAccelerator(p2, lib=lib, entry="syn_wide_run").run(x.reshape(50, -1))
    np.testing.assert_array_equal(y, kernels.mvau(x, wide_w, wide_t, 0, out_bipolar=True).reshape(50, -1))


def test_ucontext_scheduler(tmp_path, hls_include):
    """The portable context switch (ucontext, what machines other than x86-64 use) runs the same dataflow."""
    layers, ref = mlp_layers()
    proj = hls.write_project(tmp_path, "uc_mlp", layers)
    so = csim.compile_shared([proj.top_cpp], tmp_path / "uc.so", include_dirs=[tmp_path],
                             defines={"HWGEN_CSIM_UCONTEXT": None})
    x = rand_values(np.random.default_rng(4), U(2), (40, 16))
    np.testing.assert_array_equal(csim.CsimAccelerator(proj, lib=csim.CsimLibrary(so)).run(x), ref(x))


# ------------------------------------------------------------------------------------------ errors

def test_compile_error_names_file_and_line(tmp_path, hls_include):
    layers, _ = mlp_layers()
    proj = hls.write_project(tmp_path, "broken", layers[:1])
    hdr = tmp_path / "fc0.hpp"
    lines = hdr.read_text().splitlines()
    lines.insert(10, "    this is not C++;")
    hdr.write_text("\n".join(lines) + "\n")
    with pytest.raises(ToolError) as e:
        csim.compile_shared([proj.top_cpp], tmp_path / "x.so", compiler="g++", include_dirs=[tmp_path])
    msg = str(e.value)
    assert "g++ -std=c++14" in msg  # the command
    assert re.search(r"fc0\.hpp:11:\d+: error", msg), msg  # generated file and line


def test_find_hls_include_prefers_xilinx_hls(tmp_path, monkeypatch):
    (tmp_path / "include").mkdir()
    (tmp_path / "include" / "ap_int.h").write_text("")
    monkeypatch.setenv("XILINX_HLS", str(tmp_path))
    assert csim.find_hls_include() == tmp_path / "include"
    monkeypatch.setenv("XILINX_HLS", str(tmp_path / "missing"))
    p = csim.find_hls_include()  # falls back to the hls4ml wheel
    assert (p / "ap_int.h").is_file() and (p / "hls_stream.h").is_file()


def test_unknown_compiler():
    with pytest.raises(ToolError):
        csim.compile_shared(["x.cpp"], "x.so", compiler="cl.exe")


def test_parameter_checks():
    layers, _ = mlp_layers()
    p = layers[0][1]
    with pytest.raises(FoldingError):
        hls.render_layer("mvau", dict(p, PE=5))
    with pytest.raises(FoldingError):
        hls.render_layer("mvau", dict(p, SIMD=3))
    with pytest.raises(HwgenError, match="identifier"):
        hls.render_layer("mvau", dict(p, name="fc0; system(\"rm\")"))
    with pytest.raises(HwgenError, match="ascending"):
        hls.render_layer("mvau", dict(p, thresholds=p["thresholds"][:, ::-1]))
    with pytest.raises(HwgenError, match="mem_style"):
        hls.render_layer("mvau", dict(p, mem_style="fast"))
    with pytest.raises(HwgenError, match="binary_xnor"):
        hls.render_layer("mvau", dict(p, binary_xnor=True))
    with pytest.raises(HwgenError, match="index type"):
        hls.render_layer("label_select", dict(layers[2][1], out_dtype=dd(U(3)), C=10))
    with pytest.raises(HwgenError, match="acc_bits"):
        hls.render_layer("mvau", dict(p, acc_bits=6))  # 16 x UINT2 x INT2 needs 8 bits
    with pytest.raises(HwgenError, match="do not fit"):
        hls.render_layer("mvau", dict(p, out_base=2))  # 2 + 3 thresholds > UINT2
    with pytest.raises(HwgenError, match="BIPOLAR"):
        hls.render_layer("mvau", dict(layers[1][1], out_dtype=dd(BIPOLAR)))
    with pytest.raises(HwgenError, match="weights"):
        hls.render_layer("mvau", dict(p, weights=p["weights"] * 3))  # outside INT2
    with pytest.raises(HwgenError, match="integers"):
        hls.render_layer("mvau", dict(p, thresholds=p["thresholds"] + 0.5))
    with pytest.raises(HwgenError, match="no HLS template"):
        hls.render_layer("conv", p)
    with pytest.raises(HwgenError, match="elements per frame"):
        hls.chain([layers[0], ("mvau", dict(layers[1][1], MW=10, SIMD=5, weights=np.ones((10, 10))))])
