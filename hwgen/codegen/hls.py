"""Vitis HLS C++ generation: per-layer headers, the DATAFLOW top, the Tcl project script.

Each hardware layer's `template_params()` returns a plain dict; this module turns it into the values its
template (`templates/hls/<kind>.hpp.j2`) needs: packed weight words, threshold tables in PE-major order, C++
literals, storage pragmas. The arithmetic lives in the static headers `templates/hls/<kind>.hpp` (copied
verbatim into every project), the golden semantics in `hwgen.layers.kernels`.

Parameter contracts (keys of `template_params()`; a dtype is a dict {"bits", "signed", "bipolar"}, a
`hwgen.dtypes.DType`, or a name such as "INT4"):

kind "mvau" (matrix-vector-activation unit, = kernels.mvau):
    name          sanitized C identifier (hwgen.naming), unique in the design
    MW, MH        input features (matrix width) and output features (matrix height)
    PE, SIMD      folding: PE divides MH, SIMD divides MW
    num_vectors   input vectors per frame (1 for an MLP layer, OFM pixels for a convolution)
    binary_xnor   bool: inputs and weights BIPOLAR, XNOR + popcount (acc = 2 * popcount - MW)
    in_dtype, w_dtype, out_dtype
    acc_bits      width of a signed accumulator holding the exact dot product
    weights       int64 array (MH, MW) of element values
    has_thresholds  bool
    thresholds    int64 array (MH, T), ascending per row, or None
    out_base      int: output = out_base + count (ignored for a BIPOLAR output: the count 0/1 is the bit)
    mem_style     "auto" | "block" | "distributed" | "ultra" (weights and thresholds memories)
  Without thresholds the output is the accumulator truncated to out_dtype.bits (two's complement).
  Streams: in SIMD elements per word, MW/SIMD words per vector; out PE elements per word, MH/PE words per vector.

kind "thresholding" (= kernels.apply_thresholds):
    name, C, PE (divides C), num_vectors, in_dtype, out_dtype, thresholds (C, T), out_base, mem_style
  Streams: PE elements per word (channel f*PE+p at element p), C/PE words per vector, both sides.

kind "label_select" (top-k, = kernels.label_select):
    name, C, PE (divides C), k, in_dtype, out_dtype (unsigned, holds C-1); optional num_vectors (default 1)
  Streams: in PE elements per word, C/PE words per vector; out one index per word, k words, largest first.

kind "width_converter" (element-aligned re-packing):
    name, in_elems, out_elems, dtype, elems (elements per vector: a multiple of both), num_vectors
  `chain()` inserts these automatically between layers whose word sizes differ.

Constant memories (weights, thresholds) are emitted as `static const ap_uint/ap_int` arrays for Vitis HLS and,
under `#ifndef __SYNTHESIS__`, as plain integer arrays the kernels read directly (templates/hls/rom.j2): an
array of 10^5 ap_uint objects takes g++ minutes to compile, plain integers a second. `-DHWGEN_AP_ROM` makes
C simulation use the synthesis initialisers (tested). mem_style "ultra" falls back to BRAM: Vitis HLS binds
constant-initialised ROMs to BRAM/LUTRAM only.

A build renders a finished design (`graph.design()`, hwgen.transforms.streams): `write_graph_project()` /
`write_design()` write the static headers the nodes name (`hls_headers`), one header per node (its
`hls_template` with its `hls_context(LIB)`), `<top>.cpp` (DATAFLOW top: one `hls::stream` per design stream,
with the stream's name and FIFO depth, the same as the RTL FIFO on it; AXI4-Stream in0_V / out_V, TLAST at frame
end, ap_ctrl_none; for C simulation the same region as concurrent processes on FIFOs of those depths,
templates/hls/hwgen_csim.hpp, and the batch entry point `hwgen_csim_run`) and `hls.tcl` (Vitis HLS: csynth +
IP export). `write_project()` is the per-block API: a chain of (kind, params) pairs (the contexts above, as
TemplateBlock nodes) or layers, through the same transform and top.
"""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hwgen import packing
from hwgen.codegen.render import render, templates_dir
from hwgen.dtypes import DType, from_name, smallest_for_range
from hwgen.errors import FoldingError, HwgenError
from hwgen.layers.registry import block_templates, with_template
from hwgen.naming import IDENT

