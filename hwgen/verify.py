"""`hwgen verify`: inputs that exercise every threshold (hwgen.verify_inputs) through the chosen backends and the
original QONNX graph; bit-exact or not, and where not, which path differs from which and at which input.

The original model is found by the absolute path recorded at build time (or `--model`) and must have the
sha256 recorded then: comparing with a different model, or with none, would prove nothing. Every backend runs on
one checked copy of the build (hwgen.snapshot): a rebuild of OUT during verify cannot make two backends compare
two different builds.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from hwgen.errors import HwgenError
from hwgen.report import table
from hwgen.verify_cover import model_inputs
from hwgen.verify_inputs import quantizer_view, raw_inputs, verify_inputs

MODEL_SEARCH_S = 10.0  # seconds for the search of model inputs through CPU islands (verify_islands)
MODEL_SEARCH_INPUTS = 512  # at most this many such inputs (every backend runs each)


class VerifyError(HwgenError):
    """verify cannot run as asked (no source model, a different model, bad options)."""


def random_model_inputs(graph, n: int, seed: int = 0) -> np.ndarray:
    """Raw float inputs spanning the input quantizer's range and beyond (kept for callers of the old name); values
    of the declared type when the build declares one (annotation or --input-dtype)."""
    from hwgen.frontend.input_types import declared_grid

    grid = declared_grid(graph)
    if grid is not None:
        return grid.random(np.random.default_rng(seed), (n, *graph.input_shape[1:]))
    return raw_inputs(graph, n, np.random.default_rng(seed))


def golden_model(model_path):
    """The original graph as qonnx executes it (cleaned up), a ModelProto."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    return cleanup_model(ModelWrapper(str(model_path))).model


def golden(model_path, x):
    """The original graph executed by qonnx (the golden reference), batched."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.util.cleanup import cleanup_model

    m = ModelWrapper(golden_model(model_path))
    m = cleanup_model(m.transform(ChangeBatchSize(x.shape[0])))
    return execute_onnx(m, {m.graph.input[0].name: x})[m.graph.output[0].name]


def source_model(out, graph, model=None) -> Path:
    """The model the build was made from: `model` if given, else the path recorded in hwgraph.json; it must
    exist and have the recorded sha256."""
    recorded = graph.model_path
    p = Path(model) if model is not None else Path(recorded)
    where = "given with --model" if model is not None else f"recorded in {str(Path(out) / 'hwgraph.json')!r}"
    if not str(p) or not p.is_file():
        raise VerifyError(f"source model {str(p)!r} ({where}) not found; verify compares the build with it. "
                          "Pass --model PATH to the model the build was made from.")
    want = graph.meta.get("model_sha256")
    have = hashlib.sha256(p.read_bytes()).hexdigest()
    if want and have != want:
        raise VerifyError(f"source model {str(p)!r} ({where}) has sha256 {have[:12]}..., but {str(out)!r} was "
                          f"built from a model with sha256 {want[:12]}...; pass --model PATH to the original "
                          "model, or rebuild from this one.")
    return p.resolve()


def first_difference(a: np.ndarray, b: np.ndarray, close: bool = False) -> tuple[int, tuple] | None:
    """(input index, index inside that output) of the first element where a and b differ, or None."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return (0, ("shape", a.shape, b.shape))
    if close:
        tol = 1e-5 * float(np.abs(b).max(initial=0) or 1)
        bad = ~np.isclose(a, b, rtol=1e-5, atol=tol)
    else:
        bad = a != b
    if not bad.any():
        return None
    idx = np.argwhere(bad)[0]
    return int(idx[0]), tuple(int(i) for i in idx[1:])


def compare_with_golden(gold: np.ndarray, y: np.ndarray) -> tuple[str, tuple | None]:
    """("exact" | "float32 rounding" | "DIFFERS", first difference) of a model output against qonnx's."""
    if np.array_equal(gold, y):
        return "exact", None
    d = first_difference(y, gold, close=True)
    return ("float32 rounding", None) if d is None else ("DIFFERS", d)


