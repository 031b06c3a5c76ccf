"""The board driver (OUT/driver/hwgen_driver) runs unchanged against a simulated overlay: packing, batching,
per-frame TLAST receives and timeouts go through the real driver code; its numpy CPU partitions equal hwgen's."""

import subprocess
import sys

import numpy as np
import onnx
import pytest

from hwgen.build import build
from hwgen.runtime.accelerator import Accelerator
from hwgen.runtime.sim_overlay import SimOverlay
from tests.conftest import ROOT
from tests.qonnx_gen import make_mlp, random_inputs, random_spec

BREVITAS = sorted((ROOT / "tests" / "models" / "brevitas").glob("*.onnx"))
QUIET = dict(log=lambda *a: None)


def _digits_like(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 17, (n, 64)).astype(np.float32) / 16
    x[: n // 4] = rng.normal(0, 3, (n // 4, 64))
    return x.astype(np.float32)


@pytest.mark.parametrize("model", BREVITAS + [ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx"],
                         ids=lambda p: p.stem)
def test_driver_through_sim_overlay_equals_reference(model, tmp_path):
    out = tmp_path / "o"
    build(model, out, **QUIET)
    x = _digits_like(64)
    ref = Accelerator(out).execute(x)
    acc = Accelerator(out, "pynq", overlay=SimOverlay(out, engine="reference"))
    np.testing.assert_array_equal(acc.execute(x), ref)
    # the driver's own numpy head and tail (what runs on a board without onnxruntime)
    drv = acc.backend.driver
    np.testing.assert_array_equal(drv.execute(x), ref)


@pytest.mark.parametrize("seed", range(12))
def test_driver_numpy_partitions_on_generated_models(seed, tmp_path):
    m = make_mlp(random_spec(seed))
    p = tmp_path / "m.onnx"
    onnx.save(m, p)
    out = tmp_path / "o"
    build(p, out, **QUIET)
    x = random_inputs(m, 128, seed=seed)
    ref = Accelerator(out).execute(x)
    drv = Accelerator(out, "pynq", overlay=SimOverlay(out, engine="reference")).backend.driver
    np.testing.assert_array_equal(drv.execute(x), ref)


def test_batching_and_timeout(tmp_path):
    model = ROOT / "tests" / "models" / "brevitas" / "mlp_w3a5_narrow.onnx"
    out = tmp_path / "o"
    build(model, out, **QUIET)
    x = _digits_like(50)
    ref = Accelerator(out).execute(x)
    acc = Accelerator(out, "pynq", overlay=SimOverlay(out, engine="reference"))
    acc.backend.driver.max_batch = 7  # 8 DMA batches, the last one short
    np.testing.assert_array_equal(acc.execute(x), ref)
    t = acc.throughput_test(300)
    assert t["images_per_s"] > 0 and {"pack_s", "transfer_s", "unpack_s"} <= set(t)
    stalled = Accelerator(out, "pynq", overlay=SimOverlay(out, engine="stall"), timeout_s=0.2)
    drv_mod = sys.modules[type(stalled.backend.driver).__module__]
    with pytest.raises(drv_mod.DmaTimeoutError, match="did not complete"):
        stalled.execute(x[:2])


def test_driver_package_is_self_contained(tmp_path):
    model = ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx"
    out = tmp_path / "o"
    build(model, out, **QUIET)
    x = _digits_like(20)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "ref.npy", Accelerator(out).execute(x))
    code = f"""
import sys, numpy as np
sys.path.insert(0, {str(out / 'driver')!r})
import hwgen_driver
assert not any(m == 'hwgen' or m.startswith('hwgen.') for m in sys.modules), 'driver imports hwgen'
assert 'onnxruntime' not in sys.modules and 'onnx' not in sys.modules
from hwgen.runtime.sim_overlay import SimOverlay   # the board's pynq.Overlay stand-in
acc = hwgen_driver.FPGAAccelerator(overlay=SimOverlay({str(out)!r}, engine='reference'))
y = acc.execute(np.load({str(tmp_path / 'x.npy')!r}))
assert np.array_equal(y, np.load({str(tmp_path / 'ref.npy')!r}))
print('ok')
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


def test_pynq_notebook_runs_against_simulation(tmp_path, monkeypatch):
    import json

    nb = json.loads((ROOT / "examples" / "pynq" / "hwgen_on_pynq.ipynb").read_text())
    out = tmp_path / "build_digits"
    build(ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx", out, **QUIET)
    monkeypatch.setenv("HWGEN_DRIVER_DIR", str(out / "driver"))
    monkeypatch.setenv("HWGEN_BUILD_DIR", str(out))
    monkeypatch.setenv("HWGEN_SIM", "1")
    monkeypatch.setenv("HWGEN_SIM_ENGINE", "reference")
    monkeypatch.setenv("HWGEN_DIGITS", str(ROOT / "examples" / "digits" / "digits_test.npz"))
    monkeypatch.setattr(sys, "path", list(sys.path))  # the notebook prepends the driver folder
    ns = {}
    try:
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                exec(compile("".join(cell["source"]), "notebook", "exec"), ns)
    finally:
        for name in [m for m in sys.modules if m == "hwgen_driver" or m.startswith("hwgen_driver.")]:
            del sys.modules[name]
    assert (ns["logits"].argmax(1) == ns["y"]).mean() > 0.95
    assert ns["r"]["images_per_s"] > 0


def test_driver_against_verilator_overlay_tfc(tmp_path):
    """The real driver path (packing, DMA batches, per-frame TLAST receives) against the Verilator model."""
    import json

    from tests.conftest import load_mnist, tfc_model

    model = tfc_model("TFC_1W1A")
    fold = tmp_path / "fold.json"
    fold.write_text(json.dumps({"MVAU_0": {"PE": 16, "SIMD": 49}, "MVAU_1": {"PE": 8, "SIMD": 8},
                                "MVAU_2": {"PE": 8, "SIMD": 8}, "MVAU_3": {"PE": 10, "SIMD": 8}}))
    out = tmp_path / "o"
    build(model, out, folding_file=fold, **QUIET)
    x, labels = load_mnist(300)
    ref = Accelerator(out).execute(x)
    acc = Accelerator(out, "pynq", overlay=SimOverlay(out, engine="rtlsim"))
    acc.backend.driver.max_batch = 128  # three DMA batches
    np.testing.assert_array_equal(acc.execute(x), ref)
    np.testing.assert_array_equal(acc.backend.driver.execute(x), ref)  # board-side numpy head / tail