MEM_STYLES = ("auto", "block", "distributed", "ultra")
DEFAULT_DEPTH = 2
AP_INT_MAX_W = 4096  # the widest ap_uint Vitis HLS allows (UG1399: AP_INT_MAX_W <= 4096)


def dtype_of(d) -> DType:
    """A DType from a DType, a {"bits", "signed", "bipolar"} dict, or a datatype name."""
    if isinstance(d, DType):
        return d
    if isinstance(d, str):
        return from_name(d)
    if isinstance(d, dict):
        return DType(int(d["bits"]), bool(d.get("signed", False)), bool(d.get("bipolar", False)))
    raise TypeError(f"not a datatype: {d!r}")


def dtype_dict(d) -> dict:
    t = dtype_of(d)
    return {"bits": t.bits, "signed": t.signed, "bipolar": t.bipolar}


@dataclass(frozen=True)
class StreamIO:
    """Stream interface of one block, per frame."""

    in_elems: int  # elements per input word
    in_dtype: DType
    in_words: int  # input words per frame
    out_elems: int
    out_dtype: DType
    out_words: int

    @property
    def in_bits(self) -> int:
        return self.in_elems * self.in_dtype.bits

    @property
    def out_bits(self) -> int:
        return self.out_elems * self.out_dtype.bits


# ---------------------------------------------------------------------------------------------- helpers

def cbool(b) -> str:
    return "true" if b else "false"


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not IDENT.match(name):
        raise HwgenError(f"HLS layer name {name!r} is not a sanitized C identifier (use hwgen.naming.Namer)")
    return name


def _divides(what: str, a: int, b: int, name: str):
    if a < 1 or b % a:
        raise FoldingError(f"layer {name}: {what}={a} must be >= 1 and divide {b}")


def _uint_literal(v: int, bits: int) -> str:
    if bits <= 64:
        return f"0x{v:x}ULL" if v else "0"
    return f'ap_uint<{bits}>("0x{v:x}", 16)'


def _int_literal(v: int) -> str:
    v = int(v)
    if v == -(1 << 63):
        return "(-9223372036854775807LL - 1)"
    return str(v) if -(1 << 31) < v < (1 << 31) else f"{v}LL"


def _join_wrapped(items: list[str], per_line: int = 8, indent: str = "         ", macro: bool = False) -> str:
    """Comma-separated items, `per_line` a line; `macro`: lines continued with a backslash (inside #define)."""
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return ((", \\\n" if macro else ",\n") + indent).join(lines)


def pack_word_ints(values: np.ndarray, dtype: DType, elems: int) -> list[int]:
    """Flat element values -> packed words as Python ints (vectorized; hwgen.packing layout)."""
    if values.size == 0:
        return []
    b = packing.pack_bytes(values, dtype, elems)
    return [int.from_bytes(row.tobytes(), "little") for row in b]


def storage(mem_style: str) -> tuple[str, str, str]:
    """(type, impl, comment) of the BIND_STORAGE pragma of a constant weight / threshold memory."""
    if mem_style == "auto":
        return "rom_1p", "auto", ""
    if mem_style == "block":
        return "rom_1p", "bram", ""
    if mem_style == "distributed":
        return "rom_1p", "lutram", ""
    if mem_style == "ultra":
        return ("rom_1p", "bram",
                "mem_style ultra: Vitis HLS binds ROMs (constant contents) to BRAM/LUTRAM only, URAM has no "
                "initial contents; using BRAM")
    raise HwgenError(f"unknown mem_style {mem_style!r}; use one of {', '.join(MEM_STYLES)}")


def _int_array(a, name: str, what: str) -> np.ndarray:
    v = np.asarray(a)
    if v.size and not np.all(np.mod(v, 1) == 0):
        raise HwgenError(f"layer {name}: {what} must be integers")
    return v.astype(np.int64)


def _dot_range(w: np.ndarray, ind: DType) -> tuple[int, int]:
    """Smallest and largest dot product of a row of w with any input vector of type ind."""
    a, b = w * ind.min, w * ind.max
    return int(np.minimum(a, b).sum(axis=1).min(initial=0)), int(np.maximum(a, b).sum(axis=1).max(initial=0))


