"""Issue 19, as a careless user and a busy CI would meet it: every case that crashed with a traceback exits 2 with
one line naming the file, option or node; every message the issue found unclear says what it is; every case that
hung reports within 30 s (tests/test_robust_dask.py).

Table-driven as tests/test_cli_errors.py; the race cases are in tests/test_races.py, signals in
tests/test_robust_signals.py."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from hwgen.build import build
from hwgen.cli import main
from hwgen.manifest import write_manifest
from hwgen.outdir import lock_path

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx"
M = str(DIGITS)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("b") / "out"
    build(DIGITS, out, log=None)
    return out


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """The generator's MLP with its hidden activation quantizer set to 16, 24 and 32 bits."""
    import onnx
    from onnx import numpy_helper

    from tests.qonnx_gen import MLPSpec, make_mlp

    d = tmp_path_factory.mktemp("wide")
    for bits in (16, 24, 32):
        m = make_mlp(MLPSpec(sizes=[16, 8, 4], act_bits=8, in_bits=8))
        inits = {i.name: i for i in m.graph.initializer}
        q = next(n for n in m.graph.node if n.op_type == "Quant" and n.input[0] not in inits
                 and n.input[0] != m.graph.input[0].name)
        inits[q.input[3]].CopyFrom(numpy_helper.from_array(np.array(float(bits), np.float32), q.input[3]))
        onnx.save(m, d / f"wide{bits}.onnx")
    return d


# --- helpers that make the situation of each case -------------------------------------------------------------

def _copy(b, t, name="copy"):
    out = t / name
    shutil.copytree(b, out)
    return out


def _x(t, shape=(2, 64), name="x.npy"):
    np.save(t / name, np.zeros(shape, np.float32))
    return str(t / name)


def _fifo(path):
    os.mkfifo(path)
    return str(path)


def _cache_env(value):
    def set_env(t):
        os.environ["HWGEN_CACHE_DIR"] = str(value(t) if callable(value) else value)
    return set_env


def _file(t):
    (t / "cachefile").write_text("not a directory")
    return t / "cachefile"


def _summary(b, t, edit):
    out = _copy(b, t)
    f = out / "report" / "summary.json"
    if isinstance(edit, bytes):
        f.write_bytes(edit)
    else:
        s = json.loads(f.read_text())
        edit(s)
        f.write_text(json.dumps(s))
    return str(out)


def _graph(b, t, edit):
    """A copy whose hwgraph.json is edited and whose manifest is re-signed (so only the graph check can tell)."""
    out = _copy(b, t)
    f = out / "hwgraph.json"
    doc = json.loads(f.read_text())
    edit(doc)
    f.write_text(json.dumps(doc))
    (out / "manifest.json").unlink()
    write_manifest(out)
    return str(out)


def _layer(name, key, value):
    def edit(doc):
        next(lay for lay in doc["layers"] if lay["name"] == name)[key] = value
    return edit


def _drop_layer(doc):
    doc["layers"] = [lay for lay in doc["layers"] if lay["name"] != "MVAU_1"]


def _half_built(b, t):
    d = t / ".out.building-abcd1234"  # as a build in progress (or a killed one) names its temporary directory
    shutil.copytree(b, d)
    (d / "manifest.json").unlink()
    return str(d)


def _foreign_dir(t):
    d = t / "sweep"
    d.mkdir()
    (d / "index.html").write_text("mine")
    return str(d)


@dataclass
class Case:
    id: str
    argv: Callable  # (built dir, tmp dir, wide models dir) -> argv
    expect: list = field(default_factory=list)  # words the message must contain (case-insensitive)
    setup: Callable | None = None  # (tmp dir) -> None, before argv (environment)
    seconds: float = 60  # the answer comes within this


def run_args(out, t, backend="reference", extra=()):
    return ["run", str(out), "--backend", backend, "--input", _x(t), "--output", str(t / "y.npy"), *extra]


