"""`pynq` backend: the generated board driver (OUT/driver/hwgen_driver) behind the Accelerator API.

On a board it loads the bitstream through `pynq.Overlay`; elsewhere pass `overlay=SimOverlay(out)` (the driver's
DMA path against the Verilator model) - the driver code is the same either way.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from hwgen.errors import BuildDirError


def load_driver_package(out_dir):
    pkg = Path(out_dir) / "driver" / "hwgen_driver"
    if (Path(out_dir) / "vivado" / "link.cfg").is_file():
        raise BuildDirError(f"{str(out_dir)!r} is an Alveo build: it has no PYNQ driver (the xclbin is run through "
                            "XRT; see vivado/README.md). Use another backend, or build for a Zynq board.")
    if not (pkg / "__init__.py").is_file():
        raise BuildDirError(f"{str(pkg)!r} is missing; rebuild with `hwgen build`.")
    name = f"hwgen_driver_{abs(hash(str(pkg.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, pkg / "__init__.py", submodule_search_locations=[str(pkg)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


class PynqBackend:
    """The whole model through the board driver: its hardware islands behind their DMAs, its CPU islands, heads
    and tails on the driver's numpy evaluator (as on the board)."""

    whole_model = True  # hwgen.runtime.accelerator: one instance for the build, not one per hardware island

    def __init__(self, out_dir, graph, overlay=None, bitfile=None, timeout_s: float = 10.0, **_):
        drv = load_driver_package(out_dir)
        self.driver = drv.FPGAAccelerator(str(Path(out_dir) / "driver" / "hwgen_driver"), bitfile=bitfile,
                                          overlay=overlay, timeout_s=timeout_s)
        self.last_timing = {}

    def run_ints(self, q, island: int = 0):
        y = self.driver.execute_ints(q, island)
        self.last_timing = self.driver.last_timing
        return y

    def execute(self, x):
        return self.driver.execute(x)
