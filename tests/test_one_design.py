"""Acceptance (issue 9): the HLS top and the RTL top render one design. For every model in ../shared and the test
models, every stream listed in summary.json appears with the same name and FIFO depth in OUT/hls/hwgen_top.cpp
(`#pragma HLS STREAM`) and in OUT/rtl (the FIFO instance on that stream and its module's depth), with the
rule's depths and with measured ones (graph.fifo_depths, what `--size-fifos` stores; the simulation itself is
tested in test_fifo_sizing.py, which checks its builds with `tops_agree` too)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hwgen.build import compile_model, write_build
from tests.conftest import TFC_DIR

ROOT = Path(__file__).resolve().parents[1]
MODELS = sorted((ROOT / "tests" / "models" / "brevitas").glob("*.onnx")) + [
    ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx"]
TFC = ["TFC_1W1A", "TFC_1W2A", "TFC_2W2A"]


def hls_streams(out: Path) -> dict:
    top = (out / "hls" / "hwgen_top.cpp").read_text()
    return {n: int(d) for n, d in re.findall(r"#pragma HLS STREAM variable=(\w+) depth=(\d+)", top)}


def rtl_streams(out: Path) -> dict:
    """{stream: depth} of the FIFO instances in the RTL top (hwgen_fifo), the depth read from each instance's
    DEPTH parameter."""
    top = (out / "rtl" / "hwgen_top.v").read_text()
    got = {}
    for params, stream in re.findall(r"^\s*hwgen_fifo #\((.*)\) (\w+)_fifo \(", top, re.M):
        got[stream] = int(re.search(r"\.DEPTH\((\d+)\)", params).group(1))
    return got


def tops_agree(out: Path) -> list[dict]:
    s = json.loads((out / "report" / "summary.json").read_text())
    want = {st["name"]: st["depth"] for st in s["streams"]}
    assert len(want) == len(s["streams"]) >= 2
    assert hls_streams(out) == want
    assert rtl_streams(out) == want
    return s["streams"]


def _models():
    tfc = [TFC_DIR / f"{n}.onnx" for n in TFC]
    if not all(p.is_file() for p in tfc):  # ../shared absent (a user's fresh clone): the test models only
        return MODELS
    return tfc + MODELS


@pytest.mark.parametrize("model", _models(), ids=lambda p: p.stem)
def test_hls_and_rtl_tops_have_the_streams_of_the_summary(model, tmp_path):
    g = compile_model(model, target_fps=200_000)
    s = write_build(g, tmp_path / "rule", log=lambda *a: None)
    streams = tops_agree(tmp_path / "rule")
    assert [st["name"] for st in streams] == [st["name"] for st in s["streams"]]
    # measured depths (what --size-fifos stores in the graph) reach both tops the same way
    g.fifo_depths = {st["name"]: 1 + i % 3 for i, st in enumerate(streams)}
    write_build(g, tmp_path / "sized", log=lambda *a: None)
    got = tops_agree(tmp_path / "sized")
    assert {st["name"]: st["depth"] for st in got} == g.fifo_depths


def test_a_build_directory_of_the_old_format_asks_for_a_rebuild(tmp_path):
    from hwgen.errors import BuildDirError
    from hwgen.graph import HwGraph

    out = tmp_path / "old"
    write_build(compile_model(MODELS[-1], target_fps=100_000), out, log=lambda *a: None)
    doc = json.loads((out / "hwgraph.json").read_text())
    doc["format"] = "hwgen-hwgraph/1"  # what hwgen wrote before the graph became a DAG
    (out / "hwgraph.json").write_text(json.dumps(doc))
    with pytest.raises(BuildDirError, match=r"hwgen-hwgraph/1.*rebuild it with `hwgen build"):
        HwGraph.load(out)
