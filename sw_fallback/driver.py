"""The plan of a design as ONE compiled function: every layer's kernel called in order inside numba.

Run step by step from Python, a frame pays for every layer a few microseconds of Python (the step's wrapper,
reshapes, the output's allocation, numba's argument checks): at batch 1 that is most of the time. Here the steps'
kernel calls are written out once per design as the source of one function

    def drive(x0, one, c0, c1, ...):     # x0: the first layer's input; c*: the kernels' weight / threshold arrays
        n = x0.shape[0]
        b0 = np.empty((n, 26, 26, 16), dtype=np.int8)
        PK.conv_int_planar(x0.reshape((n * 1, 28, 28, 1)), 0, 0, c0, 28, 28, 3, 3, 1, 1, 1, 1, c1, ...)
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
from sw_fallback.driver_specs import SPECS, Unsupported  # noqa: F401  (Unsupported: raised by generate)
from sw_fallback.formats import Bits, convert, elem_type, is_int, words

# the kernel modules a driver calls, with the names its source gives them (one list: the source's import line and
# the cache key's hash are made from it)
KERNEL_MODULES = {"sw_fallback.kernels": "K", "sw_fallback.conv_kernels": "CK", "sw_fallback.layout_kernels": "LK",
                  "sw_fallback.planar_kernels": "PK", "sw_fallback.head_kernels": "HK", "sw_fallback.vnni": "V",
                  "sw_fallback.gemm_m1": "GM"}


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
    few = h.thrT.shape[0] <= HEAD_FEW_T
    et = elem_type(fmt)  # (a Chw first layer: the head's tables are in its order)
    if et is not None and h.interp is not None:  # (the interpolated head gathers by perm itself)
        from sw_fallback.head_kernels import NO_PERM

        pads, row_of, params = h.interp
        perm = NO_PERM if h.perm is None else h.perm
        lines.append(f"    x0 = np.empty((n, {h.F}), dtype={_dtype_name(et)})")
        if h.proven is not None:
            fpar, ipar, scal = h.proven
            return lines + [f"    bad = HK.head_levels_proven(xb, {const(perm)}, {const(pads)}, {const(fpar)}, "
                            f"{const(ipar)}, {const(scal)}, x0)"]
        return lines + [f"    bad = HK.head_levels_interp(xb, {const(perm)}, {const(pads)}, {const(row_of)}, "
                        f"{const(params)}, {const(h.base)}, {const(h.sgn)}, x0)"]
    if h.perm is not None:
        lines += ["    xg = np.empty((n, %d), dtype=np.int32)" % h.F, f"    HK.gather_cols(xb, {const(h.perm)}, xg)",
                  "    xb = xg"]
    c = const
    if fmt == Bits(h.F):
        lines.append("    x0 = np.empty((n, %d), dtype=np.uint64)" % words(h.F))
        call = (f"HK.head_bits_few(xb, {c(h.thrT)}, {c(h.base)}, {c(h.sgn)}, x0)" if few else
                f"K.head_bits(xb, {c(h.thrT)}, {c(h.thr)}, {c(h.base)}, {c(h.sgn)}, x0)")
    elif et is not None:
        lines.append(f"    x0 = np.empty((n, {h.F}), dtype={_dtype_name(et)})")
        if few:
            call = f"HK.head_levels_few(xb, {c(h.thrT)}, {c(h.base)}, {c(h.sgn)}, x0)"
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
    lines = [f"    y = np.empty((n, {f}), dtype=np.float32)",
             f"    HK.gather_lut({last}.reshape((n, {f})), {const(lt.perm)}, {const(lt.lut)}, {lt.lut_lo}, y)"]
    m1 = lt.m1()
    if m1 is not None:  # a batch of one frame (`one`: not a tile of a bigger batch): the tail's Gemm too (gemm_m1,
        # proven equal to its session), y is the output
        lines += ["    if one and n == 1:", f"        z = np.empty((1, {m1[0].shape[0]}), dtype=np.float32)",
                  f"        GM.gemm_m1_transb(y[0], {const(m1[0])}, {const(m1[1])}, z[0])", "        y = z"]
    return lines


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
            mod = KERNEL_MODULES.get(fn.py_func.__module__)
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
    params = ", ".join([first, "one"] + [f"c{i}" for i in range(len(consts))])
    top = ["import numpy as np", "from numba import njit",
           "from sw_fallback import " + ", ".join(f"{m.split('.')[1]} as {a}" for m, a in KERNEL_MODULES.items()), "", "",
           "@njit(cache=True, nogil=True, error_model='numpy')", f"def drive({params}):", f"    n = {first}.shape[0]"]
    src = "\n".join(top + lines + [f"    return {result}", ""])
    return src, consts


def _kernels_hash() -> str:
    h = hashlib.sha256()
    for m in KERNEL_MODULES:
        h.update((Path(__file__).parent / f"{m.split('.')[1]}.py").read_bytes())
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
        self.tail_m1 = tail is not None and tail.mode == "layout" and tail.layout.m1() is not None
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
            fn(np.ascontiguousarray(x1), False, *self.args)
            self.fn = fn
        except Exception:  # noqa: BLE001 - a driver numba cannot compile: the step-by-step path stays
            self.failed = True

    def run(self, x, one=False):
        """x through the driver; one: x is a whole batch (not a tile), so a one-frame x gets the tail's one-row
        Gemm too (tail_m1)."""
        return self.fn(x, one, *self.args)


# --- the backend's use of it ----------------------------------------------------------------------------------------

def for_backend(be):
    """The driver of a CpuBackend's plan: with its compiled head and the tail's compiled part when they apply
    (whole model: float input in), else the layers alone; None when a step is not known here, the plan converts
    formats between steps, driver=False, or no cache directory can hold its source."""
    if not be.use_driver or any(c is not None for _, ins, _, _, _ in be._prog for _, c in ins):
        return None
    h, t = be.head_plan, be.tail_plan
    head = (h, be.in_fmt) if h is not None and h.mode == "thresholds" else None
    tail = None
    if head is not None and t is not None and is_int(be._out_conv[0]):
        if t.mode == "table" or (t.mode == "layout" and t.layout.lut is not None):
            tail = t
    steps = [(st, st.out_fmts) for st in be.steps]
    for hd, tl in ((head, tail), (head, None), (None, None)):
        try:
            return Driver(steps, (None, 0), be.out_key, be.use_driver, hd, tl)
        except Unsupported:
            continue
        except OSError:
            return None
    return None


class _NonFinite(Exception):
    """A tile held NaN / inf: the batch goes to the backend's other path (the evaluator decides)."""


