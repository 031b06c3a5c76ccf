"""`hwgen verify` aims at threshold boundaries for every input kind (issue 20 item 6): a declared input type, a
float first layer on the CPU, and a hardware island after a CPU island; and an off-by-one threshold injected into
one backend (the `run` hook IslandGraph.execute gives every backend) is caught by the inputs verify makes.

The searches run with a budget far above what they need and a cap on inputs, so the cap (not the clock) ends them
and the figures are deterministic."""

import copy

import numpy as np
import onnx
import pytest

from hwgen.build import compile_model
from hwgen.frontend.input_types import declared_grid
from hwgen.verify_cover import Coverage, ModelCoverage, model_inputs
from hwgen.verify_inputs import quantizer_view, raw_inputs, verify_inputs
from tests.conftest import ROOT
from tests.frontend_models import qkeras_mlp, unsw_mlp

BUDGET = 120.0  # seconds: never reached at these sizes (the input caps end the searches)


def _save(m, tmp_path, name):
    p = tmp_path / name
    onnx.save(m, p)
    return p


def _island_hits(view, x):
    cov = Coverage(view.layers)
    cov.add(cov.pre(view.head_ints(x)))
    return cov.hit, cov.total


def _model_hits(g, x):
    cov = ModelCoverage(g)
    cov.add(cov.pre(x))
    return cov.hit, cov.total


@pytest.fixture(scope="module")
def islands_model():
    """LayerNorm between quantized layers: hardware island, CPU island, hardware island."""
    g = compile_model(ROOT / "tests/models/islands/layernorm_mlp.onnx")
    assert [hasattr(i, "layers") for i in g.islands] == [True, False, True]
    return g


def test_declared_input_type_aimed_with_its_own_values(tmp_path):
    g = compile_model(_save(unsw_mlp(sizes=(120, 32, 16, 1), seed=2), tmp_path, "unsw.onnx"))
    grid = declared_grid(g.single)
    assert grid.name == "BIPOLAR" and quantizer_view(g.single) is None
    x, info = verify_inputs(g.single, 100, 0, budget_s=BUDGET)
    grid.check(x)  # every input is a value of the declared type
    hit, total = _island_hits(g.single, x)
    assert (hit, total) == (info["hit"], info["targets"]) and total > 100
    assert hit >= 0.95 * total, (hit, total)
    # the earlier per-boundary search hits no more, with several times the inputs
    xb, _ = verify_inputs(g.single, 100, 0, budget_s=BUDGET, method="boundary")
    assert _island_hits(g.single, xb)[0] <= hit and len(xb) > 2 * len(x)


def test_float_first_layer_on_the_cpu(tmp_path):
    g = compile_model(_save(qkeras_mlp(sizes=(12, 32, 16, 5), seed=3), tmp_path, "jet.onnx"))
    hw = g.single
    assert hw.head.node_names[0] == "MatMul_0"  # the float first layer runs in the CPU head
    rng = np.random.default_rng(0)
    x0 = raw_inputs(hw, 100, rng)
    raw_hit, total = _model_hits(g, x0)
    # model inputs searched through the float head onto the first hardware layers' boundaries
    xs, cover = model_inputs(g, x0, BUDGET, 256, rng)
    cover.add(cover.pre(x0))
    hit = _model_hits(g, np.concatenate([x0, xs]))[0]
    assert hit == cover.hit and hit >= 4 * raw_hit and hit >= 0.2 * total, (raw_hit, hit, total)
    # the island's own check: values of its quantizer's input, inverted level by level
    view = quantizer_view(hw)
    xv, info = verify_inputs(view, 100, 0, max_aimed=1024, budget_s=BUDGET)
    assert info["hit"] >= 0.6 * info["targets"], info


def test_hardware_island_after_a_cpu_island(islands_model):
    g = islands_model
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((100, *g.input_shape[1:])).astype(np.float32)
    raw_hit, total = _model_hits(g, x0)
    xs, cover = model_inputs(g, x0, BUDGET, 256, rng)
    hit = _model_hits(g, np.concatenate([x0, xs]))[0]
    assert total > 0 and hit >= 3 * raw_hit and hit >= 0.6 * total, (raw_hit, hit, total)


def _mutations(layers, rng, n):
    """n one-step threshold changes (layer, channel, index, +-1) that keep each row ascending."""
    out = []
    ks = [k for k, layer in enumerate(layers) if getattr(layer, "thresholds", None) is not None]
    while len(out) < n:
        k = int(rng.choice(ks))
        thr = layers[k].thresholds
        c, j, d = int(rng.integers(thr.shape[0])), int(rng.integers(thr.shape[1])), int(rng.choice([-1, 1]))
        row = thr[c].copy()
        row[j] += d
        if np.all(np.diff(row) >= 0):
            out.append((k, c, j, d))
    return out


def _caught(g, island, mutation, x, want):
    """Does a backend whose island `island` has the mutated threshold give another output on x?"""
    k, c, j, d = mutation
    hw = g.hw_islands[island]
    bad = copy.deepcopy(hw.layers[k])
    bad.thresholds[c, j] += d

    def run(i, isl, q):  # the backend interface: island i's integers for its integer input q
        if i != island:
            return isl.run_layers(q)
        return isl.run_layers(q, run=lambda layer, xs: (bad if layer.name == bad.name else layer).execute(*xs))

    return not np.array_equal(g.execute(x, run=run), want)


def test_off_by_one_threshold_in_one_backend_is_caught(islands_model):
    """Island 1 sits after the LayerNorm CPU island: random model inputs catch few one-step threshold changes
    there; the inputs verify searches through the CPU island catch most."""
    g = islands_model
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal((100, *g.input_shape[1:])).astype(np.float32)
    xs, _ = model_inputs(g, x0, BUDGET, 256, rng)
    x = np.concatenate([x0, xs])
    want, want0 = g.execute(x), g.execute(x0)
    muts = _mutations(g.hw_islands[1].layers, np.random.default_rng(2), 40)
    aimed = sum(_caught(g, 1, m, x, want) for m in muts)
    raw = sum(_caught(g, 1, m, x0, want0) for m in muts)
    assert aimed >= 0.6 * len(muts) and aimed >= 2 * raw, (aimed, raw, len(muts))
