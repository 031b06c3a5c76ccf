"""Issue 11: each mistake a user can make on the command line exits 2 with one paragraph naming the file, node
or option and what to do (no traceback); legal but suspicious requests warn (exit 0), --strict refuses them."""

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

from hwgen.build import build
from hwgen.cli import main
from tests.conftest import ROOT

MODEL = ROOT / "tests" / "models" / "brevitas" / "mlp_w3a5_narrow.onnx"  # 64 inputs, fast to build


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("b") / "out"
    build(MODEL, out, log=lambda *a: None)
    return out


def _read_only_dir(tmp):
    """A directory this process cannot write into (root ignores permissions: use a kernel file system)."""
    if os.geteuid() == 0:
        return "/sys/hwgen-not-writable/out"
    d = tmp / "ro"
    d.mkdir()
    d.chmod(0o555)
    return str(d / "out")


def _fold(tmp, data: bytes):
    p = tmp / "FOLD.json"
    p.write_bytes(data)
    return str(p)


def _x(tmp, shape, name="x.npy"):
    p = tmp / name
    np.save(p, np.zeros(shape, np.float32))
    return str(p)


def _without(built, tmp, rel):
    out = tmp / "broken"
    shutil.copytree(built, out)
    (out / rel).unlink()
    return str(out)


@dataclass
class Case:
    id: str
    argv: Callable  # (built dir, tmp dir) -> argv
    expect: list = field(default_factory=list)  # words the message must contain (case-insensitive)


M = str(MODEL)
CASES = [
    Case("out_is_a_file", lambda b, t: ["build", M, "-o", str(_touch(t / "f")), "-q"], ["-o", "existing file"]),
    Case("out_read_only", lambda b, t: ["build", M, "-o", _read_only_dir(t), "-q"], ["-o", "cannot be written"]),
    Case("output_missing_dir", lambda b, t: ["run", str(b), "--input", _x(t, (2, 64)), "--output",
                                             str(t / "nodir" / "y.npy")], ["--output", "nodir", "does not exist"]),
    Case("output_is_a_dir", lambda b, t: ["run", str(b), "--input", _x(t, (2, 64)), "--output", str(t)],
         ["--output", "is a directory"]),
    Case("zero_images", lambda b, t: ["run", str(b), "--input", _x(t, (0, 64)), "--output", str(t / "y.npy")],
         ["0 images"]),
    Case("target_fps_nan", lambda b, t: ["build", M, "-o", str(t / "o"), "--target-fps", "nan"], ["--target-fps"]),
    Case("target_fps_inf", lambda b, t: ["build", M, "-o", str(t / "o"), "--target-fps", "inf"], ["--target-fps"]),
    Case("target_fps_negative", lambda b, t: ["build", M, "-o", str(t / "o"), "--target-fps", "-5"],
         ["--target-fps", "positive"]),
    Case("target_fps_zero", lambda b, t: ["build", M, "-o", str(t / "o"), "--target-fps", "0"], ["--target-fps"]),
    Case("fold_not_utf8", lambda b, t: ["build", M, "-o", str(t / "o"), "--folding",
                                        _fold(t, b'{"MVAU_0": {"PE": 1}, "\xff\xfe": {}}')], ["FOLD.json", "UTF-8"]),
    Case("fold_duplicate_keys", lambda b, t: ["build", M, "-o", str(t / "o"), "--folding",
                                              _fold(t, b'{"MVAU_0": {"PE": 1}, "MVAU_0": {"PE": 2}}')],
         ["FOLD.json", "MVAU_0", "twice"]),
    Case("board_empty", lambda b, t: ["build", M, "-o", str(t / "o"), "--board", ""], ["unknown board ''"]),
    Case("inspect_board_empty", lambda b, t: ["inspect", M, "--board", ""], ["unknown board ''"]),
    Case("pynq_not_installed", lambda b, t: ["run", str(b), "--backend", "pynq", "--input", _x(t, (2, 64)),
                                             "--output", str(t / "y.npy")], ["pynq", "rtlsim"]),
    Case("verify_n_0", lambda b, t: ["verify", str(b), "-n", "0"], ["-n 0"]),
    Case("verify_n_negative", lambda b, t: ["verify", str(b), "-n", "-3"], ["-n -3"]),
    Case("missing_params", lambda b, t: ["run", _without(b, t, "params/MVAU_0.npz"), "--input", _x(t, (2, 64)),
                                         "--output", str(t / "y.npy")], ["MVAU_0.npz", "rebuild"]),
    Case("missing_head", lambda b, t: ["verify", _without(b, t, "cpu/head.onnx"), "-n", "4"],
         ["head.onnx", "rebuild"]),
    Case("missing_hwgraph", lambda b, t: ["report", _without(b, t, "report/summary.json")], ["summary.json"]),
    Case("run_out_is_a_file", lambda b, t: ["run", str(_touch(t / "f")), "--input", _x(t, (2, 64)), "--output",
                                            str(t / "y.npy")], ["build directory"]),
    Case("demo_out_is_a_file", lambda b, t: ["demo", "-o", str(_touch(t / "f"))], ["-o", "existing file"]),
]


