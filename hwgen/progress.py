"""Progress bars for long work (tqdm), on stderr and only when stderr is a terminal: piped output, logs and
tests stay clean. HWGEN_PROGRESS=0 turns them off, HWGEN_PROGRESS=1 forces them on.

    from hwgen.progress import progress, chunks
    for name in progress(names, desc="FIFO sizing", unit="FIFO"): ...
    with progress(total=n, desc="rtlsim", unit="frame") as bar: ...; bar.update(k)
    for lo, hi in chunks(n, "csim"): ...          # (start, stop) slices of a batch, with a bar of frames
"""

from __future__ import annotations

import os
import sys


def enabled() -> bool:
    v = os.environ.get("HWGEN_PROGRESS", "")
    if v in ("0", "1"):
        return v == "1"
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress(iterable=None, total=None, desc: str = "", unit: str = "it", leave: bool = False, **kw):
    """A tqdm bar (a no-op one when disabled); use as an iterable wrapper or a context manager."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, disable=not enabled(),
                file=sys.stderr, dynamic_ncols=True, **kw)


def chunks(n: int, desc: str, unit: str = "frame", parts: int = 20, min_chunk: int = 256):
    """(start, stop) slices covering range(n): one slice when no bar is shown, else about `parts` slices
    (at least min_chunk each) with a bar counting `unit`s."""
    if not enabled() or n <= min_chunk:
        yield 0, n
        return
    step = max(min_chunk, -(-n // parts))
    with progress(total=n, desc=desc, unit=unit) as bar:
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            yield lo, hi
            bar.update(hi - lo)


class Spinner:
    """A bar without a total for one long step (e.g. a first compile); `with Spinner("compiling"): ...`."""

    def __init__(self, desc: str):
        self.desc = desc
        self._bar = None
        self._stop = None

    def __enter__(self):
        if enabled():
            import threading

            self._bar = progress(total=None, desc=self.desc, bar_format="{desc}: {elapsed}")
            self._stop = threading.Event()

            def tick():
                while not self._stop.wait(0.5):
                    self._bar.update(0.5)

            threading.Thread(target=tick, daemon=True).start()
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._stop.set()
            self._bar.close()
        return False
