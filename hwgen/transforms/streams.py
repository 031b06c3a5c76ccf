"""Finish the hardware graph before any emitter runs: width converters and FIFOs, one rule for every backend.

    design = finish(graph)        # = graph.design()

For every edge of the graph (producer output port -> consumer input port, or the accelerator's in0_V / out_V):
- the element datatypes and the elements per frame must agree;
- where the producer's word holds a different number of elements than the consumer's, WidthConverter nodes are
  inserted: one when one count divides the other, else two (up to the lcm, then down), since a converter
  re-packs whole words;
- every stream (graph edge, or a piece of one between converters) gets a FIFO: its depth is
  `graph.fifo_depths[name]` when measured (`hwgen build --size-fifos`), else the consumer kind's rule
  (`fifo_depth(port)`; 2 for the accelerator output).

Stream names are `<producer>__<consumer>` (`in0` / `out` for the accelerator's ports; `_o<k>` / `_i<k>` suffixes on
ports other than 0), sanitized identifiers: the HLS top declares `hls::stream` variables of these names and the
RTL top FIFO instances `<name>_fifo`, both with the stream's depth, and summary.json lists them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hwgen.dtypes import DType, from_name
from hwgen.errors import UnsupportedModelError
from hwgen.layers.width_converter import WidthConverter


@dataclass
class Stream:
    name: str
    src: str | None  # producer node (None: the accelerator input in0_V)
    src_port: int
    dst: str | None  # consumer node (None: the accelerator output out_V)
    dst_port: int
    dtype: DType
    elems_per_word: int
    words_per_frame: int
    depth: int

    @property
    def bits(self) -> int:
        return self.elems_per_word * self.dtype.bits

    def to_json(self) -> dict:
        return {"name": self.name, "src": self.src or "in0_V", "src_port": self.src_port,
                "dst": self.dst or "out_V", "dst_port": self.dst_port, "dtype": self.dtype.name,
                "elems_per_word": self.elems_per_word, "words_per_frame": self.words_per_frame, "bits": self.bits,
                "depth": self.depth}

    @classmethod
    def from_json(cls, d: dict) -> "Stream":
        return cls(d["name"], None if d["src"] == "in0_V" else d["src"], d["src_port"],
                   None if d["dst"] == "out_V" else d["dst"], d["dst_port"], from_name(d["dtype"]),
                   d["elems_per_word"], d["words_per_frame"], d["depth"])


@dataclass
class Design:
    nodes: list  # layer kinds, topological order, width converters included
    streams: list[Stream]
    by_name: dict = field(default_factory=dict)

    def __post_init__(self):
        self.by_name = {n.name: n for n in self.nodes}

    def inputs_of(self, node: str) -> list[Stream]:
        return sorted((s for s in self.streams if s.dst == node), key=lambda s: s.dst_port)

    def outputs_of(self, node: str) -> list[Stream]:
        return sorted((s for s in self.streams if s.src == node), key=lambda s: s.src_port)

    @property
    def input(self) -> Stream:
        return next(s for s in self.streams if s.src is None)

    @property
    def output(self) -> Stream:
        return next(s for s in self.streams if s.dst is None)

    def summary(self) -> list[dict]:
        """summary.json "streams": [{"name", "src", "dst", "bits", "depth"}] (and words per frame)."""
        return [{"name": s.name, "src": s.src or "in0_V", "dst": s.dst or "out_V", "bits": s.bits,
                 "depth": s.depth, "words_per_frame": s.words_per_frame} for s in self.streams]


def _end(name: str | None, port: int, side: str) -> str:
    if name is None:
        return "in0" if side == "o" else "out"
    return name if port == 0 else f"{name}_{side}{port}"


def stream_name(src: str | None, src_port: int, dst: str | None, dst_port: int) -> str:
    return f"{_end(src, src_port, 'o')}__{_end(dst, dst_port, 'i')}"


def _interface(node, side: str, port: int = 0) -> tuple[DType, int, int]:
    """(element datatype, elements per word, elements per frame) of a node's input or output stream."""
    return node.in_port(port) if side == "in" else node.out_port(port)


