"""Lowering: a model -> islands (hwgen.islands.IslandGraph), as a list of named passes over one graph.

    import, check, canonicalize      hwgen.frontend (QCDQ -> Quant, shapes, constant folding)
    PASSES below, in order:
      constants      weight quantizers and other constant sub-graphs evaluated once (their outputs are constants)
      input head     where the model's input enters hardware (hwgen.transforms.input_head)
      lower nodes    every node by its op's rule (hwgen.transforms.rules: fold BN and scales into thresholds,
                     absorb per-channel scales, conv -> window + matrix, pools, joins), or to the CPU with why
      exits          the tails where values leave hardware (hwgen.transforms.exits)
      duplicates     a Duplicate on every stream with several readers
      islands        hardware islands (one accelerator each) and CPU islands (hwgen.transforms.partition)
A pass may find that a node must run on the CPU after all (an island that would need two outputs, a sum qonnx
rounds); the passes then run again with that node on the CPU.

One path for every model: an MLP is a graph like any other. Its last MatMul stays in hardware only when qonnx's
float32 sum of it is exact (power-of-two scales, partial sums within 24 bits), else the CPU computes it from the
integer input as qonnx does: outputs are bit-exact with qonnx on every backend. Layer names are <kind>_<k>, per
kind in graph order (MVAU_0, MVAU_1, ..., Thresholding_0: FOLD.json keys); a matrix layer moved to the CPU keeps
its name in `meta["lowering"]["cpu_layers"]`, and a folding file naming it is ignored with a warning (hwgen.fold).
"""

from __future__ import annotations

import time

from hwgen.errors import UnsupportedModelError
from hwgen.islands import IslandGraph
from hwgen.transforms.exits import finish_exits
from hwgen.transforms.partition import build_islands
from hwgen.transforms.walk import Retry, Walk

MAX_RETRIES = 10000


def _constants(w, state):
    return w  # done by the walk's constructor (Lowering._evaluate_parameter_nodes)


def _walk(w, state):
    return w.run()


def _exits(w, state):
    state["exits"] = finish_exits(w)


def _duplicates(w, state):
    w.insert_duplicates()


def _islands(w, state):
    state["islands"] = build_islands(w, state["exits"], state["input"], state["input_shape"], state["output"])


PASSES = [
    ("constants", _constants),
    ("input head and lower nodes", _walk),
    ("exits", _exits),
    ("duplicates", _duplicates),
    ("islands", _islands),
]


def model_io(mw):
    inits = {i.name for i in mw.graph.initializer}
    inp = [i for i in mw.graph.input if i.name not in inits][0]
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    return inp.name, shape, mw.graph.output[0].name


def lower(mw, path, input_dtype=None, hw_only: bool = False, log=None) -> IslandGraph:
    """Run the passes (again, with more nodes on the CPU, until the islands are valid)."""
    inp, shape, out = model_io(mw)
    forced: dict = {}
    at_exit: set = set()  # nodes moved to the CPU where their value leaves hardware (a tail's float matrix layer)
    memo: dict = {}  # thresholds, shared by the walks (the same float ops and entry give the same thresholds)
    for _ in range(MAX_RETRIES):
        w = Walk(mw, path, input_dtype, forced, memo)
        state = {"input": inp, "input_shape": shape, "output": out}
        try:
            for name, fn in PASSES:
                t = time.perf_counter()
                fn(w, state)
                if log:
                    log(f"  {name}: {time.perf_counter() - t:.2f} s")
        except Retry as r:
            if r.node in forced or r.node is None:
                raise UnsupportedModelError(f"{path}: cannot partition at {r.node!r}: {r.reason}") from None
            forced[r.node] = r.reason
            if r.at_exit:
                at_exit.add(r.node)
            continue
        g = state["islands"]
        if hw_only:
            refuse_cpu_islands(g, w, path, at_exit)
        if w.cpu:
            check_runs(g, path)
        g.meta.setdefault("lowering", {})["head_error"] = w.head_error
        hw_names = {lay.name for lay in w.layers}
        g.meta["lowering"]["cpu_layers"] = {
            name: f"{node!r}: qonnx's float32 sum of this layer rounds; the CPU computes it bit-exactly"
            for name, node in w.cpu_layers.items() if node in at_exit and name not in hw_names}
        return g
    raise UnsupportedModelError(f"{path}: the graph could not be partitioned into islands.")


def check_runs(g: IslandGraph, path) -> None:
    """The CPU runs nodes no rule checked: run the islands once on a zero input, so that a model qonnx cannot
    execute (inconsistent shapes, say) is refused here, naming the node, and not at its first run."""
    import numpy as np

    from hwgen.errors import HwgenError

    try:
        with np.errstate(all="ignore"):
            g.execute(np.zeros((1, *g.input_shape[1:]), np.float32))
    except HwgenError as e:
        raise UnsupportedModelError(f"{path}: {e}") from None


def refuse_cpu_islands(g: IslandGraph, w, path, at_exit=()) -> None:
    """--hw-only: everything but the input head and the output tail (the float work where the output leaves
    hardware) in one hardware island, or the first node that is not, and why."""
    own = [(name, why) for name, why in w.cpu.items() if name not in at_exit]
    if g.single is not None and not own:
        return
    for name, why in own[:1]:  # the first node the walk left to the CPU, in graph order
        raise UnsupportedModelError(f"{path}: {why} (--hw-only: every node between the input head and the output "
                                    "tail must run in hardware; build without --hw-only to run it on the CPU)")
    if not g.hw_islands:
        raise UnsupportedModelError(f"{path}: nothing of the model runs in hardware ({w.head_error}).")
    raise UnsupportedModelError(f"{path}: the model needs {len(g.hw_islands)} hardware islands (--hw-only).")

