"""Folding search: PE / SIMD per layer for a target rate, or the fastest design that fits the board.

The pipeline's rate is set by its slowest layer, so for a frame interval of T cycles each layer can be folded
independently: the cheapest legal (PE, SIMD) with cycles <= T. "Cheapest" counts LUTs as fractions of the board;
BRAM, DSP and FFs are cheap until the design would overflow their budget, then weighted up until it does not. Without a target, the smallest T whose cheapest design
fits the board's budget is found by bisection over the layers' achievable cycle counts (cost grows as T falls).
Every choice is explained: bottleneck, target, the cost of the pick and how many alternatives met T.

I/O: given `io_cycles` (folded layers -> the cycles per frame the DMA needs, hwgen.codegen.dma), the fastest
design stops at the I/O bound: when the compute interval would be shorter than the DMA's, the layers are folded
for the DMA's interval instead (cheaper, no slower) and the explanation says so. A target rate above the I/O
bound is folded as asked, with a note.
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


def board_use(res: dict) -> dict:
    """A layer's estimate as the board's resource kinds (LUT-RAM is made of LUTs)."""
    u = {r: res.get(r, 0) for r in RESOURCES}
    u["luts"] += res.get("lutram", 0)
    return u


# LUTs are what these designs run out of first; the other resources start cheap and are weighted up only when
# the design would exceed their budget (see fold_for_interval).
BASE_WEIGHTS = {"luts": 1.0, "ffs": 0.05, "bram18": 0.05, "uram": 0.05, "dsps": 0.05}


def cost_of(res: dict, capacity: dict, weights: dict | None = None) -> float:
    """Weighted fractions of the board the layer takes; a resource the board lacks is prohibitive."""
    w = weights or BASE_WEIGHTS
    u = board_use(res)
    return sum(w[r] * u[r] / capacity[r] if capacity.get(r, 0) > 0 else (1e3 * u[r]) for r in RESOURCES)


def cheapest(layer, max_cycles: int, capacity: dict, weights: dict | None = None) -> Choice | None:
    best, n = None, 0
    for pe, simd in _candidates(layer):
        c = layer.cycles(pe, simd)
        if c > max_cycles:
            continue
        n += 1
        res = board_use(layer.resources(pe, simd))
        k = cost_of(res, capacity, weights)
        # ties: fewer cycles (more headroom), then narrower streams
        key = (k, c, pe * simd)
        if best is None or key < best[0]:
            best = (key, Choice(pe, simd, c, res, k, 0))
    if best is None:
        return None
    best[1].alternatives = n
    return best[1]


def fold_for_interval(layers, max_cycles: int, capacity: dict, budget: dict | None = None) -> list[Choice]:
    """Cheapest folding per layer within `max_cycles`; a resource that would overflow its budget gets a
    higher weight and the choice is repeated (a few rounds), so scarce resources are traded for LUTs."""
    budget = budget or DEFAULT_BUDGET
    weights = dict(BASE_WEIGHTS)
    for _ in range(8):
        out = []
        for layer in layers:
            ch = cheapest(layer, max_cycles, capacity, weights)
            if ch is None:
                fastest = min(layer.cycles(pe, simd) for pe, simd in _candidates(layer))
                raise FoldingError(f"layer {layer.name} cannot reach {max_cycles} cycles per frame (fastest legal "
                                   f"folding: {fastest} cycles); lower the target rate.")
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


def _io_of(layers, choices, io_cycles) -> int:
    keep = [(layer.pe, layer.simd) for layer in layers]
    try:
        for layer, ch in zip(layers, choices):
            layer.pe, layer.simd = ch.pe, ch.simd
        return int(io_cycles(layers))
    finally:
        for layer, (pe, simd) in zip(layers, keep):
            layer.pe, layer.simd = pe, simd


def _stop_at_io_bound(layers, choices, t, capacity, budget, io_cycles):
    """(choices, t, note): refold for the DMA's interval when the compute interval is shorter."""
    io = _io_of(layers, choices, io_cycles)
    if max(ch.cycles for ch in choices) >= io:
        return choices, t, ""
    for _ in range(4):  # the DMA interval depends on the first / last layers' word widths: settle it
        cand = fold_for_interval(layers, io, capacity, budget)
        io2 = _io_of(layers, cand, io_cycles)
        choices, t = cand, io
        if io2 <= io:
            break
        io = io2
    return choices, t, (f"; stopped at the I/O bound: the DMA needs {io} cycles per frame, so a faster "
                        f"folding would not run faster (folded for {io} cycles)")


def search(layers, capacity: dict, clock_mhz: float, target_fps: float | None = None,
           budget: dict | None = None, io_cycles=None) -> dict:
    """Apply the chosen folding to `layers`; return the explanation for the report."""
    budget = budget or DEFAULT_BUDGET
    if target_fps is not None:
        if target_fps <= 0:
            raise FoldingError(f"--target-fps must be positive, got {target_fps}.")
        t = int(clock_mhz * 1e6 // target_fps)
        if t < 1:
            raise FoldingError(f"--target-fps {target_fps:,.0f} asks for more than one frame per clock cycle at "
                               f"{clock_mhz:g} MHz; the most a dataflow pipeline gives is {clock_mhz * 1e6:,.0f}.")
        choices = fold_for_interval(layers, t, capacity, budget)
        mode = f"target {target_fps:,.0f} frames/s at {clock_mhz:g} MHz -> at most {t} cycles per frame"
        if io_cycles is not None and _io_of(layers, choices, io_cycles) > t:
            mode += (f"; the target is above the I/O bound (the DMA needs {_io_of(layers, choices, io_cycles)} "
                     "cycles per frame): the estimate is the I/O bound")
    else:
        points = sorted({layer.cycles(pe, simd) for layer in layers for pe, simd in _candidates(layer)})
        floor = max(min(layer.cycles(pe, simd) for pe, simd in _candidates(layer)) for layer in layers)
        points = [p for p in points if p >= floor]
        lo, hi = 0, len(points) - 1
        if not fits(totals(fold_for_interval(layers, points[hi], capacity, budget)), capacity, budget):
            raise FoldingError("even the most folded design does not fit the board's budget; choose a larger "
                               "board or quantize to fewer bits.")
        while lo < hi:  # smallest interval whose cheapest design fits
            mid = (lo + hi) // 2
            if fits(totals(fold_for_interval(layers, points[mid], capacity, budget)), capacity, budget):
                hi = mid
            else:
                lo = mid + 1
        t = points[lo]
        choices = fold_for_interval(layers, t, capacity, budget)
        mode = f"fastest design within the board budget ({', '.join(f'{k} {v:.0%}' for k, v in budget.items())})"
        if io_cycles is not None:
            choices, t, note = _stop_at_io_bound(layers, choices, t, capacity, budget, io_cycles)
            mode += note
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
    if io_cycles is not None:
        explain["io_cycles_per_frame"] = _io_of(layers, choices, io_cycles)
    return explain
