"""Pipeline depth of the matrix core (templates/rtl/hwgen_mvu.v): adder levels per stage from the clock and its
latency, shared by the RTL emitter (hwgen.codegen.rtl), the layers (pipeline_words, for the DMA flag queue bound
of hwgen.codegen.dma) and the README's latency figures."""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

from hwgen.bits import clog2

# The matrix core (templates/rtl/hwgen_mvu.v) cuts its adder trees every LPS adder levels. LPS comes from the
# clock the design is built for (the board's, or --clock-mhz), at least the family's floor below: one adder level
# (LUT + carry chain of an up-to-16-bit sum + the net to the next level) costs about ADDER_LEVEL_NS, a stage has
# STAGE_OVERHEAD_NS of clock-to-out, setup and clock uncertainty (hwgen.sim.timing_model, 7-series -1 / US+ -1;
# checked against the open timing estimate by benchmarks/bench_timing.py --blocks). The floor (150 MHz xc7,
# 250 MHz UltraScale+) keeps every block fast enough for the faster boards of the family: an extra stage costs a
# cycle of latency, never throughput.
ADDER_LEVEL_NS = {"xc7": 2.0, "xcup": 1.3}
STAGE_OVERHEAD_NS = {"xc7": 1.4, "xcup": 0.6}
CLOCK_FLOOR_MHZ = {"xc7": 150.0, "xcup": 250.0}
_TARGET: contextvars.ContextVar = contextvars.ContextVar("hwgen_rtl_timing_target", default=None)


@contextmanager
def timing_target(clock_mhz: float | None, family: str | None):
    """Render matrix blocks inside this block for (clock MHz, yosys family "xc7" | "xcup")."""
    tok = _TARGET.set((clock_mhz, family))
    try:
        yield
    finally:
        _TARGET.reset(tok)


def target_of_meta(meta: dict | None) -> tuple[float | None, str | None]:
    """(clock MHz, family) of a graph's meta (its board and clock), (None, None) when it has none."""
    meta = meta or {}
    if not meta.get("board"):
        return meta.get("clock_mhz"), None
    from hwgen.boards import family_of, get_board

    try:
        fam = family_of(get_board(meta["board"]))
    except Exception:  # noqa: BLE001 (an unknown board name: the default family)
        fam = None
    return meta.get("clock_mhz"), fam


def levels_per_stage(clock_mhz: float | None = None, family: str | None = None) -> int:
    """Adder levels per pipeline stage of the matrix core for a clock and family (defaults: the current
    timing_target, else 7-series at its floor)."""
    if clock_mhz is None and family is None and _TARGET.get() is not None:
        clock_mhz, family = _TARGET.get()
    family = family if family in ADDER_LEVEL_NS else "xc7"
    clk = max(float(clock_mhz or 0.0), CLOCK_FLOOR_MHZ[family])
    return max(1, int((1000.0 / clk - STAGE_OVERHEAD_NS[family]) // ADDER_LEVEL_NS[family]))


def tree_latency(n: int, lps: int, loff: int = 0) -> int:
    """Cycles of hwgen_add_tree over n leaves (its root registered): its registered levels, level l (1 ..
    clog2(n)) when l + loff is a multiple of lps, and the root."""
    if n <= 1:
        return 1
    h = clog2(n)
    return (h + loff) // lps - loff // lps + ((h + loff) % lps != 0)


def threshold_latency(nt: int, lps: int) -> int:
    """Cycles of hwgen_thresholds over nt thresholds per element: the registered compares, then the count tree."""
    return 1 + tree_latency(nt, lps)


def tree_leaves(simd: int, idt, wdt, xnor: bool, dsp: bool) -> int:
    """Leaves of hwgen_mvu's SIMD tree per PE: a product each (XNOR, DSP), or the NPP partial products of a LUT
    product (the selector operand's bits: BIPOLAR 2, else its bits; the narrower of input and weight)."""
    if xnor or dsp:
        return simd
    nb = (lambda d: 2 if d.bipolar else d.bits)
    return simd * min(nb(idt), nb(wdt))


def matrix_latency(leaves: int, nt: int, dsp: bool, lps: int, lut_products: bool = False) -> int:
    """Cycles of hwgen_mvu from a fold's last word issued to its output word offered (no stalls): memory read and
    output register (2), DSP products (2), the SIMD tree over `leaves` (tree_leaves; LUT products put their AND
    in its first stage: LOFF 1), accumulate (1), [compares (1) + the count tree], the queue (1)."""
    lat = 2 + (2 if dsp else 0) + tree_latency(leaves, lps, 1 if lut_products else 0) + 1 + 1
    if nt:
        lat += 1 + tree_latency(nt, lps)
    return lat


def max_matrix_words(leaves: int, nt: int, dsp: bool) -> int:
    """Upper bound of the words a matrix block holds between its input and its output port, at any clock (the
    deepest pipeline, LPS = 1, plus the 2-word output queue): what hwgen.codegen.dma.flag_queue_depth counts."""
    return matrix_latency(leaves, nt, dsp, 1) + 2
