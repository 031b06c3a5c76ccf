"""Verilog emission of the RTL blocks (templates/rtl/*.v.j2) and their ROM files.

`write_block(kind, params, outdir)` renders `rtl/<kind>.v.j2` from a layer's `template_params()` dict (plus values
derived here: bit widths, padded TDATA widths, ROM layouts) and writes `<name>.v` and the `$readmemh` files the
module loads. It returns the written paths. Module name = params["name"] (already a sanitized identifier); ROM
files are `<name>_weights.mem` / `<name>_thresholds.mem`, loaded relative to the simulator's / synthesis tool's
working directory (override with the module parameters WEIGHT_FILE / THRESH_FILE). A depth-1 ROM (fully unrolled
weights, or one threshold fold) is no memory at all: it becomes a constant wire in the module and no .mem file is
written, so synthesis folds the weights into the logic (a register loaded under an enable with no initial value
cannot be folded).

Every block: clock `ap_clk`, synchronous active-low reset `ap_rst_n`, AXI4-Stream slave `in0_V_TDATA/TVALID/TREADY`,
master `out_V_TDATA/TVALID/TREADY`; TDATA widths padded to whole bytes (padding ignored on input, zero on
output); packing per hwgen.packing (element i at bits [i*w, (i+1)*w), two's complement, BIPOLAR -1/+1 as 0/1).
Every block accepts one input word per cycle when not stalled and never drops or duplicates words.
TREADY paths: mvau, thresholding, label_select and hwgen_fifo (depth >= 2) drive in0_V_TREADY from registers
only; dwc and a depth-1 "srl" hwgen_fifo pass out_V_TREADY through combinationally (put a FIFO of depth >= 2
around them where timing matters). Widths: stream_widths(kind, params) -> (in TDATA bits, out TDATA bits).

Parameter contract (keys of the params dict; dtypes are dicts {"bits", "signed", "bipolar"} or hwgen.dtypes.DType):

kind "mvau" -- matrix-vector(-activation) unit, semantics = kernels.mvau:
    name, MW, MH, PE, SIMD (PE | MH, SIMD | MW), num_vectors (vectors per frame; informational, the block runs
    any number of vectors), binary_xnor (bool: in and w BIPOLAR, XNOR-popcount), in_dtype, w_dtype, out_dtype,
    acc_bits (signed accumulator width, enough for the exact dot product), weights (MH, MW) int array of values,
    has_thresholds (bool), thresholds (MH, T) int array ascending per row or None, out_base (int).
    Input: MW/SIMD words per vector, word j = elements j*SIMD.. j*SIMD+SIMD-1. Output: MH/PE words per vector,
    word f = rows f*PE+p at element p. Without thresholds the output element is the accumulator, sign-extended or
    truncated to out_dtype.bits. A BIPOLAR input or weight type without binary_xnor is also accepted (as +-1).
    Steady state (MW/SIMD)*(MH/PE) cycles per vector; an output word is offered 4 cycles after the fold's last
    input word was taken (the first fold) or issued (later folds), plus stalls. Optional: mem_style ("auto", "block",
    "distributed", "ultra" = block; rom_style attribute of the weight and threshold ROMs, see rom_style()).
kind "thresholding" -- multi-threshold activation, semantics = kernels.apply_thresholds:
    name, C, PE (PE | C), num_vectors, in_dtype, out_dtype, thresholds (C, T) ascending, out_base.
    Input/output word: PE channels of one pixel (channel f*PE+p at element p), C/PE words per pixel.
    num_vectors is informational (the block runs any number of pixels). Optional: mem_style as for mvau.
    Latency 2 cycles.
kind "label_select" -- top-k, semantics = kernels.label_select:
    name, C, PE (PE | C), k (<= C), in_dtype, out_dtype (unsigned index type). C/PE words in per frame, k words
    out (one index each), largest first, ties: lower index first.
template "rtl/top.v.j2", written by write_chain(name, blocks, outdir, frame_words, fifo_depths) -- stitched
    chain: name, stages [{"module", "in_tdw", "out_tdw"}] (TDATA widths; each stage's out_tdw must equal the
    next one's in_tdw), frame_words (output words per frame, for out_V_TLAST), FW (counter width).
    The top has the block interface plus `out_V_TLAST`. write_chain adds a FIFO (hwgen_fifo) after every block
    but the last.
    Optional `monitor` (bool): under `define HWGEN_MONITOR the top also has outputs mon_valid / mon_ready
    [len(stages):0], TVALID / TREADY of stream i = the input of stage i (stream len(stages) = out_V), for the
    simulation harness (hwgen.codegen.rtl_project writes the whole-network top with it).
kind "dwc" -- data-width converter: name, in_width, out_width (bits of data, one a multiple of the other),
    elem_bits (optional, checked: both widths are multiples of it). Element order per the packing convention:
    the first (lowest) sub-word is sent first / received first.

Static library (templates/rtl/<module>.v, Verilog-2005, one module per function, parameterized per instance
as in verilog-axis and finn-rtllib; see each file's header): hwgen_fifo (the stream FIFO: WIDTH, TDW, DEPTH,
STYLE "srl" | "ram", SIZING), hwgen_out_queue (the 2-word output queue / skid buffer ending a block's pipeline:
WIDTH, TDW), hwgen_rom (WIDTH, DEPTH, INIT_FILE, STYLE, REG_OUT). A template instantiates them; write_block /
write_node / write_chain and hwgen.codegen.rtl_project copy the ones a design uses next to it (lib_modules_in,
write_lib). fifo_params(width, depth, style) gives a stream FIFO's parameters (style "auto": fifo_style).

Dtype dicts: {"bits", "signed", "bipolar"} (bipolar optional, default False).
Simulation: hwgen.sim.verilator (cocotb testbenches in rtl_tests/, or the C++ stream harness for long runs);
synthesis estimates: hwgen.sim.yosys.synth.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import numpy as np

from hwgen.bits import clog2, pad8, signed_bits
from hwgen.codegen.render import render, templates_dir
from hwgen.dtypes import DType
from hwgen.errors import FoldingError
from hwgen.layers.cost import products_in_dsp
from hwgen.layers.fifo_cost import FIFO_SRL_MAX_DEPTH
from hwgen.layers.pipeline import (levels_per_stage, matrix_latency, target_of_meta, threshold_latency,  # noqa: F401
                                   timing_target, tree_leaves)
from hwgen.layers.registry import block_templates, with_template
from hwgen.layers.roms import rom_style


# the static Verilog-2005 modules in templates/rtl/<module>.v
LIB_MODULES = ("hwgen_fifo", "hwgen_out_queue", "hwgen_rom", "hwgen_mvu", "hwgen_thresholds", "hwgen_add_tree")
_LIB_USE = re.compile(r"^\s*(" + "|".join(LIB_MODULES) + r")\b\s*(?:#|[A-Za-z_])", re.M)


def lib_file(module: str) -> Path:
    return templates_dir() / "rtl" / f"{module}.v"


def lib_modules_in(text: str) -> list[str]:
    """The library modules a Verilog text instantiates, and those they instantiate, in a fixed order."""
    found: set[str] = set()
    todo = set(_LIB_USE.findall(text))
    while todo:
        m = todo.pop()
        found.add(m)
        todo |= set(_LIB_USE.findall(lib_file(m).read_text())) - found
    return [m for m in LIB_MODULES if m in found]


def write_lib(outdir, modules) -> list[Path]:
    """Copy the library modules' files into outdir; returns their paths."""
    outdir = Path(outdir)
    paths = []
    for m in modules:
        shutil.copyfile(lib_file(m), outdir / f"{m}.v")
        paths.append(outdir / f"{m}.v")
    return paths


