"""`hwgen verify`, and input checking: wrong shapes, dtypes, NaN are refused with a clear error; values outside
the input quantizer's range are handled exactly as the quantizer defines (saturation), never truncated."""

import re

import numpy as np
import pytest

from hwgen.build import build
from hwgen.cli import main
from hwgen.errors import InputDataError
from hwgen.runtime.accelerator import Accelerator
from tests.conftest import ROOT, qonnx_golden

MODEL = ROOT / "tests" / "models" / "brevitas" / "mlp_w3a5_narrow.onnx"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("b") / "out"
    build(MODEL, out, log=lambda *a: None)
    return out


def test_verify_reference_and_csim(built, capsys):
    assert main(["verify", str(built), "-n", "64", "--backends", "reference,csim"]) == 0
    out = capsys.readouterr().out
    assert "csim" in out and "all bit-exact" in out
    n = int(re.search(r"^(\d+) inputs", out, re.M).group(1))
    assert n > 64 and f"{n}/{n} frames bit-exact" in out


def test_verify_unknown_backend(built, capsys):
    assert main(["verify", str(built), "--backends", "nope"]) == 2
    assert "unknown backend" in capsys.readouterr().err


@pytest.mark.parametrize("bad, what", [
    (np.zeros((3, 63), np.float32), "shape"),
    (np.zeros((3, 1, 64), np.float32), "shape"),
    (np.array([["a"] * 64]), "dtype"),
    (np.full((2, 64), np.nan, np.float32), "nan"),
    (np.full((2, 64), np.inf, np.float32), "inf"),
    (np.full((1, 64), 0.1, np.float64), "float32"),
])
def test_bad_inputs_refused(built, bad, what):
    with pytest.raises(InputDataError, match=f"(?i){what}"):
        Accelerator(built).execute(bad)


def test_out_of_range_inputs_saturate_like_the_quantizer(built):
    x = np.concatenate([np.full((1, 64), 1e6), np.full((1, 64), -1e6), np.linspace(-50, 50, 128).reshape(2, 64)])
    x = x.astype(np.float32)
    y = Accelerator(built).execute(x)
    ref = qonnx_golden(MODEL, x)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5 * float(np.abs(ref).max()))


def test_single_sample_and_cli_run_errors(built, tmp_path, capsys):
    acc = Accelerator(built)
    assert acc.execute(np.zeros(64, np.float32)).shape == (1, 10)
    np.save(tmp_path / "x.npy", np.zeros((2, 5), np.float32))
    assert main(["run", str(built), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]) == 2
    assert "shape" in capsys.readouterr().err
    assert main(["run", str(built), "--input", str(tmp_path / "nope.npy"), "--output", "y.npy"]) == 2