def _check_out_range(name: str, outd: DType, out_base: int, n_thr: int):
    if outd.bipolar:
        if n_thr != 1:
            raise HwgenError(f"layer {name}: a BIPOLAR output needs exactly one threshold per channel, got {n_thr}")
    elif out_base < outd.min or out_base + n_thr > outd.max:
        raise HwgenError(f"layer {name}: outputs {out_base}..{out_base + n_thr} do not fit {outd}")


def _uint_rom(layer: str, var: str, words: list[int], bits: int, pe: int, depth: int) -> dict:
    """templates/hls/rom.j2 description of a [pe][depth] memory of `bits`-bit unsigned words."""
    limbs = (bits + 63) // 64
    mask = (1 << 64) - 1
    if limbs == 1:
        raw = [_uint_literal(v, 64) for v in words]
    else:
        raw = ["{" + ", ".join(_uint_literal((v >> (64 * k)) & mask, 64) for k in range(limbs)) + "}"
               for v in words]
    syn = None
    if bits > 64:
        lits = [_uint_literal(v, bits) for v in words]
        syn = [_join_wrapped(lits[i * depth:(i + 1) * depth]) for i in range(pe)]
    return dict(
        var=var, macro=f"HWGEN_{layer}_{var}_INIT", ctype=f"ap_uint<{bits}>", dims=f"[{pe}][{depth}]", ndims=2,
        raw_type="unsigned long long", raw_dims=f"[{pe}][{depth}]" + (f"[{limbs}]" if limbs > 1 else ""),
        raw_ndims=2 + (limbs > 1), raw_rows=[_join_wrapped(raw[i * depth:(i + 1) * depth], macro=True)
                                             for i in range(pe)],
        syn_rows=syn, count=pe * depth, limbs=limbs,
        csim_type="unsigned long long" if limbs == 1 else f"hwgen::native::limbs<{limbs}>",
    )


def _int_rom(layer: str, var: str, rows: list[str], bits: int, pe: int, folds: int, t: int) -> dict:
    """templates/hls/rom.j2 description of a [pe][folds][t] threshold memory (rows from _thr_table)."""
    return dict(
        var=var, macro=f"HWGEN_{layer}_{var}_INIT", ctype=f"ap_int<{bits}>", dims=f"[{pe}][{folds}][{t}]", ndims=3,
        raw_type="long long", raw_dims=f"[{pe}][{folds}][{t}]", raw_ndims=3, raw_rows=rows, syn_rows=None,
        count=pe * folds * t, limbs=1, csim_type="long long",
    )


