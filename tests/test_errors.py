"""Acceptance: malformed and hostile models give exit code 2 and a message naming the problem (no traceback);
hostile names never reach generated files raw."""

import re
import subprocess
import sys

import pytest

from hwgen.cli import main
from tests.malformed_models import CASES, HOSTILE_CASES


def _run_cli(args, capsys):
    rc = main(args)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_model_clear_error(case, tmp_path, capsys):
    """Malformed models are refused with one clear line; models qonnx runs but hwgen cannot put in hardware
    (`valid`) are refused so only with --hw-only (a plain build runs the node on the CPU: test_valid_...)."""
    path = case.make(tmp_path)
    hw_only = ["--hw-only"] if case.valid else []
    for cmd in (["build", str(path), "-o", str(tmp_path / "out"), "-q", *hw_only], ["inspect", str(path), *hw_only]):
        rc, out, err = _run_cli(cmd, capsys)
        assert rc == 2, f"{case.id}: exit {rc}, stderr {err!r}"
        assert "Traceback" not in err
        msg = err.lower()
        assert msg.startswith("hwgen: error:")
        assert len(err.strip().splitlines()) == 1, "one paragraph"
        for word in case.expect:
            assert word.lower() in msg, f"{case.id}: {word!r} not in {err!r}"
    assert not (tmp_path / "out" / "hwgraph.json").exists()


@pytest.mark.parametrize("case", [c for c in CASES if c.valid], ids=[c.id for c in CASES if c.valid])
def test_valid_models_hwgen_cannot_map_build_with_a_cpu_island(case, tmp_path, capsys):
    """What --hw-only refuses, a plain build runs on the CPU: `inspect` names the node and why, and the build
    runs bit-exact with qonnx."""
    import numpy as np

    from hwgen.runtime.accelerator import Accelerator
    from hwgen.verify import golden

    path = case.make(tmp_path)
    rc, out, err = _run_cli(["inspect", str(path)], capsys)
    assert rc == 0, err
    for word in case.expect:
        assert word.lower() in out.lower(), f"{case.id}: {word!r} not in {out!r}"
    rc, out, err = _run_cli(["build", str(path), "-o", str(tmp_path / "out"), "-q"], capsys)
    assert rc == 0, err
    acc = Accelerator(tmp_path / "out", "reference")
    x = np.random.default_rng(0).uniform(-2, 2, (8, *acc.graph.input_shape[1:])).astype(np.float32)
    np.testing.assert_array_equal(acc.execute(x), golden(path, x))


def test_error_through_console_process_has_no_traceback(tmp_path):
    case = next(c for c in CASES if c.id == "truncated_model")
    path = case.make(tmp_path)
    r = subprocess.run([sys.executable, "-m", "hwgen.cli", "build", str(path), "-o", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "hwgen: error:" in r.stderr


def test_bad_cli_inputs(tmp_path, capsys):
    case = next(c for c in CASES if c.id == "truncated_model")
    rc, _, err = _run_cli(["run", str(tmp_path / "nope"), "--input", "x.npy", "--output", "y.npy"], capsys)
    assert rc == 2 and "build directory" in err
    rc, _, err = _run_cli(["build", str(case.make(tmp_path)), "-o", str(tmp_path / "o"), "--board", "nope"], capsys)
    assert rc == 2


IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@pytest.mark.parametrize("case", HOSTILE_CASES, ids=[c.id for c in HOSTILE_CASES])
def test_hostile_names_build_with_sanitized_identifiers(case, tmp_path, capsys):
    import json

    path = case.make(tmp_path)
    out = tmp_path / "out"
    rc, _, err = _run_cli(["build", str(path), "-o", str(out), "-q"], capsys)
    assert rc == 0, err
    g = json.loads((out / "hwgraph.json").read_text())
    for layer in g["layers"]:
        assert IDENT.match(layer["name"]), layer["name"]
    for f in out.rglob("*"):
        assert IDENT.match(f.stem.replace(".", "_")) or f.is_dir() or f.suffix in (".json",), f.name
        assert "\n" not in f.name and "$" not in f.name and "`" not in f.name