CASES = [
    # tracebacks before: a bad cache directory
    Case("cache_dir_is_a_file", lambda b, t, w: run_args(b, t, "csim"), ["HWGEN_CACHE_DIR", "not a directory"],
         setup=_cache_env(_file)),
    Case("cache_dir_dev_full", lambda b, t, w: run_args(b, t, "rtlsim"), ["/dev/full", "character device"],
         setup=_cache_env("/dev/full")),
    # a scheduler address that is not one
    Case("scheduler_not_a_port", lambda b, t, w: run_args(b, t, "rtlsim", ["--scheduler", "tcp://127.0.0.1:notaport"]),
         ["--scheduler", "'notaport'", "1 to 65535"], seconds=30),
    # named pipes where a file is read
    Case("named_pipe_in_out", lambda b, t, w: ["build", M, "-o", str(_pipe_in(_copy(b, t))), "-q"],
         ["pipe", "move it away"]),
    Case("named_pipe_as_listed_file", lambda b, t, w: run_args(_pipe_for(_copy(b, t), "params/MVAU_0.npz"), t),
         ["params/MVAU_0.npz", "not a regular file"]),
    Case("named_pipe_as_input", lambda b, t, w: ["run", str(b), "--input", _fifo(t / "p.npy"), "--output",
                                                 str(t / "y.npy")], ["--input", "named pipe"]),
    Case("named_pipe_as_model", lambda b, t, w: ["build", _fifo(t / "m.onnx"), "-o", str(t / "o")],
         ["model file", "named pipe"]),
    # a report that is not what report prints
    Case("report_missing_keys", lambda b, t, w: ["report", _summary(b, t, lambda s: s.pop("estimate"))],
         ["summary.json", "'estimate'"]),
    Case("report_missing_layer_key", lambda b, t, w: ["report", _summary(b, t, lambda s: s["layers"][0].pop("pe"))],
         ["summary.json", "layers[0].'pe'"]),
    Case("report_not_utf8", lambda b, t, w: ["report", _summary(b, t, b"\xff\xfe{}")], ["summary.json", "UTF-8"]),
    # a re-signed, corrupted hwgraph.json
    Case("graph_unknown_dtype", lambda b, t, w: run_args(_graph(b, t, _layer("MVAU_1", "out_dtype", "UINT99X")), t),
         ["hwgraph.json", "MVAU_1", "out_dtype"]),
    Case("graph_missing_layer", lambda b, t, w: run_args(_graph(b, t, _drop_layer), t),
         ["hwgraph.json", "MVAU_1"]),
    Case("graph_pe_nan", lambda b, t, w: run_args(_graph(b, t, _layer("MVAU_0", "pe", float("nan"))), t),
         ["hwgraph.json", "MVAU_0", "PE nan"]),
    Case("graph_pe_0", lambda b, t, w: run_args(_graph(b, t, _layer("MVAU_0", "pe", 0)), t),
         ["hwgraph.json", "MVAU_0", "PE 0"]),
    Case("graph_pe_7", lambda b, t, w: run_args(_graph(b, t, _layer("MVAU_0", "pe", 7)), t),
         ["hwgraph.json", "MVAU_0", "PE=7", "legal"]),
    Case("graph_pe_negative", lambda b, t, w: run_args(_graph(b, t, _layer("MVAU_0", "pe", -64)), t),
         ["hwgraph.json", "MVAU_0", "PE -64"]),
    Case("graph_pe_string", lambda b, t, w: run_args(_graph(b, t, _layer("MVAU_0", "pe", "8")), t),
         ["hwgraph.json", "MVAU_0", "PE '8'"]),
    Case("header_dropped_into_hls", lambda b, t, w: run_args(_drop(_copy(b, t), "hls/ap_int.h"), t, "csim"),
         ["hls/ap_int.h", "not part of this build"]),
    Case("file_dropped_into_rtl", lambda b, t, w: run_args(_drop(_copy(b, t), "rtl/extra.v"), t, "rtlsim"),
         ["rtl/extra.v", "not part of this build"]),
    # the Vivado flow run in place leaves Vitis HLS's project under hls/ (a subdirectory: was EBADF before)
    Case("hls_project_left_in_hls", lambda b, t, w: run_args(_drop_in_subdir(_copy(b, t), "hls/ip/component.xml"), t),
         ["hls/ip/component.xml", "not part of this build"]),
    Case("verify_n_huge", lambda b, t, w: ["verify", str(b), "-n", "100000000"], ["-n 100000000", "GiB"]),
    # unclear messages before
    Case("input_is_a_dir", lambda b, t, w: ["run", str(b), "--input", str(t), "--output", str(t / "y.npy")],
         ["--input", "is a directory"]),
    Case("input_dev_zero", lambda b, t, w: ["run", str(b), "--input", "/dev/zero", "--output", str(t / "y.npy")],
         ["--input", "/dev/zero", "character device"]),
    Case("folding_is_a_dir", lambda b, t, w: ["build", M, "-o", str(t / "o"), "--folding", str(t)],
         ["folding file", "is a directory"]),
    Case("npz_of_two_arrays", lambda b, t, w: ["run", str(b), "--input", _npz(t, 2), "--output", str(t / "y.npy")],
         ["--input", ".npz archive of 2 arrays", "numpy.save"]),
    Case("half_built_temp_dir", lambda b, t, w: run_args(_half_built(b, t), t),
         ["temporary directory", "/out'"]),
    Case("out_in_proc", lambda b, t, w: ["build", M, "-o", "/proc/hwgen-foo"],
         ["-o '/proc/hwgen-foo'", "in '/proc'"], seconds=5),
    Case("build_inside_a_build", lambda b, t, w: ["build", M, "-o", str(_copy(b, t) / "params" / "sub"), "-q"],
         ["inside the hwgen build directory", "copy'"]),
    Case("verify_no_backends", lambda b, t, w: ["verify", str(b), "--backends", ""], ["--backends ''", "no backend"]),
    Case("verify_blank_backends", lambda b, t, w: ["verify", str(b), "--backends", " , "], ["no backend"]),
    Case("explore_not_onnx", lambda b, t, w: ["explore", _text(t / "model.onnx"), "-o", str(t / "sweep")],
         ["model.onnx", "not a valid ONNX"], seconds=30),
    Case("explore_workers_and_scheduler", lambda b, t, w: ["explore", M, "-o", str(t / "s"), "--workers", "2",
                                                            "--scheduler", "tcp://127.0.0.1:8786"],
         ["--workers", "--scheduler"], seconds=10),
    Case("explore_foreign_dir", lambda b, t, w: ["explore", M, "-o", _foreign_dir(t)], ["did not make", "sweep"]),
    Case("explore_into_a_build", lambda b, t, w: ["explore", M, "-o", str(_copy(b, t))], ["build directory"]),
    Case("explore_inside_a_build", lambda b, t, w: ["explore", M, "-o", str(_copy(b, t) / "rtl" / "s")],
         ["inside the hwgen build directory"]),
    Case("explore_out_is_a_file", lambda b, t, w: ["explore", M, "-o", _text(t / "f")], ["existing file"]),
    # wide activations: with --hw-only refused in bounded time and memory (without it they run on the CPU:
    # test_wide_activations_run_on_the_cpu_in_bounded_time)
    Case("inspect_24_bit_activations", lambda b, t, w: ["inspect", str(w / "wide24.onnx"), "--hw-only"],
         ["24-bit outputs", "16,777,215", "16 bits or fewer"], seconds=60),
    Case("build_32_bit_activations", lambda b, t, w: ["build", str(w / "wide32.onnx"), "-o", str(t / "o"),
                                                      "--hw-only"],
         ["32-bit outputs", "16 bits or fewer"], seconds=60),
]