def _touch(p):
    p.write_text("not a directory")
    return p


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_mistake_exits_2_with_a_clear_message(case, built, tmp_path, capsys):
    if case.id == "pynq_not_installed":
        import importlib.util

        if importlib.util.find_spec("pynq") is not None:
            pytest.skip("pynq is installed here")
    argv = case.argv(built, tmp_path)
    t = time.perf_counter()
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, f"{case.id}: exit {rc}, stderr {err!r}"
    assert err.startswith("hwgen: error:") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, "one paragraph"
    for word in case.expect:
        assert word.lower() in err.lower(), f"{case.id}: {word!r} not in {err!r}"
    if case.id.startswith(("out_", "output_", "target_fps")):
        assert time.perf_counter() - t < 5, "checked before any computation"
        assert not (tmp_path / "o").exists()


def test_over_budget_warns_and_strict_refuses(tmp_path, capsys):
    # the 8-bit MLP fully unrolled: its 8 x 8-bit products in LUTs need ~3x a Z-7020's LUTs (the smaller models
    # fit since products up to 8 x 8 bits are LUTs, not DSPs)
    out = tmp_path / "o"
    big = str(ROOT / "tests" / "models" / "brevitas" / "mlp_w8a8.onnx")
    args = ["build", big, "-o", str(out), "--target-fps", "1e8", "--board", "pynq-z1", "-q"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "hwgen: warning:" in err and "% of pynq-z1's" in err and "--strict" in err
    shutil.rmtree(out)
    assert main(args + ["--strict"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hwgen: error:") and "% of pynq-z1's" in err
    assert not out.exists(), "--strict refuses before writing"


def test_inputs_far_outside_the_quantizer_range_warn(built, tmp_path, capsys):
    x = np.random.default_rng(0).uniform(0, 1, (8, 64)).astype(np.float32)
    for scale, warned in ((1.0, False), (255.0, True)):
        np.save(tmp_path / "x.npy", x * scale)
        assert main(["run", str(built), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]) == 0
        err = capsys.readouterr().err
        assert ("hwgen: warning:" in err and "outside the range" in err) == warned, err


def test_json_report_unaffected_by_warnings(built, capsys):
    assert main(["report", str(built), "--json"]) == 0
    json.loads(capsys.readouterr().out)


def test_range_warning_for_a_one_step_input_quantizer(tmp_path, capsys):
    """Issue 19 (7): TFC_1W1A's input quantizer has one step (2x - 1 into BipolarQuant), and 0-255 pixels move
    every pixel from 1 up to +1 instead of those from 0.5 up: every prediction changes. Its range is the inputs
    mapped onto its two levels, [0, 1]; raw pixels warn, pixels / 255 do not."""
    import warnings

    from hwgen.input_range import HwgenWarning, quantizer_span
    from hwgen.runtime.accelerator import Accelerator
    from tests.conftest import load_mnist, tfc_model

    out = tmp_path / "tfc"
    build(tfc_model("TFC_1W1A"), out, log=lambda *a: None)
    acc = Accelerator(out)
    assert quantizer_span(acc.graph) == (0.0, 1.0)
    x, _ = load_mnist(64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", HwgenWarning)
        acc.execute(x)
    np.save(tmp_path / "raw.npy", x * 255)
    capsys.readouterr()
    assert main(["run", str(out), "--input", str(tmp_path / "raw.npy"), "--output", str(tmp_path / "y.npy")]) == 0
    err = capsys.readouterr().err
    assert "hwgen: warning:" in err and "about [0, 1]" in err and "pixels / 255" in err, err
