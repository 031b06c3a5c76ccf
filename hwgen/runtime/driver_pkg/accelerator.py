"""The board-side driver: the accelerator behind a PYNQ overlay's AXI DMA.

    from hwgen_driver import FPGAAccelerator
    acc = FPGAAccelerator("path/to/driver")          # loads hwgen_top.bit next to it through pynq.Overlay
    y = acc.execute(x)                                # the ONNX model's input -> its output

Data path: input quantizer on the CPU (head) -> pack (packing.py, the one packing convention) -> DMA MM2S ->
accelerator -> DMA S2MM (TLAST at frame end) -> unpack -> final float ops on the CPU (tail). Batches are cut so
one transfer never exceeds the DMA's length register; every wait has a timeout that raises DmaTimeoutError
instead of hanging.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from . import packing
from .cpu_eval import NumpyPartition
from .dtypes import from_name


class DmaTimeoutError(RuntimeError):
    """A DMA transfer did not complete in time (accelerator stalled, wrong bitstream, or TLAST missing)."""


class DriverInputError(ValueError):
    """Input with the wrong shape / dtype / values."""


class FPGAAccelerator:
    def __init__(self, driver_dir=None, bitfile=None, overlay=None, timeout_s: float = 10.0,
                 max_batch: int | None = None):
        self.dir = driver_dir or os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(self.dir, "meta.json")) as f:
            self.meta = json.load(f)
        m = self.meta
        self.in_dtype, self.out_dtype = from_name(m["in_dtype"]), from_name(m["out_dtype"])
        self.in_elems, self.out_elems = m["in_elems_per_word"], m["out_elems_per_word"]
        self.in_words, self.out_words = m["in_words_per_frame"], m["out_words_per_frame"]
        self.in_bytes = packing.padded_bytes(self.in_dtype.bits * self.in_elems)
        self.out_bytes = packing.padded_bytes(self.out_dtype.bits * self.out_elems)
        self.timeout_s = timeout_s
        max_len = int(m.get("dma_max_bytes", (1 << 23) - 1))
        fit = max(1, max_len // max(self.in_words * self.in_bytes, self.out_words * self.out_bytes))
        self.max_batch = min(fit, max_batch) if max_batch else fit
        if overlay is None:
            from pynq import Overlay

            overlay = Overlay(bitfile or os.path.join(self.dir, m.get("bitfile", "hwgen_top.bit")))
        self.overlay = overlay
        self.dma = getattr(overlay, m.get("dma_name", "axi_dma_0"))
        alloc = getattr(overlay, "hwgen_allocate", None)
        if alloc is None:
            from pynq import allocate as alloc
        self.allocate = alloc
        self.head = NumpyPartition.load(os.path.join(self.dir, "head.json"), os.path.join(self.dir, "head.npz"))
        self.tail = NumpyPartition.load(os.path.join(self.dir, "tail.json"), os.path.join(self.dir, "tail.npz"))
        self.last_timing = {}

    # --- the model's view ---------------------------------------------------------------------------------
    def check_input(self, x):
        x = np.asarray(x)
        want = tuple(self.meta["input_shape"][1:])
        if tuple(x.shape) == want:
            x = x[None]
        if tuple(x.shape[1:]) != want:
            raise DriverInputError(f"input has shape {tuple(x.shape)}, the model expects (N, {want}).")
        if x.dtype.kind not in "fiu":
            raise DriverInputError(f"input dtype {x.dtype} is not numeric.")
        x = x.astype(np.float32, copy=False)
        if not np.all(np.isfinite(x)):
            raise DriverInputError("input contains NaN or inf.")
        return x

    def execute(self, x):
        q = np.asarray(self.head.run(self.check_input(x)))
        q = q.reshape(q.shape[0], -1).astype(np.int64)
        return self.tail.run(self.execute_ints(q))

    # --- the hardware ----------------------------------------------------------------------------------------
    def execute_ints(self, q):
        q = np.asarray(q, dtype=np.int64)
        n = q.shape[0]
        t_pack = t_xfer = t_unpack = 0.0
        outs = []
        for s in range(0, n, self.max_batch):
            chunk = q[s:s + self.max_batch]
            b = chunk.shape[0]
            t = time.perf_counter()
            words = packing.pack_bytes(chunk, self.in_dtype, self.in_elems)  # (b * in_words, in_bytes)
            ibuf = self.allocate(shape=(words.size,), dtype=np.uint8)
            obuf = self.allocate(shape=(b * self.out_words * self.out_bytes,), dtype=np.uint8)
            ibuf[:] = words.ravel()
            t_pack += time.perf_counter() - t
            t = time.perf_counter()
            ibuf.flush()
            self.dma.sendchannel.transfer(ibuf)
            # The accelerator raises TLAST at every frame end and a simple-mode S2MM transfer ends at TLAST:
            # receive frame by frame into consecutive slices of one buffer (the accelerator's FIFOs hold the
            # stream meanwhile). Each receive is checked for its exact length: a short frame is an error.
            frame_bytes = self.out_words * self.out_bytes
            for f in range(b):
                self.dma.recvchannel.transfer(obuf, start=f * frame_bytes, nbytes=frame_bytes)
                self._wait(self.dma.recvchannel, f"S2MM (output frame {s + f})", b)
            self._wait(self.dma.sendchannel, "MM2S (input)", b)
            obuf.invalidate()
            t_xfer += time.perf_counter() - t
            t = time.perf_counter()
            out = packing.unpack_bytes(np.asarray(obuf).reshape(-1, self.out_bytes), self.out_dtype, self.out_elems)
            outs.append(out.reshape(b, -1))
            for buf in (ibuf, obuf):
                free = getattr(buf, "freebuffer", None)
                if free:
                    free()
            t_unpack += time.perf_counter() - t
        self.last_timing = {"pack_s": t_pack, "transfer_s": t_xfer, "unpack_s": t_unpack}
        return np.concatenate(outs) if outs else np.zeros((0, self.meta["out_features"]), np.int64)

    def _wait(self, channel, what, frames):
        deadline = time.monotonic() + self.timeout_s
        while not channel.idle:
            if time.monotonic() > deadline:
                raise DmaTimeoutError(
                    f"DMA {what} transfer of {frames} frame(s) did not complete within {self.timeout_s:g} s: the "
                    "accelerator stalled, the bitstream does not match this driver, or TLAST never came.")
            time.sleep(0)
        channel.wait()

    def throughput_test(self, n: int = 10000, seed: int = 0):
        rng = np.random.default_rng(seed)
        dt = self.in_dtype
        feats = self.meta["in_features"]
        q = dt.random(rng, (n, feats))
        t = time.perf_counter()
        self.execute_ints(q)
        total = time.perf_counter() - t
        return {"frames": n, "seconds": total, "images_per_s": n / total, **self.last_timing}
