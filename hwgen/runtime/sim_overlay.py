"""A stand-in for `pynq.Overlay` on a laptop: PYNQ's own DMA driver over a simulated device and accelerator.

    ov = SimOverlay("out/", engine="rtlsim")     # "rtlsim" | "reference" | "stall"; length_width=14 to shrink
    acc = FPGAAccelerator(overlay=ov)             # the generated board driver, unchanged

`ov.axi_dma_0` is `pynq.lib.dma.DMA` from the pynq package itself (hwgen.runtime.pynq_sim), built from the
parameters the generated block design gives the DMA (OUT/vivado/build.tcl: widths, c_sg_length_width, no DRE, no
scatter-gather; `length_width` overrides the length register's width as the block design would), on a register
model of the AXI DMA. `ov.hwgen_allocate` is the simulated `pynq.allocate`.

Engines behind the DMA streams, each the board boundary hwgen_dma_top (hwgen.codegen.dma) seen from the DMA:
  rtlsim     its Verilog in Verilator (hwgen.runtime.dma_rtlsim), one run per MM2S transfer
  reference  the same framing in numpy around the reference layers (fast; for large batches and many models)
  stall      takes the input and never answers (a hung accelerator)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from hwgen import packing
from hwgen.errors import BuildDirError
from hwgen.runtime.pynq_sim import AxiDmaRegisters, SimDevice, load_pynq_dma

DMA_BASE, DMA_RANGE = 0x4040_0000, 0x1_0000  # where Vivado's assign_bd_address puts the first AXI DMA on a Zynq


def block_design_dma_parameters(out_dir) -> dict:
    """The AXI DMA's CONFIG.c_* values from the generated block design (what the .hwh gives PYNQ on a board)."""
    tcl = Path(out_dir) / "vivado" / "build.tcl"
    if not tcl.is_file():
        raise BuildDirError(f"{str(tcl)!r} is missing: the PYNQ driver needs a Zynq build (this build is for an "
                            "Alveo board, or incomplete); rebuild with `hwgen build --board <zynq board>`.")
    params = dict(re.findall(r"CONFIG\.(c_[a-z0-9_]+) \{([0-9]+)\}", tcl.read_text()))
    params.setdefault("c_include_mm2s_dre", "0")
    params.setdefault("c_include_s2mm_dre", "0")
    params.setdefault("c_micro_dma", "0")
    return params


class SimOverlay:
    """`SimOverlay(out_dir, engine=..., length_width=None)` has `.axi_dma_0` (PYNQ's DMA) and `hwgen_allocate`."""

    def __init__(self, out_dir, engine: str = "rtlsim", graph=None, length_width: int | None = None,
                 p_in: float = 1.0, p_out: float = 1.0):
        self.out_dir = Path(out_dir)
        self.params = block_design_dma_parameters(self.out_dir)
        meta_file = self.out_dir / "driver" / "hwgen_driver" / "meta.json"
        if not meta_file.is_file():
            raise BuildDirError(f"{str(meta_file)!r} is missing; rebuild with `hwgen build`.")
        self.meta = json.loads(meta_file.read_text())
        if length_width is not None:
            self.params["c_sg_length_width"] = str(int(length_width))
        self.engine_name = engine
        self._graph, self._rtl, self._p = graph, None, (p_in, p_out)
        self.device = SimDevice()
        self.registers = AxiDmaRegisters(self.device, self.params, self._engine)
        self.device.map(DMA_BASE, DMA_RANGE, self.registers)
        dma = load_pynq_dma()
        self.axi_dma_0 = dma.DMA({"phys_addr": DMA_BASE, "addr_range": DMA_RANGE, "fullpath": "axi_dma_0",
                                  "type": "xilinx.com:ip:axi_dma:7.1", "parameters": self.params,
                                  "interrupts": {}, "device": self.device})
        self.hwgen_allocate = self.device.allocate
        self.transfers: list[int] = []  # beats per MM2S transfer, for tests and benchmarks
        self.engine_seconds = 0.0  # time spent in the simulated accelerator (not the driver's cost)

    # --- engines: (beats (n, W) uint8 with TLAST on the last) -> (output beats, their TLAST flags) -----------
    def _engine(self, beats: np.ndarray):
        import time

        t = time.perf_counter()
        try:
            return self._run_engine(beats)
        finally:
            self.engine_seconds += time.perf_counter() - t

    def _run_engine(self, beats: np.ndarray):
        self.transfers.append(len(beats))
        if self.engine_name == "stall":
            return np.zeros((0, beats.shape[1]), np.uint8), np.zeros(0, bool)
        if self.engine_name == "rtlsim":
            if self._rtl is None:
                from hwgen.runtime.dma_rtlsim import DmaRtlsim

                self._rtl = DmaRtlsim(self.out_dir)
            g = self.meta["dma"]
            n = len(beats) // g["in_frame_beats"]
            out, last, _ = self._rtl.run(beats, max_out=(n + 1) * g["out_frame_beats"], p_in=self._p[0],
                                         p_out=self._p[1])
            return out, last
        return self._reference(beats)

    def _reference(self, beats):
        """hwgen_dma_top in numpy: whole padded frames in, the reference layers, padded frames out, TLAST after the
        frame that held the input TLAST (the last beat of the transfer)."""
        if self._graph is None:
            from hwgen.graph import HwGraph

            self._graph = HwGraph.load(self.out_dir)
        from hwgen.dtypes import from_name

        g, m = self.meta["dma"], self.meta
        n = len(beats) // g["in_frame_beats"]
        frames = beats[:n * g["in_frame_beats"]].reshape(n, -1)[:, :g["in_words"] * g["in_word_bytes"]]
        q = packing.unpack_bytes(frames.reshape(-1, g["in_word_bytes"]), from_name(m["in_dtype"]),
                                 m["in_elems_per_word"]).reshape(n, -1)
        y = self._graph.run_layers(q)
        words = packing.pack_bytes(y.reshape(n, -1), from_name(m["out_dtype"]), m["out_elems_per_word"]).reshape(n, -1)
        out = np.zeros((n, g["out_stride"]), np.uint8)
        out[:, :words.shape[1]] = words
        flags = np.zeros(n * g["out_frame_beats"], bool)
        if n * g["in_frame_beats"] == len(beats) and n:
            flags[-1] = True
        return out.reshape(-1, g["beat_bytes"]), flags
