"""Folding search: PE / SIMD per layer for a target rate, or the fastest design that fits the board.

The pipeline's rate is set by its slowest layer, so for a frame interval of T cycles each fold unit can be folded
independently: the cheapest legal (PE, SIMD) with cycles <= T. A unit is a layer plus the data-moving layers that
follow it (a sliding-window generator and a pad take their consumer's word: hwgen.fold.units), so a conv's
generator is never folded apart from its MVAU / VVAU / Pool; every other kind (Pool, Thresholding, AddStreams,
Duplicate, Concat, Upsample, ...) is its own unit and gets the cheapest PE that meets T, so it is never the
bottleneck when a cheaper choice exists. "Cheapest" counts LUTs as fractions of the board; BRAM, DSP and FFs are
cheap until the design would overflow their budget, then weighted up until it does not. Without a target, the
smallest T whose cheapest design fits the board's budget is found by bisection over the units' achievable cycle
counts (cost grows as T falls). Every choice is explained: bottleneck, target, the cost of the pick, how many
alternatives met T, and when a target or a faster design does not fit, which resource and which layers.

I/O: given `io_cycles` (folded layers -> the cycles per frame the DMA needs, hwgen.codegen.dma), the fastest
design stops at the I/O bound: when the compute interval would be shorter than the DMA's, the layers are folded
for the DMA's interval instead (cheaper, no slower) and the explanation says so. A target rate above the I/O
bound is folded as asked, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwgen.errors import FoldingError
from hwgen.fold.units import (  # noqa: F401  (MAX_STREAM_BITS: re-exported)
    MAX_STREAM_BITS, RESOURCES, Unit, board_use, build_table, make_units, priced)

DEFAULT_BUDGET = {"luts": 0.8, "ffs": 0.8, "bram18": 0.9, "uram": 0.9, "dsps": 0.9}  # fraction usable by layers


@dataclass
class Choice:
    pe: int
    simd: int
    cycles: int
    resources: dict
    cost: float
    alternatives: int
    members: dict  # layer name -> (pe, simd, cycles) of the unit's layers at this choice


# LUTs are what these designs run out of first; the other resources start cheap and are weighted up only when
# the design would exceed their budget (see fold_for_interval).
BASE_WEIGHTS = {"luts": 1.0, "ffs": 0.05, "bram18": 0.05, "uram": 0.05, "dsps": 0.05}


def cost_of(res: dict, capacity: dict, weights: dict | None = None) -> float:
    """Weighted fractions of the board the layer takes; a resource the board lacks is prohibitive."""
    w = weights or BASE_WEIGHTS
    u = board_use(res)
    return sum(w[r] * u[r] / capacity[r] if capacity.get(r, 0) > 0 else (1e3 * u[r]) for r in RESOURCES)


# Only foldings within this factor of the slowest one that meets the interval are priced: more parallelism costs
# more logic and wider, no fewer, memories, so the cheapest is among the slow ones; pricing every folding of a big
# MVAU (its cost model reads the whole weight matrix) would dominate the build time.
PRICE_WINDOW = 2
PRICE_LEVELS = 3  # and at most the 3 slowest distinct cycle counts (every (PE, SIMD) split of each is priced)


def cheapest(unit: Unit, max_cycles: int, capacity: dict, weights: dict | None = None) -> Choice | None:
    best = None
    meet = [c for c in unit.table if c.cycles <= max_cycles]
    n = len(meet)
    slowest = max((c.cycles for c in meet), default=0)
    levels = sorted({c.cycles for c in meet if c.cycles * PRICE_WINDOW >= slowest}, reverse=True)[:PRICE_LEVELS]
    for c in priced(unit, [c for c in meet if c.cycles >= levels[-1]] if levels else []):
        k = cost_of(c.resources, capacity, weights)
        # ties: fewer cycles (more headroom), then narrower streams
        key = (k, c.cycles, c.pe * c.simd)
        if best is None or key < best[0]:
            best = (key, c)
    if best is None:
        return None
    c = best[1]
    return Choice(c.pe, c.simd, c.cycles, c.resources, best[0][0], n, c.members)


def fastest(unit: Unit) -> int:
    return min(c.cycles for c in unit.table)


def fold_for_interval(units, max_cycles: int, capacity: dict, budget: dict | None = None) -> list[Choice]:
    """Cheapest folding per unit within `max_cycles`; a resource that would overflow its budget gets a
    higher weight and the choice is repeated (a few rounds), so scarce resources are traded for LUTs."""
    budget = budget or DEFAULT_BUDGET
    weights = dict(BASE_WEIGHTS)
    for _ in range(8):
        out = []
        for unit in units:
            ch = cheapest(unit, max_cycles, capacity, weights)
            if ch is None:
                fast = min(unit.table, key=lambda c: c.cycles)
                who = max(fast.members, key=lambda n: fast.members[n][2])  # the member that limits the unit
                tied = f" (tied to {unit.main.name})" if who != unit.main.name else ""
                raise FoldingError(f"layer {who}{tied} cannot reach {max_cycles} cycles per frame (fastest legal "
                                   f"folding: {fast.cycles} cycles); lower the target rate.")
            out.append(ch)
        tot = totals(out)
        over = [r for r in RESOURCES if r != "luts" and capacity.get(r, 0) and tot[r] > budget[r] * capacity[r]]
        if not over:
            return out
        for r in over:
            weights[r] *= 8
    return out


def totals(choices) -> dict:
    return {r: sum(c.resources.get(r, 0) for c in choices) for r in RESOURCES}


def fits(tot: dict, capacity: dict, budget: dict) -> bool:
    return all(tot[r] <= budget.get(r, 1.0) * capacity.get(r, 0) for r in RESOURCES)


def apply_choices(units, choices) -> None:
    for unit, ch in zip(units, choices):
        unit.main.set_folding(ch.pe, ch.simd)
        unit.follow()


def _io_of(units, choices, io_cycles) -> int:
    layers = [lay for u in units for lay in u.layers]
    keep = [(lay.pe, lay.simd) for lay in layers]
    try:
        for unit, ch in zip(units, choices):
            unit.apply(ch.pe, ch.simd)
        return int(io_cycles(layers))
    finally:
        for lay, (pe, simd) in zip(layers, keep):
            lay.pe, lay.simd = pe, simd


def _stop_at_io_bound(units, choices, t, capacity, budget, io_cycles):
    """(choices, t, note): refold for the DMA's interval when the compute interval is shorter."""
    io = _io_of(units, choices, io_cycles)
    if max(ch.cycles for ch in choices) >= io:
        return choices, t, ""
    for _ in range(4):  # the DMA interval depends on the first / last layers' word widths: settle it
        cand = fold_for_interval(units, io, capacity, budget)
        io2 = _io_of(units, cand, io_cycles)
        choices, t = cand, io
        if io2 <= io:
            break
        io = io2
    return choices, t, (f"; stopped at the I/O bound: the DMA needs {io} cycles per frame, so a faster "
                        f"folding would not run faster (folded for {io} cycles)")


