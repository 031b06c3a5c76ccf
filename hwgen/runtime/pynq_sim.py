"""PYNQ's own DMA driver (`pynq.lib.dma` from the pynq package, unmodified) over a simulated device.

pynq 4.0.0 cannot be installed next to hwgen (its sdist pins numpy<2 and grpcio), and its package __init__ needs a
board. So the one file the board driver depends on, pynq/lib/dma.py, is taken from the pynq sdist (pip download,
sha256-pinned, cached in ~/.cache/hwgen/pynq) and executed unmodified, with its three imports served by a simulated
`pynq` module (`allocate`, `DefaultIP`, `UnsupportedConfiguration`) and `pynqutils.runtime.repr_dict.ReprDict`:

    SimDevice        physical memory of pynq.allocate buffers (page-aligned addresses, flush / invalidate),
                     and MMIO windows
    AxiDmaRegisters  the AXI DMA in direct register mode (Xilinx PG021): MM2S_DMACR/DMASR/SA/SA_MSB/LENGTH at
                     0x00..0x28, S2MM_* at 0x30..0x58; Halted / Idle / error bits; the length register is
                     c_sg_length_width bits wide (longer values are truncated, as in hardware); without DRE an
                     address not aligned to the memory-mapped width is an error; a zero length is DMAIntErr; an
                     address outside every buffer is DMADecErr; S2MM ends at TLAST (S2MM_LENGTH then holds the bytes
                     received) and flags DMAIntErr when the buffer fills first.
    the stream       MM2S beats go to an engine (the Verilator model of the DMA boundary, or a reference model of
                     it) that returns output beats and their TLAST flags, which S2MM drains.

So what PYNQ checks on a board (alignment, DRE, length register width, channel running / idle state, errors) is
checked here, by PYNQ's code.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tarfile
import types
from pathlib import Path

import numpy as np

from hwgen import proc  # children stopped with hwgen (SIGTERM / Ctrl-C)
from hwgen.errors import ToolError

PYNQ_VERSION = "4.0.0"
PYNQ_SDIST_SHA256 = "1f974f73b2ec473ab8ddcd2f91c7df975b239c3fd62d62bf21d46d1f91cf3f95"
PYNQ_DMA_MEMBER = f"pynq-{PYNQ_VERSION}/pynq/lib/dma.py"


def _cache_dir() -> Path:
    return Path(os.environ.get("HWGEN_PYNQ_CACHE", Path.home() / ".cache" / "hwgen" / "pynq"))


def pynq_dma_file() -> Path:
    """PYNQ's dma.py, extracted from the pinned pynq sdist (downloaded with pip on first use)."""
    cache = _cache_dir()
    target = cache / f"pynq-{PYNQ_VERSION}-lib-dma.py"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    sdist = cache / f"pynq-{PYNQ_VERSION}.tar.gz"
    if not sdist.is_file():
        tmp = cache / f"download-{os.getpid()}"
        cmd = [sys.executable, "-m", "pip", "download", f"pynq=={PYNQ_VERSION}", "--no-deps", "--no-binary", ":all:",
               "-q", "-d", str(tmp)]
        r = proc.run(cmd, capture_output=True, text=True, timeout=600)
        got = tmp / sdist.name
        if r.returncode or not got.is_file():
            raise ToolError(f"could not fetch the pynq {PYNQ_VERSION} sdist (its lib/dma.py drives the simulated "
                            f"DMA): {' '.join(cmd)}\n{(r.stderr or r.stdout)[-800:]}")
        got.replace(sdist)
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != PYNQ_SDIST_SHA256:
        raise ToolError(f"{sdist} has sha256 {digest}, expected {PYNQ_SDIST_SHA256}; delete it and retry.")
    with tarfile.open(sdist) as tf:
        data = tf.extractfile(PYNQ_DMA_MEMBER).read()
    part = target.with_suffix(f".tmp{os.getpid()}")
    part.write_bytes(data)
    part.replace(target)
    return target


