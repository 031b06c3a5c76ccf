"""The board-side driver: the accelerator behind a PYNQ overlay's AXI DMA.

    from hwgen_driver import FPGAAccelerator
    acc = FPGAAccelerator("path/to/driver")          # loads hwgen_top.bit next to it through pynq.Overlay
    y = acc.execute(x)                                # the ONNX model's input -> its output

A model of several islands runs them in order: each hardware island behind its own AXI DMA (axi_dma_<k>), the
CPU islands between them on the numpy evaluator. For each hardware island the data path is:
input quantizer on the CPU (head) -> pack (packing.py, the one packing convention) into frames padded
to whole DMA beats -> ONE MM2S transfer per batch -> the accelerator's board boundary (hwgen_dma_top: TLAST on
the last input beat marks the batch's last frame) -> ONE S2MM transfer per batch, ended by the accelerator's
TLAST -> unpack -> final float ops on the CPU (tail). Every transfer starts at a beat-aligned offset of a
pynq.allocate buffer and is a whole number of beats; a batch longer than the DMA's length register
(dma.buffer_max_size, from the block design's c_sg_length_width) is cut at frame boundaries. Buffers are reused
between calls. Every wait has a timeout that raises DmaTimeoutError instead of hanging; a short or failed
transfer raises DmaTransferError.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from . import packing
from .cpu_eval import NumpyIsland, NumpyPartition
from .dtypes import from_name


class DmaTimeoutError(RuntimeError):
    """A DMA transfer did not complete in time (accelerator stalled, wrong bitstream, or TLAST missing)."""


class DmaTransferError(RuntimeError):
    """The DMA flagged an error, or received a different number of bytes than the batch needs."""


class DriverInputError(ValueError):
    """Input with the wrong shape / dtype / values."""


class DmaIsland:
    """One hardware island behind its own AXI DMA (meta: its stream formats and DMA geometry)."""

    def __init__(self, m: dict, overlay, allocate, timeout_s: float, max_batch: int | None):
        self.meta = m
        self.in_dtype, self.out_dtype = from_name(m["in_dtype"]), from_name(m["out_dtype"])
        self.in_elems, self.out_elems = m["in_elems_per_word"], m["out_elems_per_word"]
        self.in_words, self.out_words = m["in_words_per_frame"], m["out_words_per_frame"]
        d = m["dma"]  # the DMA view of a frame (hwgen.codegen.dma.DmaGeometry)
        self.in_bytes, self.out_bytes = d["in_word_bytes"], d["out_word_bytes"]
        self.in_stride, self.out_stride = d["in_stride"], d["out_stride"]  # bytes per frame, whole beats
        self.timeout_s = timeout_s
        self.dma = getattr(overlay, m.get("dma_name", "axi_dma_0"))
        # the DMA's length register bounds one transfer (PYNQ reads its width from the .hwh)
        max_len = int(getattr(self.dma, "buffer_max_size", m.get("dma_max_bytes", (1 << 23) - 1)))
        # the HLS accelerator takes frames in groups of `multiple` (the RTL one any number): batches are padded
        self.multiple = int(d.get("frames_multiple", 1))
        fit = max_len // max(self.in_stride, self.out_stride) // self.multiple * self.multiple
        if fit < 1:
            raise DriverInputError(f"{self.multiple} frame(s) of {max(self.in_stride, self.out_stride)} bytes are "
                                   f"longer than the DMA's length register allows ({max_len} bytes)")
        self.max_batch = fit
        if max_batch:
            self.max_batch = max(self.multiple, min(fit, max_batch) // self.multiple * self.multiple)
        self.allocate = allocate
        self._bufs = None  # (frames, input buffer, output buffer), reused while big enough
        self.last_timing = {}

    def _buffers(self, n):
        if self._bufs is None or self._bufs[0] < n:
            self.free()
            self._bufs = (n, self.allocate(shape=(n * self.in_stride,), dtype=np.uint8),
                          self.allocate(shape=(n * self.out_stride,), dtype=np.uint8))
        return self._bufs[1], self._bufs[2]

    def free(self):
        """Release the DMA buffers (they are kept between calls)."""
        if self._bufs is not None:
            for buf in self._bufs[1:]:
                free = getattr(buf, "freebuffer", None)
                if free:
                    free()
            self._bufs = None

    def execute_ints(self, q):
        q = np.asarray(q, dtype=np.int64)
        n = q.shape[0]
        if n == 0:
            return np.zeros((0, self.meta["out_features"]), np.int64)
        t = time.perf_counter()
        n_all = -(-n // self.multiple) * self.multiple  # padded with zero frames, their outputs dropped
        ibuf, obuf = self._buffers(n_all)
        words = packing.pack_bytes(q, self.in_dtype, self.in_elems).reshape(n, -1)  # (n, in_words * in_bytes)
        frames = np.asarray(ibuf)[:n_all * self.in_stride].reshape(n_all, self.in_stride)
        frames[:n, :words.shape[1]] = words
        frames[:n, words.shape[1]:] = 0  # padding to a whole beat
        frames[n:] = 0
        t_pack = time.perf_counter() - t
        t = time.perf_counter()
        for s in range(0, n_all, self.max_batch):  # one transfer each way per chunk
            b = min(self.max_batch, n_all - s)
            self.dma.recvchannel.transfer(obuf, start=s * self.out_stride, nbytes=b * self.out_stride)
            self.dma.sendchannel.transfer(ibuf, start=s * self.in_stride, nbytes=b * self.in_stride)
            self._wait(self.dma.sendchannel, "MM2S (input)", s, b)
            self._wait(self.dma.recvchannel, "S2MM (output)", s, b)
            got = getattr(self.dma.recvchannel, "transferred", b * self.out_stride)
            if got != b * self.out_stride:
                raise DmaTransferError(
                    f"S2MM received {got} bytes for frames {s}..{s + b - 1}, expected {b * self.out_stride}: the "
                    "bitstream does not match this driver (frame size or TLAST).")
        t_xfer = time.perf_counter() - t
        t = time.perf_counter()
        out = np.asarray(obuf)[:n * self.out_stride].reshape(n, self.out_stride)[:, :self.out_words * self.out_bytes]
        y = packing.unpack_bytes(out.reshape(-1, self.out_bytes), self.out_dtype, self.out_elems).reshape(n, -1)
        self.last_timing = {"pack_s": t_pack, "transfer_s": t_xfer, "unpack_s": time.perf_counter() - t,
                            "transfers": -(-n_all // self.max_batch)}
        return y

    def _wait(self, channel, what, first, frames):
        deadline = time.monotonic() + self.timeout_s
        while not channel.idle:
            if getattr(channel, "error", False):
                break  # PYNQ's wait() raises with the DMA's reason
            if time.monotonic() > deadline:
                raise DmaTimeoutError(
                    f"DMA {what} transfer of frames {first}..{first + frames - 1} did not complete within "
                    f"{self.timeout_s:g} s: the accelerator stalled, the bitstream does not match this driver, or "
                    "TLAST never came.")
            time.sleep(0)
        try:
            channel.wait()
        except RuntimeError as e:
            raise DmaTransferError(f"DMA {what} transfer of frames {first}..{first + frames - 1} failed: {e}") from e


class FPGAAccelerator:
    """The model on the board: its islands in order (meta.json "islands"; a one-island build: the accelerator,
    head.json and tail.json), each hardware island behind its own DMA (axi_dma_<k>), the CPU islands, heads and
    tails run by the numpy evaluator."""

    def __init__(self, driver_dir=None, bitfile=None, overlay=None, timeout_s: float = 10.0,
                 max_batch: int | None = None):
        self.dir = driver_dir or os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(self.dir, "meta.json")) as f:
            self.meta = json.load(f)
        m = self.meta
        self.timeout_s = timeout_s
        if overlay is None:
            from pynq import Overlay

            overlay = Overlay(bitfile or os.path.join(self.dir, m.get("bitfile", "hwgen_top.bit")))
        self.overlay = overlay
        alloc = getattr(overlay, "hwgen_allocate", None)
        if alloc is None:
            from pynq import allocate as alloc
        self.allocate = alloc
        listing = m.get("islands") or [{"kind": "hw", "head": "head", "tail": "tail",
                                        "input": None, "output": None, **m}]
        self.steps, self.hw = [], []
        for im in listing:
            if im["kind"] == "cpu":
                self.steps.append(("cpu", NumpyIsland.load(self._f(im["file"] + ".json"), self._f(im["file"] + ".npz"))))
                continue
            isl = DmaIsland(im, overlay, alloc, timeout_s, max_batch)
            head = NumpyPartition.load(self._f(im["head"] + ".json"), self._f(im["head"] + ".npz"))
            tail = NumpyPartition.load(self._f(im["tail"] + ".json"), self._f(im["tail"] + ".npz"))
            self.hw.append(isl)
            self.steps.append(("hw", (isl, head, tail, im.get("input"), im.get("output"))))
        first = next(s for kind, s in self.steps if kind == "hw") if self.hw else None
        self.head, self.tail = (first[1], first[2]) if first else (None, None)  # hardware island 0's
        self.last_timing = {}

    def _f(self, name):
        return os.path.join(self.dir, name)

    def __getattr__(self, name):  # hardware island 0's DMA view (multiple, in_stride, ...): the one-island API
        hw = self.__dict__.get("hw")
        if hw and not name.startswith("__"):
            return getattr(hw[0], name)
        raise AttributeError(name)

    @property
    def max_batch(self):
        return self.hw[0].max_batch

    @max_batch.setter
    def max_batch(self, n):
        for isl in self.hw:
            isl.max_batch = max(isl.multiple, int(n) // isl.multiple * isl.multiple)

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
        x = self.check_input(x)
        if "islands" not in self.meta:  # one hardware island: its head, the accelerator, its tail
            q = np.asarray(self.head.run(x))
            q = q.reshape(q.shape[0], -1).astype(np.int64)
            return self.tail.run(self.execute_ints(q))
        env = {self.meta["input_name"]: x}
        for kind, step in self.steps:
            if kind == "cpu":
                env.update(step.run(env))
                continue
            isl, head, tail, src, dst = step
            q = np.asarray(head.run(env[src]))
            env[dst] = tail.run(isl.execute_ints(q.reshape(q.shape[0], -1).astype(np.int64)))
            self.last_timing = isl.last_timing
        return env[self.meta["output_name"]]

    # --- the hardware ----------------------------------------------------------------------------------------
    def free(self):
        """Release the DMA buffers (they are kept between calls)."""
        for isl in self.hw:
            isl.free()

    def execute_ints(self, q, island: int = 0):
        y = self.hw[island].execute_ints(q)
        self.last_timing = self.hw[island].last_timing
        return y

    def throughput_test(self, n: int = 10000, seed: int = 0):
        rng = np.random.default_rng(seed)
        isl = self.hw[0]
        q = isl.in_dtype.random(rng, (n, isl.meta["in_features"]))
        t = time.perf_counter()
        self.execute_ints(q)
        total = time.perf_counter() - t
        return {"frames": n, "seconds": total, "images_per_s": n / total, **self.last_timing}