def _thr_table(thr: np.ndarray, pe: int, name: str) -> tuple[list[str], int]:
    """(C, T) thresholds -> PE rows of C/PE * T literals in [p][f][k] order, and a width holding them."""
    c, t = thr.shape
    if t and np.any(np.diff(thr, axis=1) < 0):
        raise HwgenError(f"layer {name}: thresholds must be ascending along each row")
    table = thr.reshape(c // pe, pe, t).transpose(1, 0, 2)  # [p][f][k]
    rows = []
    for p in range(pe):
        folds = ["{" + ", ".join(_int_literal(v) for v in table[p, f]) + "}" for f in range(c // pe)]
        rows.append(_join_wrapped(folds, per_line=4, macro=True))
    # width of a signed type holding every threshold (they are compared as ap_int)
    bits = smallest_for_range(min(int(thr.min()), -1), max(int(thr.max()), 0)).bits if thr.size else 2
    return rows, bits


# ---------------------------------------------------------------------------------------------- per kind

def mvau_context(p: dict) -> dict:
    name = _check_name(p["name"])
    mw, mh, pe, simd, nv = (int(p[k]) for k in ("MW", "MH", "PE", "SIMD", "num_vectors"))
    _divides("PE", pe, mh, name)
    _divides("SIMD", simd, mw, name)
    ind, wd, outd = dtype_of(p["in_dtype"]), dtype_of(p["w_dtype"]), dtype_of(p["out_dtype"])
    xnor = bool(p["binary_xnor"])
    if xnor and not (ind.bipolar and wd.bipolar):
        raise HwgenError(f"layer {name}: binary_xnor needs BIPOLAR inputs and weights, got {ind} and {wd}")
    w = _int_array(p["weights"], name, "weights")
    if w.shape != (mh, mw):
        raise HwgenError(f"layer {name}: weights have shape {w.shape}, expected (MH, MW) = {(mh, mw)}")
    if not wd.allowed(w):
        raise HwgenError(f"layer {name}: weights in [{w.min()}, {w.max()}] do not fit {wd}")
    lo, hi = _dot_range(w, ind)
    spec = p.get("spec")  # the kind's derived quantities (hwgen.layers.mvau.MvauSpec), when it gives them
    acc_bits = int(spec["ACC"] if spec else p["acc_bits"])
    need = smallest_for_range(min(lo, -1), max(hi, 0)).bits
    if acc_bits < need:
        raise HwgenError(f"layer {name}: acc_bits={acc_bits} cannot hold dot products in [{lo}, {hi}] "
                         f"(needs {need} signed bits)")
    folds, tiles = mh // pe, mw // simd
    # weights[p][f*tiles + t] = W[f*pe + p, t*simd : (t+1)*simd]
    wt = w.reshape(folds, pe, tiles, simd).transpose(1, 0, 2, 3)
    try:
        words = pack_word_ints(wt, wd, simd)
    except ValueError as e:
        raise HwgenError(f"layer {name}: weights: {e}") from None
    wbits = simd * wd.bits
    for what, bits in (("input", simd * ind.bits), ("weight", wbits), ("output", pe * outd.bits)):
        if bits > AP_INT_MAX_W:
            raise FoldingError(f"layer {name}: PE={pe} SIMD={simd} makes {bits}-bit {what} words; Vitis HLS limits "
                               f"ap_uint to {AP_INT_MAX_W} bits (AP_INT_MAX_W): use a smaller SIMD or PE")
    depth = folds * tiles
    weights_rom = _uint_rom(name, "weights", words, wbits, pe, depth)
    has_thr = bool(p["has_thresholds"]) and p.get("thresholds") is not None
    if has_thr:
        thr = _int_array(p["thresholds"], name, "thresholds")
        if thr.ndim != 2 or thr.shape[0] != mh or thr.shape[1] < 1:
            raise HwgenError(f"layer {name}: thresholds have shape {thr.shape}, expected (MH, T) = ({mh}, T>=1)")
        _check_out_range(name, outd, int(p["out_base"]), thr.shape[1])
        thr_rows, tb = _thr_table(thr, pe, name)
        n_thr = thr.shape[1]
        thr_bits = spec["TB"] if spec else max(acc_bits, tb)
        thresholds_rom = _int_rom(name, "thresholds", thr_rows, thr_bits, pe, mh // pe, n_thr)
    else:
        thresholds_rom = None
        if outd.bipolar:
            raise HwgenError(f"layer {name}: a BIPOLAR output needs one threshold per row")
        n_thr, thr_bits = 0, 2
    st, si, sc = storage(p["mem_style"])
    return dict(
        name=name, MW=mw, MH=mh, PE=pe, SIMD=simd, T=n_thr, num_vectors=nv, binary_xnor=xnor,
        has_thresholds=has_thr, out_base=int(p["out_base"]), hw_out_base=0 if outd.bipolar else int(p["out_base"]),
        in_dtype_name=ind.name, w_dtype_name=wd.name, out_dtype_name=outd.name, mem_style=p["mem_style"],
        in_bits=ind.bits, in_signed=cbool(ind.signed), in_bipolar=cbool(ind.bipolar),
        w_bits=wd.bits, w_signed=cbool(wd.signed), w_bipolar=cbool(wd.bipolar),
        out_bits=outd.bits, acc_bits=acc_bits, thr_bits=thr_bits,
        in_width=simd * ind.bits, out_width=pe * outd.bits, w_word_bits=wbits, w_depth=depth,
        tiles=tiles, folds=folds, weights_rom=weights_rom, thresholds_rom=thresholds_rom,
        storage_type=st, storage_impl=si, storage_comment=sc,
    )


def thresholding_context(p: dict) -> dict:
    name = _check_name(p["name"])
    c, pe, nv = int(p["C"]), int(p["PE"]), int(p["num_vectors"])
    _divides("PE", pe, c, name)
    ind, outd = dtype_of(p["in_dtype"]), dtype_of(p["out_dtype"])
    thr = _int_array(p["thresholds"], name, "thresholds")
    if thr.ndim != 2 or thr.shape[0] != c or thr.shape[1] < 1:
        raise HwgenError(f"layer {name}: thresholds have shape {thr.shape}, expected (C, T) = ({c}, T>=1)")
    _check_out_range(name, outd, int(p["out_base"]), thr.shape[1])
    thr_rows, tb = _thr_table(thr, pe, name)
    spec = p.get("spec")  # the kind's ThresholdingSpec, when it gives it
    thr_bits = spec["TB"] if spec else max(tb, ind.bits + 1)
    st, si, sc = storage(p["mem_style"])
    return dict(
        name=name, C=c, PE=pe, T=thr.shape[1], num_vectors=nv, out_base=int(p["out_base"]),
        hw_out_base=0 if outd.bipolar else int(p["out_base"]),
        in_dtype_name=ind.name, out_dtype_name=outd.name, mem_style=p["mem_style"],
        in_bits=ind.bits, in_signed=cbool(ind.signed), in_bipolar=cbool(ind.bipolar), out_bits=outd.bits,
        thr_bits=thr_bits, folds=c // pe, thresholds_rom=_int_rom(name, "thresholds", thr_rows, thr_bits, pe, c // pe, thr.shape[1]),
        in_width=pe * ind.bits, out_width=pe * outd.bits,
        storage_type=st, storage_impl=si, storage_comment=sc,
    )


def label_select_context(p: dict) -> dict:
    name = _check_name(p["name"])
    c, pe, k = int(p["C"]), int(p["PE"]), int(p["k"])
    _divides("PE", pe, c, name)
    if not 1 <= k <= c:
        raise HwgenError(f"layer {name}: k={k} must be in 1..C={c}")
    ind, outd = dtype_of(p["in_dtype"]), dtype_of(p["out_dtype"])
    if outd.signed or outd.bipolar or outd.max < c - 1:
        raise HwgenError(f"layer {name}: index type {outd} cannot hold indices 0..{c - 1}")
    return dict(
        name=name, C=c, PE=pe, k=k, num_vectors=int(p.get("num_vectors", 1)),
        in_dtype_name=ind.name, out_dtype_name=outd.name,
        in_bits=ind.bits, in_signed=cbool(ind.signed), in_bipolar=cbool(ind.bipolar), out_bits=outd.bits,
        in_width=pe * ind.bits, out_width=outd.bits,
    )


def width_converter_context(p: dict) -> dict:
    name = _check_name(p["name"])
    ie, oe, n = int(p["in_elems"]), int(p["out_elems"]), int(p["elems"])
    if ie < 1 or oe < 1 or n % ie or n % oe:
        raise FoldingError(f"layer {name}: {n} elements per vector do not fill words of {ie} and of {oe}")
    d = dtype_of(p["dtype"])
    return dict(
        name=name, in_elems=ie, out_elems=oe, elems=n, num_vectors=int(p["num_vectors"]), dtype_name=d.name,
        bits=d.bits, in_width=ie * d.bits, out_width=oe * d.bits,
    )


def block_kind(kind: str):
    """The layer kind that renders hls/<kind>.hpp.j2 as a standalone block (its per-block API: block_io,
    hls_block_context), for the (template name, params) pairs of the per-block API below."""
    cls = with_template(f"hls/{kind}.hpp.j2", "hls_block_context") if isinstance(kind, str) else None
    if cls is None or cls.block_io is None:
        raise HwgenError(f"no HLS template for layer kind {kind!r}; known: "
                         f"{', '.join(block_templates('hls/', '.hpp.j2', 'hls_block_context'))}")
    return cls


def stream_io(kind: str, p: dict) -> StreamIO:
    """Stream interface (elements per word, datatypes, words per frame) of a block: the kind's."""
    ie, idt, iw, oe, odt, ow = block_kind(kind).block_io(p)
    return StreamIO(ie, dtype_of(idt), iw, oe, dtype_of(odt), ow)


def render_layer(kind: str, p: dict) -> str:
    """C++ header of one layer: its constant memories and a `static void <name>(in0, out0)` process."""
    return render(f"hls/{kind}.hpp.j2", **block_kind(kind).hls_block_context(LIB, p))


# ---------------------------------------------------------------------------------------------- design

class TemplateBlock:
    """A (template kind, params) pair as a graph node, for the per-block API (`write_project` with pairs: unit
    tests, benchmarks). Graph nodes (hwgen.layers kinds) bring their own template and context instead."""

    n_inputs = n_outputs = 1
    template_dirs: tuple = ()

    def __init__(self, kind: str, params: dict):
        self.cls = block_kind(kind)
        self.kind = kind
        self.params = dict(params)
        self.name = _check_name(self.params["name"])
        self.op = kind
        self.hls_template = f"hls/{kind}.hpp.j2"
        self.hls_headers = (f"{kind}.hpp",)
        self.io = stream_io(kind, self.params)
        self.in_dtype, self.out_dtype = self.io.in_dtype, self.io.out_dtype
        self.in_features = self.io.in_words * self.io.in_elems

    def in_elems_per_word(self):
        return self.io.in_elems

    def out_elems_per_word(self):
        return self.io.out_elems

    def in_words_per_frame(self):
        return self.io.in_words

    def out_words_per_frame(self):
        return self.io.out_words

    def fifo_depth(self, port=0):
        return DEFAULT_DEPTH

    # the stream interface hwgen.transforms.streams reads (as hwgen.layers.base.HwLayer has it)
    def in_port(self, port: int = 0):
        return self.in_dtype, self.io.in_elems, self.io.in_words * self.io.in_elems

    def out_port(self, port: int = 0):
        return self.out_dtype, self.io.out_elems, self.io.out_words * self.io.out_elems

    def hls_context(self, lib):
        return self.cls.hls_block_context(lib, self.params)


class ChainGraph:
    """The least a graph needs for hwgen.transforms.streams.finish: nodes in a chain, measured depths."""

    def __init__(self, nodes, fifo_depths=None):
        from hwgen.graph import chain_edges

        self.layers = list(nodes)
        self.edges = chain_edges(self.layers)
        self.fifo_depths = dict(fifo_depths or {})


def _as_node(item):
    if isinstance(item, tuple):
        return TemplateBlock(item[0], item[1])
    if not hasattr(item, "hls_context"):
        raise HwgenError(f"{item!r} is neither a (kind, params) pair nor a hardware layer")
    return item


def template_kind(node) -> str:
    """The template's short name ("mvau", "width_converter", ...) of a node."""
    return Path(node.hls_template).name.split(".")[0]


def chain(layers) -> list[tuple[str, dict]]:
    """The blocks of a chain of (kind, params) pairs / layers after the graph transform: width converters
    inserted where one block's word holds a different number of elements than the next one's (the rule of
    hwgen.transforms.streams, shared with the RTL). Returns (template kind, HLS context) pairs."""
    from hwgen.transforms.streams import finish

    d = finish(ChainGraph([_as_node(x) for x in layers]))
    return [(template_kind(n), n.hls_context(LIB)) for n in d.nodes]


def render_node(node) -> str:
    """C++ header of one graph node: its constant memories and `static void <name>(in streams, out streams)`."""
    return render(node.hls_template, extra_dirs=node.template_dirs, **node.hls_context(LIB))


def design_processes(design, frames_arg: str = "") -> tuple[list[dict], list[dict]]:
    """(streams, nodes) of a finished design as the HLS tops render them: each stream's name, width, FIFO depth,
    words per frame and producer -> consumer (in0_V / out_V at the top's ports); each node's header and its call
    (`frames_arg` appended to its stream arguments: the DMA top's frames per invocation)."""
    streams = [dict(name=_check_name(s.name), bits=s.bits, depth=max(1, int(s.depth)), words=s.words_per_frame,
                    src=s.src or "in0_V", dst=s.dst or "out_V") for s in design.streams]
    nodes = []
    for n in design.nodes:
        args = [s.name for s in design.inputs_of(n.name)] + [s.name for s in design.outputs_of(n.name)]
        nodes.append(dict(name=n.name, header=f"{n.name}.hpp", args=args,
                          call=f"{n.name}({', '.join(args + ([frames_arg] if frames_arg else []))})"))
    return streams, nodes


def render_design_top(top_name: str, design, csim_entry: str = "hwgen_csim_run") -> str:
    """The DATAFLOW top: one `hls::stream` per design stream, with its name and FIFO depth (the same as the RTL
    FIFO on that stream), one process call per node, AXI4-Stream adapters on in0_V / out_V; for C simulation the
    same region as concurrent processes on FIFOs of those depths (templates/hls/hwgen_csim.hpp)."""
    _check_name(top_name)
    _check_name(csim_entry)
    if not design.nodes:
        raise HwgenError("an HLS design needs at least one layer")
    check_word_widths(design)
    streams, nodes = design_processes(design)
    i, o = design.input, design.output
    in_bytes, out_bytes = packing.padded_bytes(i.bits), packing.padded_bytes(o.bits)
    procs = ([dict(name="in0_V", call=f"hwgen::axis_to_stream<{i.bits}, {in_bytes * 8}>(in0_V, {i.name}, "
                                      f"{i.words_per_frame})")]
             + [dict(name=n["name"], call=n["call"]) for n in nodes]
             + [dict(name="out_V", call=f"hwgen::stream_to_axis<{o.bits}, {out_bytes * 8}>({o.name}, out_V, "
                                       f"{o.words_per_frame})")])
    return render(
        "hls/top.cpp.j2", top_name=top_name, csim_entry=csim_entry, nodes=nodes, streams=streams, procs=procs,
        in_stream=i.name, in_bits=i.bits, out_stream=o.name, out_bits=o.bits,
        in_pad_bits=in_bytes * 8, out_pad_bits=out_bytes * 8, in_words=i.words_per_frame,
        out_words=o.words_per_frame, in_bytes=in_bytes, out_bytes=out_bytes,
    )


def check_word_widths(design) -> None:
    """Every stream word within AP_INT_MAX_W (4096 bits, the most Vitis HLS allows an ap_uint): the folding
    search never makes a wider one (hwgen.fold.units.MAX_STREAM_BITS); a folding file or a hand-made graph can."""
    for s in design.streams:
        if s.bits > AP_INT_MAX_W:
            raise FoldingError(f"stream {s.name} ({s.src or 'in0_V'} -> {s.dst or 'out_V'}) has {s.bits}-bit words; "
                               f"Vitis HLS limits ap_uint to {AP_INT_MAX_W} bits (AP_INT_MAX_W): lower the PE / SIMD "
                               "of the layers on it")


def render_tcl(top_name: str, part: str, clock_period_ns: float, sources, headers=(), testbench=(),
               csim: bool = False, project_name: str | None = None, solution_name: str = "sol1",
               module_prefix: str = "", ipname: str = "") -> str:
    """Vitis HLS Tcl script: open_project, set_top, add_files, open_solution, set_part, create_clock,
    [csim_design], csynth_design, export_design -format ip_catalog. module_prefix / ipname: a prefix on every
    generated RTL module and the IP's name (several exported tops in one Vivado project stay apart)."""
    _check_name(top_name)
    for x in (module_prefix, ipname):
        if x and not IDENT.match(x):
            raise HwgenError(f"HLS name {x!r} is not a sanitized identifier")
    for f in list(sources) + list(headers) + list(testbench):
        if not IDENT.match(Path(f).stem) or Path(f).name != f:
            raise HwgenError(f"HLS file name {f!r} is not a plain sanitized file name")
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", str(part)):
        raise HwgenError(f"FPGA part {part!r} has unexpected characters")
    clk = float(clock_period_ns)
    if not clk > 0:
        raise HwgenError(f"clock period {clock_period_ns!r} ns must be positive")
    return render(
        "hls/hls.tcl.j2", top_name=top_name, tcl_name="hls.tcl", project_name=project_name or f"{top_name}_hls",
        solution_name=solution_name, sources=list(sources), headers=list(headers), testbench=list(testbench),
        part=part, clock_period_ns=f"{clk:g}", csim=bool(csim), module_prefix=module_prefix, ipname=ipname,
    )


@dataclass
class HlsProject:
    dir: Path
    top_name: str
    layers: list  # (template kind, HLS context) per node, in dataflow order (width converters included)
    io: StreamIO  # in: the accelerator's input stream, out: its output stream (per frame)
    files: list[Path] = field(default_factory=list)
    streams: list = field(default_factory=list)  # hwgen.transforms.streams.Stream, with names and depths

    @property
    def top_cpp(self) -> Path:
        return self.dir / f"{self.top_name}.cpp"


def write_design(out_dir, design, top_name: str = "hwgen_top", part: str = "xczu3eg-sbva484-1-e",
                 clock_period_ns: float = 10.0, csim_entry: str = "hwgen_csim_run") -> HlsProject:
    """Write a complete Vitis HLS project for a finished design (hwgen.transforms.streams.Design) into out_dir:
    static headers, one header per node, `<top>.cpp`, `hls.tcl`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    headers = ["hwgen_common.hpp", "hwgen_csim.hpp", "hwgen_native.hpp"] + [h for n in design.nodes for h in n.hls_headers]
    for h in dict.fromkeys(headers):
        src = next((Path(d) / "hls" / h for d in _dirs_of(design) if (Path(d) / "hls" / h).is_file()), None)
        if src is None:
            raise HwgenError(f"static HLS header {h!r} not found in {', '.join(map(str, _dirs_of(design)))}")
        shutil.copyfile(src, out / h)
        files.append(out / h)
    contexts = []
    for n in design.nodes:
        ctx = n.hls_context(LIB)
        contexts.append((template_kind(n), ctx))
        f = out / f"{n.name}.hpp"
        f.write_text(render(n.hls_template, extra_dirs=n.template_dirs, **ctx))
        files.append(f)
    top = out / f"{top_name}.cpp"
    top.write_text(render_design_top(top_name, design, csim_entry))
    files.append(top)
    tcl = out / "hls.tcl"
    tcl.write_text(render_tcl(top_name, part, clock_period_ns, [top.name], [f.name for f in files
                                                                             if f.suffix == ".hpp"]))
    files.append(tcl)
    i, o = design.input, design.output
    io = StreamIO(i.elems_per_word, i.dtype, i.words_per_frame, o.elems_per_word, o.dtype, o.words_per_frame)
    return HlsProject(out, top_name, contexts, io, files, list(design.streams))


def _dirs_of(design) -> list:
    return list(dict.fromkeys([str(d) for n in design.nodes for d in n.template_dirs] + [str(templates_dir())]))


def write_graph_project(out_dir, graph, top_name: str = "hwgen_top", part: str = "xczu3eg-sbva484-1-e",
                        clock_period_ns: float = 10.0) -> HlsProject:
    """OUT/hls of a hardware graph: its finished design (graph.design())."""
    return write_design(out_dir, graph.design(), top_name, part, clock_period_ns)


def write_project(out_dir, top_name: str, layers, part: str = "xczu3eg-sbva484-1-e",
                  clock_period_ns: float = 10.0, depths=None, csim_entry: str = "hwgen_csim_run") -> HlsProject:
    """A Vitis HLS project for a chain of (kind, params) pairs or layers (the per-block API): the same graph
    transform and top as a build. depths: one FIFO depth per stream after the transform (width converters'
    streams included), default 2 words each."""
    from hwgen.transforms.streams import finish

    nodes = [_as_node(x) for x in layers]
    d = finish(ChainGraph(nodes))
    if depths is not None:
        if len(depths) != len(d.streams):
            raise HwgenError(f"{len(depths)} FIFO depths given for {len(d.streams)} streams "
                             f"({', '.join(s.name for s in d.streams)})")
        d = finish(ChainGraph(nodes, {s.name: int(k) for s, k in zip(d.streams, depths)}))
    return write_design(out_dir, d, top_name, part, clock_period_ns, csim_entry)


LIB = sys.modules[__name__]  # handed to the kinds' hls_context(): the helpers above, without an import upward