def vparam(value) -> str:
    """A Verilog literal of a module parameter value (int or str)."""
    if isinstance(value, str):
        if not re.fullmatch(r"[\w.\-]*", value):
            raise ValueError(f"parameter string {value!r}: only letters, digits, '_', '.', '-'")
        return f'"{value}"'
    return str(int(value))


def fifo_style(depth: int, style: str = "auto") -> str:
    """The hwgen_fifo STYLE of a FIFO of `depth` words: "srl" up to FIFO_SRL_MAX_DEPTH words (the resource
    model's rule, hwgen.layers.cost), else "ram"; or the given style."""
    if style == "auto":
        return "srl" if depth <= FIFO_SRL_MAX_DEPTH else "ram"
    if style not in ("srl", "ram"):
        raise ValueError(f"fifo style {style!r} (use auto, srl or ram)")
    return style


def fifo_params(width: int, depth: int, style: str = "auto") -> dict:
    """Parameters of the hwgen_fifo holding `depth` words of `width` bits (TDATA padded to whole bytes)."""
    width, depth = int(width), int(depth)
    if width < 1 or depth < 1:
        raise ValueError(f"fifo width {width} and depth {depth} must be >= 1")
    return {"WIDTH": width, "TDW": pad8(width), "DEPTH": depth, "STYLE": fifo_style(depth, style)}


