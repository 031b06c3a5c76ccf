"""Plain-text tables of build results for the terminal."""

from __future__ import annotations


def table(rows: list[list], header: list[str]) -> str:
    cells = [[str(c) for c in r] for r in [header] + rows]
    w = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "  ".join(c.rjust(w[i]) if i else c.ljust(w[i]) for i, c in enumerate(r))  # noqa: E731
    return "\n".join([line(cells[0]), "  ".join("-" * x for x in w)] + [line(r) for r in cells[1:]])


def markdown_table(rows: list[list], header: list[str]) -> str:
    """The same table as Markdown (the README's performance tables)."""
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                     + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def layer_table(summary: dict) -> str:
    rows = [[lay["name"], lay["op"], lay["pe"], lay["simd"], "x".join(map(str, lay["in_shape"])),
             "x".join(map(str, lay["out_shape"])), lay["in_dtype"], lay["weight_dtype"] or "-", lay["out_dtype"],
             lay["cycles"]] for lay in summary["layers"]]
    return table(rows, ["layer", "op", "PE", "SIMD", "in", "out", "in type", "weights", "out type", "cycles"])


def cpu_table(parts: list[dict]) -> str:
    if not parts:
        return "(none)"
    rows = [[p["role"], ", ".join(p["nodes"]) or "-", p["reason"]] for p in parts]
    return table(rows, ["partition", "nodes", "reason"])


def pruned_lines(summary: dict) -> list[str]:
    """What the prune_channels pass removed (hwgen.transforms.prune_channels), one line per layer."""
    out = []
    for p in summary.get("pruned") or []:
        levels = sorted({v for v in p["constant_levels"] if v is not None})
        why = f"constant output {', '.join(map(str, levels))}" if levels else "not read by the next layer"
        out.append(f"{p['layer']}: {p['of'] - p['kept']} of {p['of']} output channels removed ({why}), and their "
                   f"inputs of {p['consumer']}: channels {_ranges(p['removed'])}")
    return out


def _ranges(idx: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2, 5'."""
    out, start = [], None
    for i, v in enumerate(idx):
        if start is None:
            start = v
        if i + 1 == len(idx) or idx[i + 1] != v + 1:
            out.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return ", ".join(out)


def island_table(partitions: list[dict]) -> str:
    """summary.json "partitions": each island in order, what it runs, and the bytes its DMA moves per frame."""
    if not partitions:
        return "(none)"
    rows = []
    for p in partitions:
        if p["kind"] == "hw":
            rows.append([p["name"], "hardware", f"{len(p['layers'])} layers: {', '.join(p['layers'][:6])}"
                         + (" ..." if len(p["layers"]) > 6 else ""),
                         f"{p['in_bytes_per_frame']:,} in / {p['out_bytes_per_frame']:,} out"])
        else:
            rows.append([p["name"], "CPU", ", ".join(p["nodes"][:6]) + (" ..." if len(p["nodes"]) > 6 else ""), "-"])
    return table(rows, ["island", "runs on", "what", "bytes per frame (DMA)"])


def estimate_line(s: dict) -> str:
    e = s["estimate"]
    if not e.get("cycles_per_frame"):
        return f"{s['board']}: nothing runs in hardware (one CPU island)"
    line = (f"{s['board']} @ {s['clock_mhz']:g} MHz: {e['cycles_per_frame']} cycles/frame (bottleneck "
            f"{e['bottleneck']}), {e['fps']:,.0f} frames/s estimated")
    if e.get("cpu_islands"):
        line += f" for the hardware islands (CPU islands {', '.join(e['cpu_islands'])} not counted)"
    return line


def input_paragraph(summary: dict) -> str:
    """Where the model's input enters hardware, and why (head planning in hwgen.transforms.input_head)."""
    import textwrap

    inp = summary.get("input") or {}
    if not inp:
        return ""
    first = "on the CPU (float)" if inp.get("first_layer") == "cpu" else "in hardware"
    head = f"input: {inp.get('declared') or 'float'}; first layer {first}. "
    return textwrap.fill(head + inp.get("explain", ""), width=116, subsequent_indent="  ")


def memory_rows(summary: dict) -> list[list]:
    """One row per weight / threshold ROM and line buffer of the memory plan (summary.json "memory")."""
    rows = []
    for lname, mems in summary.get("memory", {}).get("layers", {}).items():
        for mname, m in mems.items():
            eff = m.get("efficiency")
            rows.append([lname, mname, m.get("kind", "rom"), m["style"], f"{m['depth']}x{m['width']}", m["bram18"],
                         m.get("uram", 0), m["lutram_luts"], "-" if eff is None else f"{100 * eff:.0f} %"])
    return rows


def memory_table(summary: dict) -> str:
    return table(memory_rows(summary), ["layer", "memory", "kind", "style", "depth x width", "BRAM18", "URAM",
                                        "LUTs", "efficiency"])


def timing_table(summary: dict) -> str:
    """The open timing estimate of a --synth build (summary "timing"): the design's line, then one row per block,
    slowest first."""
    from hwgen.sim.timing_report import timing_header, timing_rows, verdict

    t = summary.get("timing")
    if not t:
        return "timing: not estimated (build with --synth)"
    head = "timing: " + verdict(t)[1]
    if "ecp5" in t:
        e = t["ecp5"]
        head += (f"\nnextpnr {e['device']} (routed, out of context): {e['fmax_mhz']} MHz, slowest {e['block']}"
                 + (f"; not fitting: {', '.join(e['not_fitting'])}" if e["not_fitting"] else ""))
    return head + "\n" + table(timing_rows(t), timing_header(t))
