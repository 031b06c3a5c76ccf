"""The committed CNN test models (tests/models/cnn) load and run in qonnx, the golden every hwgen path must
match, hold the ops they are meant to cover, and still compute what PyTorch computed at export."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest

from tests.cnn_models import (CNN_DIR, EXPECTED_OPS, QCDQ_DIFFERS_FROM_TORCH, committed_models, io_pair,
                              model_bytes, model_path)


def test_every_model_is_listed_and_small():
    assert committed_models() == sorted(EXPECTED_OPS)
    total = sum(p.stat().st_size for p in CNN_DIR.iterdir())
    assert total < 3.5e6, f"tests/models/cnn holds {total / 1e6:.1f} MB"


@pytest.mark.parametrize("name", sorted(EXPECTED_OPS))
def test_model_executes_in_qonnx_with_expected_ops(name, tmp_path):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model

    onnx.checker.check_model(onnx.load_from_string(model_bytes(name)))
    m = cleanup_model(ModelWrapper(str(model_path(name, tmp_path))))
    assert dict(Counter(n.op_type for n in m.graph.node)) == EXPECTED_OPS[name]
    x, y = io_pair(name)
    iname, oname = m.graph.input[0].name, m.graph.output[0].name
    got = np.concatenate([execute_onnx(m, {iname: x[i:i + 1]})[oname] for i in range(2)])
    assert got.shape == y[:2].shape and np.isfinite(got).all()
    if name not in QCDQ_DIFFERS_FROM_TORCH:
        np.testing.assert_allclose(got, y[:2], rtol=1e-4, atol=1e-4)