def _dt(d) -> DType:
    if isinstance(d, DType):
        return d
    return DType(int(d["bits"]), bool(d["signed"]), bool(d.get("bipolar", False)))


def _mem_lines(words: np.ndarray, elem_bits: int) -> list[str]:
    """words: (n_words, n_elems) int -> hex lines, element i at bits [i*elem_bits, ...), two's complement."""
    n_elems = words.shape[1]
    width = n_elems * elem_bits
    digits = max(1, (width + 3) // 4)
    mask = (1 << elem_bits) - 1
    lines = []
    for row in words.tolist():
        acc = 0
        for i, v in enumerate(row):
            acc |= (int(v) & mask) << (i * elem_bits)
        lines.append(f"{acc:0{digits}x}")
    return lines


def _dt_info(prefix: str, dt: DType) -> dict:
    return {f"{prefix}_name": dt.name, f"{prefix}_signed": dt.signed, f"{prefix}_bipolar": dt.bipolar}


def _encode_values(values, dt: DType) -> np.ndarray:
    v = np.asarray(values, dtype=np.int64)
    if dt.bipolar:
        return (v > 0).astype(np.int64)
    return v


def _thresholds_ctx(thresholds, n_rows: int, pe: int, lo_acc: int, hi_acc: int, tb: int | None = None):
    """Threshold ROM: word f = rows f*pe+p, element p*T+t; width TB covers thresholds and the input range (the
    kind's spec gives it; derived here for the per-block API)."""
    thr = np.asarray(thresholds, dtype=np.int64)
    if thr.ndim != 2 or thr.shape[0] != n_rows or thr.shape[1] < 1:
        raise ValueError(f"thresholds must be ({n_rows}, T>=1), got {thr.shape}")
    nt = thr.shape[1]
    if tb is None:
        tb = signed_bits(min(lo_acc, int(thr.min())), max(hi_acc, int(thr.max())))
    rom = thr.reshape(n_rows // pe, pe * nt)
    return nt, tb, rom


def _out_base_pattern(out_base: int, out_dt: DType) -> int:
    if out_dt.bipolar:
        return 0  # BIPOLAR output: bit = count (0 -> -1, 1 -> +1)
    return int(out_base) & ((1 << out_dt.bits) - 1)


def _mem_style(p: dict) -> str:
    return p.get("mem_style", p.get("rom_style", "auto"))




def _kind(dt: DType) -> int:
    return 2 if dt.bipolar else (1 if dt.signed else 0)


def matrix_core_params(ctx: dict, vvau: bool, order_win: bool = False, lps: int | None = None) -> dict:
    """The hwgen_mvu parameters ("core": [(name, Verilog literal)]), "LPS", "DSP" and "latency" of a matrix
    block from its template context (mvau_context or the VVAU's)."""
    idt, wdt = ctx["_idt"], ctx["_wdt"]
    xnor = bool(ctx.get("binary_xnor"))
    dsp = products_in_dsp(ctx["IB"], ctx["WB"], xnor)
    lps = int(lps or ctx.get("levels_per_stage") or levels_per_stage())
    nt = int(ctx.get("NT", 0)) if ctx.get("has_thresholds") else 0
    ww = ctx["PE"] * ctx["SIMD"] * ctx["WB"]
    core = [("PE", ctx["PE"]), ("SIMD", ctx["SIMD"]), ("SF", ctx["SF"]), ("NF", ctx["NF"]), ("IB", ctx["IB"]),
            ("WB", ctx["WB"]), ("OB", ctx["OB"]), ("ACC", ctx["ACC"]), ("IN_KIND", _kind(idt)),
            ("W_KIND", _kind(wdt)), ("XNOR", int(xnor)), ("DSP", int(dsp)), ("LPS", lps), ("VVAU", int(vvau)),
            ("ORDER_WIN", int(order_win))]
    if ctx["w_const"]:
        core += [("W_CONST", 1), ("W_VALUE", f"{ww}'h{ctx['w_const']}")]
    else:
        core += [("WEIGHT_FILE", "WEIGHT_FILE"), ("W_STYLE", f'"{ctx["w_rom_style"] or "auto"}"')]
    if nt:
        core += [("NT", nt), ("TB", ctx["TB"])]
        if ctx["t_const"]:
            core += [("T_CONST", 1), ("T_VALUE", f"{ctx['PE'] * nt * ctx['TB']}'h{ctx['t_const']}")]
        else:
            core += [("THRESH_FILE", "THRESH_FILE"), ("T_STYLE", f'"{ctx["t_rom_style"] or "auto"}"')]
        core += [("BASE", f"{ctx['OB']}'d{ctx['base_pattern']}")]
    core += [("IN_TDW", ctx["IN_TDW"]), ("OUT_TDW", ctx["OUT_TDW"])]
    leaves = tree_leaves(ctx["SIMD"], idt, wdt, xnor, dsp)
    return {"core": core, "LPS": lps, "DSP": dsp,
            "latency": matrix_latency(leaves, nt, dsp, lps, lut_products=not xnor and not dsp)}


def mvau_context(p: dict) -> tuple[dict, dict[str, list[str]]]:
    """Context and ROM files of templates/rtl/mvau.v.j2."""
    p = dict(p)
    name = p["name"]
    files: dict[str, list[str]] = {}
    mw, mh, pe, simd = int(p["MW"]), int(p["MH"]), int(p["PE"]), int(p["SIMD"])
    if mh % pe or mw % simd:
        raise FoldingError(f"{name}: PE={pe} must divide MH={mh} and SIMD={simd} must divide MW={mw}")
    idt, wdt, odt = _dt(p["in_dtype"]), _dt(p["w_dtype"]), _dt(p["out_dtype"])
    spec = p.pop("spec", None)  # the kind's derived quantities (hwgen.layers.mvau.MvauSpec), when it gives them
    acc = int(spec["ACC"] if spec else p["acc_bits"])
    sf, nf = mw // simd, mh // pe
    if p["binary_xnor"] and not (idt.bipolar and wdt.bipolar):
        raise ValueError(f"{name}: binary_xnor needs BIPOLAR inputs and weights")
    if p["binary_xnor"]:
        acc = max(acc, 2)
    w = np.asarray(p["weights"], dtype=np.int64)
    if w.shape != (mh, mw):
        raise ValueError(f"{name}: weights shape {w.shape} != (MH, MW) = {(mh, mw)}")
    if not wdt.allowed(w):
        raise ValueError(f"{name}: weights do not fit {wdt.name}")
    # ROM word a = nf*SF + sf holds W[nf*PE+p, sf*SIMD+s] at element p*SIMD+s
    we = _encode_values(w, wdt).reshape(nf, pe, sf, simd).transpose(0, 2, 1, 3).reshape(nf * sf, pe * simd)
    wfile, tfile = f"{name}_weights.mem", f"{name}_thresholds.mem"
    w_const = None
    if sf * nf == 1:  # depth-1 ROM: a constant (see the module docstring)
        w_const = _mem_lines(we, wdt.bits)[0]
    else:
        files[wfile] = _mem_lines(we, wdt.bits)
    xs = 2 if idt.bipolar else (idt.bits if idt.signed else idt.bits + 1)
    ws = 2 if wdt.bipolar else (wdt.bits if wdt.signed else wdt.bits + 1)
    ctx = dict(p, IB=idt.bits, WB=wdt.bits, OB=odt.bits, ACC=acc, SF=sf, NF=nf,
               INW=simd * idt.bits, OUTW=pe * odt.bits, WW=pe * simd * wdt.bits,
               IN_TDW=pad8(simd * idt.bits), OUT_TDW=pad8(pe * odt.bits),
               SFW=clog2(sf), NFW=clog2(nf), WAW=clog2(sf * nf), XS=xs, WS=ws, PW=xs + ws,
               wfile=wfile, tfile=tfile, w_const=w_const, t_const=None,
               w_rom_style=rom_style(sf * nf, pe * simd * wdt.bits, _mem_style(p)),
               **_dt_info("in", idt), **_dt_info("w", wdt), **_dt_info("out", odt))
    if p["has_thresholds"]:
        lo, hi = -(1 << (acc - 1)), (1 << (acc - 1)) - 1
        nt, tb, rom = _thresholds_ctx(p["thresholds"], mh, pe, lo, hi, spec and spec["TB"])
        if nf == 1:
            ctx["t_const"] = _mem_lines(rom, tb)[0]
        else:
            files[tfile] = _mem_lines(rom, tb)
        ctx.update(NT=nt, TB=tb, TW=pe * nt * tb, base_pattern=_out_base_pattern(p["out_base"], odt),
                   t_rom_style=rom_style(nf, pe * nt * tb, _mem_style(p)))
    ctx.update(matrix_core_params(dict(ctx, _idt=idt, _wdt=wdt), vvau=False))
    return ctx, files


def thresholding_context(p: dict) -> tuple[dict, dict[str, list[str]]]:
    """Context and ROM file of templates/rtl/thresholding.v.j2."""
    p = dict(p)
    name = p["name"]
    files: dict[str, list[str]] = {}
    c, pe = int(p["C"]), int(p["PE"])
    if c % pe:
        raise FoldingError(f"{name}: PE={pe} must divide C={c}")
    idt, odt = _dt(p["in_dtype"]), _dt(p["out_dtype"])
    tfile = f"{name}_thresholds.mem"
    spec = p.pop("spec", None)  # the kind's derived quantities (ThresholdingSpec), when it gives them
    nt, tb, rom = _thresholds_ctx(p["thresholds"], c, pe, idt.min, idt.max, spec and spec["TB"])
    nf = c // pe
    t_const = _mem_lines(rom, tb)[0] if nf == 1 else None  # depth-1 ROM: a constant
    if t_const is None:
        files[tfile] = _mem_lines(rom, tb)
    lps = levels_per_stage()
    ctx = dict(p, t_const=t_const, IB=idt.bits, OB=odt.bits, NF=nf, NFW=clog2(nf), INW=pe * idt.bits, OUTW=pe * odt.bits,
               IN_TDW=pad8(pe * idt.bits), OUT_TDW=pad8(pe * odt.bits), NT=nt, TB=tb, TW=pe * nt * tb,
               tfile=tfile, base_pattern=_out_base_pattern(p["out_base"], odt),
               t_rom_style=rom_style(nf, pe * nt * tb, _mem_style(p)), LPS=lps,
               THL=threshold_latency(nt, lps), **_dt_info("in", idt), **_dt_info("out", odt))
    return ctx, files


def label_select_context(p: dict) -> tuple[dict, dict[str, list[str]]]:
    """Context of templates/rtl/label_select.v.j2."""
    p = dict(p)
    name = p["name"]
    files: dict[str, list[str]] = {}
    c, pe, k = int(p["C"]), int(p["PE"]), int(p["k"])
    if c % pe:
        raise FoldingError(f"{name}: PE={pe} must divide C={c}")
    if not 1 <= k <= c:
        raise ValueError(f"{name}: k={k} must be in 1..C={c}")
    idt, odt = _dt(p["in_dtype"]), _dt(p["out_dtype"])
    if odt.signed or odt.bipolar or (1 << odt.bits) < c:
        raise ValueError(f"{name}: output type {odt.name} cannot hold indices 0..{c - 1}")
    nf = c // pe
    ctx = dict(p, IB=idt.bits, OB=odt.bits, NF=nf, NFW=clog2(nf), INW=pe * idt.bits,
               IN_TDW=pad8(pe * idt.bits), OUT_TDW=pad8(odt.bits), KW=clog2(k + 1),
               in_cmp_signed=idt.signed and not idt.bipolar, **_dt_info("in", idt), **_dt_info("out", odt))
    return ctx, files


def dwc_context(p: dict) -> tuple[dict, dict[str, list[str]]]:
    """Context of templates/rtl/dwc.v.j2."""
    p = dict(p)
    name = p["name"]
    files: dict[str, list[str]] = {}
    iw, ow = int(p["in_width"]), int(p["out_width"])
    eb = int(p.get("elem_bits", 1))
    if iw % eb or ow % eb:
        raise ValueError(f"{name}: widths {iw}, {ow} are not multiples of the element width {eb}")
    if max(iw, ow) % min(iw, ow):
        raise ValueError(f"{name}: one of in_width={iw} and out_width={ow} must divide the other")
    ratio = max(iw, ow) // min(iw, ow)
    ctx = dict(p, IW=iw, OW=ow, RATIO=ratio, RW=clog2(ratio), IN_TDW=pad8(iw), OUT_TDW=pad8(ow))
    return ctx, files


def prepare(kind: str, params: dict) -> tuple[dict, dict[str, list[str]]]:
    """Template context and ROM files ({file name: lines}) for one block named by its template (rtl/<kind>.v.j2),
    for the per-block API (tests, benchmarks): the kind that renders it answers (its rtl_block_context). The
    network emitter (hwgen.codegen.rtl_project) asks each graph node for its template and context instead."""
    cls = with_template(f"rtl/{kind}.v.j2", "rtl_block_context") if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown RTL block kind {kind!r} (known: "
                         f"{', '.join(block_templates('rtl/', '.v.j2', 'rtl_block_context'))})")
    return cls.rtl_block_context(LIB, params)


def render_block(kind: str, params: dict) -> tuple[str, dict[str, list[str]]]:
    """(Verilog text, ROM files) of one block."""
    ctx, files = prepare(kind, params)
    return render(f"rtl/{kind}.v.j2", **ctx), files


def _write(outdir, module: str, text: str, files: dict[str, list[str]]) -> list[Path]:
    """`<module>.v`, the library modules it uses and its ROM files in outdir; the paths, the .v first."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = [outdir / f"{module}.v"]
    paths[0].write_text(text)
    paths += write_lib(outdir, lib_modules_in(text))
    for fname, lines in files.items():
        (outdir / fname).write_text("\n".join(lines) + "\n")
        paths.append(outdir / fname)
    return paths


def write_block(kind: str, params: dict, outdir) -> list[Path]:
    """Render `<name>.v`, the library modules it uses and its ROM `.mem` files into outdir; returns the written
    paths (the .v first)."""
    text, files = render_block(kind, params)
    return _write(outdir, params["name"], text, files)


def render_node(node, module: str | None = None) -> tuple[str, dict[str, list[str]]]:
    """(Verilog text, ROM files) of a graph node (a layer kind), module name `module` (default: its name)."""
    ctx, files = node.rtl_context(LIB, module or node.name)
    return render(node.rtl_template, extra_dirs=node.template_dirs, **ctx), files


def write_node(node, outdir, module: str | None = None) -> list[Path]:
    """`<module>.v`, the library modules it uses and its ROM files of a graph node, in outdir; the written paths
    (the .v first)."""
    text, files = render_node(node, module)
    return _write(outdir, module or node.name, text, files)


def stream_widths(kind: str, params: dict) -> tuple[int, int]:
    """(input TDATA bits, output TDATA bits) of a block, padded to whole bytes."""
    ctx, _ = prepare(kind, params)
    return ctx["IN_TDW"], ctx["OUT_TDW"]


def ports(n_inputs: int, n_outputs: int) -> tuple[list[str], list[str]]:
    """AXI4-Stream port prefixes of a block: in0_V (in<i>_V), out_V (out<i>_V when it has several outputs)."""
    return ([f"in{i}_V" for i in range(n_inputs)],
            ["out_V"] if n_outputs == 1 else [f"out{i}_V" for i in range(n_outputs)])


def render_top(name: str, stages: list[dict], wires: list[dict], in_wire: str, out_wire: str, frame_words: int,
               monitor: bool = False, streams=()) -> str:
    """templates/rtl/top.v.j2: `stages` [{"module", "instance", "comment", "ports": [{"port", "wire"}], optional
    "params": {name: int or str} (a library module's parameters)}] wired by `wires` [{"name", "tdw", "src",
    "dst"}]; in0_V drives in_wire, out_wire drives out_V (+ TLAST)."""
    if frame_words < 1:
        raise ValueError(f"{name}: frame_words must be >= 1")
    tdw = {w["name"]: w["tdw"] for w in wires}
    stages = [dict(s, param_list=", ".join(f".{k}({vparam(v)})" for k, v in (s.get("params") or {}).items()))
              for s in stages]
    return render("rtl/top.v.j2", name=name, stages=stages, wires=wires, in_wire=in_wire, out_wire=out_wire,
                  in_tdw=tdw[in_wire], out_tdw=tdw[out_wire], frame_words=int(frame_words), FW=clog2(frame_words),
                  monitor=monitor, streams=list(streams))


def write_chain(name: str, blocks: list[tuple[str, dict]], outdir, frame_words: int,
                fifo_depths: list[int] | None = None, fifo_style: str = "auto") -> list[Path]:
    """Write every block, a FIFO (an hwgen_fifo instance) after each block but the last (fifo_depths[i] words
    after block i; 0 = none; default 2), and the stitched top `name`. Returns all written paths (library
    modules once), the top's .v first.

    Each block's output TDATA width must equal the next block's input width (insert a "dwc" block where the
    element counts per word differ).
    """
    outdir = Path(outdir)
    paths: list[Path] = []
    stages = []
    n = len(blocks)
    depths = list(fifo_depths) if fifo_depths is not None else [2] * (n - 1)
    if len(depths) != n - 1:
        raise ValueError(f"{name}: {n} blocks need {n - 1} FIFO depths, got {len(depths)}")
    for i, (kind, params) in enumerate(blocks):
        iw, ow = stream_widths(kind, params)
        if stages and stages[-1]["out_tdw"] != iw:
            raise ValueError(f"{name}: {stages[-1]['label']} sends {stages[-1]['out_tdw']}-bit words but "
                             f"{params['name']} takes {iw}-bit words; insert a data-width converter")
        paths += write_block(kind, params, outdir)
        stages.append({"module": params["name"], "label": params["name"], "in_tdw": iw, "out_tdw": ow})
        if i < n - 1 and depths[i] > 0:
            fp = fifo_params(ow, depths[i], fifo_style)  # the block's TDATA, padding included
            paths += write_lib(outdir, ["hwgen_fifo"])
            stages.append({"module": "hwgen_fifo", "params": fp, "label": f"{name}_fifo{i}", "in_tdw": ow,
                           "out_tdw": ow})
    # a chain: wire i enters stage i, wire len(stages) leaves the last one
    wires = [{"name": f"s{i}", "tdw": st["in_tdw"], "src": "in0_V" if i == 0 else stages[i - 1]["label"],
              "dst": st["label"]} for i, st in enumerate(stages)]
    wires.append({"name": f"s{len(stages)}", "tdw": stages[-1]["out_tdw"], "src": stages[-1]["label"],
                  "dst": "out_V"})
    tops = [{"module": st["module"], "params": st.get("params"), "instance": f"u{i}_{st['label']}", "comment": "",
             "ports": [{"port": "in0_V", "wire": f"s{i}"}, {"port": "out_V", "wire": f"s{i + 1}"}]}
            for i, st in enumerate(stages)]
    text = render_top(name, tops, wires, "s0", f"s{len(stages)}", frame_words)
    top = outdir / f"{name}.v"
    top.write_text(text)
    return [top] + list(dict.fromkeys(paths))


LIB = sys.modules[__name__]  # handed to the kinds' rtl_context(): the helpers above, without an import upward
