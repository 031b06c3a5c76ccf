"""Hardware graphs made by hand from layer kinds (no ONNX model): for testing one kind, or a few, through every
backend before (or without) the streamliner. The head passes the integer input through; the tail returns the
last layer's integers.

    g = handmade_graph([pad, swg, mvau], input_shape=[1, 6, 7, 4])         # a chain
    g = handmade_graph([dup, add], edges=[...], input_shape=[1, 6, 7, 4])  # any DAG (hwgen.graph.Edge)
    write_build(g, out)   # then hwgen.runtime backends: reference, cpu, csim, rtlsim
"""

from __future__ import annotations

import numpy as np

from hwgen.cpu_partition import CpuPartition
from hwgen.graph import HwGraph


def handmade_graph(layers, edges=None, input_shape=None, board: str = "pynq-z2", clock_mhz: float = 100.0) -> HwGraph:
    first = layers[0]
    shape = list(input_shape or first.in_shape)
    head = CpuPartition("head", [], {}, "x", "x", 13, reason="none: the input is the integer stream")
    tail = CpuPartition("tail", [], {}, "y", "y", 13, reason="none: the output is the integer stream")
    return HwGraph(head, list(layers), tail, "x", shape, "y", model_path="", edges=edges,
                   meta={"board": board, "clock_mhz": clock_mhz, "handmade": True})


def random_input(g: HwGraph, n: int, seed: int = 0) -> np.ndarray:
    """n random frames over the first layer's input type, shaped as the graph's input, as float32."""
    dt = g.input_node().in_dtype
    rng = np.random.default_rng(seed)
    if dt.bipolar:
        x = rng.choice([-1, 1], size=(n, *g.input_shape[1:]))
    else:
        x = rng.integers(dt.min, dt.max + 1, size=(n, *g.input_shape[1:]))
    return x.astype(np.float32)