def check_golden(model, x, gold, y, what: str, diffs: list, warns: list) -> str:
    """The table's status of y (hwgen) against gold (qonnx) on inputs x; a difference is a failure (a line in
    `diffs`) unless, on every input where they differ, it is qonnx's float32 sum rounding across a quantizer step
    that the float64 graph resolves as hwgen does (hwgen.verify_ties; a line in `warns`). model: the QONNX
    ModelProto gold came from."""
    from hwgen.verify_ties import classify

    status, d = compare_with_golden(gold, y)
    if d is None:
        return status
    try:
        c = classify(model, x, y, gold)
    except Exception as e:  # the float64 re-run cannot decide: every difference stays a failure
        rows = np.flatnonzero([first_difference(a[None], b[None], close=True) is not None
                               for a, b in zip(np.asarray(y), np.asarray(gold))]).tolist()
        c = {"ties": [], "bugs": rows or [d[0]], "first": None}
        what += f" (the float64 check of qonnx's rounding could not run: {type(e).__name__}: {str(e)[:120]})"
    if c["bugs"] or not c["ties"]:
        r = c["bugs"][0] if c["bugs"] else d[0]
        d = first_difference(y[r:r + 1], np.asarray(gold)[r:r + 1], close=True) or (0, ())
        d = (r, d[1])
        diffs.append(f"{what} at {_where(d)}: {np.asarray(y)[r].ravel()[:8]} vs {np.asarray(gold)[r].ravel()[:8]}"
                     + (f" ({len(c['bugs'])} inputs{' at least' if c.get('unchecked') else ''}; "
                        f"{len(c['ties'])} more are qonnx float32 ties)" if c["ties"] else ""))
        return "DIFFERS"
    warns.append(f"warning: {what} on {len(c['ties'])} of {len(x)} inputs, where qonnx's float32 sum rounds across "
                 f"a quantizer step; the float64 graph agrees with hwgen on all of them ({c['first']})")
    return f"{len(c['ties'])} float32 ties"


def _where(d) -> str:
    return f"input {d[0]}" + (f", output {list(d[1])}" if d[1] else "")


MEMORY_SHARE = 0.25  # of the machine's memory: the most the inputs of `verify -n` may take


