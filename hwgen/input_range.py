"""The float input range the model's input quantizer resolves, and a warning when inputs lie far outside it.

Raw 0-255 pixels given to a model trained on [0, 1] quantize without error, to the top level: the results are
wrong and nothing says so. Inputs more than one quantizer span beyond the span (the interval from the lowest
level's end to the highest level's start, probed on the head itself) are counted; above WARN_FRACTION of the
values a HwgenWarning is issued (the CLI prints it as `hwgen: warning: ...`).

A one-step (1-bit) input quantizer has no interval between level ends: there the span is the range of inputs the
head maps onto the quantizer's two levels (TFC_1W1A: 2x - 1 into BipolarQuant(scale 1), so [0, 1]), read from the
values entering the quantizer. 0-255 pixels lie far beyond it (every pixel from 1 up becomes +1 instead of those
from 0.5 up: every prediction changes) and are warned about the same way, but only when the far values lie on one
side: a sign is the same for any magnitude, so large values on both sides of the step are no sign of a scaling
mistake, while values all far above (or below) the range mean the step sits at the wrong place for this input.
"""

from __future__ import annotations

import warnings

import numpy as np

from hwgen.errors import HwgenWarning  # noqa: F401 (also imported from here)

WARN_FRACTION = 0.01
SAMPLE = 65536  # values looked at per batch
GRID = 2048


def quantizer_span(graph, head_ints=None) -> tuple[float, float] | None:
    """(a, b): every input element below a gets its lowest level, above b its highest (for a one-step quantizer:
    one_step_span); None when there is no range to judge (the head is not element-wise, or a one-step quantizer
    is not fed an affine function of the input). `head_ints`: a compiled head proven equal to graph.head_ints
    (the cpu backend's: the grid below takes the evaluator ~0.3 s)."""
    from hwgen.verify_inputs import input_span

    head_ints = head_ints or graph.head_ints
    if getattr(graph.head, "input_check", None) is not None:
        return None  # a declared input type (finn_datatype annotation) is checked value by value instead
    shape = tuple(graph.input_shape[1:])
    E = int(np.prod(shape))
    if E * GRID > 1 << 24:
        return None
    span = input_span(graph, head_ints)
    grid = np.linspace(-1.5 * span, 1.5 * span, GRID).astype(np.float32)
    q = head_ints(np.broadcast_to(grid[:, None], (GRID, E)).reshape((GRID, *shape)).copy())
    if q.shape[1] != E:
        return None
    lo, hi = q.min(0), q.max(0)
    if np.all(np.count_nonzero(np.diff(q, axis=0), axis=0) <= 1):  # one step (BIPOLAR, 1 bit): no level interval
        return one_step_span(graph)
    inc = q[-1] >= q[0]
    bottom = np.where(inc[None, :], q == lo, q == hi)  # grid values giving the level of the far left
    top = np.where(inc[None, :], q == hi, q == lo)
    a = float(grid[bottom.sum(0) - 1].min())  # the last grid value still at the left end's level
    b = float(grid[GRID - top.sum(0)].max())  # the first grid value at the right end's level
    return (a, b) if b > a else None


def _levels(node, ctx) -> tuple[np.ndarray, np.ndarray] | None:
    """The two float output levels of a one-step quantizer node (BipolarQuant, or a 1-bit Quant), or None."""
    s = np.asarray(ctx[node.input[1]], dtype=np.float64)
    if node.op_type == "BipolarQuant":
        return -s, s
    if node.op_type != "Quant" or float(np.asarray(ctx[node.input[3]])) != 1.0:
        return None
    z = np.asarray(ctx[node.input[2]], dtype=np.float64)
    signed = next((a.i for a in node.attribute if a.name == "signed"), 1)
    lo_int, hi_int = (-1, 1) if signed else (0, 1)  # 1-bit signed is bipolar in qonnx
    return (lo_int - z) * s, (hi_int - z) * s


class OneStepSpan(tuple):
    """(a, b) of a one-step quantizer (see the module doc: warned about only when the far values are one-sided)."""


