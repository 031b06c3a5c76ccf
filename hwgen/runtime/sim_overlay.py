"""A stand-in for `pynq.Overlay` on a laptop: PYNQ's own DMA driver over a simulated device and accelerator.

    ov = SimOverlay("out/", engine="rtlsim")     # "rtlsim" | "reference" | "stall"; length_width=14 to shrink
    acc = FPGAAccelerator(overlay=ov)             # the generated board driver, unchanged

`ov.axi_dma_0` (and `ov.axi_dma_<k>` for hardware island k of a model with several) is `pynq.lib.dma.DMA` from the
pynq package itself (hwgen.runtime.pynq_sim), on a register model of the AXI DMA. Each DMA is found by its cell
name, as pynq.Overlay finds it: in the hardware handoff next to the driver (OUT/driver/hwgen_driver/hwgen_top.hwh,
which the Vivado flow copies there: the DMA's parameters and register address) when there is one, else in the
one block design the build wrote (OUT/vivado/build.tcl: the CONFIG values set on that cell: widths,
c_sg_length_width, no DRE, no scatter-gather; addresses as assign_bd_address gives them, 64 KiB apart).
`length_width` overrides the length register's width as the block design would. `ov.hwgen_allocate` is the
simulated `pynq.allocate`.

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


_DMA_CELL = re.compile(r"\[hw_ipdef xilinx\.com:ip:axi_dma:\*\] (\w+)\]\nset_property -dict \[list (.*?)\] \$dma", re.S)


def block_design_dmas(out_dir) -> dict:
    """{cell name: (its CONFIG.c_* values, its register base address)} of every AXI DMA in the generated block
    design: from the hardware handoff beside the driver when the Vivado flow has run (what PYNQ reads on a board),
    else from OUT/vivado/build.tcl."""
    out_dir = Path(out_dir)
    tcl = out_dir / "vivado" / "build.tcl"
    if not tcl.is_file():
        raise BuildDirError(f"{str(tcl)!r} is missing: the PYNQ driver needs a Zynq build (this build is for an "
                            "Alveo board, or incomplete); rebuild with `hwgen build --board <zynq board>`.")
    hwh = out_dir / "driver" / "hwgen_driver" / "hwgen_top.hwh"
    dmas = _hwh_dmas(hwh) if hwh.is_file() else {
        name: (dict(re.findall(r"CONFIG\.(c_[a-z0-9_]+) \{([0-9]+)\}", body)), DMA_BASE + k * DMA_RANGE)
        for k, (name, body) in enumerate(_DMA_CELL.findall(tcl.read_text()))}
    for params, _ in dmas.values():
        for k in ("c_include_mm2s_dre", "c_include_s2mm_dre", "c_micro_dma"):
            params.setdefault(k, "0")
    return dmas


def _hwh_dmas(hwh: Path) -> dict:
    """The AXI DMA modules of a .hwh (MODTYPE axi_dma): their PARAMETERs and the base of their register range."""
    import xml.etree.ElementTree as ET

    out = {}
    for m in ET.parse(hwh).getroot().iter("MODULE"):
        if m.get("MODTYPE") != "axi_dma":
            continue
        params = {p.get("NAME"): p.get("VALUE") for p in m.iter("PARAMETER")}
        ranges = [r for r in m.iter("MEMRANGE") if r.get("INSTANCE") == m.get("INSTANCE")]
        if not ranges:
            raise BuildDirError(f"{str(hwh)!r}: DMA {m.get('INSTANCE')} has no address range")
        out[m.get("INSTANCE")] = (params, int(ranges[0].get("BASEVALUE"), 16))
    return out


def _dma(out_dir, dmas: dict, name: str):
    if name not in dmas:
        raise BuildDirError(f"the block design of {str(out_dir)!r} has no AXI DMA named {name!r} (it has "
                            f"{', '.join(sorted(dmas)) or 'none'}): the bitstream / build does not match the "
                            "driver's meta.json; rebuild.")
    return dmas[name]


class SimOverlay:
    """`SimOverlay(out_dir, engine=..., length_width=None)` has `.axi_dma_<k>` (PYNQ's DMA) for every hardware
    island k (one for a one-island build) and `hwgen_allocate`."""

    def __init__(self, out_dir, engine: str = "rtlsim", graph=None, length_width: int | None = None,
                 p_in: float = 1.0, p_out: float = 1.0):
        self.out_dir = Path(out_dir)
        meta_file = self.out_dir / "driver" / "hwgen_driver" / "meta.json"
        dmas = block_design_dmas(self.out_dir)  # a Zynq build (or the error saying it is not)
        if not meta_file.is_file():
            raise BuildDirError(f"{str(meta_file)!r} is missing; rebuild with `hwgen build`.")
        self.meta = json.loads(meta_file.read_text())
        self.engine_name = engine
        self.device = SimDevice()
        self.hwgen_allocate = self.device.allocate
        self.transfers: list[int] = []  # beats per MM2S transfer, for tests and benchmarks
        self.engine_seconds = 0.0  # time spent in the simulated accelerator (not the driver's cost)
        hws = [m for m in self.meta.get("islands", [self.meta]) if m.get("kind", "hw") == "hw"]
        dma = load_pynq_dma()
        self.dmas = []
        for k, m in enumerate(hws):
            d = self.out_dir if k == 0 else self.out_dir / f"hw{k}"
            name = m.get("dma_name", "axi_dma_0")  # found by name in the block design, as PYNQ does in the .hwh
            params, base = _dma(self.out_dir, dmas, name)
            params = dict(params)
            if length_width is not None:
                params["c_sg_length_width"] = str(int(length_width))
            sim = _SimDma(self, d, m, graph if k == 0 else None, (p_in, p_out))
            regs = AxiDmaRegisters(self.device, params, sim.engine)
            self.device.map(base, DMA_RANGE, regs)
            setattr(self, name, dma.DMA({"phys_addr": base, "addr_range": DMA_RANGE, "fullpath": name,
                                         "type": "xilinx.com:ip:axi_dma:7.1", "parameters": params,
                                         "interrupts": {}, "device": self.device}))
            self.dmas.append(sim)
            if k == 0:
                self.params, self.registers = params, regs


class _SimDma:
    """The engine behind one hardware island's DMA streams."""

    def __init__(self, ov: SimOverlay, out_dir: Path, meta: dict, graph, p):
        self.ov, self.out_dir, self.meta, self._graph, self._p = ov, out_dir, meta, graph, p
        self._rtl = None

    # --- engines: (beats (n, W) uint8 with TLAST on the last) -> (output beats, their TLAST flags) -----------
    def engine(self, beats: np.ndarray):
        import time

        t = time.perf_counter()
        try:
            return self._run_engine(beats)
        finally:
            self.ov.engine_seconds += time.perf_counter() - t

    def _run_engine(self, beats: np.ndarray):
        self.ov.transfers.append(len(beats))
        if self.ov.engine_name == "stall":
            return np.zeros((0, beats.shape[1]), np.uint8), np.zeros(0, bool)
        if self.ov.engine_name == "rtlsim":
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
