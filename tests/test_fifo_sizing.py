"""Acceptance (issue 6, FIFO sizing): with the planned depths rtlsim reaches the same cycles per frame as with
very deep FIFOs, and no planned depth can be halved without losing throughput or deadlocking."""

import json

import numpy as np
import pytest

from hwgen.build import build
from hwgen.graph import HwGraph
from hwgen.sim.fifo_sizing import random_inputs, measure
from tests.conftest import ROOT, tfc_model

PUBLISHED = {"MVAU_0": {"PE": 16, "SIMD": 49}, "MVAU_1": {"PE": 8, "SIMD": 8}, "MVAU_2": {"PE": 8, "SIMD": 8},
             "MVAU_3": {"PE": 10, "SIMD": 8}}


def _model(name, tmp_path):
    if name == "TFC_1W1A":
        (tmp_path / "fold.json").write_text(json.dumps(PUBLISHED))
        return tfc_model(name), dict(folding_file=tmp_path / "fold.json")
    return ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx", dict(target_fps=1_000_000)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["TFC_1W1A", "digits"])
def test_planned_fifos_are_minimal_and_full_rate(name, tmp_path):
    model, opts = _model(name, tmp_path)
    out = tmp_path / "o"
    s = build(model, out, size_fifos=True, log=lambda *a: None, **opts)
    f = s["fifos"]
    assert f["cycles_per_frame_sized"] == f["cycles_per_frame_deep"]
    assert f["total_bits"] <= f["rule_total_bits"]
    assert json.loads((out / "report" / "summary.json").read_text())["fifos"]["depths"] == f["depths"]
    # both tops (HLS and RTL) carry the measured depths, stream by stream
    from tests.test_one_design import tops_agree

    assert {st["name"]: st["depth"] for st in tops_agree(out)} == f["depths"]
    # the written RTL uses the planned depths, and runs at the deep design's rate
    g = HwGraph.load(out)
    q = random_inputs(g, 16)
    work = tmp_path / "check"
    assert measure(work, g, f["depths"], q) == f["cycles_per_frame_deep"]
    # halving any depth (>= 2) loses throughput or deadlocks
    for layer, d in f["depths"].items():
        if d >= 2:
            cpf = measure(work, g, dict(f["depths"], **{layer: d // 2}), q)
            assert cpf > f["cycles_per_frame_deep"] or not np.isfinite(cpf), (layer, d, cpf)
