"""results.json, results.csv and index.html of a sweep; the Pareto front (most fps for the fewest LUTs)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

# the columns of results.csv, in order: the fields, then how the output compared with qonnx's, where the
# figures came from, the cache key and where the build directory went (relative to DIR; None: not shared)
FIELDS = ["board", "target_fps", "clock_mhz", "weights", "acts", "prune", "accuracy", "fps", "cycles_per_frame", "luts", "bram18", "dsps", "bit_exact",
          "worker", "seconds", "error", "vs_qonnx", "cycles_from", "resources_from", "hash", "artifacts"]


def pareto_front(rows: list[dict]) -> list[int]:
    """Indices of the rows no other row beats: none has at most as many LUTs and at least as many fps (and, in a
    quantization sweep, at least the accuracy), with one of them strictly better. Rows without figures (failed
    points) are never on it."""
    acc = any(r.get("accuracy") is not None for r in rows)
    keys = ("fps", "accuracy") if acc else ("fps",)
    ok = [(i, r) for i, r in enumerate(rows) if r.get("luts") is not None and all(r.get(k) is not None for k in keys)]
    front = []
    for i, r in ok:
        beaten = any(s["luts"] <= r["luts"] and all(s[k] >= r[k] for k in keys)
                     and (s["luts"] < r["luts"] or any(s[k] > r[k] for k in keys)) for j, s in ok if j != i)
        if not beaten:
            front.append(i)
    return sorted(front, key=lambda i: rows[i]["luts"])


def write_outputs(out: Path, rows: list[dict], model: str = "") -> None:
    from hwgen.explore.plot import render_html, render_svg

    rows = [{f: r.get(f) for f in FIELDS} for r in rows]
    front = pareto_front(rows)
    for i, r in enumerate(rows):
        r["pareto"] = i in front
    _atomic(out / "results.json", json.dumps({"model": model, "points": rows}, indent=2))
    tmp = out / ".results.csv.tmp"
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS + ["pareto"])
        w.writeheader()
        w.writerows(rows)
    tmp.replace(out / "results.csv")
    svg = render_svg(rows)
    _atomic(out / "pareto.svg", svg)
    _atomic(out / "index.html", render_html(rows, svg, model))


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
