"""The design's timing from its blocks' (summary.json "timing"), and its one-line and table forms.

    design_timing([(label, layer, block_result)], family, clock_mhz) -> summary.json["timing"] (`hwgen build
    --synth`; hwgen.sim.yosys.synth_build returns it as "timing" and the build moves it to the top level):
      {"model": "<family, grade>", "family", "clock_mhz",
       "estimate": {"fmax_mhz", "block", "layer", "path": {...}, "meets_clock"},   the slowest block
       "blocks": [{"block", "layer", "fmax_mhz", "delay_ns", "path": {worst path}, "paths": {kind: fmax}}],
       "across": {"from", "to", "delay_ns", "fmax_mhz"},  the worst stream between two blocks (see below)
       "ecp5": {"device", "fmax_mhz", "block", "not_fitting": [...], "blocks": [...]}    (with --ecp5 only)}

Every block runs on the one clock, so the design's estimate is its slowest block's, or the slowest path across
a stream if that is slower: each block is timed alone with a register assumed behind its inputs and in front of
its outputs, but a FIFO's data output comes out of its memory through logic (and a ready signal may too), so the
producer's register-to-output path and the consumer's input-to-register path join into one. Their sum (minus the
assumed register and the one net counted twice) bounds that path from above: the two halves may be different
ports of the stream.
"""

from __future__ import annotations

from hwgen.sim import timing_model as tm


def design_timing(blocks, family: str, clock_mhz: float, links=()) -> dict:
    """blocks: [(label, layer, result with "timing" (hwgen.sim.timing.analyze) and maybe "ecp5")];
    links: [(producer label, consumer label)] of the design's streams."""
    rows = []
    for label, layer, res in blocks:
        t = res.get("timing") or {}
        w = t.get("worst")
        rows.append({"block": label, "layer": layer, "fmax_mhz": t.get("fmax_mhz"), "delay_ns": t.get("delay_ns"),
                     "path": w, "paths": {k: (p["fmax_mhz"] if p else None) for k, p in t.get("paths", {}).items()},
                     **({"unknown_cells": t["unknown_cells"]} if t.get("unknown_cells") else {}),
                     **({"ecp5": res["ecp5"]} if "ecp5" in res else {})})
    timed = [r for r in rows if r["fmax_mhz"]]
    slow = min(timed, key=lambda r: r["fmax_mhz"]) if timed else None
    est = ({"fmax_mhz": slow["fmax_mhz"], "block": slow["block"], "layer": slow["layer"], "path": slow["path"]}
           if slow else None)
    across = _across(blocks, links, family)
    if across and est and across["fmax_mhz"] < est["fmax_mhz"]:
        est = {"fmax_mhz": across["fmax_mhz"], "block": f"{across['from']} -> {across['to']}", "layer": None,
               "path": across["path"]}
    if est:
        est["meets_clock"] = est["fmax_mhz"] >= clock_mhz
    out = {"model": tm.FAMILIES[family]["name"], "family": family, "clock_mhz": clock_mhz, "estimate": est,
           "blocks": rows, **({"across": across} if across else {})}
    if any("ecp5" in r for r in rows):
        out["ecp5"] = ecp5_summary(rows)
    return out


def islands_timing(per_island: list) -> dict:
    """summary.json "timing" of a model of several hardware islands, from each island's design_timing:
    [(island name, timing)]. They share the bitstream's one clock, so the model's estimate is the slowest
    island's; every block (and the worst stream) keeps its island's name ("hw1/MVAU_2" for island k >= 1, the
    row's "island"), and "islands" holds each island's own estimate."""
    first = per_island[0][1]
    out = {k: first[k] for k in ("model", "family", "clock_mhz")}
    rows, est, across, islands = [], None, None, {}
    for name, t in per_island:
        pre = "" if name == per_island[0][0] else f"{name}/"
        rows += [dict(r, block=pre + r["block"], island=name) for r in t.get("blocks", [])]
        e = t.get("estimate")
        islands[name] = e
        if e and (est is None or e["fmax_mhz"] < est["fmax_mhz"]):
            est = dict(e, block=pre + e["block"], island=name)
        x = t.get("across")
        if x and (across is None or x["fmax_mhz"] < across["fmax_mhz"]):
            across = dict(x, **{"from": pre + x["from"], "to": pre + x["to"]}, island=name)
    out.update(estimate=est, blocks=rows, islands=islands)
    if across:
        out["across"] = across
    if any("ecp5" in r for r in rows):
        out["ecp5"] = ecp5_summary(rows)
    return out


