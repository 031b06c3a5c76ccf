"""`hwgen explore` on a real Dask cluster (scheduler + worker processes on localhost) and on the embedded
LocalCluster; `hwgen run --scheduler`; the clock override; the Pareto front and the plot."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hwgen.cli import main
from hwgen.explore.plot import render_svg
from hwgen.explore.points import Point, grid, parse_list
from hwgen.explore.results import pareto_front
from hwgen.explore.task import run_point

from .dask_cluster import ROOT, local_dask

DIGITS = ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx"
SWEEP = ["--board", "pynq-z2,zcu104", "--target-fps", "100000,1000000,4000000", "--rtlsim", "6"]


@pytest.fixture
def cluster(tmp_path):
    with local_dask(tmp_path / "dask") as c:
        yield c


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    """A fresh working directory with the model in it: the test types relative paths, as a user does."""
    d = tmp_path / "work"
    d.mkdir()
    shutil.copy(DIGITS, d / "digits.onnx")
    monkeypatch.chdir(d)
    return d


def _results(d: Path) -> list[dict]:
    return json.loads((d / "results.json").read_text())["points"]


def _all_good(points):
    assert len(points) == 6
    assert {(p["board"], p["target_fps"]) for p in points} == {
        (b, t) for b in ("pynq-z2", "zcu104") for t in (1e5, 1e6, 4e6)}
    for p in points:
        assert p["error"] is None, p
        assert p["bit_exact"] is True, p
        assert p["fps"] >= p["target_fps"] and p["luts"] > 0 and p["cycles_from"] == "rtlsim"


@pytest.mark.slow
def test_sweep_on_two_workers_then_resume(cluster, user_dir, capsys):
    assert main(["explore", "digits.onnx", "-o", "sweep", *SWEEP, "--scheduler", cluster.address]) == 0
    points = _results(user_dir / "sweep")
    _all_good(points)
    assert {p["worker"] for p in points} == set(cluster.workers)  # tasks ran on both workers
    for p in points:  # DIR is shared (same machine): every build directory was published
        assert (user_dir / "sweep" / p["artifacts"] / "report" / "summary.json").is_file()
    with open(user_dir / "sweep" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and {"board", "fps", "luts", "bit_exact", "worker", "error"} <= set(rows[0])
    html = (user_dir / "sweep" / "index.html").read_text()
    assert "<svg" in html and "Pareto front" in html and "frames per second" in html
    capsys.readouterr()
    assert main(["explore", "digits.onnx", "-o", "sweep", *SWEEP, "--scheduler", cluster.address]) == 0
    assert "0 points run, 6 from the cache" in capsys.readouterr().out
    assert _results(user_dir / "sweep") == points


@pytest.mark.slow
def test_killed_worker_loses_no_point(cluster, user_dir):
    cmd = [sys.executable, "-m", "hwgen.cli", "explore", "digits.onnx", "-o", "sweep", *SWEEP,
           "--scheduler", cluster.address]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    from distributed import Client

    killed = None
    try:
        with Client(cluster.address) as c:
            t0 = time.time()
            while killed is None and time.time() - t0 < 600 and proc.poll() is None:
                done = list((user_dir / "sweep" / "points").glob("*/result.json"))
                busy = [w for w, tasks in c.processing().items() if tasks]
                if done and busy:  # after the first result: kill a worker that is running a point
                    killed = busy[0]
                    cluster.kill_worker(killed)
                time.sleep(0.3)
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed is not None, "the sweep ended before a worker could be killed"
    assert proc.returncode == 0, out
    points = _results(user_dir / "sweep")
    _all_good(points)
    survivor = (set(cluster.workers) - {killed}).pop()
    assert survivor in {p["worker"] for p in points}


@pytest.mark.slow
def test_run_scheduler_matches_one_process(cluster, user_dir):
    assert main(["build", "digits.onnx", "-o", "b", "--target-fps", "1000000", "-q"]) == 0
    x = (np.load(ROOT / "examples" / "digits" / "digits_test.npz")["X_test"][:120] / 16.0).astype(np.float32)
    np.save("x.npy", x)
    # the one-process run gets an absolute path: a relative OUT breaks its Verilator build on main today (issue 11,
    # part A); the cluster run resolves OUT itself, as the workers need it
    assert main(["run", str(user_dir / "b"), "--backend", "rtlsim", "--input", "x.npy", "--output", "one.npy"]) == 0
    assert main(["run", "b", "--backend", "rtlsim", "--input", "x.npy", "--output", "many.npy",
                 "--scheduler", cluster.address]) == 0
    one, many = np.load("one.npy"), np.load("many.npy")
    assert one.shape[0] == 120 and np.array_equal(one, many)
    assert main(["run", "b", "--backend", "reference", "--input", "x.npy", "--output", "ref.npy"]) == 0
    assert np.array_equal(np.load("ref.npy"), many)


def test_local_cluster_records_a_failing_point(user_dir, capsys):
    # 1e9 frames/s is more than one frame per clock at 100 MHz: that point fails, the other goes on
    rc = main(["explore", "digits.onnx", "-o", "sw", "--target-fps", "200000,1e9", "--workers", "1"])
    assert rc == 1
    ok, bad = _results(user_dir / "sw")
    assert ok["error"] is None and ok["fps"] >= 200000 and ok["worker"].startswith("tcp://127.0.0.1:")
    assert bad["error"].startswith("FoldingError") and bad["fps"] is None
    assert "1 failed" in capsys.readouterr().out


def test_run_point_in_process_is_pure(tmp_path):
    p = Point("zcu104", 1e6, 250.0)
    a = run_point(DIGITS.read_bytes(), "my model (1).onnx", p.__dict__, "k", None)
    b = run_point(DIGITS.read_bytes(), "my model (1).onnx", p.__dict__, "k", None)
    assert a["worker"] == "local" and a["artifacts"] is None and a["clock_mhz"] == 250.0
    assert a["cycles_per_frame"] <= 250 and a["bit_exact"] is None
    assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}
    bad = run_point(b"not onnx", "x.onnx", p.__dict__, "k", None)
    assert bad["error"].startswith("ModelLoadError")


def test_clock_override_in_build(tmp_path):
    from hwgen.build import compile_model
    from hwgen.errors import HwgenError

    g = compile_model(DIGITS, "pynq-z2", target_fps=1e6, clock_mhz=50)
    assert g.meta["clock_mhz"] == 50.0 and max(layer.cycles() for layer in g.layers) <= 50
    assert main(["build", str(DIGITS), "-o", str(tmp_path / "b"), "--clock-mhz", "300", "-q"]) == 0
    s = json.loads((tmp_path / "b" / "report" / "summary.json").read_text())
    assert s["clock_mhz"] == 300.0
    assert "create_clock -period 3.33333" in (tmp_path / "b" / "hls" / "hls.tcl").read_text()
    with pytest.raises(HwgenError, match="between 1 and 1000 MHz"):
        compile_model(DIGITS, "pynq-z2", clock_mhz=5000)


def test_options_and_keys(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert parse_list("1e5, 2e5,1e5", "--target-fps") == [1e5, 2e5] and parse_list(None, "--board", str) == [None]
    assert main(["explore", str(DIGITS), "-o", "x", "--target-fps", "fast"]) == 2
    assert main(["explore", str(DIGITS), "-o", "x", "--board", "nosuchboard"]) == 2
    assert main(["explore", str(DIGITS), "-o", "x", "--scheduler", "127.0.0.1 8786"]) == 2
    assert not (tmp_path / "x").exists()  # options are checked before anything is written
    pts = grid([None, "zcu104"], [1e5], [None, 200.0])
    assert [(p.board, p.clock_mhz) for p in pts] == [("pynq-z2", None), ("pynq-z2", 200.0), ("zcu104", None),
                                                      ("zcu104", 200.0)]
    keys = {p.key("a" * 64) for p in pts}
    assert len(keys) == 4 and pts[0].key("a" * 64) == Point("pynq-z2", 1e5, None).key("a" * 64)
    assert pts[0].key("a" * 64) != pts[0].key("b" * 64)


def test_unreachable_scheduler_is_a_user_error():
    from hwgen.explore.cluster import ClusterError, dask_client

    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler"):
        with dask_client("tcp://127.0.0.1:9", timeout=2):
            pass


def test_pareto_front_and_plot():
    rows = [{"board": "a", "luts": 100, "fps": 1e5}, {"board": "a", "luts": 200, "fps": 5e4},  # dominated
            {"board": "b", "luts": 300, "fps": 1e6}, {"board": "b", "luts": 300, "fps": 1e6},  # ties both stay
            {"board": "<b>", "luts": 5000, "fps": 4e6}, {"board": "a", "error": "x", "luts": None, "fps": None}]
    assert pareto_front(rows) == [0, 2, 3, 4]
    for i, r in enumerate(rows):
        r["pareto"] = i in (0, 2, 3, 4)
    svg = render_svg(rows)
    assert svg.count("<circle") == 5 + 3 + 1  # points, legend (2 boards + "dominated"... and <b>)
    assert "&lt;b&gt;" in svg and "<b>" not in svg
    assert "LUTs (estimate, log scale)" in svg and "frames per second (log scale)" in svg
    assert "no successful points" in render_svg([rows[-1]])
