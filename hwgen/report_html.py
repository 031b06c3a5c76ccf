"""OUT/report/index.html: per-layer table, cycles-per-layer chart (bottleneck highlighted), resources against
the board's capacity. Self-contained HTML with inline SVG (no scripts, nothing fetched). All text escaped."""

from __future__ import annotations

import html

RES = ("luts", "ffs", "bram18", "uram", "dsps")


def _bar_chart(items, title, highlight=None, unit="", width=640):
    """Horizontal bars: items = [(label, value)]."""
    bar_h, gap, left = 18, 6, 150
    vmax = max([v for _, v in items] + [1])
    h = len(items) * (bar_h + gap) + 30
    parts = [f'<svg width="{width}" height="{h}" role="img" aria-label="{html.escape(title)}">',
             f'<text x="0" y="14" font-weight="bold">{html.escape(title)}</text>']
    for i, (label, v) in enumerate(items):
        y = 24 + i * (bar_h + gap)
        w = (width - left - 90) * (v / vmax)
        color = "#d9534f" if label == highlight else "#4a7bd0"
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{html.escape(str(label))}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}"/>')
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 13}" font-size="12">{v:,.6g}{unit}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _table(header, rows):
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


MEM_COLS = ["layer", "memory", "kind", "style", "depth x width", "BRAM18", "URAM", "LUTs", "efficiency"]


def _timing(t: dict) -> str:
    """The open timing estimate (summary["timing"]): the verdict, then every block, slowest first."""
    from hwgen.sim.timing_report import timing_header, timing_rows, verdict

    below, line = verdict(t)
    color = "#d9534f" if below else "#2e7d32"
    ecp5 = t.get("ecp5")
    extra = (f"<p>nextpnr {html.escape(str(ecp5['device']))}, placed and routed out of context: "
             f"{ecp5['fmax_mhz']} MHz (slowest {html.escape(str(ecp5['block']))})"
             + (f"; not fitting: {html.escape(', '.join(ecp5['not_fitting']))}" if ecp5["not_fitting"] else "")
             + "</p>") if ecp5 else ""
    return (f"<h2>timing (open estimate: {html.escape(t['model'])}, clock {t['clock_mhz']:g} MHz)</h2>"
            f"<p style='color:{color}'>{html.escape(line)}</p>{extra}"
            "<p>From the yosys netlist of each block with datasheet delays and a fanout-based net delay: no "
            "placement, congestion or clock skew; Vivado's routed figure may differ (README, Open timing "
            "estimate).</p>" + _table(timing_header(t), timing_rows(t)))


