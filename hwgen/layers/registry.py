"""The registry of hardware layer kinds: `op` name (as in hwgraph.json) -> class.

    @register
    class Clamp(ChannelLayer):
        op = "Clamp"
        ...

A kind registered here (by hwgen itself or by user code: a test, a plugin module) is loadable from
hwgraph.json and rendered by every emitter; nothing else needs editing.
"""

from __future__ import annotations

KINDS: dict[str, type] = {}


def register(cls):
    """Class decorator: make `cls` (a hwgen.layers.base.HwLayer subclass with a unique `op`) a known kind."""
    op = getattr(cls, "op", None)
    if not isinstance(op, str) or not op:
        raise TypeError(f"{cls!r} has no `op` name")
    known = KINDS.get(op)
    if known is not None and known is not cls and known.__qualname__ != cls.__qualname__:
        raise ValueError(f"layer kind {op!r} is already registered by {known.__module__}.{known.__qualname__}")
    KINDS[op] = cls
    return cls


def kind(op: str):
    """The class of kind `op`, or None."""
    return KINDS.get(op)