def converter_widths(a: int, b: int) -> list[int]:
    """Elements per word along a chain of converters from words of a to words of b."""
    if a == b:
        return [a]
    if a % b == 0 or b % a == 0:
        return [a, b]
    return [a, a * b // math.gcd(a, b), b]


def finish(graph) -> Design:
    nodes_by_name = {lay.name: lay for lay in graph.layers}
    if len(nodes_by_name) != len(graph.layers):
        raise UnsupportedModelError("two hardware layers have the same name")
    used = set(nodes_by_name)
    ins = [e for e in graph.edges if e.src is None]
    outs = [e for e in graph.edges if e.dst is None]
    if len(ins) != 1 or len(outs) != 1:
        raise UnsupportedModelError(f"the hardware graph has {len(ins)} inputs and {len(outs)} outputs; the "
                                    "accelerator has one AXI4-Stream input and one output")
    for lay in graph.layers:
        got_in = sorted(e.dst_port for e in graph.edges if e.dst == lay.name)
        got_out = sorted(e.src_port for e in graph.edges if e.src == lay.name)
        if got_in != list(range(lay.n_inputs)) or got_out != list(range(lay.n_outputs)):
            raise UnsupportedModelError(f"layer {lay.name} ({lay.op}): inputs {got_in} / outputs {got_out} "
                                        f"connected; it has {lay.n_inputs} input and {lay.n_outputs} output ports "
                                        "(a stream with two consumers needs a Duplicate node)")
    depths = dict(graph.fifo_depths or {})
    out_nodes, streams = [], []

    def add_stream(src, sp, dst, dp, dt, elems, total, consumer, producer_rule=0):
        name = stream_name(src, sp, dst, dp)
        rule = max(consumer.fifo_depth(dp) if consumer is not None else 2, producer_rule)
        streams.append(Stream(name, src, sp, dst, dp, dt, elems, total // elems, int(depths.get(name, rule))))

    for lay in graph.layers:
        for e in sorted((e for e in graph.edges if e.dst == lay.name), key=lambda e: e.dst_port):
            cdt, cel, ctot = _interface(lay, "in", e.dst_port)
            if e.src is None:
                pdt, pel, ptot = cdt, cel, ctot
            else:
                prod = nodes_by_name[e.src]
                pdt, pel, ptot = _interface(prod, "out", e.src_port)
            _check(e, pdt, ptot, cdt, ctot)
            widths = converter_widths(pel, cel)
            src, sp = e.src, e.src_port
            # a bursty producer's own demand (hwgen.layers.base.HwLayer.out_fifo_depth), on the piece after it
            rule = getattr(nodes_by_name.get(e.src), "out_fifo_depth", None)
            burst = rule(e.src_port, lay, e.dst_port) if rule is not None else 0
            base = f"dwc_{e.src or 'in0'}_{lay.name}"
            for a, b in zip(widths, widths[1:]):
                name, k = base, 1
                while name in used:
                    name, k = f"{base}_{k}", k + 1
                used.add(name)
                # a converter re-packs whole groups of lcm(a, b) elements; the consumer's channels when they tile
                channels = lay.in_features
                if ctot % channels or channels % math.lcm(a, b):
                    channels = math.lcm(a, b)
                conv = WidthConverter(name, cdt, channels, a, b, num_vectors=ctot // channels)
                add_stream(src, sp, name, 0, cdt, a, ctot, conv, burst if src == e.src else 0)
                out_nodes.append(conv)
                src, sp = name, 0
            add_stream(src, sp, lay.name, e.dst_port, cdt, cel, ctot, lay, burst if src == e.src else 0)
        out_nodes.append(lay)
    e = outs[0]
    last = nodes_by_name[e.src]
    dt, el, tot = _interface(last, "out", e.src_port)
    add_stream(e.src, e.src_port, None, 0, dt, el, tot, None)
    unknown = set(depths) - {s.name for s in streams}
    if unknown:
        raise UnsupportedModelError(f"FIFO depths given for streams that do not exist: {sorted(unknown)}; "
                                    f"streams: {[s.name for s in streams]}")
    return Design(out_nodes, streams)


def _check(e, pdt: DType, ptot: int, cdt: DType, ctot: int) -> None:
    if pdt.bits != cdt.bits or pdt.bipolar != cdt.bipolar:
        raise UnsupportedModelError(f"layers {e.src} -> {e.dst}: {pdt.name} output feeds a {cdt.name} input; the "
                                    "element types must agree")
    if ptot != ctot:
        raise UnsupportedModelError(f"layers {e.src} -> {e.dst}: {ptot} elements per frame written, {ctot} read")
