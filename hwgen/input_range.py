"""The float input range the model's input quantizer resolves, and a warning when inputs lie far outside it.

Raw 0-255 pixels given to a model trained on [0, 1] quantize without error, to the top level: the results are
wrong and nothing says so. Inputs more than one quantizer span beyond the span (the interval from the lowest
level's end to the highest level's start, probed on the head itself) are counted; above WARN_FRACTION of the
values a HwgenWarning is issued (the CLI prints it as `hwgen: warning: ...`).
"""

from __future__ import annotations

import warnings

import numpy as np

from hwgen.errors import HwgenWarning  # noqa: F401 (also imported from here)

WARN_FRACTION = 0.01
SAMPLE = 65536  # values looked at per batch
GRID = 2048


def quantizer_span(graph) -> tuple[float, float] | None:
    """(a, b): every input element below a gets its lowest level, above b its highest; None when the input
    quantizer has one step only (1 bit: no range to judge) or the head is not element-wise."""
    from hwgen.verify_inputs import input_span

    if getattr(graph.head, "input_check", None) is not None:
        return None  # a declared input type (finn_datatype annotation) is checked value by value instead
    shape = tuple(graph.input_shape[1:])
    E = int(np.prod(shape))
    if E * GRID > 1 << 24:
        return None
    span = input_span(graph)
    grid = np.linspace(-1.5 * span, 1.5 * span, GRID).astype(np.float32)
    q = graph.head_ints(np.broadcast_to(grid[:, None], (GRID, E)).reshape((GRID, *shape)).copy())
    if q.shape[1] != E:
        return None
    lo, hi = q.min(0), q.max(0)
    if np.all(np.count_nonzero(np.diff(q, axis=0), axis=0) <= 1):  # one step (BIPOLAR, 1 bit): nothing to judge
        return None
    inc = q[-1] >= q[0]
    bottom = np.where(inc[None, :], q == lo, q == hi)  # grid values giving the level of the far left
    top = np.where(inc[None, :], q == hi, q == lo)
    a = float(grid[bottom.sum(0) - 1].min())  # the last grid value still at the left end's level
    b = float(grid[GRID - top.sum(0)].max())  # the first grid value at the right end's level
    return (a, b) if b > a else None


_UNKNOWN = object()  # span not computed yet (None means: computed, nothing to judge)


def check_input_range(graph, x, span=_UNKNOWN) -> str | None:
    """A warning text when more than WARN_FRACTION of x lies more than one span outside [a, b]."""
    span = quantizer_span(graph) if span is _UNKNOWN else span
    x = np.asarray(x)
    if span is None or x.size == 0 or x.dtype.kind not in "fiub":
        return None
    a, b = span
    w = b - a
    v = x.reshape(-1)
    v = v[:: max(1, v.size // SAMPLE)]  # a strided sample: the check must not cost what the cpu backend does
    with np.errstate(invalid="ignore"):
        far = (v < a - w) | (v > b + w)
    frac = float(far.mean())
    if frac <= WARN_FRACTION:
        return None
    return (f"{frac * 100:.1f} % of the input values lie far outside the range the model's input quantizer "
            f"resolves (about [{a:.4g}, {b:.4g}]; values from {float(np.min(x)):.4g} to {float(np.max(x)):.4g}); "
            "they all quantize to its end levels. Scale the input as the model was trained (e.g. pixels / 255).")


def warn_input_range(graph, x, span=_UNKNOWN) -> None:
    msg = check_input_range(graph, x, span)
    if msg:
        warnings.warn(HwgenWarning(msg), stacklevel=3)
