"""The Pareto plot (fps against LUTs) as inline SVG drawn here, and the index.html around it (no scripts, no CDN)."""

from __future__ import annotations

import html
import math

W, H = 760, 460
LEFT, RIGHT, TOP, BOTTOM = 90, 190, 40, 64  # plot margins; the legend sits in the right one
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]


class Axis:
    """Maps values to pixels on a linear or (for wide ranges) log10 scale, with readable ticks."""

    def __init__(self, values, lo_px, hi_px):
        vs = [float(v) for v in values if v is not None and v > 0] or [1.0]
        lo, hi = min(vs), max(vs)
        self.log = hi / lo > 20
        if self.log:  # widen to the nearest 1-2-5 steps around the data
            steps = [m * 10 ** d for d in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 2)
                     for m in (1, 2, 5)]
            self.lo, self.hi = max(s for s in steps if s <= lo / 1.1), min(s for s in steps if s >= hi * 1.1)
        else:
            step = _nice_step((hi - lo) or hi, 6)
            self.lo = max(0.0, math.floor(lo / step - 1) * step)
            self.hi = math.ceil(hi / step + 1) * step
        self.lo_px, self.hi_px = lo_px, hi_px

    def _t(self, v):
        return math.log10(v) if self.log else v

    def px(self, v) -> float:
        a, b = self._t(self.lo), self._t(self.hi)
        return self.lo_px + (self._t(max(v, self.lo)) - a) / ((b - a) or 1.0) * (self.hi_px - self.lo_px)

    def ticks(self) -> list[float]:
        if self.log:
            decades = range(math.floor(math.log10(self.lo)), math.ceil(math.log10(self.hi)) + 1)
            mult = (1, 2, 5) if len(decades) <= 4 else (1,)
            return [m * 10 ** d for d in decades for m in mult if self.lo <= m * 10 ** d <= self.hi]
        step = _nice_step(self.hi - self.lo, 6)
        n = int(round((self.hi - self.lo) / step))
        return [self.lo + i * step for i in range(n + 1)]


