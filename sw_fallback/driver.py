"""The plan of a design as ONE compiled function: every layer's kernel called in order inside numba.

Run step by step from Python, a frame pays for every layer a few microseconds of Python (the step's wrapper,
reshapes, the output's allocation, numba's argument checks): at batch 1 that is most of the time. Here the steps'
kernel calls are written out once per design as the source of one function

    def drive(x0, c0, c1, ...):          # x0: the first layer's input; c*: the kernels' weight / threshold arrays
        n = x0.shape[0]
        b0 = np.empty((n, 26, 26, 16), dtype=np.int8)
        CK.conv_int_planar(x0.reshape((n * 1, 28, 28, 1)), 0, 0, c0, 28, 28, 3, 3, 1, 1, 1, 1, c1, ...)
        v1 = b0.reshape((n, 10816))
        ...
        return v7

compiled by numba (nogil, so the backend's tile threads run it concurrently) with the same kernels the steps call:
the same arithmetic, only the Python between them gone. The source goes to a file named by its hash and the
kernels' sources' hash (numba caches by file; a changed kernel gives a new file), in NUMBA_CACHE_DIR when set,
else hwgen's cache; numba's on-disk cache then serves the next process. A step this module does not know
(a kind's own kernel class, a format conversion between steps) keeps the step-by-step path for the design.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np

from sw_fallback import cnn
from sw_fallback import conv_kernels as CK
from sw_fallback import kernels as K
from sw_fallback.formats import Bits, is_int, words
from sw_fallback.mlp import LabelSelectKernel, MvauKernel, ThresholdsKernel

_MODS = {"sw_fallback.kernels": "K", "sw_fallback.conv_kernels": "CK", "sw_fallback.head_kernels": "HK"}


class Unsupported(Exception):
    pass


# --- what each kernel calls: ("in", port, shape) / ("buf", i, shape): the value reshaped to (n * shape[0],
# *shape[1:]) (shape[1] None: the value's width / shape[0]); ("c", value): a constant ------------------------------

def _mvau(k, out_fmt):
    rpf = k.rows_per_frame()
    xin = ("in", 0, (rpf, None))
    if k.can_write_bits() and out_fmt == Bits(k.out_f):
        bufs = [((rpf * words(k.out_f),), np.uint64)]
        return [(K.mvau_xnor_bits, [xin, ("c", k.w), ("c", k.in_f), ("c", k.thr), ("buf", 0, (rpf, words(k.out_f)))])], bufs
    if not is_int(out_fmt):
        raise Unsupported("MVAU writing bits / planes through a conversion")
    out = ("buf", 0, (rpf, k.out_f))
    bufs = [((rpf * k.out_f,), out_fmt)]
    la = k.layer
    if k.kind == "bitserial":
        raise Unsupported("bit-plane input (3-d values)")
    if k.kind == "xnor":
        args = [xin, ("c", k.w), ("c", k.in_f), ("c", k.thr), ("c", la.out_base), ("c", k.out_bipolar), out]
        return [(K.mvau_xnor_int, args)], bufs
    args = [xin, ("c", k.w), ("c", k.thr), ("c", la.out_base), ("c", k.out_bipolar), out]
    return [(K.MVAU_INT[k.acc_bits], args)], bufs


def _thresholds(k, out_fmt):
    if not is_int(out_fmt):
        raise Unsupported("thresholds writing bits")
    rpf = k.rows_per_frame()
    xin, out = ("in", 0, (rpf, None)), ("buf", 0, (rpf, k.out_f))
    la = k.layer
    if k.thrF is not None:
        L = k.frame_elems
        xf = ("in", 0, (1, L))
        call = (CK.add_thresholds_frame, [xf, xf, ("c", 1), ("c", 0), ("c", k.thrF), ("c", la.out_base),
                                          ("c", k.out_bipolar), ("buf", 0, (1, L))])
        return [call], [((L,), out_fmt)]
    if k.thr.shape[1] <= CK.VEC_MAX_T and k.in_f == k.thr.shape[0]:
        call = (CK.thresholds_vec, [xin, ("c", k.thrT), ("c", la.out_base), ("c", k.out_bipolar), out])
    else:
        call = (K.thresholds, [xin, ("c", k.thr), ("c", la.out_base), ("c", k.out_bipolar), out])
    return [call], [((rpf * k.out_f,), out_fmt)]


def _label_select(k, out_fmt):
    if not is_int(out_fmt):
        raise Unsupported("label select writing bits")
    rpf = k.rows_per_frame()
    return ([(K.label_select, [("in", 0, (rpf, None)), ("c", k.layer.k), ("buf", 0, (rpf, k.out_f))])],
            [((rpf * k.out_f,), out_fmt)])


def _geom_args(g, pvals):
    return [("c", v) for v in g.args(pvals)]


def _img(g, cw=None):
    return (1, g.ifm[0], g.ifm[1], g.channels if cw is None else cw)


def _conv(k, out_fmt):
    g, la = k.geom, k.layer
    oh, ow = g.ofm
    packed = isinstance(out_fmt, Bits)
    o = la.mh
    width = words(o) if packed else o
    dt = np.uint64 if packed else out_fmt
    if not (packed or is_int(out_fmt)):
        raise Unsupported("conv output format")
    out = ("buf", 0, (1, oh, ow, width))
    bufs = [((oh, ow, width), dt)]
    if k.kind == "conv_xnor":
        cw = words(g.channels)
        args = [("in", 0, _img(g, cw))] + _geom_args(g, g.bit_pads()) + [
            ("c", k.w), ("c", g.window * g.channels), ("c", k.thrT), ("c", la.out_base), ("c", k.out_bipolar),
            ("c", packed), out]
        return [(CK.conv_xnor, args)], bufs
    if k.planar:
        args = [("in", 0, _img(g))] + _geom_args(g, g.int_pads()) + [
            ("c", k.w), ("c", False), ("c", k.thrT), ("c", la.out_base), ("c", k.out_bipolar), ("c", k.acc_proto),
            ("c", k.lev_proto), out]
        return [(CK.conv_int_planar, args)], bufs
    args = [("in", 0, _img(g))] + _geom_args(g, g.int_pads()) + [
        ("c", k.w), ("c", k.thrT), ("c", la.out_base), ("c", k.out_bipolar), ("c", k.acc_proto), ("c", k.lev_proto),
        ("c", packed), out]
    return [(CK.conv_int, args)], bufs


def _pool(k, out_fmt):
    g, la = k.geom, k.layer
    oh, ow = g.ofm
    if k.bits:
        cw = words(g.channels)
        args = [("in", 0, _img(g, cw))] + _geom_args(g, g.bit_pads()) + [("buf", 0, (1, oh, ow, cw))]
        return [(CK.pool_or_bits, args)], [((oh, ow, cw), np.uint64)]
    if not is_int(out_fmt):
        raise Unsupported("pool output format")
    lo, hi = (int(v[0]) for v in la.out_range())
    args = [("in", 0, _img(g))] + _geom_args(g, g.int_pads()) + [
        ("c", k.is_max), ("c", la.shift), ("c", CK.ROUNDING_CODES[la.rounding_mode]), ("c", lo), ("c", hi),
        ("buf", 0, (1, oh, ow, g.channels))]
    return [(CK.pool, args)], [((oh, ow, g.channels), out_fmt)]


def _vvau(k, out_fmt):
    g, la = k.geom, k.layer
    if k._order()[0] != "window" and not k.kind.endswith("_fused"):
        raise Unsupported("depthwise-order window stream")
    if not is_int(out_fmt):
        raise Unsupported("vvau output format")
    oh, ow = g.ofm
    args = [("in", 0, _img(g))] + _geom_args(g, g.int_pads()) + [
        ("c", k.w), ("c", True), ("c", k.thr), ("c", la.out_base), ("c", bool(la.out_dtype.bipolar)),
        ("c", k.acc_proto), ("c", k.lev_proto), ("buf", 0, (1, oh, ow, g.channels))]
    return [(CK.conv_int_planar, args)], [((oh, ow, g.channels), out_fmt)]


def _pad(k, out_fmt):
    g = k.geom
    t, l, b, r = g.pads
    if not is_int(out_fmt):
        raise Unsupported("pad output format")
    shape = (g.ifm[0] + t + b, g.ifm[1] + l + r, g.channels)
    args = [("in", 0, _img(g)), ("c", t), ("c", l), ("c", g.int_pads()), ("buf", 0, (1,) + shape)]
    return [(CK.pad_frames, args)], [(shape, out_fmt)]


def _swg(k, out_fmt):
    g = k.window_geom
    if k.stream_order[0] != "window" or not is_int(out_fmt):
        raise Unsupported("window stream order / format")
    oh, ow = g.ofm
    shape = (oh, ow, g.window * g.channels)
    args = [("in", 0, _img(g))] + _geom_args(g, g.int_pads()) + [("buf", 0, (1,) + shape)]
    return [(CK.sliding_window, args)], [(shape, out_fmt)]


def _add(k, out_fmt):
    la = k.layer
    if not is_int(out_fmt):
        raise Unsupported("add output format")
    pix = la.in_port(0)[2] // la.channels
    shape = (pix, la.channels)
    a, b = ("in", 0, (1,) + shape), ("in", 1, (1,) + shape)
    bip = bool(la.out_dtype.bipolar)
    if k.thrF is not None:
        L = k.frame_elems
        call = (CK.add_thresholds_frame, [("in", 0, (1, L)), ("in", 1, (1, L)), ("c", la.a_mul), ("c", la.b_mul),
                                          ("c", k.thrF), ("c", la.out_base), ("c", bip), ("buf", 0, (1, L))])
        return [call], [((L,), out_fmt)]
    if k.thr.shape[1] <= CK.VEC_MAX_T:
        call = (CK.add_streams_vec, [a, b, ("c", la.a_mul), ("c", la.b_mul), ("c", k.thrT), ("c", la.out_base),
                                     ("c", bip), ("buf", 0, (1,) + shape)])
    else:
        call = (CK.add_streams, [a, b, ("c", la.a_mul), ("c", la.b_mul), ("c", k.thr), ("c", la.out_base),
                                 ("c", bip), ("buf", 0, (1,) + shape)])
    return [call], [(shape, out_fmt)]


def _concat(k, out_fmt):
    la = k.layer
    if not is_int(out_fmt):
        raise Unsupported("concat output format")
    shape = (la.num_vectors, la.channels)
    calls, off = [], 0
    for p, c in enumerate(la.channels_in):
        calls.append((CK.concat_into, [("in", p, (1, la.num_vectors, c)), ("c", off), ("buf", 0, (1,) + shape)]))
        off += c
    return calls, [(shape, out_fmt)]


def _upsample(k, out_fmt):
    la = k.layer
    if not is_int(out_fmt):
        raise Unsupported("upsample output format")
    shape = (*la.ofm, la.channels)
    args = [("in", 0, (1, *la.ifm, la.channels)), ("c", la.factor[0]), ("c", la.factor[1]), ("buf", 0, (1,) + shape)]
    return [(CK.upsample, args)], [(shape, out_fmt)]


SPECS = {MvauKernel: _mvau, ThresholdsKernel: _thresholds, LabelSelectKernel: _label_select,
         cnn.ConvKernel: _conv, cnn.PoolKernel: _pool, cnn.VvauKernel: _vvau, cnn.PadKernel: _pad,
         cnn.SwgKernel: _swg, cnn.AddStreamsKernel: _add, cnn.ConcatKernel: _concat, cnn.UpsampleKernel: _upsample}


# --- the source ---------------------------------------------------------------------------------------------------

def _literal(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "True" if v else "False"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    raise Unsupported(f"constant {v!r}")


def _dtype_name(dt) -> str:
    return "np." + np.dtype(dt).name


def _head_lines(h, fmt, const) -> list:
    """The compiled head (partitions.CompiledHead in thresholds mode) from xb, the float32 input's int32 view
    (n, F), to x0 in the first layer's format; `bad` counts non-finite inputs (the caller then uses the
    evaluator, as CompiledHead.run)."""
    from sw_fallback.partitions import HEAD_FEW_T

    lines = ["    xb = xf.reshape((n, %d))" % h.F]
    if h.perm is not None:
        lines += ["    xg = np.empty((n, %d), dtype=np.int32)" % h.F, f"    HK.gather_cols(xb, {const(h.perm)}, xg)",
                  "    xb = xg"]
    few = h.thrT.shape[0] <= HEAD_FEW_T
    c = const
    if fmt == Bits(h.F):
        lines.append("    x0 = np.empty((n, %d), dtype=np.uint64)" % words(h.F))
        call = (f"HK.head_bits_few(xb, {c(h.thrT)}, {c(h.base)}, {c(h.sgn)}, x0)" if few else
                f"K.head_bits(xb, {c(h.thrT)}, {c(h.thr)}, {c(h.base)}, {c(h.sgn)}, x0)")
    elif is_int(fmt):
        lines.append(f"    x0 = np.empty((n, {h.F}), dtype={_dtype_name(fmt)})")
        if few:
            call = f"HK.head_levels_few(xb, {c(h.thrT)}, {c(h.base)}, {c(h.sgn)}, x0)"
        elif h.buckets is not None:
            rows, row_of, table = h.buckets
            call = f"HK.head_levels_bucket(xb, {c(rows)}, {c(row_of)}, {c(table)}, {c(h.base)}, {c(h.sgn)}, x0)"
        else:
            call = f"K.head_levels(xb, {c(h.thrT)}, {c(h.thr)}, {c(h.base)}, {c(h.sgn)}, x0)"
    else:
        raise Unsupported(f"head into {fmt!r}")
    return lines + [f"    bad = {call}"]


def _tail_lines(t, last, const) -> list:
    """The compiled tail's table (CompiledTail "table") or the layout tail's gather (tail_layout.LayoutTail with an
    entry table) on the last value `last` (integers), into y."""
    if t.mode == "table":
        return [f"    y = np.empty((n, {t.C}), dtype={_dtype_name(t.lut.dtype)})",
                f"    K.tail_lookup({last}.reshape((n, {t.C})), {const(t.lut)}, {const(t.lo)}, y)"]
    lt = t.layout
    f = lt.perm.shape[0]
    return [f"    y = np.empty((n, {f}), dtype=np.float32)",
            f"    HK.gather_lut({last}.reshape((n, {f})), {const(lt.perm)}, {const(lt.lut)}, {lt.lut_lo}, y)"]


def generate(steps, in_key, out_key, head=None, tail=None):
    """(source, constant arrays) of the driver for the plan's steps, or raise Unsupported. head: (CompiledHead,
    the first layer's format): the driver reads the float32 input (its int32 view) and returns (bad, value);
    tail: a CompiledTail whose table / gather the driver runs on the last value (integers) too."""
    lines, consts, cid = [], [], {}
    names = {in_key: "x0"}

    def const(v):
        if isinstance(v, np.ndarray):
            if id(v) not in cid:
                cid[id(v)] = f"c{len(consts)}"
                consts.append(np.ascontiguousarray(v) if not v.flags.c_contiguous else v)
            return cid[id(v)]
        return _literal(v)

    def shaped(name, shape):
        m, rest = shape[0], shape[1:]
        if rest == (None,):
            return f"{name}.reshape((n * {m}, {name}.shape[1] // {m}))"
        return f"{name}.reshape((n * {m}, {', '.join(str(int(d)) for d in rest)}))"

    if head is not None:
        lines += _head_lines(head[0], head[1], const)
    vid = 0
    for st, out_fmts in steps:
        k = st.kernel
        if type(k) is cnn.DuplicateKernel:
            src = names[st.ins[0]]
            for p in range(st.layer.n_outputs):
                names[(st.layer.name, p)] = src
            continue
        spec = SPECS.get(type(k))
        if spec is None or st.layer.n_outputs != 1:
            raise Unsupported(f"kernel {type(k).__name__}")
        calls, bufs = spec(k, out_fmts[0])
        bnames = []
        for shape, dt in bufs:
            b = f"b{vid}"
            vid += 1
            lines.append(f"    {b} = np.empty((n, {', '.join(str(int(d)) for d in shape)}), dtype={_dtype_name(dt)})")
            bnames.append((b, int(np.prod(shape))))
        for fn, args in calls:
            mod = _MODS.get(fn.py_func.__module__)
            if mod is None or getattr(sys.modules[fn.py_func.__module__], fn.__name__, None) is not fn:
                raise Unsupported(f"kernel function {fn!r}")
            text = []
            for a in args:
                if a[0] == "c":
                    text.append(const(a[1]))
                elif a[0] == "in":
                    text.append(shaped(names[st.ins[a[1]]], a[2]))
                else:
                    text.append(shaped(bnames[a[1]][0], a[2]))
            lines.append(f"    {mod}.{fn.__name__}({', '.join(text)})")
        v = f"v{vid}"
        vid += 1
        b, width = bnames[0]
        lines.append(f"    {v} = {b}.reshape((n, {width}))")
        names[(st.layer.name, 0)] = v
    result = names[out_key]
    if tail is not None:
        lines += _tail_lines(tail, result, const)
        result = "y"
    if head is not None:
        result = f"bad, {result}"
    first = "xf" if head is not None else "x0"
    params = ", ".join([first] + [f"c{i}" for i in range(len(consts))])
    top = ["import numpy as np", "from numba import njit",
           "from sw_fallback import kernels as K, conv_kernels as CK, head_kernels as HK", "", "",
           "@njit(cache=True, nogil=True, error_model='numpy')", f"def drive({params}):", f"    n = {first}.shape[0]"]
    src = "\n".join(top + lines + [f"    return {result}", ""])
    return src, consts


def _kernels_hash() -> str:
    h = hashlib.sha256()
    for m in ("kernels", "conv_kernels", "head_kernels"):
        h.update((Path(__file__).parent / f"{m}.py").read_bytes())
    return h.hexdigest()[:16]


def driver_dir() -> Path:
    d = os.environ.get("NUMBA_CACHE_DIR")
    if d:
        return Path(d) / "hwgen_cpu_drivers"
    from hwgen.fileops import cache_root

    return cache_root() / "cpu_drivers"


def source_file(src: str) -> Path:
    """The driver's file (written once, atomically; named by the source's and the kernels' hash)."""
    key = hashlib.sha256((src + _kernels_hash()).encode()).hexdigest()[:24]
    d = driver_dir()
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"hwgen_drv_{key}.py"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(src)
        os.replace(tmp, path)  # another process never reads half a file
    return path