# ------------------------------------------------------------------------------------------ the simulated device
class SimBuffer(np.ndarray):
    """What pynq.allocate returns: a numpy array with a physical address and cache maintenance."""

    physical_address: int = 0
    device = None

    def __array_finalize__(self, obj):
        if obj is not None:
            self.physical_address = getattr(obj, "physical_address", 0)
            self.device = getattr(obj, "device", None)

    def flush(self):
        if self.device is not None:
            self.device.flushes += 1

    def invalidate(self):
        if self.device is not None:
            self.device.invalidates += 1

    def freebuffer(self):
        if self.device is not None:
            self.device.free(self)

    close = freebuffer


class SimDevice:
    """Physical memory (the allocated buffers) and MMIO windows."""

    PAGE = 4096

    def __init__(self):
        self._next = 0x1000_0000
        self._buffers: dict[int, np.ndarray] = {}  # physical address -> the buffer's bytes
        self._windows: list = []
        self.flushes = self.invalidates = 0

    def allocate(self, shape, dtype=np.uint8, **_):
        arr = np.zeros(shape, dtype=dtype)
        buf = arr.view(SimBuffer)
        buf.physical_address, buf.device = self._next, self
        self._buffers[self._next] = arr.reshape(-1).view(np.uint8)
        self._next += -(-max(arr.nbytes, 1) // self.PAGE) * self.PAGE
        return buf

    def free(self, buf):
        self._buffers.pop(buf.physical_address, None)

    def memory(self, addr: int, nbytes: int):
        """The bytes [addr, addr + nbytes) as a writable view, or None when they are not inside one buffer."""
        for base, mem in self._buffers.items():
            if base <= addr and addr + nbytes <= base + mem.size:
                return mem[addr - base:addr - base + nbytes]
        return None

    def map(self, base: int, size: int, regs):
        self._windows.append((base, size, regs))

    def mmio(self, base: int, size: int):
        for b, s, regs in self._windows:
            if b == base and s == size:
                return regs
        raise ToolError(f"no simulated IP at {base:#x}")


class UnsupportedConfiguration(Exception):
    pass


class SimDefaultIP:
    """pynq.DefaultIP's contract for dma.py: `self.mmio` (read / write) from the description, on its device."""

    def __init__(self, description):
        self.device = description["device"]
        self.mmio = self.device.mmio(description["phys_addr"], description["addr_range"])
        self._interrupts = description.get("interrupts", {})


def load_pynq_dma():
    """PYNQ's dma.py as a module, its `from pynq import ...` served by this simulated device."""
    name = "hwgen_sim_pynq_lib_dma"
    if name in sys.modules:
        return sys.modules[name]
    path = pynq_dma_file()
    fake_pynq = types.ModuleType("pynq")
    fake_pynq.allocate, fake_pynq.DefaultIP = None, SimDefaultIP
    fake_pynq.UnsupportedConfiguration = UnsupportedConfiguration
    repr_dict = types.ModuleType("pynqutils.runtime.repr_dict")
    repr_dict.ReprDict = type("ReprDict", (dict,), {})
    fakes = {"pynq": fake_pynq, "pynqutils": types.ModuleType("pynqutils"),
             "pynqutils.runtime": types.ModuleType("pynqutils.runtime"), "pynqutils.runtime.repr_dict": repr_dict}
    saved = {k: sys.modules.get(k) for k in fakes}
    sys.modules.update(fakes)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    sys.modules[name] = mod
    return mod


# ------------------------------------------------------------------------------------------ the AXI DMA (PG021)
HALTED, IDLE, DMA_INT_ERR, DMA_SLV_ERR, DMA_DEC_ERR, IOC_IRQ = 0x1, 0x2, 0x10, 0x20, 0x40, 0x1000


class _Channel:
    def __init__(self, name):
        self.name = name
        self.cr = 0
        self.sr = HALTED
        self.addr = 0
        self.length = 0
        self.busy = False
        self.reason = ""
        self.transfers = 0

    def fail(self, bit, why):
        self.sr = (self.sr | bit | HALTED) & ~IDLE
        self.busy = False
        self.reason = why


class AxiDmaRegisters:
    """The register file of one AXI DMA (simple mode) wired to an engine: beats (n, W) -> (out beats, TLAST)."""

    def __init__(self, device: SimDevice, params: dict, engine):
        self.device, self.engine = device, engine
        self.length_bits = int(params["c_sg_length_width"])
        self.mm_bytes = int(params["c_m_axi_mm2s_data_width"]) // 8
        self.beat = int(params["c_m_axis_mm2s_tdata_width"]) // 8
        if int(params["c_s_axis_s2mm_tdata_width"]) // 8 != self.beat:
            raise ToolError("the simulated DMA needs equal MM2S and S2MM stream widths")
        self.dre = {"mm2s": bool(int(params.get("c_include_mm2s_dre", 0))),
                    "s2mm": bool(int(params.get("c_include_s2mm_dre", 0)))}
        self.mm2s, self.s2mm = _Channel("mm2s"), _Channel("s2mm")
        self._out = np.zeros((0, self.beat), np.uint8)  # the accelerator's output stream, waiting for S2MM
        self._out_last = np.zeros(0, bool)
        self._written = 0

    def _ch(self, offset):
        return (self.mm2s, offset) if offset < 0x30 else (self.s2mm, offset - 0x30)

    def read(self, offset, length=4):
        ch, off = self._ch(offset)
        if ch is self.s2mm and ch.busy:
            self._drain()
        if off == 0x00:
            return ch.cr
        if off == 0x04:
            return ch.sr
        if off == 0x18:
            return ch.addr & 0xFFFFFFFF
        if off == 0x1C:
            return ch.addr >> 32
        if off == 0x28:
            return ch.length
        return 0

    def write(self, offset, value):
        ch, off = self._ch(offset)
        value = int(value) & 0xFFFFFFFF
        if off == 0x00:
            if value & 0x4:  # soft reset: both channels
                for c in (self.mm2s, self.s2mm):
                    c.__init__(c.name)
                return
            ch.cr = value
            if value & 0x1:
                ch.sr &= ~HALTED
            else:
                ch.sr |= HALTED
                ch.busy = False
        elif off == 0x04:
            ch.sr &= ~(value & (IOC_IRQ | 0x4000 | 0x2000))  # write 1 to clear the interrupt bits
        elif off == 0x18:
            ch.addr = (ch.addr & ~0xFFFFFFFF) | value
        elif off == 0x1C:
            ch.addr = (ch.addr & 0xFFFFFFFF) | (value << 32)
        elif off == 0x28:
            self._start(ch, value & ((1 << self.length_bits) - 1))

    def _start(self, ch, length):
        if ch.sr & HALTED:
            return  # PG021: writes to LENGTH of a halted channel do not start anything
        if ch.busy:
            ch.fail(DMA_INT_ERR, "LENGTH written while a transfer was running")
            return
        ch.length, ch.sr = length, ch.sr & ~IDLE
        if length == 0:
            ch.fail(DMA_INT_ERR, "zero length")
            return
        if not self.dre[ch.name] and ch.addr % self.mm_bytes:
            ch.fail(DMA_SLV_ERR, f"address {ch.addr:#x} not aligned to {self.mm_bytes} bytes without DRE")
            return
        mem = self.device.memory(ch.addr, length)
        if mem is None:
            ch.fail(DMA_DEC_ERR, f"[{ch.addr:#x}, +{length}) is not inside an allocated buffer")
            return
        ch.transfers += 1
        if ch is self.mm2s:
            data = np.full(-(-length // self.beat) * self.beat, 0xA5, np.uint8)  # a partial last beat: garbage
            data[:length] = mem
            beats, last = self.engine(data.reshape(-1, self.beat))
            self._out = np.concatenate([self._out, beats])
            self._out_last = np.concatenate([self._out_last, last])
            ch.sr |= IDLE | IOC_IRQ
        else:
            ch.busy, self._written = True, 0
            self._drain()

    def _drain(self):
        ch = self.s2mm
        mem = self.device.memory(ch.addr, ch.length)
        room = (ch.length - self._written) // self.beat  # whole beats only (no TKEEP on our output)
        ends = np.nonzero(self._out_last[:room])[0]
        n = int(ends[0]) + 1 if ends.size else min(room, len(self._out))
        mem[self._written:self._written + n * self.beat] = self._out[:n].reshape(-1)
        self._written += n * self.beat
        self._out, self._out_last = self._out[n:], self._out_last[n:]
        if ends.size:
            ch.busy, ch.length = False, self._written  # S2MM_LENGTH: the bytes actually received
            ch.sr |= IDLE | IOC_IRQ
        elif self._written + self.beat > ch.length and len(self._out):
            ch.fail(DMA_INT_ERR, "S2MM buffer full before TLAST")
