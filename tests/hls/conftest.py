"""Fixtures of the HLS C-simulation tests: many small designs are built into ONE shared library per sweep
and compiler (see hls_testlib.Sweep)."""

from __future__ import annotations

import pytest

from hls_testlib import Sweep
from hwgen.sim import csim
from tests.tools import missing


@pytest.fixture(scope="session")
def hls_include():
    try:
        return csim.find_hls_include()
    except Exception as e:  # noqa: BLE001
        missing(f"no ap_types headers: {e}")


@pytest.fixture(scope="module")
def sweep_cache(tmp_path_factory, hls_include):
    cache = {}

    def get(key: str, designs_fn, compiler: str) -> Sweep:
        k = (key, compiler)
        if k not in cache:
            d = tmp_path_factory.mktemp(f"{key}_{compiler.replace('+', 'x')}")
            cache[k] = Sweep(d, designs_fn(), compiler)
        return cache[k]

    return get