def over_budget_reason(units, choices, capacity: dict, budget: dict) -> str:
    """Which resource overflows the budget and which layers take most of it."""
    tot = totals(choices)
    parts = []
    for r in RESOURCES:
        lim = budget.get(r, 1.0) * capacity.get(r, 0)
        if tot[r] <= lim:
            continue
        top = sorted(zip(units, choices), key=lambda uc: -uc[1].resources.get(r, 0))[:2]
        who = ", ".join(f"{u.main.name} {c.resources.get(r, 0):,}" for u, c in top)
        parts.append(f"{r}: {tot[r]:,} estimated > {lim:,.0f} ({budget.get(r, 1.0):.0%} of {capacity.get(r, 0):,}; "
                     f"largest: {who})")
    return "; ".join(parts)


def search(layers, capacity: dict, clock_mhz: float, target_fps: float | None = None,
           budget: dict | None = None, io_cycles=None, edges=None, keep=()) -> dict:
    """Apply the chosen folding to `layers` (a DAG with `edges`, a chain by default); return the explanation for
    the report. `keep`: layer names folded on their own even when they could follow their consumer."""
    budget = budget or DEFAULT_BUDGET
    has_uram = capacity.get("uram", 0) > 0
    units = make_units(layers, edges, keep)
    cache: dict = {}
    for unit in units:
        build_table(unit, has_uram, cache)
    if target_fps is not None:
        if target_fps <= 0:
            raise FoldingError(f"--target-fps must be positive, got {target_fps}.")
        t = int(clock_mhz * 1e6 // target_fps)
        if t < 1:
            raise FoldingError(f"--target-fps {target_fps:,.0f} asks for more than one frame per clock cycle at "
                               f"{clock_mhz:g} MHz; the most a dataflow pipeline gives is {clock_mhz * 1e6:,.0f}.")
        choices = fold_for_interval(units, t, capacity, budget)
        mode = f"target {target_fps:,.0f} frames/s at {clock_mhz:g} MHz -> at most {t} cycles per frame"
        over = "" if fits(totals(choices), capacity, budget) else over_budget_reason(units, choices, capacity, budget)
        if over:
            mode += "; the cheapest folding that reaches it is over the board's budget: " + over
        if io_cycles is not None and _io_of(units, choices, io_cycles) > t:
            mode += (f"; the target is above the I/O bound (the DMA needs {_io_of(units, choices, io_cycles)} "
                     "cycles per frame): the estimate is the I/O bound")
    else:
        floor = max(fastest(unit) for unit in units)
        points = sorted({c.cycles for unit in units for c in unit.table if c.cycles >= floor})
        lo, hi = 0, len(points) - 1
        if fits(totals(fold_for_interval(units, points[0], capacity, budget)), capacity, budget):
            hi = 0  # the fastest the layers allow fits (often, on a board larger than the model): no bisection
        slowest = fold_for_interval(units, points[hi], capacity, budget)
        if not fits(totals(slowest), capacity, budget):
            raise FoldingError("even the most folded design does not fit the board's budget ("
                               + over_budget_reason(units, slowest, capacity, budget)
                               + "); choose a larger board or quantize to fewer bits.")
        while lo < hi:  # smallest interval whose cheapest design fits
            mid = (lo + hi) // 2
            if fits(totals(fold_for_interval(units, points[mid], capacity, budget)), capacity, budget):
                hi = mid
            else:
                lo = mid + 1
        t = points[lo]
        choices = fold_for_interval(units, t, capacity, budget)
        mode = f"fastest design within the board budget ({', '.join(f'{k} {v:.0%}' for k, v in budget.items())})"
        if lo > 0:
            faster = fold_for_interval(units, points[lo - 1], capacity, budget)
            mode += f"; a faster one ({points[lo - 1]} cycles) would not fit: " + over_budget_reason(
                units, faster, capacity, budget)
        if io_cycles is not None:
            choices, t, note = _stop_at_io_bound(units, choices, t, capacity, budget, io_cycles)
            mode += note
    apply_choices(units, choices)
    explain = {"mode": mode, "max_cycles": t, "layers": {}, "totals": totals(choices)}
    if target_fps is not None and over:
        explain["over_budget"] = over  # the CLI warns (hwgen.cli)
    for unit, ch in zip(units, choices):
        for lay in unit.layers:
            if lay is unit.main:
                why = f"cheapest of {ch.alternatives} legal foldings with <= {t} cycles"
            else:
                why = f"tied to {dict(unit.tied)[lay].name}'s input word (SIMD {lay.simd})"
            explain["layers"][lay.name] = {"pe": lay.pe, "simd": lay.simd, "cycles": lay.cycles(),
                                           "cost": round(ch.cost, 6) if lay is unit.main else 0.0,
                                           "alternatives_meeting_target": ch.alternatives, "why": why}
    explain["layers"] = {lay.name: explain["layers"][lay.name] for lay in layers}  # graph order
    mark_bottleneck(explain, layers)
    if io_cycles is not None:
        explain["io_cycles_per_frame"] = _io_of(units, choices, io_cycles)
    return explain


def mark_bottleneck(explain: dict, layers) -> None:
    """cycles_per_frame, bottleneck (the slowest layer, first in graph order) and its why."""
    for e in explain["layers"].values():
        e["why"] = e["why"].removeprefix("bottleneck: ")
    cyc = {lay.name: lay.cycles() for lay in layers}
    cpf = max(cyc.values())
    bottleneck = next(n for n, c in cyc.items() if c == cpf)
    explain["cycles_per_frame"] = cpf
    explain["bottleneck"] = bottleneck
    e = explain["layers"][bottleneck]
    e["why"] = "bottleneck: " + e["why"]