def _drop_in_subdir(out, rel):
    (out / rel).parent.mkdir(parents=True)
    return _drop(out, rel)


def _drop(out, rel):
    (out / rel).write_text('#error "a header that is not the build\'s"\n')
    return out


def _pipe_in(out):
    _fifo(out / "a pipe")
    return out


def _pipe_for(out, rel):
    (out / rel).unlink()
    _fifo(out / rel)
    return out


def _npz(t, n):
    np.savez(t / "x.npz", **{f"a{i}": np.zeros((2, 64), np.float32) for i in range(n)})
    return str(t / "x.npz")


def _text(p):
    p.write_text("not what it should be")
    return str(p)


def check_one_line(rc, err, words, case_id=""):
    assert rc == 2, f"{case_id}: exit {rc}, stderr {err!r}"
    assert err.startswith("hwgen: error:") and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, f"{case_id}: one line: {err!r}"
    for word in words:
        assert word.lower() in err.lower(), f"{case_id}: {word!r} not in {err!r}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_issue19_case_exits_2_with_one_line(case, built, wide, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HWGEN_CACHE_DIR", os.environ.get("HWGEN_CACHE_DIR", str(Path.home() / ".cache" / "hwgen")))
    if case.setup:
        case.setup(tmp_path)
    argv = case.argv(built, tmp_path, wide)
    t = time.perf_counter()
    rc = main(argv)
    dt = time.perf_counter() - t
    check_one_line(rc, capsys.readouterr().err, case.expect, case.id)
    assert dt < case.seconds, f"{case.id}: {dt:.0f} s"
    if case.id == "explore_not_onnx":  # refused before a cluster started or anything was written
        assert not (tmp_path / "sweep").exists()
    if case.id == "explore_foreign_dir":
        assert (tmp_path / "sweep" / "index.html").read_text() == "mine"