def _nice_step(span: float, n: int) -> float:
    raw = span / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def fmt(v: float) -> str:
    """1500 -> '1.5k', 2000000 -> '2M'."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def _y(r: dict, yk: str) -> float:
    return r[yk] * 100 if yk == "accuracy" else r[yk]


def render_svg(rows: list[dict]) -> str:
    """fps against LUTs; in a quantization sweep (rows with accuracy) accuracy against LUTs."""
    yk = "accuracy" if any(r.get("accuracy") is not None for r in rows) else "fps"
    pts = [r for r in rows if r.get(yk) and r.get("luts")]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="sans-serif" font-size="13">', f'<rect width="{W}" height="{H}" fill="white"/>']
    if not pts:
        out.append(f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle">no successful points to plot</text></svg>')
        return "\n".join(out)
    x = Axis([r["luts"] for r in pts], LEFT, W - RIGHT)
    y = Axis([_y(r, yk) for r in pts], H - BOTTOM, TOP)
    out += _axes(x, y, pts, yk)
    boards = sorted({r["board"] for r in pts})
    color = {b: COLORS[i % len(COLORS)] for i, b in enumerate(boards)}
    front = sorted((r for r in pts if r.get("pareto")), key=lambda r: r["luts"])
    if front:  # the front as a staircase: each design is the best until the next one's LUT count
        path = [f"M{x.px(front[0]['luts']):.1f},{y.px(_y(front[0], yk)):.1f}"]
        for r in front[1:]:
            path.append(f"H{x.px(r['luts']):.1f}V{y.px(_y(r, yk)):.1f}")
        out.append(f'<path d="{"".join(path)}" fill="none" stroke="#444" stroke-width="1.5" stroke-dasharray="5,3"/>')
    for r in sorted(pts, key=lambda r: bool(r.get("pareto"))):
        c = color[r["board"]]
        tip = html.escape(f"{r['board']}, target {fmt(r['target_fps']) if r.get('target_fps') else 'max'} fps, "
                          + (f"w{r.get('weights')}a{r.get('acts')} prune {r.get('prune') or 0:g}, accuracy "
                             f"{r['accuracy'] * 100:.2f} %, " if yk == "accuracy" else "")
                          + f"{r.get('clock_mhz')} MHz: {r['fps']:,.0f} fps, {r['luts']:,} LUTs"
                          + ("" if r.get("bit_exact") is not False else ", NOT bit-exact"))
        fill, stroke = (c, "black") if r.get("pareto") else ("white", c)
        out.append(f'<circle cx="{x.px(r["luts"]):.1f}" cy="{y.px(_y(r, yk)):.1f}" r="6" fill="{fill}" '
                   f'stroke="{stroke}" stroke-width="2"><title>{tip}</title></circle>')
    out += _legend(boards, color)
    out.append("</svg>")
    return "\n".join(out)


def _axes(x: Axis, y: Axis, pts, yk: str = "fps") -> list[str]:
    x0, x1, y0, y1 = LEFT, W - RIGHT, H - BOTTOM, TOP
    s = [f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" fill="none" stroke="#333"/>']
    for t in x.ticks():
        p = x.px(t)
        s.append(f'<line x1="{p:.1f}" y1="{y1}" x2="{p:.1f}" y2="{y0}" stroke="#e4e4e4"/>'
                 f'<text x="{p:.1f}" y="{y0 + 18}" text-anchor="middle">{fmt(t)}</text>')
    for t in y.ticks():
        p = y.px(t)
        s.append(f'<line x1="{x0}" y1="{p:.1f}" x2="{x1}" y2="{p:.1f}" stroke="#e4e4e4"/>'
                 f'<text x="{x0 - 8}" y="{p + 4:.1f}" text-anchor="end">{fmt(t)}</text>')
    src = "yosys" if all(r.get("resources_from") == "yosys" for r in pts) else "estimate"
    s.append(f'<text x="{(x0 + x1) / 2}" y="{H - 16}" text-anchor="middle" font-size="14">LUTs ({src}'
             f'{", log scale" if x.log else ""})</text>')
    s.append(f'<text transform="translate(22,{(y0 + y1) / 2}) rotate(-90)" text-anchor="middle" font-size="14">'
             f'{"accuracy (%)" if yk == "accuracy" else "frames per second"}{" (log scale)" if y.log else ""}'
             '</text>')
    what = "Accuracy" if yk == "accuracy" else "Throughput"
    s.append(f'<text x="{x0}" y="{TOP - 14}" font-size="15" font-weight="bold">{what} against LUTs: '
             'filled points are on the Pareto front</text>')
    return s


def _legend(boards, color) -> list[str]:
    lx, ly = W - RIGHT + 20, TOP + 10
    s = []
    for i, b in enumerate(boards):
        yy = ly + 22 * i
        s.append(f'<circle cx="{lx + 6}" cy="{yy}" r="6" fill="{color[b]}" stroke="black" stroke-width="1"/>'
                 f'<text x="{lx + 18}" y="{yy + 4}">{html.escape(b)}</text>')
    yy = ly + 22 * len(boards)
    s.append(f'<line x1="{lx}" y1="{yy}" x2="{lx + 14}" y2="{yy}" stroke="#444" stroke-width="1.5" '
             f'stroke-dasharray="5,3"/><text x="{lx + 18}" y="{yy + 4}">Pareto front</text>')
    s.append(f'<circle cx="{lx + 6}" cy="{yy + 22}" r="6" fill="white" stroke="#777" stroke-width="2"/>'
             f'<text x="{lx + 18}" y="{yy + 26}">dominated</text>')
    return s


def render_html(rows: list[dict], svg: str, model: str = "") -> str:
    head = ["board", "target fps", "MHz", "fps", "cycles/frame", "LUTs", "BRAM18", "DSPs", "bit-exact", "worker",
            "s", "error"]
    keys = ["board", "target_fps", "clock_mhz", "fps", "cycles_per_frame", "luts", "bram18", "dsps", "bit_exact",
            "worker", "seconds", "error"]
    if any(r.get("weights") is not None for r in rows):  # a quantization sweep
        head[3:3] = ["W bits", "A bits", "prune", "accuracy"]
        keys[3:3] = ["weights", "acts", "prune", "accuracy"]
    trs = []
    for r in rows:
        cells = "".join(f"<td>{html.escape(_cell(r.get(k)))}</td>" for k in keys)
        trs.append(f'<tr{" class=front" if r.get("pareto") else ""}>{cells}</tr>')
    return ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>hwgen explore</title><style>"
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
            "padding:3px 8px;text-align:right}tr.front{font-weight:bold}</style></head><body>"
            f"<h1>hwgen explore</h1><p>model: {html.escape(model)}; {len(rows)} points</p>\n{svg}\n"
            "<h2>Points</h2><p>bold: on the Pareto front</p><table><tr>"
            + "".join(f"<th>{h}</th>" for h in head) + "</tr>\n" + "\n".join(trs) + "</table></body></html>\n")


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)
