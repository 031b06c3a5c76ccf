"""Shared helpers of the HLS C-simulation tests (imported by the test modules and conftest)."""

from __future__ import annotations


import numpy as np
import pytest

from hwgen.codegen import hls
from hwgen.dtypes import DType
from hwgen.sim import csim

COMPILERS = ["g++", "clang++"]
AP_ARITH = {"HWGEN_CSIM_AP_ARITH": None}


def compiler_params():
    return [
        pytest.param(c, marks=pytest.mark.requires_tool(c), id=c)
        for c in COMPILERS
    ]


class Sweep:
    """designs: {top_name: [(kind, params), ...]} -> {top_name: CsimAccelerator} from one .so. With clang++ the
    kernels' ap_int arithmetic (what synthesis sees) is simulated, with g++ its native-integer twin (what the csim
    backend runs; templates/hls/hwgen_native.hpp): both paths meet the same expectations at no extra compile."""

    def __init__(self, tmp_dir, designs: dict, compiler: str):
        self.dir = tmp_dir
        self.projects = {}
        for top, layers in designs.items():
            self.projects[top] = hls.write_project(tmp_dir, top, layers, csim_entry=f"{top}_run")
        unit = tmp_dir / "sweep.cpp"
        unit.write_text("".join(f'#include "{p.top_cpp.name}"\n' for p in self.projects.values()))
        so = csim.compile_shared([unit], tmp_dir / f"sweep_{compiler.replace('+', 'x')}.so", compiler=compiler,
                                 include_dirs=[tmp_dir], defines=AP_ARITH if compiler == "clang++" else None)
        lib = csim.CsimLibrary(so)
        self.acc = {top: csim.CsimAccelerator(p, lib=lib, entry=f"{top}_run") for top, p in self.projects.items()}


def rand_values(rng, dtype: DType, shape):
    if dtype.bipolar:
        return rng.choice(np.array([-1, 1]), size=shape)
    return rng.integers(dtype.min, dtype.max + 1, size=shape, dtype=np.int64)


def dd(dtype: DType) -> dict:
    return hls.dtype_dict(dtype)
