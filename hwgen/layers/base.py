"""Base class of hardware layer kinds.

A kind (a subclass registered with hwgen.layers.registry.register) owns everything about one kind of block:
- its integer semantics (`execute`, numpy: the golden model) and per-channel output range (`out_range`);
- its stream interface (NHWC shapes, element datatypes, elements per word, words per frame), its folding;
- its cost: `cycles()` and `resources()` for a folding;
- its HLS template (`hls_template`, `hls_headers`) and context (`hls_context(lib)`), its RTL template
  (`rtl_template`) and context (`rtl_context(lib, module)`); `lib` is the emitter's helper module
  (hwgen.codegen.hls / hwgen.codegen.rtl), handed in so that layers never import the emitters;
- its CPU kernel (`cpu_kernel(sw)`, sw = sw_fallback.backend) and its FIFO rule (`fifo_depth`: words of the
  FIFO on each of its input streams that never throttles a rate-matched producer).
Emitters, the CPU backend, the cost and the reports iterate over the graph and ask each node; nothing outside a
kind dispatches on the kind. Templates hold no arithmetic a kind did not decide; kinds hold no C++ or Verilog text.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from hwgen.dtypes import DType, from_name
from hwgen.errors import FoldingError


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def dtype_dict(dt: DType) -> dict:
    return {"bits": dt.bits, "signed": dt.signed, "bipolar": dt.bipolar, "name": dt.name}


def thresholded_range(n: int, n_thr: int, out_base: int, out_dtype) -> tuple[np.ndarray, np.ndarray]:
    """Output bounds of a multi-threshold activation: out_base + 0 .. out_base + T, or -1 / +1 when bipolar."""
    if out_dtype.bipolar:
        return np.full(n, -1, dtype=np.int64), np.full(n, 1, dtype=np.int64)
    return np.full(n, out_base, dtype=np.int64), np.full(n, out_base + n_thr, dtype=np.int64)


class HwLayer:
    """One hardware block. Subclasses set `op` and implement the abstract methods."""

    op: ClassVar[str] = "HwLayer"
    # arrays saved to params/<name>.npz (not to JSON)
    array_fields: ClassVar[tuple[str, ...]] = ()
    # ports: streams in and out (a Duplicate has two outputs, an AddStreams two inputs)
    n_inputs: ClassVar[int] = 1
    n_outputs: ClassVar[int] = 1
    # True for kinds the graph transforms place (width converters): not folded, not in FOLD.json
    inserted: ClassVar[bool] = False
    # True for blocks that only move data (a sliding-window generator, a pad): the folding search gives them the
    # word their consumer reads (hwgen.fold.units) instead of folding them on their own
    follows_consumer: ClassVar[bool] = False
    # templates: paths relative to templates/ or to one of template_dirs (a kind defined outside hwgen)
    template_dirs: ClassVar[tuple] = ()
    hls_template: ClassVar[str | None] = None  # renders `static void <name>(in streams..., out streams...)`
    hls_headers: ClassVar[tuple[str, ...]] = ()  # static headers (templates/hls/) copied into the project
    hls_frames: ClassVar[bool] = False  # the HLS process takes `const unsigned frames = 1` (hwgen.codegen.dma)
    rtl_template: ClassVar[str | None] = None  # renders `module <module>` with in0_V_* / out_V_* AXI4-Stream ports

    def __init__(self, name: str, in_dtype: DType, out_dtype: DType, num_vectors: int = 1,
                 onnx_nodes: list[str] | None = None, pe: int = 1, simd: int = 1, spatial=None):
        self.name = name
        # (H, W) of the pixels streamed per frame when the block is a conv's matrix part (num_vectors = H*W)
        self._spatial = None if spatial is None else tuple(int(v) for v in spatial)
        self.in_dtype = in_dtype
        self.out_dtype = out_dtype
        self.num_vectors = int(num_vectors)
        self.onnx_nodes = list(onnx_nodes or [])
        self.pe = int(pe)
        self.simd = int(simd)

    # --- semantics -------------------------------------------------------------------------------------------
    def execute(self, x: np.ndarray) -> np.ndarray:
        """Integer semantics on a batch: x has shape (N, *in_shape[1:]) and holds element values."""
        raise NotImplementedError

    # --- interface -----------------------------------------------------------------------------------------
    @property
    def in_features(self) -> int:
        raise NotImplementedError

    @property
    def out_features(self) -> int:
        raise NotImplementedError

    @property
    def in_shape(self) -> list[int]:
        """Per-frame input tensor shape (batch 1), channels last."""
        return [1, self.in_features] if self.num_vectors == 1 else [1, self.num_vectors, self.in_features]

    @property
    def out_shape(self) -> list[int]:
        return [1, self.out_features] if self.num_vectors == 1 else [1, self.num_vectors, self.out_features]

    @property
    def spatial(self) -> tuple[int, int]:
        """(H, W) of the pixels the block streams per frame (an MLP layer: 1 x 1)."""
        return getattr(self, "_spatial", None) or (1, self.num_vectors)

    @property
    def in_nhwc(self) -> list[int]:
        return [1, *self.spatial, self.in_features]

    @property
    def out_nhwc(self) -> list[int]:
        return [1, *self.spatial, self.out_features]

    def in_elems_per_word(self) -> int:
        return self.simd

    def out_elems_per_word(self) -> int:
        return self.pe

    def producer_word(self, port: int = 0) -> int:
        """Elements per word a data-moving producer (a sliding-window generator, a pad: hwgen.fold.units) gives
        this block on input `port`: its own input word, unless its input order depends on its folding."""
        return self.in_elems_per_word()

    # --- ports (kinds with several inputs or outputs override these) ----------------------------------------
    def in_port(self, port: int = 0) -> tuple[DType, int, int]:
        """(element datatype, elements per word, elements per frame) of input stream `port`."""
        return self.in_dtype, self.in_elems_per_word(), self.in_words_per_frame() * self.in_elems_per_word()

    def out_port(self, port: int = 0) -> tuple[DType, int, int]:
        """(element datatype, elements per word, elements per frame) of output stream `port`."""
        return self.out_dtype, self.out_elems_per_word(), self.out_words_per_frame() * self.out_elems_per_word()

    def in_port_shape(self, port: int = 0) -> list[int]:
        """Per-frame shape (batch 1) `execute` expects on input `port` (the graph reshapes to it)."""
        return self.in_shape

    def in_stream_bits(self) -> int:
        return self.in_elems_per_word() * self.in_dtype.bits

    def out_stream_bits(self) -> int:
        return self.out_elems_per_word() * self.out_dtype.bits

    def in_words_per_frame(self) -> int:
        return self.num_vectors * self.in_features // self.in_elems_per_word()

    def out_words_per_frame(self) -> int:
        return self.num_vectors * self.out_features // self.out_elems_per_word()

    # --- folding and cost ----------------------------------------------------------------------------------
    def legal_pe(self) -> list[int]:
        return [1]

    def legal_simd(self) -> list[int]:
        return [1]

    def set_folding(self, pe: int | None = None, simd: int | None = None) -> None:
        pe = self.pe if pe is None else int(pe)
        simd = self.simd if simd is None else int(simd)
        if pe not in self.legal_pe():
            raise FoldingError(f"layer {self.name} ({self.op}): PE={pe} is not legal; legal values: {self.legal_pe()}")
        if simd not in self.legal_simd():
            raise FoldingError(
                f"layer {self.name} ({self.op}): SIMD={simd} is not legal; legal values: {self.legal_simd()}"
            )
        self.pe, self.simd = pe, simd

    def cycles(self, pe: int | None = None, simd: int | None = None) -> int:
        """Steady-state clock cycles per frame for a folding (the layer's current one by default)."""
        raise NotImplementedError

    def resources(self, pe: int | None = None, simd: int | None = None, mem_style: str | None = None) -> dict:
        """Estimated {"luts", "ffs", "bram18", "uram", "dsps", "lutram"} of the block for a folding."""
        raise NotImplementedError

    def memories(self, pe=None, simd=None, mem_style=None) -> dict:
        """Constant memories of the block: {name: {"depth", "width", "live_width", "mem_style"}}."""
        return {}

    def out_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-output-channel bounds of the values this block can produce (the CPU backend sizes arrays by it)."""
        n = self.out_features
        return np.full(n, self.out_dtype.min, dtype=np.int64), np.full(n, self.out_dtype.max, dtype=np.int64)

    def fifo_depth(self, port: int = 0) -> int:
        """Words of the FIFO on input stream `port` (default rule; `hwgen build --size-fifos` measures instead)."""
        return 2

    def out_fifo_depth(self, port: int, consumer, consumer_port: int = 0) -> int:
        """Words (this block's) of the FIFO right after it on output stream `port` (before any width converter:
        a converter to narrower words runs at the consumer's rate and cannot catch up) that its bursts need so
        that a slower `consumer` never starves (0: no demand; the stream gets the larger of this and its
        consumer's `fifo_depth`). A sliding-window generator is silent while it refills at a frame start."""
        return 0

    # channel pruning (hwgen.transforms.prune_channels) asks these three
    def is_matrix(self) -> bool:
        """A matrix unit: output channel r is weight row r (with its thresholds), input channel c of an NHWC
        pixel or window is the weight columns p * C + c."""
        return False

    def moves_channels(self) -> bool:
        """Channel c of the input leaves as channel c of the output, value for value (a pad, a window-order
        sliding window, a max pool): a channel removed before it is removed from it too (its `channels`)."""
        return False

    def keeps_level(self, v: int) -> bool:
        """A channel carrying the constant level v into this mover still carries only v out of it."""
        return True

    def words_in_flight(self) -> int:
        """Input words (of port 0) the block can hold between taking them and sending the output they produce: its
        buffering, a bound. hwgen.transforms.streams sums it (as a fraction of a frame) along every branch of a
        fork / join so that the FIFO on a skip path holds what the longest branch holds and never stalls it.
        Default: one input vector plus 4 words (input and result registers, a 2-word output queue), a bound for
        blocks that work vector by vector (an MVAU reads a whole vector before its first output). A kind streaming
        pixels with num_vectors = 1 gets a whole frame: safe (never too small) but a large skip FIFO, so kinds
        override it with their real buffering (a sliding window: (K-1) lines + K pixels; a pad: a few words)."""
        return self.in_words_per_frame() // max(1, self.num_vectors) + 4

    # --- code generation ------------------------------------------------------------------------------------
    def template_params(self) -> dict:
        """The plain dict the HLS and RTL templates of this layer render from."""
        raise NotImplementedError

    def hls_context(self, lib) -> dict:
        """Context of `hls_template`; lib = hwgen.codegen.hls (literals, ROM tables, storage pragmas)."""
        raise NotImplementedError(f"kind {self.op} has no HLS template")

    def rtl_context(self, lib, module: str) -> tuple[dict, dict]:
        """(context of `rtl_template` for Verilog module `module`, {ROM file name: lines}); lib =
        hwgen.codegen.rtl."""
        raise NotImplementedError(f"kind {self.op} has no RTL template")

    # --- the kind as a standalone block, from its templates' parameters: the emitters' per-block API
    # (hwgen.codegen.hls.render_layer / TemplateBlock, hwgen.codegen.rtl.prepare: unit tests and benchmarks name
    # a block by its template). A kind offers it by defining these three; None: it has no per-block API.
    # classmethod (params) -> (in elems/word, in dtype, in words/frame, out elems/word, out dtype, out words/frame)
    block_io = None
    hls_block_context = None  # classmethod (lib, params of hls_template) -> its context
    rtl_block_context = None  # classmethod (lib, params of rtl_template) -> (its context, {ROM file: lines})

    def cpu_kernel(self, sw):
        """The CPU backend's kernel of this block; sw = sw_fallback.backend. An object with `in_fmt` (the numpy
        integer type it reads), `run(x, out_fmt)` and `out_range`. Default: the numpy `execute()`."""
        return sw.NumpyKernel(self)

    # --- persistence ------------------------------------------------------------------------------------------
    def attrs(self) -> dict:
        """JSON-able attributes beyond the common ones (subclasses extend)."""
        return {}

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "op": self.op,
            "onnx_nodes": self.onnx_nodes,
            "in_dtype": self.in_dtype.name,
            "out_dtype": self.out_dtype.name,
            "num_vectors": self.num_vectors,
            "pe": self.pe,
            "simd": self.simd,
            "in_shape": self.in_shape,
            "out_shape": self.out_shape,
            "in_nhwc": self.in_nhwc,
            "out_nhwc": self.out_nhwc,
            "spatial": list(self._spatial) if self._spatial else None,
            "attrs": self.attrs(),
        }

    def arrays(self) -> dict:
        return {k: getattr(self, k) for k in self.array_fields if getattr(self, k) is not None}

    @classmethod
    def from_json(cls, d: dict, arrays: dict) -> "HwLayer":
        raise NotImplementedError

    @staticmethod
    def _common(d: dict) -> dict:
        return dict(
            name=d["name"],
            in_dtype=from_name(d["in_dtype"]),
            out_dtype=from_name(d["out_dtype"]),
            num_vectors=d.get("num_vectors", 1),
            onnx_nodes=d.get("onnx_nodes", []),
            pe=d.get("pe", 1),
            simd=d.get("simd", 1),
            spatial=d.get("spatial"),
        )


class ChannelLayer(HwLayer):
    """A layer folded only by PE over `channels` (no SIMD): PE channels of one pixel per word,
    num_vectors * channels / PE cycles per frame."""

    channels: int

    @property
    def in_features(self):
        return self.channels

    def in_elems_per_word(self):
        return self.pe

    def legal_pe(self):
        return divisors(self.channels)

    def cycles(self, pe=None, simd=None):
        pe = self.pe if pe is None else pe
        return self.num_vectors * self.channels // pe


class FrameLayer(HwLayer):
    """A kind streaming NHWC feature maps: (1, H, W, C) in, (1, H', W', C') out, `word_elems()` elements per word
    on both sides (its SIMD or its PE). Subclasses give `in_hw` / `out_hw` (pixels per frame) and `in_features`
    / `out_features` (elements per pixel); shapes and words per frame follow from them."""

    @property
    def in_hw(self) -> tuple[int, int]:
        raise NotImplementedError

    @property
    def out_hw(self) -> tuple[int, int]:
        raise NotImplementedError

    def word_elems(self) -> int:
        raise NotImplementedError

    @property
    def in_shape(self):
        return [1, *self.in_hw, self.in_features]

    @property
    def out_shape(self):
        return [1, *self.out_hw, self.out_features]

    @property
    def in_nhwc(self):
        return self.in_shape

    @property
    def out_nhwc(self):
        return self.out_shape

    def in_elems_per_word(self):
        return self.word_elems()

    def out_elems_per_word(self):
        return self.word_elems()

    def in_words_per_frame(self):
        return self.in_hw[0] * self.in_hw[1] * self.in_features // self.in_elems_per_word()

    def out_words_per_frame(self):
        return self.out_hw[0] * self.out_hw[1] * self.out_features // self.out_elems_per_word()
