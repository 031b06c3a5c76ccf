"""Folding search: PE / SIMD per layer for a target rate, or the fastest design that fits the board.

The pipeline's rate is set by its slowest layer, so for a frame interval of T cycles each layer can be folded
independently: the cheapest legal (PE, SIMD) with cycles <= T. "Cheapest" weighs every resource by the board's
capacity (a BRAM on a small Zynq costs more than a LUT). Without a target, the smallest T whose cheapest design
fits the board's budget is found by bisection over the layers' achievable cycle counts (cost grows as T falls).
Every choice is explained: bottleneck, target, the cost of the pick and how many alternatives met T.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwgen.errors import FoldingError

RESOURCES = ("luts", "ffs", "bram18", "uram", "dsps")
DEFAULT_BUDGET = {"luts": 0.8, "ffs": 0.8, "bram18": 0.9, "uram": 0.9, "dsps": 0.9}  # fraction usable by layers
MAX_STREAM_BITS = 4096  # widest stream word the search will create (DMA / routing sanity)


@dataclass
class Choice:
    pe: int
    simd: int
    cycles: int
    resources: dict
    cost: float
    alternatives: int


def _candidates(layer):
    keep = (layer.pe, layer.simd)
    try:
        for pe in layer.legal_pe():
            for simd in layer.legal_simd():
                layer.pe, layer.simd = pe, simd
                if max(layer.in_stream_bits(), layer.out_stream_bits()) <= MAX_STREAM_BITS:
                    yield pe, simd
    finally:
        layer.pe, layer.simd = keep


def cost_of(res: dict, capacity: dict) -> float:
    return sum(res.get(r, 0) / max(capacity.get(r, 0), 1) for r in RESOURCES if capacity.get(r, 0) > 0) + \
        sum(1e3 * res.get(r, 0) for r in RESOURCES if capacity.get(r, 0) == 0 and res.get(r, 0))


def cheapest(layer, max_cycles: int, capacity: dict) -> Choice | None:
    best, n = None, 0
    for pe, simd in _candidates(layer):
        c = layer.cycles(pe, simd)
        if c > max_cycles:
            continue
        n += 1
        res = layer.resources(pe, simd)
        k = cost_of(res, capacity)
        # ties: fewer cycles (more headroom), then narrower streams
        key = (k, c, pe * simd)
        if best is None or key < best[0]:
            best = (key, Choice(pe, simd, c, res, k, 0))
    if best is None:
        return None
    best[1].alternatives = n
    return best[1]


def fold_for_interval(layers, max_cycles: int, capacity: dict) -> list[Choice]:
    out = []
    for layer in layers:
        ch = cheapest(layer, max_cycles, capacity)
        if ch is None:
            fastest = min(layer.cycles(pe, simd) for pe, simd in _candidates(layer))
            raise FoldingError(f"layer {layer.name} cannot reach {max_cycles} cycles per frame (fastest legal "
                               f"folding: {fastest} cycles); lower the target rate.")
        out.append(ch)
    return out


def totals(choices) -> dict:
    return {r: sum(c.resources.get(r, 0) for c in choices) for r in RESOURCES}


def fits(tot: dict, capacity: dict, budget: dict) -> bool:
    return all(tot[r] <= budget.get(r, 1.0) * capacity.get(r, 0) for r in RESOURCES)


def search(layers, capacity: dict, clock_mhz: float, target_fps: float | None = None,
           budget: dict | None = None) -> dict:
    """Apply the chosen folding to `layers`; return the explanation for the report."""
    budget = budget or DEFAULT_BUDGET
    if target_fps is not None:
        if target_fps <= 0:
            raise FoldingError(f"--target-fps must be positive, got {target_fps}.")
        t = max(1, int(clock_mhz * 1e6 // target_fps))
        choices = fold_for_interval(layers, t, capacity)
        mode = f"target {target_fps:,.0f} frames/s at {clock_mhz:g} MHz -> at most {t} cycles per frame"
    else:
        points = sorted({layer.cycles(pe, simd) for layer in layers for pe, simd in _candidates(layer)})
        floor = max(min(layer.cycles(pe, simd) for pe, simd in _candidates(layer)) for layer in layers)
        points = [p for p in points if p >= floor]
        lo, hi = 0, len(points) - 1
        if not fits(totals(fold_for_interval(layers, points[hi], capacity)), capacity, budget):
            raise FoldingError("even the most folded design does not fit the board's budget; choose a larger "
                               "board or quantize to fewer bits.")
        while lo < hi:  # smallest interval whose cheapest design fits
            mid = (lo + hi) // 2
            if fits(totals(fold_for_interval(layers, points[mid], capacity)), capacity, budget):
                hi = mid
            else:
                lo = mid + 1
        t = points[lo]
        choices = fold_for_interval(layers, t, capacity)
        mode = f"fastest design within the board budget ({', '.join(f'{k} {v:.0%}' for k, v in budget.items())})"
    for layer, ch in zip(layers, choices):
        layer.set_folding(ch.pe, ch.simd)
    cpf = max(ch.cycles for ch in choices)
    bottleneck = layers[[ch.cycles for ch in choices].index(cpf)].name
    explain = {
        "mode": mode,
        "max_cycles": t,
        "cycles_per_frame": cpf,
        "bottleneck": bottleneck,
        "layers": {layer.name: {"pe": ch.pe, "simd": ch.simd, "cycles": ch.cycles, "cost": round(ch.cost, 6),
                                "alternatives_meeting_target": ch.alternatives,
                                "why": ("bottleneck: " if layer.name == bottleneck else "") +
                                f"cheapest of {ch.alternatives} legal foldings with <= {t} cycles"}
                   for layer, ch in zip(layers, choices)},
        "totals": totals(choices),
    }
    return explain
