"""The grid of design points, option lists from the command line, and the hash each point is cached under."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass

from hwgen.errors import HwgenError

CACHE_VERSION = "explore-1"  # bump when a point's result would change for the same model and options


@dataclass(frozen=True)
class Point:
    board: str
    target_fps: float | None  # None: the fastest design within the board's budget
    clock_mhz: float | None  # None: the board's clock
    rtlsim: int = 0  # random inputs run through rtlsim and compared with qonnx (0: no simulation)
    synth: bool = False  # yosys resource figures instead of the estimate
    seed: int = 0

    def key(self, model_sha256: str) -> str:
        """Hash of the model and every option that changes the result: the point's cache name and task key."""
        text = json.dumps({"v": CACHE_VERSION, "model": model_sha256, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


def parse_list(text: str | None, what: str, convert=float) -> list:
    """'1e5,5e5, 1e6' -> [100000.0, 500000.0, 1000000.0]; None or '' -> [None] (the default)."""
    if text is None or not str(text).strip():
        return [None]
    out = []
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        try:
            v = convert(item)
        except ValueError:
            raise HwgenError(f"{what}: {item!r} is not a valid value; give a comma-separated list, "
                             f"e.g. {what} 100000,500000.") from None
        if convert is float and not v > 0:
            raise HwgenError(f"{what}: {item!r} must be positive.")
        if v not in out:
            out.append(v)
    return out or [None]


def grid(boards, targets, clocks, rtlsim: int = 0, synth: bool = False, seed: int = 0) -> list[Point]:
    """Every combination, boards outermost (the order of results.json)."""
    from hwgen.boards import DEFAULT_BOARD, get_board

    for b in boards:
        get_board(b)  # unknown board names fail here, before anything is submitted
    return [Point(b or DEFAULT_BOARD, t, c, int(rtlsim), bool(synth), int(seed))
            for b, t, c in itertools.product(boards, targets, clocks)]