def check_n(n: int, graph) -> None:
    """Refuse -n below 1, or so large that the inputs (and the outputs and copies every path makes) would not fit
    in MEMORY_SHARE of this machine's memory."""
    import os

    if n < 1:
        raise VerifyError(f"-n {n}: verify needs at least one random input (e.g. -n 100).")
    per_input = 8 * 6 * int(np.prod(graph.input_shape[1:]))  # float64 draws, float32 input, int64 streams, copies
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 8 << 30
    most = max(1, int(MEMORY_SHARE * memory // per_input))
    if n > most:
        raise VerifyError(f"-n {n}: that many inputs need about {n * per_input / 2**30:,.0f} GiB, more than "
                          f"{MEMORY_SHARE:.0%} of this machine's memory; give -n {most:,} or fewer (thresholds are "
                          "aimed at on top of them in any case).")


def verify(out, n: int = 100, backends=("reference",), seed: int = 0, model=None, log=print,
           threads: int | None = None) -> bool:
    """Compare every backend with the reference, and the reference with qonnx; True if all agree. `threads`: the
    cpu backend's (default: the cores available to the process)."""
    from hwgen.runtime.accelerator import Accelerator, backend_class
    from hwgen.snapshot import open_build

    backends = list(backends)
    if not backends:
        raise VerifyError("no backend to verify: give one or more of reference,csim,rtlsim,cpu.")
    if n < 1:
        raise VerifyError(f"-n {n}: verify needs at least one random input (e.g. -n 100).")
    for b in backends:
        backend_class(b)  # unknown or unavailable backends fail before any work
    snap = open_build(out)  # one build for every backend
    ref_acc = Accelerator(out, "reference", snapshot=snap)
    g = ref_acc.graph
    check_n(n, g)
    model_path = source_model(out, g, model)
    if g.single is None or quantizer_view(g.single) is not None:
        return verify_islands(out, ref_acc, model_path, n, backends, seed, log, threads)
    t = time.perf_counter()
    x, info = verify_inputs(g, n, seed)
    log(f"{len(x)} inputs: {info['raw']} raw floats, {info['uniform']} on uniform first-layer levels, "
        f"{info['aimed']} aimed at {info['targets']} threshold boundaries ({info['hit']} of them hit) "
        f"[{time.perf_counter() - t:.1f} s]")
    q0 = g.head_ints(x)
    ref_ints = ref_acc.execute_ints(q0)
    ref_out = g.tail.run(ref_ints)
    rows, diffs = [], []
    t = time.perf_counter()
    gold = golden(model_path, x)
    dt = time.perf_counter() - t
    warns = []
    status = check_golden(golden_model(model_path), x, gold, ref_out, "reference differs from qonnx (original graph)",
                          diffs, warns)
    rows.append(["qonnx (original graph)", "golden", status, f"{len(x) / dt:,.0f}"])
    for b in backends:
        # the cpu backend's compiled kernels themselves, not its numpy stand-in while they compile
        acc = ref_acc if b == "reference" else Accelerator(out, b, snapshot=snap, wait_for_kernels=True,
                                                            **_cpu_options(b, threads))
        t = time.perf_counter()
        ints = acc.execute_ints(q0)
        dt = time.perf_counter() - t
        d = first_difference(ints, ref_ints)
        same = d is None
        mism = 0 if same else (int((ints != ref_ints).any(axis=-1).sum()) if ints.shape == ref_ints.shape
                               else len(x))
        rows.append([b, f"{len(x) - mism}/{len(x)} frames bit-exact", "yes" if same else "NO", f"{len(x) / dt:,.0f}"])
        if not same:
            diffs.append(f"{b} differs from reference at {_where(d)} (last hardware layer's integers)")
    log(table(rows, ["path", "result", "bit-exact", "frames/s"]))
    for line in warns + diffs:
        log(line)
    return not diffs


def golden_between(model_path, inputs: list[str], outputs: list[str], feeds: dict, sub_out: list | None = None
                   ) -> dict:
    """qonnx's execution of the model's nodes from tensors `inputs` to `outputs` (the model as hwgen's frontend
    canonicalized it: the tensors hwgen's islands name); the extracted model is appended to sub_out if given."""
    import onnx.utils
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from hwgen.frontend import import_model

    model = onnx.ModelProto()
    model.CopyFrom(import_model(model_path).model)
    del model.graph.quantization_annotation[:]  # datatype annotations: the extractor refuses them (not needed)
    sub = onnx.utils.Extractor(model).extract_model(list(inputs), list(outputs))
    io = set(inputs) | set(outputs)
    keep = [v for v in sub.graph.value_info if v.name not in io]
    del sub.graph.value_info[:]
    sub.graph.value_info.extend(keep)
    from qonnx.transformation.change_batchsize import ChangeBatchSize

    n = next(iter(feeds.values())).shape[0]
    from qonnx.transformation.infer_shapes import InferShapes

    m = ModelWrapper(sub).transform(ChangeBatchSize(n)).transform(InferShapes())  # one batch, as golden()
    res = execute_onnx(m, dict(feeds))
    if sub_out is not None:
        sub_out.append(m.model)
    return {o: res[o] for o in outputs}


def _cpu_options(backend: str, threads) -> dict:
    return {"threads": threads} if backend == "cpu" and threads else {}


def verify_islands(out, ref_acc, model_path, n, backends, seed, log, threads=None) -> bool:
    """A model of several islands (or whose first layer runs on the CPU): the whole model on raw inputs against
    qonnx, then each hardware island on inputs aimed at its own thresholds from its input quantizer (the
    backends' integers against the reference, the reference against qonnx on the nodes from that quantizer's
    input to the island's output)."""
    from hwgen.frontend.input_types import declared_grid
    from hwgen.runtime.accelerator import Accelerator

    g = ref_acc.graph
    rng = np.random.default_rng(seed)
    first = g.islands[0]
    grid = declared_grid(first) if hasattr(first, "layers") else None
    if grid is not None:
        x = grid.random(rng, (n, *g.input_shape[1:]))
    elif hasattr(first, "layers") and first.input_name == g.input_name:
        x = raw_inputs(first, n, rng)
    else:
        x = rng.standard_normal((n, *g.input_shape[1:])).astype(np.float32)
    # model inputs searched through the CPU head / CPU islands so that every hardware island's accumulators land
    # on threshold boundaries: the whole model, backends included, runs on them
    t = time.perf_counter()
    small = grid is None or grid.hi - grid.lo < (1 << 16)  # a wider declared type: its raw values only
    xs, cover = model_inputs(g, x, budget_s=MODEL_SEARCH_S if small else 0.0, max_inputs=MODEL_SEARCH_INPUTS,
                             rng=rng, values=None if grid is None or not small else grid.values())
    cover.add(cover.pre(x))
    x = np.concatenate([x, xs]).astype(np.float32)
    log(f"{len(x)} model inputs: {n} raw, {len(xs)} searched through the CPU islands onto threshold boundaries "
        f"(every hardware island's boundaries hit: {cover.hit} of {cover.total}) [{time.perf_counter() - t:.1f} s]")
    what = f"{n} raw + {len(xs)} aimed inputs"
    rows, diffs, warns = [], [], []
    t = time.perf_counter()
    gold = golden(model_path, x)
    ref_out = g.execute(x)
    fps = f"{len(x) / (time.perf_counter() - t):,.0f}"
    status = check_golden(golden_model(model_path), x, gold, ref_out, "reference differs from qonnx (original "
                          "graph)", diffs, warns)
    rows.append(["model", "reference vs qonnx", what, status, fps])
    accs = {b: (ref_acc if b == "reference" else Accelerator(out, b, wait_for_kernels=True,
                                                               **_cpu_options(b, threads)))
            for b in backends}
    for b, acc in accs.items():
        if b == "reference":
            continue
        t = time.perf_counter()
        y = acc.execute(x)
        same = np.array_equal(y, ref_out)
        rows.append(["model", f"{b} vs reference", what, "yes" if same else "NO",
                     f"{len(x) / (time.perf_counter() - t):,.0f}"])
        if not same:
            diffs.append(f"{b} differs from reference on the model at {_where(first_difference(y, ref_out))}")
    for k, hw in enumerate(g.hw_islands):
        view = quantizer_view(hw) or hw
        xk, info = verify_inputs(view, n, seed)
        qk = view.head_ints(xk)
        ints = view.run_layers(qk)
        yk = view.tail.run(ints)
        sub = []
        gk = golden_between(model_path, [view.input_name], [hw.output_name], {view.input_name: xk},
                            sub)[hw.output_name]
        status = check_golden(sub[0], xk, gk, yk, f"hardware island {k}: reference differs from qonnx (inputs of "
                              f"{view.input_name!r})", diffs, warns)
        what = f"{info['aimed']} aimed at {info['targets']} thresholds ({info['hit']} hit), {info['uniform']} levels"
        rows.append([f"hw{k}", "reference vs qonnx", what, status, "-"])
        for b, acc in accs.items():
            if b == "reference":
                continue
            got = acc.execute_ints(qk, k)
            same = np.array_equal(got, ints)
            rows.append([f"hw{k}", f"{b} vs reference", what, "yes" if same else "NO", "-"])
            if not same:
                diffs.append(f"{b} differs from reference in hardware island {k} at "
                             f"{_where(first_difference(got, ints))} (its last layer's integers)")
    log(table(rows, ["island", "check", "inputs", "bit-exact", "frames/s"]))
    for line in warns + diffs:
        log(line)
    return not diffs
