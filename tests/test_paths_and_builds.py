"""hwgen as a user types it: relative paths with spaces and non-ASCII characters, concurrent runs and builds,
atomic rebuilds, and build directories that were tampered with or mixed (issue 11, part A).

Every command runs `python -m hwgen.cli` in a fresh working directory whose path has a space and a non-ASCII
character, with relative paths only; the model is the small digits MLP shipped in examples/digits.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from hwgen.errors import BuildDirError
from hwgen.fileops import file_lock
from hwgen.manifest import check_build_dir, check_params, write_manifest
from hwgen.outdir import lock_path

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "examples" / "digits"
MODEL = "módel x.onnx"  # relative, with a space and a non-ASCII character
OUT = "out ä"
BACKENDS = ("reference", "cpu", "csim", "rtlsim")


def hwgen(*args, cwd, check=True, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-m", "hwgen.cli", *args], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=timeout)
    assert "Traceback" not in p.stderr, p.stderr
    if check:
        assert p.returncode == 0, p.stdout + p.stderr
    return p


def hwgen_bg(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "hwgen.cli", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def digits_x(n, offset=0):
    d = np.load(DIGITS / "digits_test.npz")
    return (d["X_test"][offset:offset + n] / 16.0).astype(np.float32)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A working directory 'wörk dir' holding the model and a build 'out ä' made with relative paths."""
    w = tmp_path_factory.mktemp("paths") / "wörk dir"
    w.mkdir()
    shutil.copy(DIGITS / "digits_mlp_w2a2.onnx", w / MODEL)
    hwgen("build", MODEL, "-o", OUT, "-q", cwd=w)
    return w


def tree_digests(d: Path) -> dict:
    from hwgen.manifest import sha256_file

    return {p.relative_to(d).as_posix(): sha256_file(p) for p in sorted(d.rglob("*")) if p.is_file()}


# --- every command with relative, spaced, non-ASCII paths -------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_run_every_backend_relative_paths(work, backend):
    x = digits_x(40)
    np.save(work / f"x {backend} ü.npy", x)
    hwgen("run", OUT, "--backend", backend, "--input", f"x {backend} ü.npy", "--output", f"y {backend} ü.npy",
          cwd=work)
    from hwgen.runtime.accelerator import Accelerator

    want = Accelerator(work / OUT, "reference").execute(x)
    np.testing.assert_array_equal(np.load(work / f"y {backend} ü.npy"), want)


def test_verify_and_report_relative_paths(work):
    p = hwgen("verify", OUT, "-n", "20", "--backends", "reference,rtlsim", cwd=work)
    assert "all bit-exact" in p.stdout
    p = hwgen("report", OUT, cwd=work)
    assert "MVAU_0" in p.stdout


def test_build_writes_manifest_and_absolute_model_path(work):
    out = work / OUT
    doc = check_build_dir(out)
    assert "hwgraph.json" in doc["files"] and "rtl/hwgen_top_MVAU_0.v" in doc["files"]
    assert json.loads((out / "hwgraph.json").read_text())["model"] == str(work / MODEL)
    assert not list(work.glob(f".{OUT}.building-*")) and not list(work.glob(f".{OUT}.old-*"))
    assert not (out / "rtlsim").exists()  # runs write nothing into OUT but the measured figures


def test_demo_in_fresh_relative_directory(tmp_path):
    w = tmp_path / "démo dir"
    w.mkdir()
    p = hwgen("demo", cwd=w, timeout=900)
    assert "all backends bit-exact" in p.stdout
    check_build_dir(w / "hwgen_demo_build")


@pytest.mark.slow
def test_size_fifos_relative_paths(work):
    # the folding of tests/test_fifo_sizing.py's digits case: its trial designs are then in the Verilator cache
    p = hwgen("build", MODEL, "-o", "fifo ö", "--size-fifos", "--target-fps", "1000000", cwd=work, timeout=1800)
    s = json.loads((work / "fifo ö" / "report" / "summary.json").read_text())
    assert s["fifos"]["cycles_per_frame_sized"] == s["fifos"]["cycles_per_frame_deep"], p.stdout
    check_build_dir(work / "fifo ö")


