"""The VNNI integer MVAU (sw_fallback.vnni) equals the int64 reference kernel for int8 operands: any MW (reads past
a frame's end, the last frames from a padded copy), MH not a multiple of four, N not a multiple of four, strided
rows, the widest weight span (256 values), no / several thresholds, bipolar outputs."""

import numpy as np
import pytest

from sw_fallback import kernels as K
from sw_fallback import vnni as V

needs_vnni = pytest.mark.skipif(not V.available(), reason="host without AVX-512 VNNI")


@needs_vnni
@pytest.mark.parametrize("N,MW,MH", [(1, 1, 1), (3, 63, 5), (9, 64, 8), (7, 65, 3), (13, 784, 64), (4, 200, 10)])
def test_vnni_equals_reference(N, MW, MH):
    rng = np.random.default_rng(N * 1000 + MW)
    for xl, xh, wl, wh in ((-2, 2, -1, 2), (-128, 128, -128, 128), (-128, 128, 0, 256 - 128), (0, 128, -3, 4)):
        x = rng.integers(xl, xh, (N, MW)).astype(np.int8)
        w = rng.integers(wl, wh, (MH, MW)).astype(np.int8)
        wu, wmin = V.pack_weights(w)
        ref = x.astype(np.int64) @ w.T.astype(np.int64)
        for T, bip in ((0, False), (1, True), (3, False), (12, False)):
            thr = np.sort(rng.integers(ref.min() - 2, ref.max() + 3, (MH, T)), axis=1).astype(np.int64)
            want = np.empty((N, MH), dtype=np.int64)
            K.mvau_acc64(x, w, thr, -1, bip, want)
            got = np.empty((N, MH), dtype=np.int32)
            V.mvau_vnni(x, wu, wmin, np.ascontiguousarray(thr.T), -1, bip, got)
            np.testing.assert_array_equal(got, want)
        wide = np.zeros((N, MW + 37), dtype=np.int8)
        wide[:, :MW] = x
        got = np.empty((N, MH), dtype=np.int64)
        V.mvau_vnni(wide[:, :MW], wu, wmin, np.zeros((0, MH), np.int64), 0, False, got)
        np.testing.assert_array_equal(got, ref)


def test_pack_weights_refuses_wide_spans():
    assert V.pack_weights(np.array([[-128, 127]])) is not None
    assert V.pack_weights(np.array([[-129, 127]])) is None


@pytest.mark.parametrize("vnni", [True, False])
def test_int8_mlp_on_both_kernels(vnni, monkeypatch, tmp_path):
    """TFC_2W2A (int8 operands) through the cpu backend with the VNNI kernel and with the portable one other hosts
    run (forced here), both bit-exact with the reference."""
    from hwgen.build import build
    from hwgen.runtime.accelerator import Accelerator
    from tests.conftest import tfc_model

    if vnni and not V.available():
        pytest.skip("host without AVX-512 VNNI")
    if not vnni:
        monkeypatch.setattr(V, "available", lambda: False)
    out = tmp_path / "out"
    build(tfc_model("TFC_2W2A"), out, log=lambda *a: None)
    x = np.random.default_rng(5).uniform(-1, 1, (37, 1, 28, 28)).astype(np.float32)
    acc = Accelerator(out, "cpu", threads=1, driver=False)
    np.testing.assert_array_equal(acc.execute(x), Accelerator(out, "reference").execute(x))
    used = [getattr(st.kernel, "vnni", None) is not None for st in acc.backend.steps]
    assert any(used) == vnni
