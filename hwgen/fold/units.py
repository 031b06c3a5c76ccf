"""Fold units: the layers the folding search chooses together, and each unit's table of legal foldings.

A block that only moves data (a sliding-window generator, a pad: `follows_consumer`) is not folded on its own: it
takes the word its consumer reads, so no width converter sits between them and its rate rises with its
consumer's. Its SIMD is the consumer's input elements per word (`producer_word`: an MVAU's SIMD, a Pool's PE, a
VVAU's PE x SIMD, or its PE in the depthwise order) when that divides its channels, else the largest of its legal values that divides it (the converter then only
gathers whole words). A chain Pad -> SWG -> MVAU is one unit: the MVAU's folding decides both.

A unit's candidate = a legal (PE, SIMD) of its main layer with the tied layers following; its cycles = the
slowest member's, its resources = the members' sum. Tables are computed once per search (a sliding-window
generator's cycle model and an MVAU's ROM shapes are the costly parts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_STREAM_BITS = 4096  # widest word a folding may create: Vitis HLS's ap_uint limit (AP_INT_MAX_W <= 4096, UG1399)
RESOURCES = ("luts", "ffs", "bram18", "uram", "dsps")


def board_use(res: dict) -> dict:
    """A layer's estimate as the board's resource kinds (LUT-RAM is made of LUTs)."""
    u = {r: res.get(r, 0) for r in RESOURCES}
    u["luts"] += res.get("lutram", 0)
    return u


def layer_resources(layer, has_uram: bool = False) -> dict:
    """The layer's estimate at its current folding as the board's resource kinds."""
    return board_use(estimate(layer, has_uram))


def estimate(layer, has_uram: bool = False) -> dict:
    """The layer's own estimate (its kind's cost model) at its current folding; for a kind without one yet, a
    stand-in that grows with its stream words (registers and muxes) plus its line buffers as hwgen.plan.memory
    maps them, marked "placeholder": True."""
    try:
        return layer.resources()
    except NotImplementedError:
        from hwgen.plan.memory import map_buffers

        words = layer.in_stream_bits() + layer.out_stream_bits()
        res = {"luts": words, "ffs": words, "bram18": 0, "uram": 0, "dsps": 0, "lutram": 0, "placeholder": True}
        for m in map_buffers(layer, has_uram).values():
            res["bram18"] += m["bram18"]
            res["uram"] += m["uram"]
            res["lutram"] += m["lutram_luts"]
        return res


def widest_word(layer) -> int:
    """The widest word the layer's blocks declare at its current folding: its stream words and, for a matrix kind,
    a SIMD-wide word of weights (one ROM word). At most MAX_STREAM_BITS in a legal folding."""
    w = max(layer.in_stream_bits(), layer.out_stream_bits())
    wd = getattr(layer, "w_dtype", None)
    if wd is not None:
        w = max(w, int(getattr(layer, "simd", 1)) * wd.bits)
    return w


def tied_simd(layer, consumer) -> int:
    """The SIMD a data-moving layer takes for its consumer's input word (`producer_word`: a VVAU in the depthwise
    order wants its PE)."""
    word = consumer.producer_word()
    return max(d for d in layer.legal_simd() if word % d == 0)


@dataclass
class Candidate:
    pe: int
    simd: int
    cycles: int  # the unit's: its slowest member
    resources: dict | None  # the unit's: summed over its members (None until priced)
    members: dict  # layer name -> (pe, simd, cycles)


@dataclass
class Unit:
    main: object
    tied: list = field(default_factory=list)  # (layer, its consumer), nearest the main layer first
    table: list = field(default_factory=list)
    cache: dict = field(default_factory=dict)  # (layer, pe, simd) -> cycles; ("res", ...) -> resources
    has_uram: bool = False

    @property
    def layers(self) -> list:
        return [self.main] + [t for t, _ in self.tied]

    def apply(self, pe: int, simd: int) -> None:
        """Set the main layer's folding and let the tied layers follow (unchecked: candidates are legal)."""
        self.main.pe, self.main.simd = pe, simd
        for t, consumer in self.tied:
            t.simd = tied_simd(t, consumer)

    def follow(self) -> None:
        """The tied layers follow the main layer's current folding (checked)."""
        for t, consumer in self.tied:
            t.set_folding(None, tied_simd(t, consumer))


