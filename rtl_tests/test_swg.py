"""Sliding-window generator RTL (templates/rtl/swg.v.j2) vs the numpy golden (conv_kernels.sliding_window) over a
parameter matrix (1-D and 2-D, SIMD, stride, dilation, non-square), with stream bubbles; at full rate its
measured cycles equal SwgSpec.cycles(); and it lints clean."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwgen.codegen.render import render
from hwgen.codegen.rtl import lib_modules_in, write_lib
from hwgen.dtypes import DType
from hwgen.layers import conv_kernels as ck
from hwgen.layers.swg_spec import PadSpec, SwgSpec
from hwgen.packing import pack_words, unpack_words
from hwgen.sim.verilator import lint

from harness import run_paths

slow = pytest.mark.slow
# name, H, W, C, SIMD, bits, kernel, stride, dilation (each point is its own Verilator build: most are slow)
CASES = [
    ("k2x3_d2_nonsq", 7, 9, 4, 2, 2, (2, 3), (1, 2), (2, 2)),
    ("k1_s2_shortcut", 6, 6, 4, 4, 8, (1, 1), (2, 2), (1, 1)),
    ("1d_k3_d4", 1, 20, 2, 1, 4, (1, 3), (1, 1), (1, 4)),
    pytest.param(("k3_c2", 5, 5, 2, 2, 4, (3, 3), (1, 1), (1, 1)), marks=slow),
    pytest.param(("k3_s2_simd1", 7, 6, 3, 1, 3, (3, 3), (2, 2), (1, 1)), marks=slow),
    pytest.param(("1d_k5_s2", 1, 17, 6, 3, 5, (1, 5), (1, 2), (1, 1)), marks=slow),
    pytest.param(("k2_s2_pool", 6, 8, 3, 3, 1, (2, 2), (2, 2), (1, 1)), marks=slow),
]


def _spec(case) -> SwgSpec:
    cid, h, w, c, simd, bits, k, s, d = case
    return SwgSpec(f"swg_{cid}", h, w, c, simd, bits, k, s, d)


def _write(spec: SwgSpec, outdir: Path, write_reg: bool | None = None) -> list[Path]:
    """The block's Verilog and the library modules it instantiates (its output queue). write_reg: the buffer
    written from registers a cycle late, with the read bypass (default: as a build decides, by depth)."""
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / f"{spec.name}.v"
    text = render("rtl/swg.v.j2", **spec.template_context(write_reg=write_reg))
    path.write_text(text)
    return [path] + write_lib(outdir, lib_modules_in(text))


def _run(src, spec, workdir: Path, *args, **kw):
    workdir.mkdir(parents=True, exist_ok=True)
    return run_paths(src if isinstance(src, list) else [src], spec.name, workdir, *args, **kw)


def _frames(spec: SwgSpec, n: int, seed: int):
    dt = DType(spec.elem_bits, False)
    x = np.random.default_rng(seed).integers(0, 1 << spec.elem_bits,
                                             size=(n, spec.ifm_h, spec.ifm_w, spec.channels))
    y = spec.execute(x)
    return dt, pack_words(x.ravel(), dt, spec.simd), y


def _with(case, write_reg):
    """(case, write_reg) as one parameter set, keeping the case's marks."""
    values, marks = (case.values[0], case.marks) if hasattr(case, "marks") else (case, ())
    return pytest.param(values, write_reg, marks=marks, id=values[0] + ("-write_reg" if write_reg else ""))


# every point as a build writes it (small buffers: written when taken), and two points with the registered write
# (WRITE_REG, what deep buffers get) and its read bypass
MATRIX = [_with(c, None) for c in CASES] + [_with(CASES[0], True), _with(CASES[4], True)]


@pytest.mark.parametrize("case,write_reg", MATRIX)
def test_swg_matches_golden_and_cycle_model(tmp_path, case, write_reg):
    spec = _spec(case)
    src = _write(spec, tmp_path / "rtl", write_reg)
    lint(src, spec.name, cwd=tmp_path)
    # with bubbles on both sides: the window stream of three frames, nothing more
    dt, words, y = _frames(spec, 3, seed=len(case[0]))
    res = _run(src, spec, tmp_path / "bubbles", words, 3 * spec.out_words, p_in=0.6, p_out=0.5,
                    seed=7)
    got = unpack_words(res["outputs"], dt, spec.simd).reshape(y.shape)
    np.testing.assert_array_equal(got, y)
    assert res["extra_outputs"] == 0
    # full rate: measured cycles from the first word in to the last word out equal the model
    dt, words, y = _frames(spec, 2, seed=1)
    res = _run(src, spec, tmp_path / "full", words, 2 * spec.out_words)
    np.testing.assert_array_equal(unpack_words(res["outputs"], dt, spec.simd).reshape(y.shape), y)
    measured = res["out_cycles"][-1] - res["in_cycles"][0] + 1
    assert measured == spec.cycles(frames=2), (measured, spec.cycles(frames=2), spec.frame_period())


