"""What the lowering walk (hwgen.transforms.walk) knows about each ONNX tensor of the data path."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hwgen.transforms.points import IntPoint


@dataclass
class AddPoint:
    """The float sum of two quantized tensors, awaiting the quantizer that becomes the AddStreams' thresholds."""

    tensor: str
    node: object  # the Add node
    a: IntPoint
    b: IntPoint


@dataclass
class Val:
    """One tensor: its integer point, the float ops since, the stream carrying it and how it is laid out."""

    point: object  # IntPoint | AccPoint | AddPoint
    src: tuple  # the stream carrying the integers: (producer layer name | None: accelerator input, port)
    shape: list  # ONNX shape (batch 1) of the tensor
    chain: list = field(default_factory=list)  # element-wise / shape nodes since `point`
    perm: np.ndarray | None = None  # stream position -> ONNX flat index (None: channels last)
    pad: tuple | None = None  # ((top, left, bottom, right), level): an ONNX Pad not yet placed in hardware
    layer: object = None  # AccPoint: the matrix layer whose thresholds the next quantizer sets
    prev: object = None  # AccPoint of an FC: the Val it reads and its node (the tail may run it instead)
    base: tuple | None = None  # perm set: (tensor, shape) of the last channels-last tensor, shape nodes since
    cpu: bool = False  # a float tensor the CPU computes (a CPU island or head; no stream)

    @property
    def is_int(self) -> bool:
        return isinstance(self.point, IntPoint) and not self.chain