ONE_SIDED = 0.9  # share of the far values beyond one end for a one-step quantizer's warning


def one_step_span(graph) -> tuple[float, float] | None:
    """(a, b): the inputs the head maps onto the two levels of its one-step input quantizer, when what enters the
    quantizer is an affine function of the input (a scale and an offset, as Brevitas exports); else None."""
    head = graph.head
    quants = [n for n in head.nodes if n.op_type in ("BipolarQuant", "Quant")]
    if not quants or getattr(head, "entry", None):
        return None
    node = quants[-1]
    shape = tuple(graph.input_shape[1:])
    probes = np.stack([np.full(shape, v, np.float32) for v in (0.0, 0.5, 1.0)])
    try:
        ctx = head.evaluator().run({head.input: probes})
        levels = _levels(node, ctx)
        pre = np.asarray(ctx[node.input[0]], dtype=np.float64)
        if levels is None:
            return None
        # per-tensor or per-channel levels, one value per element entering the quantizer
        lo_level, hi_level = (np.broadcast_to(lv, pre.shape)[0].reshape(-1) for lv in levels)
    except Exception:  # noqa: BLE001 - a head this probe does not understand: no warning rather than a crash
        return None
    v = pre.reshape(3, -1)
    slope = v[2] - v[0]
    fed = np.abs(slope) > 1e-12
    if not fed.any() or not np.allclose(v[1], (v[0] + v[2]) / 2, rtol=1e-5, atol=1e-6):  # not affine
        return None
    safe = np.where(fed, slope, 1.0)
    ends = np.stack([(lo_level - v[0]) / safe, (hi_level - v[0]) / safe])
    a, b = float(ends.min(0)[fed].min()), float(ends.max(0)[fed].max())
    return OneStepSpan((a, b)) if np.isfinite(a) and np.isfinite(b) and b > a else None


_UNKNOWN = object()  # span not computed yet (None means: computed, nothing to judge)


def quiet_bounds(span) -> tuple[float, float] | None:
    """[lo, hi] such that a batch whose every value lies inside gets no warning (check_input_range's first test)."""
    if span is None:
        return None
    a, b = span
    return a - (b - a), b + (b - a)


def check_input_range(graph, x, span=_UNKNOWN, extremes=None) -> str | None:
    """A warning text when more than WARN_FRACTION of x lies more than one span outside [a, b]. extremes: a
    function float32 array -> (min, max) in one pass (the cpu backend's compiled one), for small batches."""
    span = quantizer_span(graph) if span is _UNKNOWN else span
    x = np.asarray(x)
    if span is None or x.size == 0 or x.dtype.kind not in "fiub":
        return None
    a, b = span
    q_lo, q_hi = quiet_bounds(span)
    v = x.reshape(-1)
    fast = extremes is not None and v.dtype == np.float32  # the extremes in one compiled pass, any batch
    if (v.size <= 4096 or fast) and v.dtype.kind == "f":  # its extremes say it at once (NaN: the full check)
        lo, hi = extremes(v) if fast else (v.min(), v.max())
        if q_lo <= lo and hi <= q_hi:
            return None
    v = v[:: max(1, v.size // SAMPLE)]  # a strided sample: the check must not cost what the cpu backend does
    with np.errstate(invalid="ignore"):
        below, above = v < q_lo, v > q_hi
    far = below | above
    frac = float(far.mean())
    if frac <= WARN_FRACTION:
        return None
    if isinstance(span, OneStepSpan) and max(below.sum(), above.sum()) < ONE_SIDED * far.sum():
        return None
    return (f"{frac * 100:.1f} % of the input values lie far outside the range the model's input quantizer "
            f"resolves (about [{a:.4g}, {b:.4g}]; values from {float(np.min(x)):.4g} to {float(np.max(x)):.4g}); "
            "they all quantize to its end levels. Scale the input as the model was trained (e.g. pixels / 255).")


def warn_input_range(graph, x, span=_UNKNOWN, extremes=None) -> None:
    msg = check_input_range(graph, x, span, extremes)
    if msg:
        warnings.warn(HwgenWarning(msg), stacklevel=3)
