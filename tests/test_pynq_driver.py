"""The board driver (OUT/driver/hwgen_driver) runs unchanged against a simulated overlay whose DMA is PYNQ's own
`pynq.lib.dma` (the unmodified file from the pynq sdist) over a register model of the AXI DMA: packing, beat
padding, one transfer per batch each way, splitting at the length register, PYNQ's alignment / length / state
checks and timeouts all run; the accelerator behind it is the Verilator model of the board boundary
(hwgen_dma_top around hwgen_top) or its reference model. The driver's numpy CPU partitions equal hwgen's: bit for
bit, except after an op that sums in float (a last MatMul / Gemm whose float32 sum qonnx rounds runs in the tail):
numpy may add in another order than onnxruntime (hwgen.evaluator INEXACT, README "CPU islands"), so those outputs
agree to float32 rounding (the bound of tests/test_evaluator.py) and in their argmax."""

import subprocess
import sys
from pathlib import Path

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


def assert_driver_equal(y, ref, out):
    """The driver's output against hwgen's: bit-exact unless the CPU partitions sum in float (see above)."""
    from hwgen.evaluator import INEXACT

    g = Accelerator(out).graph
    parts = [g.tail] if g.single is not None else g.cpu_islands
    if not {n.op_type for p in parts for n in p.nodes} & INEXACT:
        return np.testing.assert_array_equal(y, ref)
    np.testing.assert_allclose(y, ref, rtol=2e-5, atol=1e-6)
    np.testing.assert_array_equal(y.argmax(-1), ref.argmax(-1))


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
    assert_driver_equal(acc.execute(x), ref, out)
    # the driver's own numpy head and tail (what runs on a board without onnxruntime)
    drv = acc.backend.driver
    assert_driver_equal(drv.execute(x), ref, out)


