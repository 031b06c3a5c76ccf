"""FIFO sizing by simulation: the smallest depth of the FIFO on every stream of the finished design (the graph's
streams, width converters' included) that keeps the steady-state rate of the same design with very deep FIFOs,
confirmed in the Verilator model. The depths are stored in the graph (`graph.fifo_depths`, by stream name), so
the HLS top and the RTL top are both rendered with them.

Each FIFO is sized in turn (stream order) by bisection, with the FIFOs before it at their chosen depths and the
ones after it still very deep; a trial that stalls (the harness' watchdog) counts as too shallow. The final
combination is exactly the last accepted trial, so the result is confirmed by construction, and because the
rate is monotone in each depth, halving any planned depth loses throughput or deadlocks.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from hwgen.errors import ToolError

DEEP_FACTOR = 4  # "very deep": four times the rule depth (which already never throttles)


def random_inputs(graph, frames, seed=0):
    i = graph.design().input
    rng = np.random.default_rng(seed)
    return i.dtype.random(rng, (frames, i.words_per_frame * i.elems_per_word))


def measure(out_dir: Path, graph, depths: dict, q, watchdog: int = 20_000) -> float:
    """Steady-state cycles per frame of the design with these FIFO depths (inf if it stalls)."""
    from hwgen.codegen.rtl_project import write_rtl_project
    from hwgen.runtime.rtlsim import RtlsimBackend

    work = Path(out_dir)
    if (work / "rtl").exists():
        shutil.rmtree(work / "rtl")
    write_rtl_project(work / "rtl", graph, fifo_depths=depths)
    be = RtlsimBackend(work, graph, watchdog=watchdog, record=False)
    try:
        be.run_ints(q)
    except ToolError:
        return float("inf")
    cpf = be.stats().get("cycles_per_frame")
    return float("inf") if cpf is None else float(cpf)


def size_fifos(out_dir, graph, frames: int = 16, log=print) -> dict:
    """Measure the depths; returns the report ("depths": {stream name: depth}, ...). The caller stores them in
    graph.fifo_depths."""
    import dataclasses

    t0 = time.perf_counter()
    work = Path(out_dir) / "fifo_sizing"
    work.mkdir(parents=True, exist_ok=True)
    graph = dataclasses.replace(graph, fifo_depths={}, edges=list(graph.edges))  # the rule, then trials
    q = random_inputs(graph, frames)
    streams = graph.design().streams
    rule = {s.name: s.depth for s in streams}
    depths = {k: DEEP_FACTOR * v for k, v in rule.items()}
    target = measure(work, graph, depths, q)
    if not np.isfinite(target):
        raise ToolError("FIFO sizing: the design stalls even with very deep FIFOs; this is a bug, please report.")
    trials = 1
    from hwgen.progress import progress

    for name in progress(list(rule), desc="FIFO sizing", unit="FIFO"):
        lo, hi = 1, depths[name]
        while lo < hi:  # smallest depth whose rate equals the deep design's
            mid = (lo + hi) // 2
            cpf = measure(work, graph, dict(depths, **{name: mid}), q)
            trials += 1
            if cpf <= target + 1e-6:
                hi = mid
            else:
                lo = mid + 1
        depths[name] = lo
        log(f"  FIFO on {name}: {lo} words (rule {rule[name]})")
    final = measure(work, graph, depths, q)
    trials += 1
    widths = {s.name: s.bits for s in streams}
    shutil.rmtree(work, ignore_errors=True)
    return {
        "method": "bisection per FIFO in the Verilator model (rate of the very-deep design as the target)",
        "depths": depths, "rule_depths": rule,
        "bits": {k: depths[k] * widths[k] for k in depths}, "total_bits": sum(depths[k] * widths[k] for k in depths),
        "rule_total_bits": sum(rule[k] * widths[k] for k in rule),
        "cycles_per_frame_deep": target, "cycles_per_frame_sized": final, "frames": frames, "trials": trials,
        "seconds": round(time.perf_counter() - t0, 1),
    }
