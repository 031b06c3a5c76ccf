"""Base class of hardware layers.

A layer owns everything about one kind of block: its integer semantics (`execute`), its stream interface
(folded shapes, element datatypes, stream widths), its cost (`cycles`) for a folding, and the plain parameter
dict its HLS and RTL templates render from (`template_params`). Templates hold no arithmetic a layer did not
decide; layers hold no C++ or Verilog text.
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


class HwLayer:
    """One hardware block. Subclasses set `op` and implement the abstract methods."""

    op: ClassVar[str] = "HwLayer"
    # arrays saved to params/<name>.npz (not to JSON)
    array_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, in_dtype: DType, out_dtype: DType, num_vectors: int = 1,
                 onnx_nodes: list[str] | None = None, pe: int = 1, simd: int = 1):
        self.name = name
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

    def in_elems_per_word(self) -> int:
        return self.simd

    def out_elems_per_word(self) -> int:
        return self.pe

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

    # --- code generation ------------------------------------------------------------------------------------
    def template_params(self) -> dict:
        """The plain dict the HLS and RTL templates of this layer render from."""
        raise NotImplementedError

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
