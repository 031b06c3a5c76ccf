"""One design point, run on a Dask worker (or in-process): build, rtlsim against qonnx, yosys.

run_point is a pure function of its arguments: it writes only into a fresh private scratch directory and, when
the sweep's DIR is reachable from this worker, publishes the build directory into DIR/points/<hash>/build by
rename. Running it twice (a retry after a lost worker) gives the same result and leaves one build directory.
Mistakes in the model or options (HwgenError) become the point's "error"; anything else propagates so that Dask
can retry the task, and the client records it if the retries fail too.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from hwgen.errors import HwgenError
from hwgen.fileops import scratch_under

TOKEN_FILE = ".hwgen-explore"  # in DIR: a random token proving a worker sees the client's DIR (a shared path)
WORK_DIR = ".work"  # in DIR: the tasks' temporary directories (the client removes it, however the sweep ends)


def worker_address() -> str:
    """The Dask worker running this task, or 'local' outside a worker."""
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "local"


def shared_dir(share: dict | None) -> Path | None:
    """DIR if this worker sees the very directory the client made (same token), else None (results only)."""
    if not share:
        return None
    d = Path(share["dir"])
    try:
        return d if (d / TOKEN_FILE).read_text().strip() == share["token"] else None
    except OSError:
        return None


def _work_base(d: Path | None) -> str | None:
    """Where this task's temporary directory goes: DIR/.work when this worker sees DIR (the client removes it,
    however the sweep ends), else the Dask worker's own directory (Dask removes it), else the system's."""
    if d is not None and (d / WORK_DIR).is_dir():
        return str(d / WORK_DIR)
    try:
        from distributed import get_worker

        return get_worker().local_directory
    except (ImportError, ValueError, AttributeError):
        return None


def run_point(model_bytes: bytes, model_name: str, point: dict, key: str, share: dict | None = None,
              data: dict | None = None) -> dict:
    """Build and measure one point; returns its row of results.json (see hwgen.explore.results.FIELDS).
    model_name: the model's path as the user gave it (named in error messages instead of the task's copy). data:
    {"calib": X, "labels": Y or None} (arrays) for a point that quantizes a float model first."""
    from hwgen.explore.points import Point

    p = Point(**point)
    t0 = time.perf_counter()
    row = {"board": p.board, "target_fps": p.target_fps, "clock_mhz": p.clock_mhz, "hash": key,
           "worker": worker_address(), "error": None}
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(model_name).name)[:80] or "model.onnx"
    d = shared_dir(share)
    tmp = Path(tempfile.mkdtemp(prefix="hwgen-explore-", dir=_work_base(d)))
    try:
        with scratch_under(tmp):  # the build snapshots and simulation runs of this task too
            _run_in(tmp, safe, model_bytes, model_name, p, row, data)
        row["artifacts"] = _publish(tmp / "build", d, key) if d is not None and (tmp / "build").is_dir() else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    row["seconds"] = round(time.perf_counter() - t0, 3)
    return row


def _run_in(tmp: Path, safe: str, model_bytes: bytes, model_name: str, p, row: dict, data: dict | None) -> None:
    """Build and measure into tmp/build (through `hwgen quantize` first when the point quantizes a float model); a
    mistake in the model or options becomes the row's error, naming the model as the user gave it."""
    model = src = tmp / safe
    model.write_bytes(model_bytes)
    try:
        if p.quantizes:
            row.update(weights=p.weights, acts=p.acts, prune=p.prune)
            model = _quantize(model, tmp / "quantized.onnx", p, data or {})
        row.update(_measure(model, tmp / "build", p, data))
    except HwgenError as e:
        text = " ".join(str(e).split()).replace(str(src), model_name).replace(str(tmp), "<task directory>")
        row["error"] = f"{type(e).__name__}: {text}"


def _quantize(model: Path, q: Path, p, data: dict) -> Path:
    """The float model through `hwgen quantize` at the point's bits and prune ratio (calibrated on data)."""
    from hwgen.quantize.run import quantize

    quantize(model, data["calib"], q, weights=p.weights, acts=p.acts, prune=p.prune or None, board=p.board,
             target_fps=p.target_fps, log=None)
    return q


