"""The VVAU template (templates/rtl/vvau.v.j2), rendered by its kind at a few parameter points (both stream orders,
one and several channel folds, thresholds or the accumulator, BIPOLAR operands, constant ROMs), passes
`verilator --lint-only -Wall` without warnings."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.codegen.rtl import write_node
from hwgen.dtypes import BIPOLAR, DType
from hwgen.layers.vvau import VVAU
from hwgen.sim.verilator import lint

U = lambda b: DType(b, False)  # noqa: E731
S = lambda b: DType(b, True)  # noqa: E731

# (C, K, PE, SIMD, order, in, w, out (None: accumulator), thresholds)
POINTS = [
    (8, 9, 2, 1, "window", U(4), S(4), U(4), True),
    (6, 9, 6, 1, "window", S(2), S(2), None, False),
    (4, 3, 1, 1, "window", U(2), BIPOLAR, U(2), True),
    (8, 9, 2, 3, "depthwise", U(3), S(3), U(3), True),
    (4, 9, 4, 9, "depthwise", BIPOLAR, S(2), S(3), False),
    (3, 1, 3, 1, "window", U(4), U(3), BIPOLAR, True),
]


def _layer(i, c, k, pe, simd, order, idt, wdt, odt, thr):
    rng = np.random.default_rng(i)
    w = rng.choice([-1, 1], (c, k)) if wdt.bipolar else rng.integers(wdt.min, wdt.max + 1, (c, k))
    v = VVAU(f"lint_vvau{i}", idt, wdt, w, None, U(1), ofm=(2, 3), pe=pe, simd=simd, order=order)
    if odt is None:
        v.out_dtype = v.acc_dtype()
    elif thr:
        lo, hi = v.acc_range()
        n = 1 if odt.bipolar else odt.max - odt.min
        v.thresholds = np.sort(rng.integers(int(lo.min()), int(hi.max()) + 1, (c, n)), axis=1)
        v.out_dtype, v.out_base = odt, 0 if odt.bipolar else odt.min
    else:
        v.out_dtype = odt
    return v


@pytest.mark.parametrize("i", range(len(POINTS)))
def test_vvau_lint(tmp_path, i):
    v = _layer(i, *POINTS[i])
    paths = write_node(v, tmp_path)
    lint([paths[0]], v.name, cwd=tmp_path)
