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


def with_template(template: str, capability: str):
    """The kind whose HLS or RTL template is `template` (a path relative to templates/) and that has
    `capability` (a per-block API method, hwgen.layers.base.HwLayer), or None; the emitters' per-block API
    names a block by its template, and the kind answers."""
    for cls in KINDS.values():
        if template in (cls.hls_template, cls.rtl_template) and getattr(cls, capability, None) is not None:
            return cls
    return None


def block_templates(prefix: str, suffix: str, capability: str) -> list[str]:
    """Short names of the templates (`<prefix><name><suffix>`) of the kinds with `capability`, for messages."""
    names = []
    for cls in KINDS.values():
        for t in (cls.hls_template, cls.rtl_template):
            if t and t.startswith(prefix) and t.endswith(suffix) and getattr(cls, capability, None) is not None:
                names.append(t[len(prefix):-len(suffix)])
    return sorted(set(names))