def load(path: Path):
    """The `drive` function of a driver file (numba compiles it on its first call, or loads it from its cache)."""
    name = path.stem
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sys.modules[name] = mod
    return mod.drive


HOT_CALLS = 64  # small calls after which a driver not yet in the cache starts compiling in the background


class Driver:
    """The plan's steps as one compiled call. A driver numba has cached (or mode "wait") is compiled or loaded on
    the first call; otherwise the first HOT_CALLS small calls run step by step while nothing compiles (a short
    process, e.g. `hwgen run` on one batch, never pays for it), then it compiles in a background thread (seconds
    to tens of seconds of LLVM: the kernels are linked into it) and is used once ready. `fn` is None until then."""

    def __init__(self, steps, in_key, out_key, mode="auto", head=None, tail=None):
        self.src, self.consts = generate(steps, in_key, out_key, head, tail)
        self.whole = head is not None  # reads the float input, returns (non-finite count, value)
        self.tail = tail
        self.args = tuple(self.consts)
        self.path = source_file(self.src)
        cached = any(self.path.parent.glob(f"__pycache__/{self.path.stem}.drive-*.nbi"))
        self.sync = mode == "wait" or cached
        self.fn = None
        self.failed = False
        self.calls = 0
        self._thread = None

    def ready(self, x) -> bool:
        """Whether to run x through the driver now (compiling it here when it is to be compiled synchronously)."""
        if self.fn is not None:
            return True
        if self.failed:
            return False
        if self.sync:
            self._compile(x[:1])
            return self.fn is not None
        self.calls += 1
        if self.calls >= HOT_CALLS and x.shape[0] <= 16 and self._thread is None:
            import threading

            self._thread = threading.Thread(target=self._compile, args=(x[:1].copy(),), daemon=True,
                                            name="hwgen-cpu-driver")
            self._thread.start()
        return False

    def _compile(self, x1):
        try:
            fn = load(self.path)
            fn(np.ascontiguousarray(x1), *self.args)
            self.fn = fn
        except Exception:  # noqa: BLE001 - a driver numba cannot compile: the step-by-step path stays
            self.failed = True

    def run(self, x):
        return self.fn(x, *self.args)