def consumers_of(layers, edges) -> dict:
    """layer name -> the layers its output ports feed (edges None: a chain)."""
    by_name = {lay.name: lay for lay in layers}
    if edges is None:
        return {a.name: [b] for a, b in zip(layers, layers[1:])}
    out: dict = {}
    for e in edges:
        if e.src in by_name and e.dst in by_name:
            out.setdefault(e.src, []).append(by_name[e.dst])
    return out


def make_units(layers, edges=None, keep=()) -> list[Unit]:
    """Group every data-moving layer with the consumer it follows; `keep`: names folded on their own (a
    folding file names them)."""
    cons = consumers_of(layers, edges)
    leader: dict = {}  # layer name -> the name of its unit's main layer
    units: dict = {}
    for lay in reversed(layers):  # consumers first
        c = cons.get(lay.name, [])
        if getattr(lay, "follows_consumer", False) and len(c) == 1 and lay.name not in keep:
            main = leader[c[0].name]
            units[main].tied.append((lay, c[0]))
            leader[lay.name] = main
        else:
            units[lay.name] = Unit(lay)
            leader[lay.name] = lay.name
    return [units[lay.name] for lay in layers if lay.name in units]


def _legal(layer):
    for pe in layer.legal_pe():
        for simd in layer.legal_simd():
            yield pe, simd


def build_table(unit: Unit, has_uram: bool = False, cache: dict | None = None) -> list[Candidate]:
    """Every legal folding of the unit's main layer (streams at most MAX_STREAM_BITS wide) with its cycles;
    resources are filled in on demand (`priced`: an MVAU's cost model reads its whole weight matrix). The
    layers' foldings are restored afterwards."""
    cache = {} if cache is None else cache
    unit.cache, unit.has_uram = cache, has_uram
    keep = [(lay.pe, lay.simd) for lay in unit.layers]
    out = []
    try:
        legal = list(_legal(unit.main))
        for pe, simd in legal:
            unit.apply(pe, simd)
            if any(widest_word(lay) > MAX_STREAM_BITS for lay in unit.layers):
                continue
            out.append(_candidate(unit, pe, simd, cache, price=False))
        if not out:  # every folding makes a stream too wide: keep the narrowest (the search must pick something)
            pe, simd = min(legal, key=lambda f: f[0] * f[1])
            unit.apply(pe, simd)
            out.append(_candidate(unit, pe, simd, cache, price=False))
    finally:
        _restore(unit, keep)
    unit.table = out
    return out


def priced(unit: Unit, cands: list[Candidate]) -> list[Candidate]:
    """The candidates with their resources filled in."""
    todo = [c for c in cands if c.resources is None]
    if todo:
        keep = [(lay.pe, lay.simd) for lay in unit.layers]
        try:
            for c in todo:
                unit.apply(c.pe, c.simd)
                c.resources = _candidate(unit, c.pe, c.simd, unit.cache, price=True).resources
        finally:
            _restore(unit, keep)
    return cands


def _restore(unit, keep):
    for lay, (pe, simd) in zip(unit.layers, keep):
        lay.pe, lay.simd = pe, simd


def _candidate(unit, pe, simd, cache, price: bool) -> Candidate:
    members, total = {}, dict.fromkeys(RESOURCES, 0)
    for lay in unit.layers:
        key = (lay.name, lay.pe, lay.simd)
        if key not in cache:
            cache[key] = lay.cycles()
        members[lay.name] = (lay.pe, lay.simd, cache[key])
        if price:
            rkey = ("res",) + key
            if rkey not in cache:
                cache[rkey] = layer_resources(lay, unit.has_uram)
            for r in RESOURCES:
                total[r] += cache[rkey][r]
    return Candidate(pe, simd, max(m[2] for m in members.values()), total if price else None, members)
