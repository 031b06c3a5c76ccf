"""A stand-in for `pynq.Overlay` backed by simulated hardware, so the board driver runs unchanged on a laptop.

It implements exactly the part of PYNQ the driver uses: `overlay.axi_dma_0.sendchannel / recvchannel` with
`transfer(buffer, start=0, nbytes=0)`, `idle` and `wait()`, and buffers with `flush()` / `invalidate()` /
`freebuffer()`. MM2S hands the bytes to an engine (the Verilator model, or the reference layers); S2MM copies
output words until the word carrying TLAST, like the AXI DMA in simple mode. An engine that produces too little
output leaves the receive channel busy forever, which is how a stalled accelerator looks to the driver.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwgen import packing


class SimBuffer(np.ndarray):
    """pynq.allocate's buffer: a numpy array with cache-maintenance methods (no-ops here)."""

    def flush(self):
        pass

    def invalidate(self):
        pass

    def freebuffer(self):
        pass


def sim_allocate(shape, dtype=np.uint8, **_):
    return np.zeros(shape, dtype=dtype).view(SimBuffer)


class _Channel:
    def __init__(self, dma, direction):
        self.dma, self.direction = dma, direction
        self._busy = False
        self._target = None

    @property
    def idle(self):
        if self.direction == "s2mm" and self._busy:
            self.dma._try_receive(self)
        return not self._busy

    def transfer(self, buf, start: int = 0, nbytes: int = 0):
        if self._busy:
            raise RuntimeError(f"DMA {self.direction} channel is busy")
        nbytes = nbytes or (buf.nbytes - start)
        self._busy = True
        if self.direction == "mm2s":
            self.dma._send(np.asarray(buf).view(np.uint8).ravel()[start:start + nbytes].copy())
            self._busy = False
        else:
            self._target = (buf, start, nbytes)
            self.dma._try_receive(self)

    def wait(self):
        if not self.idle:
            raise RuntimeError(f"DMA {self.direction} wait() would block forever (no TLAST)")


class _Dma:
    def __init__(self, engine, in_bytes, out_bytes, out_words_per_frame):
        self.engine = engine
        self.in_bytes, self.out_bytes = in_bytes, out_bytes
        self.out_words_per_frame = out_words_per_frame
        self.sendchannel = _Channel(self, "mm2s")
        self.recvchannel = _Channel(self, "s2mm")
        self._out = np.zeros((0, out_bytes), np.uint8)
        self._tlast = np.zeros(0, bool)

    def _send(self, data):
        if data.size % self.in_bytes:
            raise RuntimeError(f"MM2S length {data.size} is not a whole number of {self.in_bytes}-byte words")
        out, tlast = self.engine(data.reshape(-1, self.in_bytes))
        self._out = np.concatenate([self._out, out])
        self._tlast = np.concatenate([self._tlast, tlast])

    def _try_receive(self, ch):
        buf, start, nbytes = ch._target
        cap = nbytes // self.out_bytes
        ends = np.nonzero(self._tlast[:cap])[0]
        if ends.size == 0:
            return  # no TLAST within the buffer yet: the transfer stays busy
        n = int(ends[0]) + 1
        flat = np.asarray(buf).view(np.uint8).reshape(-1)
        flat[start:start + n * self.out_bytes] = self._out[:n].ravel()
        self._out, self._tlast = self._out[n:], self._tlast[n:]
        ch._busy = False


class SimOverlay:
    """`SimOverlay(out_dir, engine="rtlsim" | "reference" | "stall")` has `.axi_dma_0` and `hwgen_allocate`."""

    def __init__(self, out_dir, engine: str = "rtlsim", graph=None):
        from hwgen.graph import HwGraph

        self.out_dir = Path(out_dir)
        self.graph = graph or HwGraph.load(self.out_dir)
        first, last = self.graph.layers[0], self.graph.layers[-1]
        self.in_dt, self.out_dt = first.in_dtype, last.out_dtype
        self.in_elems, self.out_elems = first.in_elems_per_word(), last.out_elems_per_word()
        self.in_words, self.out_words = first.in_words_per_frame(), last.out_words_per_frame()
        in_b = packing.padded_bytes(self.in_dt.bits * self.in_elems)
        out_b = packing.padded_bytes(self.out_dt.bits * self.out_elems)
        self.engine_name = engine
        self._rtl = None
        self.axi_dma_0 = _Dma(self._engine, in_b, out_b, self.out_words)
        self.hwgen_allocate = sim_allocate

    def _engine(self, words: np.ndarray):
        """Input words (bytes) of whole frames -> output words (bytes) and their TLAST flags."""
        n_frames = words.shape[0] // self.in_words
        if self.engine_name == "stall":
            return np.zeros((0, self.axi_dma_0.out_bytes), np.uint8), np.zeros(0, bool)
        q = packing.unpack_bytes(words, self.in_dt, self.in_elems).reshape(n_frames, -1)
        if self.engine_name == "rtlsim":
            if self._rtl is None:
                from hwgen.runtime.rtlsim import RtlsimBackend

                self._rtl = RtlsimBackend(self.out_dir, self.graph)
            y = self._rtl.run_ints(q)
        else:
            for layer in self.graph.layers:
                q = layer.execute(q)
            y = q
        out = packing.pack_bytes(y, self.out_dt, self.out_elems)
        tlast = np.zeros(out.shape[0], bool)
        tlast[self.out_words - 1::self.out_words] = True
        return out, tlast