def test_read_only_cache_dir_is_a_user_error(built, tmp_path, capsys, monkeypatch):
    with read_only(tmp_path / "cache"):
        monkeypatch.setenv("HWGEN_CACHE_DIR", str(tmp_path / "cache"))
        rc = main(run_args(built, tmp_path, "csim"))
    check_one_line(rc, capsys.readouterr().err, ["HWGEN_CACHE_DIR", "cannot be written"])


# --- handled now: exit 0 and what the user asked for ----------------------------------------------------------

@contextlib.contextmanager
def read_only(d: Path):
    """`d` (created) and everything under it read-only, for root too (the immutable attribute) or by mode."""
    d.mkdir(parents=True, exist_ok=True)
    dirs = [d, *(p for p in d.rglob("*") if p.is_dir())]
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("root without chattr: no way to make a directory read-only for this process")
        subprocess.run(["chattr", "+i", *map(str, dirs)], check=True)
        try:
            yield d
        finally:
            subprocess.run(["chattr", "-i", *map(str, dirs)], check=True)
    else:
        for p in dirs:
            p.chmod(0o555)
        try:
            yield d
        finally:
            for p in dirs:
                p.chmod(0o755)


@pytest.mark.parametrize("command", ["run", "verify"])
def test_read_only_build_dir_runs_and_says_the_figures_were_not_recorded(command, built, tmp_path, capsys):
    out = _copy(built, tmp_path, "ro out")
    y = tmp_path / "y.npy"
    argv = (run_args(out, tmp_path, "rtlsim") if command == "run" else
            ["verify", str(out), "-n", "20", "--backends", "reference,rtlsim"])
    with read_only(out):
        rc = main(argv)
    cap = capsys.readouterr()
    assert rc == 0 and "Traceback" not in cap.err, cap.err
    assert "not recorded" in cap.err and "cannot be" in cap.err, cap.err
    if command == "run":
        assert y.is_file()
    else:
        assert "all bit-exact" in cap.out


def test_output_name_is_the_file_written(built, tmp_path, capsys):
    assert main(["run", str(built), "--input", _x(tmp_path), "--output", str(tmp_path / "yout")]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "yout.npy").is_file() and not (tmp_path / "yout").exists()
    assert f"-> {tmp_path / 'yout.npy'} " in out, out


def test_npz_of_one_array_is_read(built, tmp_path, capsys):
    x = np.random.default_rng(0).uniform(0, 1, (3, 64)).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x)
    np.save(tmp_path / "x.npy", x)
    for i, name in enumerate(("x.npz", "x.npy")):
        assert main(["run", str(built), "--input", str(tmp_path / name), "--output", str(tmp_path / f"y{i}")]) == 0
    assert "3 input(s)" in capsys.readouterr().out
    np.testing.assert_array_equal(np.load(tmp_path / "y0.npy"), np.load(tmp_path / "y1.npy"))