def render(summary: dict) -> str:
    layers = summary["layers"]
    est = summary.get("estimate", {})
    bott = est.get("bottleneck")
    cols = ["layer", "op", "PE", "SIMD", "in", "out", "in type", "weights", "out type", "cycles"]
    has_res = any("resources" in lay for lay in layers)
    if has_res:
        cols += ["LUT", "FF", "BRAM18", "DSP"]
    rows = []
    for lay in layers:
        r = [lay["name"], lay["op"], lay["pe"], lay["simd"], "x".join(map(str, lay["in_shape"])),
             "x".join(map(str, lay["out_shape"])), lay["in_dtype"], lay.get("weight_dtype") or "-",
             lay["out_dtype"], lay["cycles"]]
        if has_res:
            e = lay.get("resources", {}).get("estimate", {})
            r += [e.get("luts", "-"), e.get("ffs", "-"), e.get("bram18", "-"), e.get("dsps", "-")]
        rows.append(r)
    body = [f"<h1>hwgen build report</h1><p>model <code>{html.escape(str(summary.get('model')))}</code>, board "
            f"<b>{html.escape(str(summary.get('board')))}</b> at {summary.get('clock_mhz')} MHz</p>",
            f"<p>{est.get('cycles_per_frame')} cycles per frame, {est.get('fps') or 0:,.0f} frames/s estimated; "
            f"bottleneck <b>{html.escape(str(bott))}</b>"
            + (f"; limited by the DMA: {est['io_cycles_per_frame']} cycles per frame to move a padded frame, "
               f"{est['io_bound_fps']:,.0f} frames/s" if est.get("bound") == "io" else "") + "</p>"]
    if "rtlsim" in summary:
        r = summary["rtlsim"]
        body.append(f"<p>measured in RTL simulation: {r.get('cycles_per_frame')} cycles per frame, latency "
                    f"{r.get('latency_cycles')} cycles over {r.get('frames')} frames</p>")
    body.append(_table(cols, rows))
    body.append(_bar_chart([(lay["name"], lay["cycles"]) for lay in layers], "cycles per frame, per layer", bott))
    tot = summary.get("totals")
    if tot:
        cap = tot.get("capacity", {})
        items = [(k, 100.0 * tot["estimate"].get(k, 0) / cap[k]) for k in RES if cap.get(k)]
        body.append(_bar_chart(items, "estimated resources, % of the board", unit=" %"))
    if "synth" in summary:
        s = summary["synth"]
        per = [[name, i["luts"], i["ffs"], i["brams"], i["dsps"]] for name, i in (s.get("islands") or {}).items()]
        body.append("<h2>yosys synth_xilinx</h2>" + _table(["", "LUT", "FF", "BRAM18", "DSP"],
                                                           per + [["total", s.get("luts"), s.get("ffs"),
                                                                   s.get("brams"), s.get("dsps")]]))
    if summary.get("timing"):
        body.append(_timing(summary["timing"]))
    ff = summary.get("fifos")
    if ff:
        body.append(f"<h2>FIFOs (sized in simulation)</h2><p>{ff['total_bits']} bits in total (rule: "
                    f"{ff['rule_total_bits']}); {ff['cycles_per_frame_sized']} cycles/frame, as with very deep FIFOs "
                    f"({ff['cycles_per_frame_deep']})</p>" + _table(
                        ["FIFO before", "depth", "rule depth", "bits"],
                        [[k, v, ff["rule_depths"][k], ff["bits"][k]] for k, v in ff["depths"].items()]))
    mem = summary.get("memory", {}).get("totals")
    if mem:
        body.append(f"<p>on-chip memories: {mem.get('bram18')} BRAM18, {mem.get('uram', 0)} URAM, "
                    f"{mem.get('lutram_luts')} LUTs as ROM / LUTRAM; BRAM efficiency "
                    f"{100 * (mem.get('efficiency') or 0):.0f} %, all memories "
                    f"{100 * (mem.get('efficiency_all') or 0):.0f} % (used / allocated bits)</p>")
        from hwgen.report import memory_rows

        body.append(_table(MEM_COLS, memory_rows(summary)))
    if summary.get("pruned"):  # channels the prune_channels pass removed (hwgen/transforms/prune_channels.py)
        from hwgen.report import pruned_lines

        body.append("<h2>pruned channels</h2><ul>" + "".join(f"<li>{html.escape(ln)}</li>"
                                                             for ln in pruned_lines(summary)) + "</ul>")
    islands = summary.get("partitions", [])
    if islands:  # what runs where, in order, and the bytes each hardware island's DMA moves per frame
        body.append("<h2>islands</h2>" + _table(
            ["island", "runs on", "what", "DMA bytes per frame in / out"],
            [[p["name"], "hardware" if p["kind"] == "hw" else "CPU",
              ", ".join(p["layers"] if p["kind"] == "hw" else p["nodes"]),
              f"{p['in_bytes_per_frame']} / {p['out_bytes_per_frame']}" if p["kind"] == "hw" else "-"]
             for p in islands]))
    parts = summary.get("cpu_partitions", [])
    if parts:
        body.append("<h2>CPU partitions</h2>" + _table(["partition", "nodes", "reason"],
                                                       [[p["role"], ", ".join(p["nodes"]), p["reason"]]
                                                        for p in parts]))
    inp = summary.get("input")
    if inp:  # where the model's input enters hardware, and why
        body.append(f"<h2>model input</h2><p>{html.escape(inp.get('explain', ''))}</p>")
    fold = summary.get("folding")
    if fold:
        body.append(f"<h2>folding</h2><p>{html.escape(fold.get('mode', ''))}</p>" + _table(
            ["layer", "PE", "SIMD", "cycles", "why"],
            [[k, v["pe"], v["simd"], v["cycles"], v["why"]] for k, v in fold.get("layers", {}).items()]))
    style = ("body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>hwgen report</title><style>{style}</style>"
            f"</head><body>{''.join(body)}</body></html>")
