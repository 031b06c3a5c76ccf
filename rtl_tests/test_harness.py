"""The plain C++ Verilator harness (hwgen.sim.verilator): long runs without Python in the cycle loop."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.codegen.rtl import stream_widths, write_block
from hwgen.dtypes import DType
from hwgen.packing import pack_bytes, unpack_bytes
from hwgen.sim.verilator import build_stream_harness, run_stream_harness

from harness import cache_root
from test_mvau import make_mvau


@pytest.mark.parametrize("bubbles", [(1.0, 1.0), (0.7, 0.4)], ids=["full", "bubbles"])
def test_harness_mvau(tmp_path, bubbles):
    MW, MH, PE, SIMD, nv = 64, 32, 4, 8, 300
    idt, odt = DType(4, True), DType(4, False)
    params, X, y, odt = make_mvau("hmv", MW, MH, PE, SIMD, idt, DType(3, True), odt, True, nv=nv, seed=3)
    paths = write_block("mvau", params, tmp_path)
    iw, ow = stream_widths("mvau", params)
    exe = build_stream_harness([p for p in paths if p.suffix == ".v"], "hmv", iw, ow, cache_root() / "harness_hmv", cache_dir=cache_root())
    out, st = run_stream_harness(exe, pack_bytes(X.ravel(), idt, SIMD), ow // 8, y.size // PE, tmp_path,
                                 p_in=bubbles[0], p_out=bubbles[1])
    np.testing.assert_array_equal(unpack_bytes(out, odt, PE).reshape(y.shape), y)
    if bubbles == (1.0, 1.0):
        per_vec = (MW // SIMD) * (MH // PE)
        span = st["last_out"] - st["first_out"] + 1
        assert abs(span - per_vec * nv) <= per_vec, (span, per_vec * nv)
