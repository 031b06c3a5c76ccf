"""`hwgen demo` from the README, and unit checks of the pieces everything relies on."""

import numpy as np
import pytest

from hwgen import dtypes, packing
from hwgen.cli import main
from hwgen.naming import Namer, comment_safe, sanitize
from hwgen.transforms.thresholds import MAX_ENUM_RANGE, NotMonotoneError, compute_thresholds


def test_demo_runs_and_agrees(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    for backend in ("reference", "cpu", "csim", "rtlsim"):
        assert f"\n{backend} " in out
    assert "all backends bit-exact" in out and "cycles/frame" in out
    assert out.count("97.96 %") == 5  # qonnx and every backend


@pytest.mark.parametrize("dt", [dtypes.BIPOLAR, dtypes.DType(1, False), dtypes.DType(3, True),
                                dtypes.DType(5, False), dtypes.DType(8, True), dtypes.DType(13, True)])
@pytest.mark.parametrize("elems", [1, 3, 8])
def test_packing_roundtrip(dt, elems):
    rng = np.random.default_rng(dt.bits * 10 + elems)
    v = rng.choice([-1, 1], 24 * elems) if dt.bipolar else rng.integers(dt.min, dt.max + 1, 24 * elems)
    words = packing.pack_words(v, dt, elems)
    np.testing.assert_array_equal(packing.unpack_words(words, dt, elems), v)
    buf = packing.pack_bytes(v, dt, elems)
    assert buf.shape == (24, packing.padded_bytes(dt.bits * elems))
    np.testing.assert_array_equal(packing.unpack_bytes(buf, dt, elems), v)
    # the convention itself: element i at bits [i*w, (i+1)*w), little-endian bytes
    assert int.from_bytes(buf[0].tobytes(), "little") == words[0]


def test_packing_refuses_out_of_range():
    with pytest.raises(ValueError):
        packing.pack_words([4], dtypes.DType(3, True), 1)
    with pytest.raises(ValueError):
        packing.pack_words([0], dtypes.BIPOLAR, 1)


def test_packing_known_word():
    # INT4 elements [-1, 2] -> 0xF | 0x2 << 4
    assert packing.pack_words([-1, 2], dtypes.DType(4, True), 2) == [0x2F]


def test_smallest_dtype():
    assert dtypes.smallest_for_range(-5, 3).name == "INT4"
    assert dtypes.smallest_for_range(0, 255).name == "UINT8"
    assert dtypes.smallest_for_range(-128, 127).name == "INT8"
    assert dtypes.smallest_for_range(-129, 0).name == "INT9"


def test_names_are_safe_and_unique():
    n = Namer()
    names = [n(s) for s in ['a"b', "a b", "a_b", "$(rm -rf /)", "`x`", "x\ny", "*/", "", "9lives", "A_B"]]
    assert len(set(x.lower() for x in names)) == len(names)
    import re

    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", x) and len(x) <= 48 for x in names)
    assert sanitize("x" * 5000) == "x" * 48
    assert "*/" not in comment_safe("a*/b/*c\n")


def _step(a, t, lo=0):
    return lo + (a >= t).sum(axis=-1)


def test_thresholds_enumeration_and_search_agree():
    rng = np.random.default_rng(0)
    C = 6
    lo = rng.integers(-300, -100, C)
    hi = rng.integers(100, 300, C)
    true_t = np.sort(rng.integers(-150, 150, (C, 3)), axis=1)
    sign = np.array([1, -1, 1, -1, 1, 1])

    def g(a):
        a = np.asarray(a)
        return np.stack([_step(sign[c] * a[:, c:c + 1], true_t[c]) for c in range(C)], axis=1)

    r1 = compute_thresholds(g, lo, hi, 0, 3)
    r2 = compute_thresholds(g, lo, hi, 0, 3, max_enum_range=1)  # force the binary search
    np.testing.assert_array_equal(r1.thresholds, r2.thresholds)
    np.testing.assert_array_equal(r1.negate, sign < 0)
    # thresholds reproduce g on every accumulator value
    for c in range(C):
        a = np.arange(lo[c], hi[c] + 1)
        want = g(np.tile(a[:, None], (1, C)))[:, c]
        hw = np.where(r1.negate[c], -a, a)
        got = (hw[:, None] >= r1.thresholds[c]).sum(1)
        np.testing.assert_array_equal(got, want)
    assert MAX_ENUM_RANGE >= 1 << 10


def test_thresholds_refuse_non_monotone():
    with pytest.raises(NotMonotoneError):
        compute_thresholds(lambda a: (np.abs(np.asarray(a)) < 3).astype(int), np.array([-10]), np.array([10]), 0, 1)