def _measure(model: Path, out: Path, p, data: dict | None = None) -> dict:
    from hwgen.build import build

    s = build(model, out, board=p.board, target_fps=p.target_fps, synth=p.synth, log=None, clock_mhz=p.clock_mhz)
    est = s["totals"]["estimate"]
    r = {"clock_mhz": s["clock_mhz"], "cycles_per_frame": s["estimate"]["cycles_per_frame"], "cycles_from": "estimate",
         "luts": est["luts"], "bram18": est["bram18"], "dsps": est["dsps"], "resources_from": "estimate",
         "bit_exact": None}
    if p.synth:
        y = s["synth"]
        r.update(luts=y["luts"], bram18=y["brams"], dsps=y["dsps"], resources_from="yosys")
    if p.rtlsim > 0:
        r.update(_rtlsim_check(model, out, p.rtlsim, p.seed))
    if data and data.get("labels") is not None:  # accuracy on the labelled calibration set, cpu backend
        from hwgen.quantize.evaluate import accuracy
        from hwgen.runtime.accelerator import Accelerator

        y = Accelerator(out, "cpu", wait_for_kernels=True).execute(np.asarray(data["calib"], dtype=np.float32))
        r["accuracy"] = round(accuracy(y, data["labels"]), 6)
    # rtlsim measures the layers at full input rate; the DMA may feed them slower (summary's io_bound_fps)
    compute_fps = s["clock_mhz"] * 1e6 / r["cycles_per_frame"]
    r["fps"] = round(min(compute_fps, s["estimate"].get("io_bound_fps", compute_fps)), 3)
    return r


def _rtlsim_check(model: Path, out: Path, n: int, seed: int) -> dict:
    """n random inputs through the Verilog (Verilator) and through the original graph (qonnx): identical?"""
    from hwgen.runtime.accelerator import Accelerator
    from hwgen.verify import golden, random_model_inputs

    acc = Accelerator(out, "rtlsim")
    g = acc.graph
    x = random_model_inputs(g, n, seed)
    q = g.head_ints(x)
    ints = acc.execute_ints(q)
    y = g.tail.run(ints)
    ref_ints = Accelerator(out, "reference").execute_ints(q)
    gold = golden(model, x)
    # as `hwgen verify` judges: the hardware's integers identical to the reference model's, and the model's output
    # identical to qonnx's, or different only where qonnx's float32 MatMul rounds its sum (non power-of-two scales)
    if np.array_equal(y, gold):
        vs_qonnx = "exact"
    elif y.shape == gold.shape and np.allclose(y, gold, rtol=1e-5, atol=1e-5 * float(np.abs(gold).max() or 1)):
        vs_qonnx = "float32 rounding"
    else:
        vs_qonnx = "differs"
    r = {"bit_exact": bool(np.array_equal(ints, ref_ints)) and vs_qonnx != "differs", "vs_qonnx": vs_qonnx}
    cpf = acc.stats().get("cycles_per_frame")
    if cpf:  # measured (needs two frames or more)
        r.update(cycles_per_frame=cpf, cycles_from="rtlsim")
    return r


def _publish(build: Path, d: Path, key: str) -> str:
    """Copy the build directory to DIR/points/<key>/build: a temporary sibling, then a rename (a retry replaces it)."""
    final = d / "points" / key / "build"
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".build-{uuid.uuid4().hex}.tmp"
    shutil.copytree(build, tmp)
    if final.exists():  # an earlier run or a retried task: same inputs, same content
        old = final.parent / f".old-{uuid.uuid4().hex}.tmp"
        os.replace(final, old)
        shutil.rmtree(old, ignore_errors=True)
    try:
        os.replace(tmp, final)
    except OSError:  # a duplicate of this task published the same content first
        shutil.rmtree(tmp, ignore_errors=True)
    return str(final.relative_to(d))