def _across(blocks, links, family: str) -> dict | None:
    """The worst producer reg2out + consumer in2reg join over the streams (module doc)."""
    paths = {label: (res.get("timing") or {}).get("paths", {}) for label, _, res in blocks}
    v = (lambda k: tm.value(family, k))
    twice = v("ff_clk_q") + v("net_base") + v("ff_setup_d") + v("clock_uncertainty")
    worst = None
    for a, b in links:
        for src, dst in ((a, b), (b, a)):  # data forward, ready backward
            out, inp = paths.get(src, {}).get("reg2out"), paths.get(dst, {}).get("in2reg")
            if out and inp:
                ns = out["delay_ns"] + inp["delay_ns"] - twice
                if worst is None or ns > worst["delay_ns"]:
                    route = out["route"].removesuffix(" > out") + " | " + inp["route"].removeprefix("in > ")
                    worst = {"from": src, "to": dst, "delay_ns": round(ns, 3), "fmax_mhz": round(1000.0 / ns, 1),
                             "path": {**inp, "kind": "across", "delay_ns": round(ns, 3),
                                      "fmax_mhz": round(1000.0 / ns, 1), "start": out["start"],
                                      "logic_levels": out["logic_levels"] + inp["logic_levels"],
                                      "lut_levels": out["lut_levels"] + inp["lut_levels"],
                                      "carry": out["carry"] + inp["carry"], "muxf": out["muxf"] + inp["muxf"],
                                      "memory": out["memory"] + inp["memory"], "dsp": out["dsp"] + inp["dsp"],
                                      "route": route}}
    return worst


def ecp5_summary(rows) -> dict:
    placed = [r for r in rows if r.get("ecp5", {}).get("fmax_mhz")]
    not_fit = [r["block"] for r in rows if "ecp5" in r and not r["ecp5"].get("fits", True)]
    slow = min(placed, key=lambda r: r["ecp5"]["fmax_mhz"]) if placed else None
    dev = next((r["ecp5"].get("device") for r in rows if "ecp5" in r), None)
    return {"device": dev, "fmax_mhz": slow["ecp5"]["fmax_mhz"] if slow else None,
            "block": slow["block"] if slow else None, "not_fitting": not_fit,
            "seconds": round(sum(r["ecp5"].get("seconds", 0) for r in rows if "ecp5" in r), 1)}


def path_words(p: dict | None) -> str:
    """'9 LUT levels, 3 carry, RAMB18E1, 0 DSP: FDRE mvau/acc[3] -> ... -> FDRE out_reg[7]'."""
    if not p:
        return "no register-to-register path"
    parts = [f"{p['lut_levels']} LUT levels", f"{p['carry']} carry"]
    if p.get("muxf"):
        parts.append(f"{p['muxf']} MUXF")
    if p.get("memory"):
        parts.append("+".join(p["memory"]))
    if p.get("dsp"):
        parts.append(f"{p['dsp']} DSP")
    return (f"{p['kind']} {p['delay_ns']} ns, {', '.join(parts)}: {p['start']['signal']} -> {p['end']['signal']} "
            f"({p['route']})")


def timing_rows(t: dict) -> list[list]:
    """Per-block table rows: block, Fmax, kind, LUT levels, carry, memory, DSP, start -> end (+ ECP5)."""
    rows = []
    blocks = list(t.get("blocks", []))
    if t.get("across"):
        x = t["across"]
        blocks.append({"block": f"{x['from']} -> {x['to']} (stream)", "fmax_mhz": x["fmax_mhz"], "path": x["path"]})
    for b in sorted(blocks, key=lambda r: r["fmax_mhz"] or 1e9):
        p = b["path"] or {}
        e = b.get("ecp5")
        rows.append([b["block"], b["fmax_mhz"] if b["fmax_mhz"] else "-", p.get("kind", "-"),
                     p.get("lut_levels", "-"), p.get("carry", "-"), "+".join(p.get("memory", [])) or "-",
                     p.get("dsp", "-"), f"{p.get('start', {}).get('signal', '?')} -> {p.get('end', {}).get('signal', '?')}"
                     if p else "-"]
                    + ([ecp5_cell(e)] if "ecp5" in t else []))
    return rows


def timing_header(t: dict) -> list[str]:
    return (["block", "Fmax MHz", "path", "LUT lvl", "carry", "memory", "DSP", "start -> end"]
            + (["ECP5 MHz"] if "ecp5" in t else []))


def ecp5_cell(e: dict | None) -> str:
    if not e:
        return "-"
    if not e.get("fits", True):
        return "does not fit"
    return str(e.get("fmax_mhz") or "-")


def verdict(t: dict) -> tuple[bool, str]:
    """(below the clock?, one line naming the slowest block and its path)."""
    e = t.get("estimate")
    if not e:
        return False, "no timed path"
    line = (f"the open timing estimate ({t['model']}) gives {e['fmax_mhz']} MHz for {e['block']}, below the "
            f"{t['clock_mhz']:g} MHz clock: {path_words(e['path'])}" if not e["meets_clock"] else
            f"{e['fmax_mhz']} MHz estimated ({t['model']}), slowest block {e['block']}: {path_words(e['path'])}")
    return not e["meets_clock"], line