def test_swg_spec_rejects_bad_parameters():
    with pytest.raises(ValueError):
        SwgSpec("bad", 5, 5, 6, 4, 2, (3, 3))  # SIMD does not divide C
    with pytest.raises(ValueError):
        SwgSpec("bad", 2, 5, 2, 2, 2, (3, 3))  # kernel taller than the image


def test_swg_buffer_is_k_minus_1_lines_plus_k_pixels():
    s = SwgSpec("b", 32, 32, 64, 8, 1, (3, 3))
    assert s.buf_pixels == 2 * 32 + 3 and s.buf_words == (2 * 32 + 3) * 8
    s = SwgSpec("b", 32, 32, 64, 8, 1, (3, 3), dilation=(2, 2))  # span 5
    assert s.buf_pixels == 4 * 32 + 5
    assert SwgSpec("b", 1, 64, 16, 16, 4, (1, 5)).buf_pixels == 5  # 1-D: no line at all


# name, H, W, C, SIMD, bits, signed, pads (top, left, bottom, right), value
PAD_CASES = [
    ("asym", 4, 5, 4, 2, 4, False, (1, 0, 0, 2), 0),
    ("sym_signed", 3, 3, 3, 3, 3, True, (1, 1, 1, 1), -2),
    pytest.param(("1d", 1, 7, 2, 1, 8, False, (0, 2, 0, 1), 5), marks=slow),
]


@pytest.mark.parametrize("case", PAD_CASES, ids=lambda c: c[0])
def test_pad_block_then_swg_is_a_padded_window_stream(tmp_path, case):
    cid, h, w, c, simd, bits, signed, pads, value = case
    spec = PadSpec(f"pad_{cid}", h, w, c, simd, bits, signed, pads, value)
    src = tmp_path / "rtl" / f"{spec.name}.v"
    src.parent.mkdir(parents=True)
    src.write_text(render("rtl/pad.v.j2", **spec.template_context()))
    lint([src], spec.name, cwd=tmp_path)
    dt = DType(bits, signed)
    x = dt.random(np.random.default_rng(3), (2, h, w, c))
    y = spec.execute(x)
    words = pack_words(x.ravel(), dt, simd)
    res = _run(src, spec, tmp_path / "bubbles", words, 2 * spec.out_words, p_in=0.5, p_out=0.6, seed=2)
    np.testing.assert_array_equal(unpack_words(res["outputs"], dt, simd).reshape(y.shape), y)
    assert res["extra_outputs"] == 0
    res = _run(src, spec, tmp_path / "full", words, 2 * spec.out_words)
    assert res["out_cycles"][-1] - res["out_cycles"][0] + 1 == spec.cycles(frames=2)
    # the padded frame through a sliding window is conv_kernels' padded window stream
    k = (1, 3) if h == 1 else (3, 3)
    swg = SwgSpec("s", *spec.ofm, c, simd, bits, k)
    np.testing.assert_array_equal(swg.execute(y), ck.sliding_window(x, k, pads=pads, pad_value=value))


@slow
def test_swg_depthwise_order_matches_golden_and_cycle_model(tmp_path):
    """The depthwise order (channel words outer, kernel positions inner): bit-exact with bubbles, and the
    measured cycles at full rate equal the model's."""
    spec = SwgSpec("swg_dw", 6, 7, 6, 2, 3, (3, 2), (1, 2), (2, 1), order="depthwise")
    src = _write(spec, tmp_path / "rtl", write_reg=True)
    lint(src, spec.name, cwd=tmp_path)
    dt, words, y = _frames(spec, 3, seed=5)
    res = _run(src, spec, tmp_path / "bubbles", words, 3 * spec.out_words, p_in=0.6, p_out=0.5, seed=3)
    np.testing.assert_array_equal(unpack_words(res["outputs"], dt, spec.simd).reshape(y.shape), y)
    dt, words, y = _frames(spec, 2, seed=1)
    res = _run(src, spec, tmp_path / "full", words, 2 * spec.out_words)
    np.testing.assert_array_equal(unpack_words(res["outputs"], dt, spec.simd).reshape(y.shape), y)
    assert res["out_cycles"][-1] - res["in_cycles"][0] + 1 == spec.cycles(frames=2)
