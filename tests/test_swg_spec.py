"""The sliding-window generator's spec: its vectorized cycle model equals the cycle-by-cycle stepping of the RTL's
rules (which rtl_tests/test_swg.py checks against Verilator), and its golden is conv_kernels' window order."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.layers import conv_kernels as ck
from hwgen.layers.swg_spec import SwgSpec


def _random_specs(n, seed=0):
    rng = np.random.default_rng(seed)
    for i in range(n):
        (kh, kw), (dh, dw), (sh, sw) = rng.integers(1, 4, 2), rng.integers(1, 3, 2), rng.integers(1, 3, 2)
        if rng.random() < 0.3:  # 1-D
            kh = dh = sh = 1
        h = int((kh - 1) * dh + 1 + rng.integers(0, 5))
        w = int((kw - 1) * dw + 1 + rng.integers(0, 5))
        c = int(rng.integers(1, 5))
        simd = int(rng.choice([d for d in range(1, c + 1) if c % d == 0]))
        yield SwgSpec(f"s{i}", h, w, c, simd, 2, (int(kh), int(kw)), (int(sh), int(sw)), (int(dh), int(dw)))


def test_vectorized_cycle_model_equals_stepped_rules():
    for spec in _random_specs(150):
        assert spec._frame() == spec._frame_stepped(), spec


def test_cycles_close_to_output_words_when_reads_dominate():
    s = SwgSpec("cnv_conv1", 30, 30, 64, 1, 1, (3, 3))  # CNV's second conv at SIMD 1
    assert s.out_words <= s.frame_period() <= 1.01 * s.out_words
    assert s.cycles(frames=3) == 2 * s.frame_period() + s._frame()[1] + 3


def test_execute_and_read_order_follow_conv_kernels():
    s = SwgSpec("s", 5, 6, 4, 2, 3, (2, 3), (1, 2), (2, 1))
    x = np.random.default_rng(0).integers(0, 8, size=(2, 5, 6, 4))
    np.testing.assert_array_equal(s.execute(x), ck.sliding_window(x, (2, 3), (1, 2), (2, 1)))
    assert len(s.read_order()) == s.out_words and s.read_order().max() < s.in_words


def test_pad_spec():
    from hwgen.layers.swg_spec import PadSpec

    s = PadSpec("p", 3, 4, 4, 2, 3, True, (1, 0, 2, 1), -4)
    assert s.ofm == (6, 5) and s.out_words == 6 * 5 * 2
    ctx = s.template_context()
    assert ctx["PAD_WORD_HEX"] == "24"  # -4 in 3 bits is 0b100, twice: 0b100100
    x = np.zeros((1, 3, 4, 4), np.int64)
    assert (s.execute(x)[0, 0] == -4).all() and (s.execute(x)[0, 1, :4] == 0).all()
    with pytest.raises(ValueError):
        PadSpec("p", 3, 4, 4, 2, 3, False, (1, 0, 0, 0), -1)  # unsigned elements cannot hold -1
    with pytest.raises(ValueError):
        PadSpec("p", 3, 4, 4, 3, 3, False, (1, 0, 0, 0), 0)  # SIMD does not divide C