# --- concurrent runs and builds -----------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["rtlsim", "csim"])
def test_concurrent_runs_return_their_own_results(work, backend):
    from hwgen.runtime.accelerator import Accelerator

    ref = Accelerator(work / OUT, "reference")
    Accelerator(work / OUT, backend)  # build the shared cache first (its locking has its own tests): runs race
    for rep in range(3):
        procs, wants = [], []
        for i in range(4):
            n = 3 + i + rep  # different batch sizes and images per process
            x = digits_x(n, offset=17 * i + 5 * rep)
            np.save(work / f"cx{i}.npy", x)
            wants.append(ref.execute(x))
            procs.append(hwgen_bg("run", OUT, "--backend", backend, "--input", f"cx{i}.npy", "--output",
                                  f"cy{i}.npy", cwd=work))
        for i, p in enumerate(procs):
            out, err = p.communicate(timeout=600)
            assert p.returncode == 0, err
            np.testing.assert_array_equal(np.load(work / f"cy{i}.npy"), wants[i], err_msg=f"{backend} run {i}")


def test_csim_cache_built_once_by_concurrent_threads(work, tmp_path, monkeypatch):
    from hwgen.runtime.accelerator import Accelerator

    monkeypatch.setenv("HWGEN_CACHE_DIR", str(tmp_path / "cäche dir"))
    x = digits_x(30)
    with ThreadPoolExecutor(3) as ex:
        ys = list(ex.map(lambda _: Accelerator(work / OUT, "csim").execute(x), range(3)))
    for y in ys:
        np.testing.assert_array_equal(y, Accelerator(work / OUT, "reference").execute(x))
    assert len(list((tmp_path / "cäche dir" / "csim").glob("*.so"))) == 1


def test_second_build_into_held_out_is_refused(work):
    out = work / OUT
    before = tree_digests(out)
    with file_lock(lock_path(out)):  # as a running build holds it
        p = hwgen("build", MODEL, "-o", OUT, cwd=work, check=False)
    assert p.returncode == 2 and "another hwgen build is writing" in p.stderr
    assert tree_digests(out) == before


