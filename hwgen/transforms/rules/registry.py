"""The registry of lowering rules: ONNX op type -> the function that lowers one node of that op into hardware
layers (beside hwgen.layers.registry, the registry of the hardware kinds the rules produce).

    @lowering_rule("Conv", merges_pad=True)
    def conv(walk, node, inputs):      # inputs: the Val (hwgen.transforms.values) of each data input
        ...
        return Val(...)                # the node's output (or {tensor: Val} for several)

A rule raises walk.err(node, why) (an UnsupportedModelError) when the node cannot run exactly in hardware; the
walk then undoes what the rule added and runs the node on the CPU (a CPU island), with `why` as the reason
`hwgen inspect`, summary.json and the report give. An op without a rule runs on the CPU. A rule registered here,
by hwgen or by user code (a test, a plugin module), is used by the next lowering; nothing else changes. Rules
registered later for the same op are tried first (a user rule overrides or extends a built-in one); `when`
restricts a rule to a pattern (a predicate on the node and its input values).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Rule:
    op: str
    fn: Callable  # (walk, node, inputs) -> Val | {tensor: Val}
    merges_pad: bool = False  # reads a pending ONNX Pad itself (otherwise the walk places it as a Pad layer first)
    reads_sum: bool = False  # reads a residual Add's float sum as it is (otherwise: as an exact integer sum)
    when: Callable | None = None  # (walk, node, inputs) -> bool: the pattern this rule applies to
    name: str = ""


RULES: dict[str, list[Rule]] = {}


def lowering_rule(*ops: str, merges_pad: bool = False, reads_sum: bool = False, when=None):
    """Function decorator: make `fn(walk, node, inputs)` the lowering of ONNX ops `ops`."""
    if not ops or not all(isinstance(o, str) and o for o in ops):
        raise TypeError("lowering_rule needs one or more ONNX op type names")

    def deco(fn):
        name = f"{fn.__module__}.{fn.__qualname__}"
        for op in ops:
            rules = RULES.setdefault(op, [])
            rules[:] = [r for r in rules if r.name != name]  # re-registering (a module re-imported) replaces
            rules.insert(0, Rule(op, fn, merges_pad, reads_sum, when, name))
        return fn

    return deco


def remove_rule(fn) -> None:
    """Forget every registration of `fn` (a plugin unloaded, a test done)."""
    name = f"{fn.__module__}.{fn.__qualname__}"
    for op in list(RULES):
        RULES[op] = [r for r in RULES[op] if r.name != name]
        if not RULES[op]:
            del RULES[op]


def find(walk, node, inputs) -> Rule | None:
    """The rule that lowers `node` (the latest registered one whose pattern matches), or None."""
    for r in RULES.get(node.op_type, ()):
        if r.when is None or r.when(walk, node, inputs):
            return r
    return None


def ops() -> list[str]:
    return sorted(RULES)
