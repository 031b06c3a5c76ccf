"""FIFO sizing by simulation: the smallest depth of the FIFO on every stream of the finished design (the graph's
streams, width converters' included) that keeps the steady-state rate of the same design with very deep FIFOs,
confirmed in the Verilator model. The depths are stored in the graph (`graph.fifo_depths`, by stream name), so
the HLS top and the RTL top are both rendered with them.

1. Deep start, deadlock-free: every FIFO gets DEEP_FACTOR times its rule's depth, and on a graph with joins one
   frame of its stream more (a skip connection's short branch holds what the long branch keeps back). If that
   design still stalls, the watchdog's diagnosis (hwgen.sim.stall) names the FIFOs to deepen (a deadlocked join's
   backed-up branch); they are deepened and the run repeated, up to ESCALATIONS times.
2. Shrink to what was used: each FIFO's maximum occupancy in the deep run, plus one word, reproduces the deep
   run cycle for cycle; it is kept when the run confirms the rate.
3. Each FIFO in turn (stream order), by bisection, with the others at their current depths; a trial that stalls
   (the watchdog) counts as too shallow.
4. On a graph with joins, the dataflow C simulation of the HLS top at those depths (hwgen.sim.csim
   .deadlock_free_depths): its processes hold fewer words than the RTL blocks, so a join's branch FIFO the RTL
   needs no deeper may deadlock it; those FIFOs are deepened to the least depth that runs in C simulation too.
Trials run one Verilator model whose FIFOs (templates/rtl/hwgen_fifo.v with SIZING = 1) read their depths at run
time, so a trial is a run, not a build. The chosen depths are then confirmed once in the real design (hwgen_fifo
at those depths). Because the rate is monotone in each depth, halving any chosen depth loses throughput or
deadlocks.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from hwgen.errors import ToolError

DEEP_FACTOR = 4  # "very deep": four times the rule depth (which already never throttles a chain)
ESCALATIONS = 6  # deepening rounds of a deep start that still deadlocks
JOIN_FRAMES = 1  # frames of its stream added to every FIFO of a graph with joins, in the deep start
TOP = "hwgen_top"


def random_inputs(graph, frames, seed=0):
    i = graph.design().input
    rng = np.random.default_rng(seed)
    return i.dtype.random(rng, (frames, i.words_per_frame * i.elems_per_word))


def measure(out_dir: Path, graph, depths: dict, q, watchdog: int = 20_000) -> float:
    """Steady-state cycles per frame of the real design with these FIFO depths (inf if it stalls)."""
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


class SizingModel:
    """The design with FIFOs whose depths are set per run (up to `capacity` words each): one Verilator build,
    many trials."""

    def __init__(self, work: Path, graph, capacity: dict, q, watchdog: int = 20_000):
        from hwgen.codegen.rtl_project import write_rtl_project
        from hwgen.runtime.rtlsim import RtlsimBackend

        self.rtl = Path(work) / "rtl"
        if self.rtl.exists():
            shutil.rmtree(self.rtl)
        self.capacity, self.q = dict(capacity), q
        self.bits = {s.name: s.bits for s in graph.design().streams}
        write_rtl_project(self.rtl, graph, TOP, fifo_depths=self.capacity, sizing=self.capacity)
        self.be = RtlsimBackend(work, graph, watchdog=watchdog, record=False)
        self.trials = 0

    def run(self, depths: dict) -> float:
        """Steady-state cycles per frame with these depths (inf if the run stalls)."""
        from hwgen.codegen.rtl_project import sizing_fifo_cfg

        for name, d in depths.items():
            if d > self.capacity[name]:
                raise ValueError(f"FIFO sizing: depth {d} of {name} over the model's capacity {self.capacity[name]}")
            module = f"{TOP}__fifo_{name}"
            (self.rtl / f"{module}.depth").write_text("\n".join(sizing_fifo_cfg(module, self.bits[name], d)) + "\n")
        self.trials += 1
        try:
            self.be.run_ints(self.q)
        except ToolError:
            return float("inf")
        cpf = self.be.stats().get("cycles_per_frame")
        return float("inf") if cpf is None else float(cpf)

    def max_occupancy(self) -> dict:
        return {k: v["max_occupancy"] for k, v in self.be.stats()["streams"].items()}

    def to_deepen(self, frames: int) -> list[str]:
        from hwgen.sim.stall import to_deepen

        return to_deepen(self.be.m, self.be.last_status, frames)


def _deep_start(work: Path, graph, q, frames: int, log) -> tuple[SizingModel, dict, float, int]:
    """A deep design that runs (deepening what a deadlock names); returns (model, depths, its rate, builds)."""
    streams = graph.design().streams
    wpf = {s.name: s.words_per_frame for s in streams}
    joins = any(lay.n_inputs > 1 for lay in graph.layers)
    depths = {s.name: DEEP_FACTOR * s.depth + (JOIN_FRAMES * s.words_per_frame if joins else 0) for s in streams}
    for builds in range(1, ESCALATIONS + 2):
        model = SizingModel(work, graph, depths, q)
        target = model.run(depths)
        if np.isfinite(target):
            return model, depths, target, builds
        names = model.to_deepen(frames)
        if not names or builds > ESCALATIONS:
            break
        for k in names:
            depths[k] = 2 * depths[k] + wpf[k]
        log(f"  deep design deadlocks: deepening {', '.join(f'{k} to {depths[k]}' for k in names)}")
    from hwgen.sim.stall import stall_message

    raise ToolError("FIFO sizing: the design stalls even with very deep FIFOs (up to "
                    f"{max(depths.values())} words): " + stall_message(model.be.m, model.be.last_status, frames,
                                                                     model.be.watchdog))


def size_fifos(out_dir, graph, frames: int = 16, log=print) -> dict:
    """Measure the depths; returns the report ("depths": {stream name: depth}, ...). The caller stores them in
    graph.fifo_depths."""
    import dataclasses

    from hwgen.progress import progress

    t0 = time.perf_counter()
    work = Path(out_dir) / "fifo_sizing"
    work.mkdir(parents=True, exist_ok=True)
    graph = dataclasses.replace(graph, fifo_depths={}, edges=list(graph.edges))  # the rule, then trials
    q = random_inputs(graph, frames)
    streams = graph.design().streams
    rule = {s.name: s.depth for s in streams}
    model, deep, target, builds = _deep_start(work, graph, q, frames, log)
    used = {k: max(1, min(deep[k], v + 1)) for k, v in model.max_occupancy().items()}
    depths = used if model.run(used) <= target + 1e-6 else dict(deep)
    for name in progress(list(rule), desc="FIFO sizing", unit="FIFO"):
        lo, hi = 1, depths[name]
        while lo < hi:  # smallest depth whose rate equals the deep design's
            mid = (lo + hi) // 2
            if model.run(dict(depths, **{name: mid})) <= target + 1e-6:
                hi = mid
            else:
                lo = mid + 1
        depths[name] = lo
        log(f"  FIFO on {name}: {lo} words (rule {rule[name]})")
    csim_added = {}
    if any(lay.n_inputs > 1 for lay in graph.layers):  # on a chain no depth can deadlock
        # the HLS processes hold fewer words than the RTL blocks (no output registers): the dataflow C
        # simulation of the same depths must not deadlock either (both tops are rendered with them)
        from hwgen.sim.csim import deadlock_free_depths

        depths, csim_added = deadlock_free_depths(work, graph, depths, q, log)
    final = measure(work, graph, depths, q)  # the real FIFOs at the chosen depths
    if final > target + 1e-6:
        raise ToolError(f"FIFO sizing: the design with the chosen depths runs at {final} cycles per frame, the deep "
                        f"design at {target}; this is a bug, please report (depths: {depths})")
    widths = {s.name: s.bits for s in streams}
    shutil.rmtree(work, ignore_errors=True)
    return {
        "method": "deep start (deadlocks deepened), shrunk to the maximum occupancy, then bisection per FIFO in the "
                  "Verilator model (rate of the very-deep design as the target)",
        "depths": depths, "rule_depths": rule, "deep_depths": deep,
        "bits": {k: depths[k] * widths[k] for k in depths}, "total_bits": sum(depths[k] * widths[k] for k in depths),
        "rule_total_bits": sum(rule[k] * widths[k] for k in rule),
        "cycles_per_frame_deep": target, "cycles_per_frame_sized": final, "frames": frames,
        "csim_deepened": csim_added,
        "trials": model.trials + 1, "verilator_builds": builds + 1,
        "seconds": round(time.perf_counter() - t0, 1),
    }