def test_two_concurrent_builds_one_refused_other_consistent(work):
    shutil.copy(ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx", work / "second.onnx")
    for _ in range(2):
        procs = [hwgen_bg("build", m, "-o", "race out", "--target-fps", fps, "-q", cwd=work)
                 for m, fps in ((MODEL, "1000000"), ("second.onnx", "100000"))]
        res = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
        assert any(rc == 0 for rc, _ in res), res
        for rc, err in res:
            assert rc == 0 or (rc == 2 and "another hwgen build is writing" in err), err
        check_build_dir(work / "race out")
        g = json.loads((work / "race out" / "hwgraph.json").read_text())
        s = json.loads((work / "race out" / "report" / "summary.json").read_text())
        assert s["model"] == g["model"] and Path(g["model"]).name in (MODEL, "second.onnx")
    assert not list(work.glob(".race out.building-*"))


# --- atomic rebuilds and foreign files ---------------------------------------------------------------------------

FAILED_REBUILDS = {
    "broken FOLD.json": ("fold.json", "{not json"),
    "illegal folding": ("fold.json", json.dumps({"MVAU_0": {"PE": 7, "SIMD": 5}})),
    "model that fails to import": ("bad.onnx", "not an onnx file"),
}


@pytest.mark.parametrize("case", FAILED_REBUILDS)
def test_failed_rebuild_leaves_old_out_intact(work, case):
    name, text = FAILED_REBUILDS[case]
    (work / name).write_text(text)
    args = [MODEL, "--folding", name] if name == "fold.json" else [name]
    out = work / OUT
    before = tree_digests(out)
    p = hwgen("build", *args, "-o", OUT, cwd=work, check=False)
    assert p.returncode == 2, p.stdout + p.stderr
    assert tree_digests(out) == before
    assert not list(work.glob(f".{OUT}.building-*"))


def test_rebuild_keeps_files_hwgen_did_not_write(tmp_path):
    w = tmp_path / "kéep dir"
    w.mkdir()
    shutil.copy(DIGITS / "digits_mlp_w2a2.onnx", w / "m.onnx")
    hwgen("build", "m.onnx", "-o", "o", "-q", cwd=w)
    (w / "o" / "driver" / "hwgen_driver" / "my notes.txt").write_text("mine")
    (w / "o" / "mine.txt").write_text("also mine")
    hwgen("build", "m.onnx", "-o", "o", "-q", "--target-fps", "100000", cwd=w)
    assert (w / "o" / "driver" / "hwgen_driver" / "my notes.txt").read_text() == "mine"
    assert (w / "o" / "mine.txt").read_text() == "also mine"
    doc = check_build_dir(w / "o")
    assert "mine.txt" not in doc["files"]
    # a foreign file where the runtime reads only hwgen's files: refused before building
    (w / "o" / "params" / "extra.npz").write_bytes(b"x")
    p = hwgen("build", "m.onnx", "-o", "o", cwd=w, check=False)
    assert p.returncode == 2 and "params/extra.npz" in p.stderr
    # a directory that is not a build directory, and a file, are never replaced
    (w / "notes").mkdir()
    (w / "notes" / "a.txt").write_text("a")
    (w / "afile").write_text("f")
    for target in ("notes", "afile"):
        p = hwgen("build", "m.onnx", "-o", target, cwd=w, check=False)
        assert p.returncode == 2 and target in p.stderr, p.stderr
    assert (w / "notes" / "a.txt").read_text() == "a" and (w / "afile").read_text() == "f"


def test_rebuild_of_old_build_dir_without_manifest(tmp_path):
    w = tmp_path / "öld dir"
    w.mkdir()
    shutil.copy(DIGITS / "digits_mlp_w2a2.onnx", w / "m.onnx")
    hwgen("build", "m.onnx", "-o", "o", "-q", cwd=w)
    (w / "o" / "manifest.json").unlink()  # as written by hwgen before manifests
    (w / "o" / "hls" / "hwgen_top_gxx.so").write_bytes(b"old csim library")
    (w / "o" / "rtlsim").mkdir()
    (w / "o" / "rtlsim" / "in.bin").write_bytes(b"old scratch")
    (w / "o" / "vivado" / "my.xdc").write_text("mine")
    hwgen("build", "m.onnx", "-o", "o", "-q", cwd=w)
    check_build_dir(w / "o")
    assert (w / "o" / "vivado" / "my.xdc").read_text() == "mine"
    assert not (w / "o" / "rtlsim").exists() and not (w / "o" / "hls" / "hwgen_top_gxx.so").exists()
    assert not list((w / "o").rglob("*.user-*"))


# --- integrity: tampered, mixed, old build directories -----------------------------------------------------------

def _tamper_params(out):
    f = out / "params" / "MVAU_1.npz"
    z = dict(np.load(f))
    z["weights"] = z["weights"].copy()
    z["weights"][0, 0] = -z["weights"][0, 0] - 1 if z["weights"][0, 0] != 0 else 1
    np.savez(f, **z)


def _tamper_rom(out):
    """The weights rtlsim reads: the ROM files (.mem), or the block holding them inline when there are none."""
    mems = sorted((out / "rtl").glob("*.mem"))
    if mems:
        lines = mems[0].read_text().splitlines()
        lines[0] = "0" * len(lines[0]) if set(lines[0]) != {"0"} else "1" * len(lines[0])
        mems[0].write_text("\n".join(lines) + "\n")
    else:
        v = out / "rtl" / "hwgen_top_MVAU_0.v"
        v.write_text(v.read_text().replace("1'b1", "1'b0", 1) + "\n")


def _mix_from_other_build(out, other):
    """The other build's graph and RTL (another folding) over this one's."""
    shutil.copy(other / "hwgraph.json", out / "hwgraph.json")
    shutil.copytree(other / "rtl", out / "rtl", dirs_exist_ok=True)


TAMPERED = {
    "params changed": (_tamper_params, "params/MVAU_1.npz was changed"),
    "ROM contents changed": (_tamper_rom, "rtl/"),
    "params file removed": (lambda out: (out / "params" / "MVAU_0.npz").unlink(), "params/MVAU_0.npz is missing"),
    "extra params file": (lambda out: (out / "params" / "old.npz").write_bytes(b"x"), "params/old.npz is not part"),
    "no manifest (older hwgen)": (lambda out: (out / "manifest.json").unlink(), "older hwgen"),
    "manifest not JSON": (lambda out: (out / "manifest.json").write_text("{"), "not a valid manifest"),
}


@pytest.fixture(scope="module")
def other_build(work):
    """The same model folded differently: same file names, different contents."""
    hwgen("build", MODEL, "-o", "other", "-q", "--target-fps", "100000", cwd=work)
    return work / "other"


@pytest.mark.parametrize("case,cmd", [(c, "run") for c in TAMPERED] + [("mixed with another build", "run"),
                                       ("mixed with another build", "verify"), ("params changed", "verify")])
def test_tampered_or_mixed_build_dir_refused(work, other_build, tmp_path, case, cmd):
    out = tmp_path / "t out"
    shutil.copytree(work / OUT, out)
    if case in TAMPERED:
        fn, msg = TAMPERED[case]
        fn(out)
    else:
        _mix_from_other_build(out, other_build)
        msg = "hwgraph.json was changed"
    np.save(tmp_path / "x.npy", digits_x(3))
    args = (["run", "t out", "--backend", "rtlsim", "--input", "x.npy", "--output", "y.npy"] if cmd == "run"
            else ["verify", "t out", "-n", "5", "--backends", "reference,rtlsim"])
    p = hwgen(*args, cwd=tmp_path, check=False)
    assert p.returncode == 2, p.stdout + p.stderr
    assert msg in p.stderr and "hwgen build" in p.stderr, p.stderr
    assert not (tmp_path / "y.npy").exists()


def _set(name, fn):
    def edit(out):
        f = out / "params" / f"{name}.npz"
        z = {k: v.copy() for k, v in np.load(f).items()}
        fn(z)
        np.savez(f, **z)
    return edit


def _bump_threshold(z):
    z["thresholds"][0, 0] = z["thresholds"][0, -1] + 1


BAD_PARAMS = {  # consistent manifest (re-written after the edit), parameters that contradict the layer's spec
    "weights out of their datatype": (_set("MVAU_1", lambda z: z["weights"].__setitem__((0, 0), 5)),
                                      "outside their datatype INT2"),
    "weights wrong shape": (_set("MVAU_1", lambda z: z.__setitem__("weights", z["weights"][:, :-1])), "shape"),
    "weights float": (_set("MVAU_1", lambda z: z.__setitem__("weights", z["weights"].astype(np.float32))),
                      "expected integers"),
    "thresholds descending": (_set("MVAU_0", _bump_threshold), "not ascending"),
    "thresholds missing": (_set("MVAU_0", lambda z: z.pop("thresholds")), "thresholds missing"),
}


@pytest.mark.parametrize("case", BAD_PARAMS)
def test_params_checked_against_layer_spec(work, tmp_path, case):
    from hwgen.runtime.accelerator import Accelerator

    out = tmp_path / "p out"
    shutil.copytree(work / OUT, out)
    fn, msg = BAD_PARAMS[case]
    fn(out)
    (out / "manifest.json").unlink()
    write_manifest(out)
    with pytest.raises(BuildDirError, match=msg):
        check_params(out)
    with pytest.raises(BuildDirError):
        Accelerator(out, "reference")


def test_concurrent_rtlsim_threads_share_one_model(work):
    """Threads of one process: each run has its own scratch files."""
    from hwgen.runtime.accelerator import Accelerator

    ref = Accelerator(work / OUT, "reference")
    xs = [digits_x(4 + i, offset=11 * i) for i in range(4)]
    barrier = threading.Barrier(4)

    def one(x):
        acc = Accelerator(work / OUT, "rtlsim", record=False)
        barrier.wait()
        return acc.execute(x)

    with ThreadPoolExecutor(4) as ex:
        ys = list(ex.map(one, xs))
    for x, y in zip(xs, ys):
        np.testing.assert_array_equal(y, ref.execute(x))


def _wait_for_staging(tmp: Path, proc, timeout=120):
    t = time.monotonic()
    while not list(tmp.glob(".o.building-*")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t < timeout, "the build never started staging"
        time.sleep(0.05)


def test_killed_builds_leave_nothing_behind(tmp_path):
    """SIGTERM unwinds like Ctrl-C (temporary directory removed, exit 130); after a SIGKILL, which nothing can
    catch, the next build into the same OUT removes the dead build's temporary directory."""
    shutil.copy(DIGITS / "digits_mlp_w2a2.onnx", tmp_path / MODEL)
    hwgen("build", MODEL, "-o", "o", "-q", cwd=tmp_path)
    before = tree_digests(tmp_path / "o")
    p = hwgen_bg("build", MODEL, "-o", "o", "--size-fifos", cwd=tmp_path)  # minutes: time to be killed
    _wait_for_staging(tmp_path, p)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    assert not list(tmp_path.glob(".o.building-*")) and tree_digests(tmp_path / "o") == before
    p = hwgen_bg("build", MODEL, "-o", "o", "--size-fifos", cwd=tmp_path)
    _wait_for_staging(tmp_path, p)
    p.kill()
    p.communicate(timeout=60)
    assert list(tmp_path.glob(".o.building-*"))  # SIGKILL: left behind ...
    hwgen("build", MODEL, "-o", "o", "-q", cwd=tmp_path)
    assert not list(tmp_path.glob(".o.building-*"))  # ... and removed by the next build of OUT