def test_no_lock_files_and_usual_permissions(built, tmp_path):
    out = tmp_path / "o"
    build(DIGITS, out, log=None)
    umask = os.umask(0)
    os.umask(umask)
    assert (out.stat().st_mode & 0o777) == (0o777 & ~umask)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("a")
    for argv in (["build", M, "-o", str(out), "-q"],  # built
                 ["build", M, "-o", str(tmp_path / "notes")],  # refused: not a build directory
                 ["build", M, "-o", str(out), "--folding", _text(tmp_path / "fold.json")]):  # refused: bad folding
        main(argv)
    assert not list(tmp_path.glob(".*hwgen-lock")), list(tmp_path.iterdir())
    assert not lock_path(out).exists()


def test_out_names_are_names_not_patterns(tmp_path):
    """The stale-sibling cleanup of `-o 'gb[12]'` removes its own killed build's directory only, never those of
    gb1 / gb2 (builds in progress), and `-o a` leaves `a.building-x`'s alone."""
    stale = {".gb[12].building-abcd1234": False, ".gb1.building-abcd1234": True, ".gb2.old-abcd1234": True,
             ".a.building-x.building-abcd1234": True, ".a.old-zz99zz99": False}
    for name in stale:
        (tmp_path / name).mkdir()
        (tmp_path / name / "file").write_text("x")
    build(DIGITS, tmp_path / "gb[12]", log=None)
    build(DIGITS, tmp_path / "a", log=None)
    for name, kept in stale.items():
        assert (tmp_path / name).exists() == kept, name


@pytest.mark.parametrize("bits", [24, 32])
def test_wide_activations_run_on_the_cpu_in_bounded_time(bits, wide, tmp_path, capsys):
    """A quantizer wider than thresholds can take is not a reason to refuse the model (issue 20): it goes to the
    CPU with the reason, in seconds and without allocating a table of 2^bits thresholds (issue 19)."""
    t = time.perf_counter()
    rc = main(["build", str(wide / f"wide{bits}.onnx"), "-o", str(tmp_path / "o")])
    assert time.perf_counter() - t < 60
    out = capsys.readouterr().out
    assert rc == 0 and f"{bits}-bit outputs" in out and "16 bits or fewer" in out, out
    s = json.loads((tmp_path / "o" / "report" / "summary.json").read_text())
    assert any("Quant_act0" in p["nodes"] for p in s["cpu_partitions"]), s["cpu_partitions"]


def test_16_bit_activations_answer_in_bounded_time(wide, capsys):
    t = time.perf_counter()
    rc = main(["inspect", str(wide / "wide16.onnx")])
    assert time.perf_counter() - t < 60
    err = capsys.readouterr().err
    assert rc in (0, 2) and "Traceback" not in err, err


def test_point_errors_name_the_model_as_given(tmp_path):
    """A point's error names the user's model path, not the task's copy in a worker's temporary directory."""
    from hwgen.explore.points import Point
    from hwgen.explore.task import run_point

    row = run_point(b"not an onnx model", "/my models/m.onnx", vars(Point("pynq-z2", None, None)), "k")
    assert row["error"] and "'/my models/m.onnx'" in row["error"], row["error"]
    assert "hwgen-explore-" not in row["error"] and "task directory" not in row["error"], row["error"]


def test_one_step_quantizer_warns_only_for_one_sided_far_inputs(tmp_path):
    """A sign is the same for any magnitude: large inputs on both sides of a 1-bit input quantizer's step are
    fine; inputs all far above its range (the step at the wrong place for them) warn."""
    import onnx

    from hwgen.input_range import OneStepSpan, check_input_range, quantizer_span
    from hwgen.runtime.accelerator import Accelerator
    from tests.qonnx_gen import MLPSpec, make_mlp

    onnx.save(make_mlp(MLPSpec(sizes=[16, 8, 4], in_bits=1, in_signed=True)), tmp_path / "m.onnx")
    build(tmp_path / "m.onnx", tmp_path / "o", log=None)
    g = Accelerator(tmp_path / "o").graph
    span = quantizer_span(g)
    assert isinstance(span, OneStepSpan), span
    rng = np.random.default_rng(0)
    w = span[1] - span[0]
    assert check_input_range(g, rng.normal(0, 100 * w, (64, 16)).astype(np.float32), span) is None
    assert "far outside" in check_input_range(g, (span[1] + 50 * w + rng.uniform(0, w, (64, 16))).astype(np.float32),
                                              span)