def run_whole(be, x):
    """The model's output for x through the backend's whole-model driver (head, layers and the tail's compiled
    part in one compiled call per tile of frames, the tiles on the backend's threads), or None: not a float32
    batch of the input's shape, the driver not compiled yet, or non-finite inputs (the evaluator's business)."""
    d, h = be._driver, be.head_plan  # (no imports here: a batch-1 call would pay ~1.6 us for them)
    if not (isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim == len(h.shape) + 1
            and x.shape[1:] == h.shape and x.shape[0] > 0):
        return None
    n = x.shape[0]
    xb = (x if x.flags.c_contiguous else np.ascontiguousarray(x)).reshape(n, h.F).view(np.int32)
    if not d.ready(xb):
        return None
    if be.split and n >= be.split_min:
        def tile(lo, hi):
            bad, v = d.run(xb[lo:hi])
            if bad:
                raise _NonFinite
            return v

        try:
            y = be._tiles(n, tile)
        except _NonFinite:
            return None
    else:
        bad, y = d.run(xb, True)
        if bad:
            return None
    t = d.tail
    if t is None:
        return be.tail(convert(y, *be._out_conv).reshape(n, *be.out_shape))
    if t.mode == "table":
        return y.reshape((n,) + t.out_shape)
    if n == 1 and d.tail_m1:  # (the driver ran the tail's one-row Gemm)
        return y
    return t.layout.finish(y)
