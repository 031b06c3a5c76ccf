"""Window reducer RTL (templates/rtl/pool.v.j2: max pool, or window sum + QONNX Trunc) vs PoolSpec.execute, with
stream bubbles and at full rate (one input word per cycle, as PoolSpec.cycles); and sliding window + reducer
goldens equal conv_kernels' max_pool / trunc_avg_pool."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.codegen.render import render
from hwgen.codegen.rtl import lib_modules_in, write_lib
from hwgen.dtypes import DType
from hwgen.layers import conv_kernels as ck
from hwgen.layers.pool_spec import PoolSpec
from hwgen.layers.swg_spec import SwgSpec
from hwgen.packing import pack_words, unpack_words
from hwgen.sim.verilator import lint

from harness import run_paths

slow = pytest.mark.slow
# name, window, C, SIMD, in bits, in signed, mode, shift, out bits, out signed, rounding
CASES = [
    ("max_u4", 4, 4, 2, 4, False, "max", 0, 0, False, "FLOOR"),
    ("avg_floor_s3", 9, 3, 3, 3, True, "trunc_avg", 3, 4, True, "FLOOR"),
    ("avg_round_u4", 4, 2, 1, 4, False, "trunc_avg", 2, 4, False, "ROUND"),
    pytest.param(("max_s8", 9, 6, 3, 8, True, "max", 0, 0, False, "FLOOR"), marks=slow),
    pytest.param(("avg_half_up_s4", 4, 2, 2, 4, True, "trunc_avg", 1, 4, True, "HALF_UP"), marks=slow),
    pytest.param(("avg_ceil_clip_u2", 16, 4, 4, 2, False, "trunc_avg", 2, 2, False, "CEIL"), marks=slow),
]


def _spec(case, pixels=5) -> PoolSpec:
    cid, kk, c, simd, bits, signed, mode, shift, ob, osigned, rnd = case
    return PoolSpec(f"pool_{cid}", pixels, kk, c, simd, bits, signed, mode, shift, ob, osigned, False, rnd)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_pool_rtl_matches_golden(tmp_path, case):
    spec = _spec(case)
    src = tmp_path / "rtl" / f"{spec.name}.v"
    src.parent.mkdir(parents=True)
    src.write_text(render("rtl/pool.v.j2", **spec.template_context()))
    srcs = [src] + write_lib(src.parent, lib_modules_in(src.read_text()))
    lint(srcs, spec.name, cwd=tmp_path)
    idt, odt = DType(spec.in_bits, spec.in_signed), DType(spec.elem_out_bits, spec.out_signed if
                                                           spec.mode == "trunc_avg" else spec.in_signed)
    win = idt.random(np.random.default_rng(5), (2, spec.pixels, spec.window * spec.channels))
    y = spec.execute(win)
    words = pack_words(win.ravel(), idt, spec.simd)
    for sub, kw in (("bubbles", dict(p_in=0.6, p_out=0.5, seed=3)), ("full", {})):
        (tmp_path / sub).mkdir()
        res = run_paths(srcs, spec.name, tmp_path / sub, words, 2 * spec.out_words, **kw)
        np.testing.assert_array_equal(unpack_words(res["outputs"], odt, spec.simd).reshape(y.shape), y)
        assert res["extra_outputs"] == 0
    assert res["out_cycles"][-1] - res["in_cycles"][0] + 1 == spec.cycles(frames=2)


@pytest.mark.parametrize("k,s,pads", [((2, 2), (2, 2), (0, 0, 0, 0)), ((3, 3), (2, 2), (1, 1, 1, 1)),
                                      ((1, 3), (1, 2), (0, 1, 0, 1))])
def test_window_then_reducer_is_max_pool_and_trunc_avg_pool(k, s, pads):
    x = np.random.default_rng(0).integers(-8, 8, size=(2, 7, 9, 4))
    win = ck.sliding_window(x, k, s, pads=pads, pad_value=np.iinfo(np.int64).min)
    oh, ow = win.shape[1:3]
    mx = PoolSpec("p", oh * ow, k[0] * k[1], 4, 2, 4, True, "max")
    np.testing.assert_array_equal(mx.execute(win), ck.max_pool(x, k, s, 1, pads))
    win0 = ck.sliding_window(x, k, s, pads=pads)
    av = PoolSpec("p", oh * ow, k[0] * k[1], 4, 2, 4, True, "trunc_avg", 2, 4, True, False, "ROUND")
    np.testing.assert_array_equal(av.execute(win0), ck.trunc_avg_pool(x, k, s, pads, shift=2, out_bits=4,
                                                                       signed=True, rounding_mode="ROUND"))
    assert SwgSpec("s", 7, 9, 4, 2, 4, k, s).ofm == ck.out_shape((7, 9), k, s)


def test_pool_spec_rejects_bad_parameters():
    with pytest.raises(ValueError):
        PoolSpec("p", 1, 4, 3, 2, 4, False)
    with pytest.raises(ValueError):
        PoolSpec("p", 1, 4, 4, 2, 4, False, "min")
    with pytest.raises(ValueError):
        PoolSpec("p", 1, 4, 4, 2, 4, False, "trunc_avg", 2, 4, False, False, "NEAREST")
