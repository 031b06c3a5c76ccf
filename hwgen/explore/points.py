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
    # a float model swept through `hwgen quantize` (--weights / --acts / --prune lists; None: the model as given)
    weights: int | None = None
    acts: int | None = None
    prune: float | None = None

    @property
    def quantizes(self) -> bool:
        return self.weights is not None

    def key(self, model_sha256: str) -> str:
        """Hash of the model (and calibration data) and every option that changes the result: the point's cache
        name and task key. Quantization fields enter only when set, so the keys of plain sweeps stay as before."""
        d = {k: v for k, v in asdict(self).items() if v is not None or k not in ("weights", "acts", "prune")}
        text = json.dumps({"v": CACHE_VERSION, "model": model_sha256, **d}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


def parse_list(text: str | None, what: str, convert=float, nonneg: bool = False) -> list:
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
        if convert is float and not (v >= 0 if nonneg else v > 0):
            raise HwgenError(f"{what}: {item!r} must be {'non-negative' if nonneg else 'positive'}.")
        if v not in out:
            out.append(v)
    return out or [None]


def grid(boards, targets, clocks, rtlsim: int = 0, synth: bool = False, seed: int = 0, weights=(None,),
         acts=(None,), prunes=(None,)) -> list[Point]:
    """Every combination, boards outermost (the order of results.json); then weight bits, activation bits and
    prune ratios when the model is a float one to quantize."""
    from hwgen.boards import DEFAULT_BOARD, get_board

    for b in boards:
        get_board(b)  # unknown board names fail here, before anything is submitted
    quant = any(v is not None for v in (*weights, *acts, *prunes))
    if quant:  # a quantization sweep: unset axes take the quantizer's defaults (8 bits, no pruning)
        from hwgen.quantize.run import check_bits

        weights = [check_bits(w if w is not None else 8, "--weights") for w in weights]
        acts = [check_bits(a if a is not None else 8, "--acts") for a in acts]
        for r in prunes:
            if r is not None and not 0 <= r < 1:
                raise HwgenError(f"--prune {r!r}: give fractions 0 <= R < 1 (e.g. --prune 0,0.25,0.5).")
    return [Point(b or DEFAULT_BOARD, t, c, int(rtlsim), bool(synth), int(seed), w, a, r or (0.0 if quant else None))
            for b, t, c, w, a, r in itertools.product(boards, targets, clocks, weights, acts, prunes)]