@pytest.mark.parametrize("seed", range(12))
def test_driver_numpy_partitions_on_generated_models(seed, tmp_path):
    m = make_mlp(random_spec(seed))
    p = tmp_path / "m.onnx"
    onnx.save(m, p)
    out = tmp_path / "o"
    build(p, out, **QUIET)
    x = random_inputs(m, 128, seed=seed)
    ref = Accelerator(out).execute(x)
    if not Accelerator(out).graph.hw_islands:
        # one MatMul whose float32 sum qonnx rounds: the model is one CPU island (no bitstream, no driver); what runs
        # is the CPU evaluator, as qonnx computes it
        from hwgen.verify import golden
        np.testing.assert_array_equal(ref, golden(p, x))
        return
    drv = Accelerator(out, "pynq", overlay=SimOverlay(out, engine="reference")).backend.driver
    assert_driver_equal(drv.execute(x), ref, out)


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
    np.save(tmp_path / "ref.npy", Accelerator(out).execute(x))  # its last Gemm runs in the tail: see the docstring
    code = f"""
import sys, numpy as np
sys.path.insert(0, {str(out / 'driver')!r})
import hwgen_driver
assert not any(m == 'hwgen' or m.startswith('hwgen.') for m in sys.modules), 'driver imports hwgen'
assert 'onnxruntime' not in sys.modules and 'onnx' not in sys.modules
from hwgen.runtime.sim_overlay import SimOverlay   # the board's pynq.Overlay stand-in
acc = hwgen_driver.FPGAAccelerator(overlay=SimOverlay({str(out)!r}, engine='reference'))
y = acc.execute(np.load({str(tmp_path / 'x.npy')!r}))
ref = np.load({str(tmp_path / 'ref.npy')!r})
assert np.allclose(y, ref, rtol=2e-5, atol=1e-6) and np.array_equal(y.argmax(1), ref.argmax(1))
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


def test_pynq_dma_is_pynqs_own_file(tmp_path):
    import hashlib

    from hwgen.runtime.pynq_sim import PYNQ_SDIST_SHA256, pynq_dma_file

    model = ROOT / "tests" / "models" / "brevitas" / "mlp_w3a5_narrow.onnx"
    out = tmp_path / "o"
    build(model, out, **QUIET)
    ov = SimOverlay(out, engine="reference")
    mod = sys.modules[type(ov.axi_dma_0).__module__]
    assert Path(mod.__file__) == pynq_dma_file() and type(ov.axi_dma_0).__name__ == "DMA"
    sdist = pynq_dma_file().parent / "pynq-4.0.0.tar.gz"
    assert hashlib.sha256(sdist.read_bytes()).hexdigest() == PYNQ_SDIST_SHA256
    # what PYNQ checks on a board is checked here, by PYNQ
    buf = ov.hwgen_allocate(shape=(4096,), dtype=np.uint8)
    ch = ov.axi_dma_0.sendchannel
    with pytest.raises(RuntimeError, match="unaligned"):
        ch.transfer(buf, start=4, nbytes=64)
    with pytest.raises(ValueError, match="exceeds"):
        ch.transfer(buf, nbytes=ov.axi_dma_0.buffer_max_size + 1)
    assert not ov.registers.mm2s.transfers


def _tfc_published(tmp_path):
    import json

    from tests.conftest import tfc_model

    fold = tmp_path / "fold.json"
    fold.write_text(json.dumps({"MVAU_0": {"PE": 16, "SIMD": 49}, "MVAU_1": {"PE": 8, "SIMD": 8},
                                "MVAU_2": {"PE": 8, "SIMD": 8}, "MVAU_3": {"PE": 10, "SIMD": 8}}))
    out = tmp_path / "o"
    build(tfc_model("TFC_1W1A"), out, folding_file=fold, **QUIET)
    return out


def test_driver_pynq_dma_verilator_tfc_batches(tmp_path):
    """PYNQ's DMA code -> register model -> the Verilog board boundary in Verilator: bit-exact on batches of 1, 7
    and 1,000 frames (one MM2S and one S2MM transfer each), and on 1,000 frames with a 14-bit length register
    (16,383 bytes: cut at frame boundaries into 7 transfers each way)."""
    from tests.conftest import load_mnist

    out = _tfc_published(tmp_path)
    x, _ = load_mnist(1000)
    ref = Accelerator(out).execute(x)
    ov = SimOverlay(out, engine="rtlsim")
    acc = Accelerator(out, "pynq", overlay=ov)
    drv = acc.backend.driver
    stride, k = drv.meta["dma"]["in_stride"], drv.multiple  # batches padded to k frames (the HLS top's group)
    assert stride % drv.meta["dma"]["beat_bytes"] == 0
    for n in (1, 7, 1000):
        ov.transfers.clear()
        np.testing.assert_array_equal(acc.execute(x[:n]), ref[:n])
        padded = -(-n // k) * k
        assert ov.transfers == [padded * stride // 8]  # one MM2S transfer for the whole batch (8-byte beats)
        assert ov.registers.s2mm.length == padded * drv.meta["dma"]["out_stride"]  # S2MM ended at TLAST
    small = SimOverlay(out, engine="rtlsim", length_width=14)
    acc = Accelerator(out, "pynq", overlay=small)
    drv = acc.backend.driver
    assert small.axi_dma_0.buffer_max_size == (1 << 14) - 1 and drv.max_batch == (1 << 14) // stride // k * k
    np.testing.assert_array_equal(acc.execute(x), ref)
    assert len(small.transfers) == -(-1000 // drv.max_batch) == 7
    assert all(t * 8 <= (1 << 14) - 1 for t in small.transfers)
    np.testing.assert_array_equal(drv.execute(x[:50]), ref[:50])  # board-side numpy head / tail
    # random valid / ready bubbles on the DMA streams exercise the gearboxes' back-pressure paths
    bubbly = Accelerator(out, "pynq", overlay=SimOverlay(out, engine="rtlsim", p_in=0.5, p_out=0.4))
    np.testing.assert_array_equal(bubbly.execute(x[:40]), ref[:40])


def test_driver_reference_engine_many_chunks(tmp_path):
    """Many chunks through PYNQ's DMA (10-bit length register: 25 frames of 40 bytes per transfer)."""
    model = ROOT / "tests" / "models" / "brevitas" / "mlp_w3a5_narrow.onnx"
    out = tmp_path / "o"
    build(model, out, **QUIET)
    x = _digits_like(1000)
    ref = Accelerator(out).execute(x)
    ov = SimOverlay(out, engine="reference", length_width=10)
    acc = Accelerator(out, "pynq", overlay=ov)
    np.testing.assert_array_equal(acc.execute(x), ref)
    assert len(ov.transfers) == -(-1000 // acc.backend.driver.max_batch) > 1


def test_alveo_build_has_no_zynq_driver(tmp_path):
    from hwgen.errors import BuildDirError

    out = tmp_path / "o"
    build(ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx", out, board="alveo-u50", **QUIET)
    assert not (out / "driver" / "hwgen_driver").exists()
    from hwgen.runtime.pynq_backend import PynqBackend

    with pytest.raises(BuildDirError, match="Alveo build"):
        PynqBackend(out, None)
    with pytest.raises(BuildDirError, match="Alveo"):
        SimOverlay(out, engine="reference")


def test_driver_runs_a_two_island_model(tmp_path):
    """A model with a CPU island between two hardware islands (tests/models/islands/residual_float_sum: a float
    branch sum): the driver runs hardware island k behind its own DMA (axi_dma_<k>, PYNQ's dma.py over the
    simulated device; each the Verilator model of that island's board boundary) and the CPU island, heads and
    tails on its numpy evaluator; bit-exact with qonnx (this CPU island's sums are exact in any order)."""
    from hwgen.verify import golden

    model = ROOT / "tests" / "models" / "islands" / "residual_float_sum.onnx"
    out = tmp_path / "o"
    build(model, out, **QUIET)
    meta = __import__("json").loads((out / "driver" / "hwgen_driver" / "meta.json").read_text())
    assert [i["kind"] for i in meta["islands"]] == ["hw", "cpu", "hw"]
    assert [i["dma_name"] for i in meta["islands"] if i["kind"] == "hw"] == ["axi_dma_0", "axi_dma_1"]
    x = np.random.default_rng(0).uniform(-1.2, 1.2, (9, 3, 16, 16)).astype(np.float32)
    want = golden(model, x)
    ov = SimOverlay(out, engine="rtlsim")
    acc = Accelerator(out, "pynq", overlay=ov)
    np.testing.assert_array_equal(acc.execute(x), want)
    assert len(ov.transfers) == 2  # one MM2S transfer per hardware island for the whole batch
    assert ov.axi_dma_1.sendchannel is not ov.axi_dma_0.sendchannel


@pytest.mark.requires_tool("tclsh")
def test_driver_finds_each_island_dma_by_name_in_the_hwh(tmp_path):
    """The one block design of a two-island model, through the Vivado flow (stub tools, tests/vivado_stub): its
    .hwh lands beside the driver and holds axi_dma_0 and axi_dma_1 with their parameters and register windows; the
    simulated overlay builds PYNQ's DMAs from it, by the names meta.json gives, and the driver runs bit-exact. A
    .hwh without island 1's DMA (another build's bitstream) is refused, naming the DMA."""
    import os
    import shutil

    from hwgen.errors import BuildDirError
    from hwgen.verify import golden

    model = ROOT / "tests" / "models" / "islands" / "residual_float_sum.onnx"
    out = tmp_path / "o"
    build(model, out, board="kv260", **QUIET)
    flow = tmp_path / "flow"  # the flow writes into hls/ (not part of the build): run it on a copy
    shutil.copytree(out, flow)
    stub = ROOT / "tests" / "vivado_stub"
    env = dict(os.environ, PATH=f"{stub / 'bin'}{os.pathsep}{os.environ['PATH']}",
               HWGEN_STUB_BOARDS=str(ROOT / "boards"), HWGEN_STUB_LOG=str(tmp_path / "calls.log"))
    r = subprocess.run(["bash", str(flow / "vivado" / "build.sh")], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    hwh = out / "driver" / "hwgen_driver" / "hwgen_top.hwh"
    shutil.copyfile(flow / "driver" / "hwgen_driver" / "hwgen_top.hwh", hwh)
    x = np.random.default_rng(1).uniform(-1.2, 1.2, (6, 3, 16, 16)).astype(np.float32)
    ov = SimOverlay(out, engine="reference")
    assert ov.axi_dma_1.description["phys_addr"] == ov.axi_dma_0.description["phys_addr"] + 0x10000
    np.testing.assert_array_equal(Accelerator(out, "pynq", overlay=ov).execute(x), golden(model, x))
    hwh.write_text(hwh.read_text().replace('"axi_dma_1"', '"axi_dma_7"'))
    with pytest.raises(BuildDirError, match="no AXI DMA named 'axi_dma_1'"):
        SimOverlay(out, engine="reference")
