"""Acceptance (issue 11): default `hwgen verify` catches every one-step threshold change that alters the
reference outputs on MNIST (TFC_1W1A), and refuses to compare with a missing or different source model."""

import hashlib
import os
import shutil

import numpy as np
import pytest

from hwgen.build import build
from hwgen.cli import main
from hwgen.graph import HwGraph
from hwgen.verify import compare_with_golden, golden, source_model
from hwgen.verify_inputs import verify_inputs
from tests.conftest import load_mnist, tfc_model

MUTATIONS = 50


@pytest.fixture(scope="module")
def tfc_build(tmp_path_factory):
    model = tfc_model("TFC_1W1A")
    out = tmp_path_factory.mktemp("tfc") / "out"
    build(model, out, log=lambda *a: None)
    return model, out


def _layer_inputs(g, x):
    """Each hardware layer's input on x (reference), so a mutated layer k reruns from k only."""
    q = [g.head_ints(x)]
    for layer in g.layers:
        q.append(layer.execute(q[-1]))
    return q


def _run_from(g, k, q_k):
    for layer in g.layers[k:]:
        q_k = layer.execute(q_k)
    return q_k


@pytest.mark.slow
def test_default_verify_catches_every_one_step_threshold_change(tfc_build):
    model, out = tfc_build
    g = HwGraph.load(out)
    xm, _ = load_mnist()
    mn = _layer_inputs(g, xm)
    x, info = verify_inputs(g, 100)  # the inputs `hwgen verify` uses at its default -n 100, seed 0
    gold = golden(model, x)
    assert compare_with_golden(gold, g.execute(x))[0] == "exact"
    vq = _layer_inputs(g, x)
    rng = np.random.default_rng(2026)
    layers = [k for k, layer in enumerate(g.layers) if getattr(layer, "thresholds", None) is not None]
    found, tried, missed = [], 0, []
    while len(found) < MUTATIONS and tried < 2000:
        tried += 1
        k = int(rng.choice(layers))
        thr = g.layers[k].thresholds
        c, j, d = int(rng.integers(thr.shape[0])), int(rng.integers(thr.shape[1])), int(rng.choice([-1, 1]))
        thr[c, j] += d
        try:
            if not np.all(np.diff(thr[c]) >= 0) or np.array_equal(_run_from(g, k, mn[k]), mn[-1]):
                continue  # not a legal threshold row, or no effect on MNIST
            found.append((k, c, j, d))
            y = g.tail.run(_run_from(g, k, vq[k]))
            if compare_with_golden(gold, y)[0] != "DIFFERS":
                missed.append((g.layers[k].name, c, j, d))
        finally:
            thr[c, j] -= d
    assert len(found) >= MUTATIONS, f"only {len(found)} effective mutations in {tried} tries"
    assert not missed, f"verify's inputs miss {len(missed)} of {len(found)} threshold changes: {missed}"


def test_verify_cli_reports_a_mutated_build(tfc_build, tmp_path, capsys):
    """A build whose thresholds were changed (re-saved through the normal save path) fails verify: exit 1,
    naming the path that differs and the first input where it does."""
    model, out = tfc_build
    mut = tmp_path / "mut"
    shutil.copytree(out, mut)
    g = HwGraph.load(mut)
    g.layers[0].thresholds[5, 0] += 2
    g.save(mut)
    assert main(["verify", str(mut)]) == 1
    text = capsys.readouterr().out
    assert "reference differs from qonnx (original graph) at input" in text and "MISMATCH" in text


def test_verify_needs_the_source_model(tfc_build, tmp_path, capsys, monkeypatch):
    model, out = tfc_build
    g = HwGraph.load(out)
    assert os.path.isabs(g.model_path) and source_model(out, g) == model.resolve()
    # built from a relative path in another directory; verify from a third one with a relative build path
    (tmp_path / "src").mkdir()
    (tmp_path / "run").mkdir()
    shutil.copy(model, tmp_path / "src" / "m.onnx")
    monkeypatch.chdir(tmp_path / "src")
    assert main(["build", "m.onnx", "-o", "../b", "-q"]) == 0
    monkeypatch.chdir(tmp_path / "run")
    assert main(["verify", "../b", "-n", "8"]) == 0
    capsys.readouterr()
    # the model is moved away: exit 2, says what to do; --model points at it
    (tmp_path / "src" / "m.onnx").rename(tmp_path / "moved.onnx")
    assert main(["verify", "../b", "-n", "8"]) == 2
    err = capsys.readouterr().err
    assert "m.onnx" in err and "not found" in err and "--model" in err and "Traceback" not in err
    assert main(["verify", "../b", "-n", "8", "--model", "../moved.onnx"]) == 0
    capsys.readouterr()
    # a different model at the given path (or at the recorded one): exit 2 naming both hashes
    other = tfc_model("TFC_1W2A")
    assert main(["verify", "../b", "-n", "8", "--model", str(other)]) == 2
    err = capsys.readouterr().err
    want = hashlib.sha256(model.read_bytes()).hexdigest()[:12]
    assert "sha256" in err and want in err and "TFC_1W2A" in err
    shutil.copy(other, tmp_path / "src" / "m.onnx")
    assert main(["verify", "../b", "-n", "8"]) == 2
    assert "sha256" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["tests/models/brevitas/mlp_w3a5_narrow.onnx", "examples/digits/digits_mlp_w2a2.onnx"])
def test_inverted_input_quantizer_lands_on_the_chosen_levels(model, tmp_path):
    from hwgen.verify_inputs import BoundaryAimer, LevelInverter, input_span
    from tests.conftest import ROOT

    out = tmp_path / "o"
    build(ROOT / model, out, log=lambda *a: None)
    g = HwGraph.load(out)
    inv = LevelInverter.build(g, input_span(g))
    assert inv is not None
    rng = np.random.default_rng(0)
    first = g.layers[0]
    assert inv.count.max() == first.in_dtype.max - first.in_dtype.min + 1  # every level reachable somewhere
    for q in (inv.random_levels(rng, 64), inv.biased_levels(rng, 64)):
        np.testing.assert_array_equal(g.head_ints(inv.floats(q)), q)
    # aimed inputs put their channel's pre-activation exactly on the boundary for most targets
    aimer = BoundaryAimer(g, inv, rng)
    targets = [t for t in aimer.targets() if t[0] == 0][:64]
    q, hit = aimer.aim(targets)
    assert hit >= 0.9 * len(targets), (hit, len(targets))
