"""Open timing figures of the benchmark foldings: the longest path of every block and its Fmax.

For each design, every block of `hwgen build` is synthesized out of context with yosys (synth_xilinx, the same
per-block run as `hwgen build --synth`, cached by content) for 7-series (-family xc7) and UltraScale+ (xcup), its
netlist timed with hwgen.sim.timing (-1 speed grade), and placed and routed for a Lattice ECP5 (LFE5U-85F) with
nextpnr (--no-ecp5 to skip). Designs:
  - TFC_1W1A (../shared) at FINN's published folding (16,49) (8,8) (8,8) (10,8)
  - CNV_1W1A (tests/models/cnn) at FINN's fold_cnv_large; its first conv (8-bit input, 27 -> 64, PE 16, SIMD 3)
    is "the 8-bit first conv"
  - one UINT4 x INT4 MVAU 576 -> 64 at PE 16 x SIMD 32 (UINT4 thresholds out)
Prints one row per block (LUT levels, carry cells, memory and DSP stages on the xc7 path, Fmax xc7 -1 / xcup -1,
nextpnr ECP5), then one per kind (the slowest block of each kind), and the targets (>= 150 MHz xc7 -1,
>= 250 MHz UltraScale+ -1).

    python benchmarks/bench_timing.py [--only tfc,mvau,cnv] [--no-ecp5 | --ecp5-cached] [--jobs 2] [--markdown]
                                      [--cnv-glue] [--blocks MVAU_0,MVAU_4]

CNV: only its layers by default (its FIFOs and width converters are the kinds TFC already shows; --cnv-glue adds
them). Order tfc, mvau, cnv; the table is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TFC = ROOT.parent / "shared" / "models" / "tfc" / "TFC_1W1A.onnx"
TFC_FOLD = {"MVAU_0": {"PE": 16, "SIMD": 49}, "MVAU_1": {"PE": 8, "SIMD": 8}, "MVAU_2": {"PE": 8, "SIMD": 8},
            "MVAU_3": {"PE": 10, "SIMD": 8}}
MVAU_POINT = ("bench_u4w4_p16s32", "MVAU", (576, 64), 16, 32, "UINT4", "INT4", "UINT4", "auto", 0)
BOARDS = {"xc7": "pynq-z2", "xcup": "kv260"}  # one board of each family; the folding is fixed by FOLD.json
TARGET = {"xc7": 150.0, "xcup": 250.0}


def kind_of(block: str, ops: dict) -> str:
    if block in ops:
        return ops[block]
    return "FIFO" if block.startswith("fifo_") else "DWC" if block.startswith("dwc_") else block


def build_design(model, fold: dict | None, d: Path, jobs: int, ecp5: bool, log, layers_only=False,
                 blocks=None) -> list[dict]:
    """Rows (one per block) of one model at one folding, timed for both families (+ ECP5)."""
    from hwgen.boards import get_board
    from hwgen.build import build
    from hwgen.graph import HwGraph
    from hwgen.sim.yosys import synth_build

    rows: dict[str, dict] = {}
    for fam, board in BOARDS.items():
        out = d / f"o_{fam}"
        if fold:
            (d / "FOLD.json").write_text(json.dumps(fold))
        s = build(model, out, board=board, folding_file=d / "FOLD.json" if fold else None, log=lambda *_: None)
        ops = {lay["name"]: lay["op"] for lay in s["layers"]}
        t0 = time.perf_counter()
        y = synth_build(out, HwGraph.load(out), get_board(board), log=None, jobs=jobs,
                        ecp5=ecp5 if fam == "xc7" else False,
                        only=(lambda st: st["layer"] in blocks) if blocks else
                        (lambda st: bool(st["layer"])) if layers_only else None)
        log(f"  {fam}: {len(y['timing']['blocks'])} blocks synthesized and timed in {time.perf_counter() - t0:.0f} s")
        x = y["timing"].get("across")
        if x:  # the worst stream between two blocks (a FIFO's memory read into its consumer)
            r = rows.setdefault("across", {"block": "(worst stream)", "kind": "stream"})
            r[fam] = x["fmax_mhz"]
            if fam == "xc7":
                r["block"], r["path"] = f"{x['from']} -> {x['to']}", x["path"]
        for b in y["timing"]["blocks"]:
            r = rows.setdefault(b["block"], {"block": b["block"], "kind": kind_of(b["layer"] or b["block"], ops)})
            r[fam] = b["fmax_mhz"]
            if fam == "xc7":
                r["path"] = b["path"]
                if "ecp5" in b:
                    r["ecp5"] = b["ecp5"]
    return list(rows.values())


def mvau_rows(d: Path, ecp5: bool) -> list[dict]:
    """The UINT4 x INT4 PE 16 x SIMD 32 MVAU alone (calibrate_resources' layer maker, random weights)."""
    from benchmarks.calibrate_resources import make_layer
    from hwgen.codegen.rtl import write_node
    from hwgen.sim.timing import analyze
    from hwgen.sim.yosys import SYNTH_VERSION, block_key, cached_run, find_yosys, synth, tool_id

    lay = make_layer(MVAU_POINT)
    row = {"block": f"MVAU {MVAU_POINT[2][0]}->{MVAU_POINT[2][1]} UINT4xINT4 PE16 SIMD32", "kind": "MVAU"}
    for fam in BOARDS:
        w = d / f"mvau_{fam}"
        paths = write_node(lay, w)
        files = [p.name for p in paths]
        key = block_key(w, files, SYNTH_VERSION, fam, tool_id(find_yosys()[0]))

        def produce(w=w, paths=paths, fam=fam):
            r = synth([p for p in paths if p.suffix == ".v"], lay.name, family=fam, cwd=w, netlist=True)
            Path(r["netlist"]).replace(w / "netlist.json.gz")

        cached_run("yosys", lay.name + "_" + fam, key, w, ["netlist.json.gz"], produce)
        t = analyze(w / "netlist.json.gz", fam)
        row[fam] = t["fmax_mhz"]
        if fam == "xc7":
            row["path"] = t["worst"]
            if ecp5:
                from hwgen.sim.ecp5 import place_route_block

                e = place_route_block(w, files, lay.name, 100.0, cached_only=ecp5 == "cached")
                if e is not None:
                    row["ecp5"] = e
    return [row]


def fmt_row(design: str, r: dict) -> list:
    from hwgen.sim.timing_report import ecp5_cell

    p = r.get("path") or {}
    return [design, r["block"], r["kind"], p.get("lut_levels", "-"), p.get("carry", "-"),
            "+".join(p.get("memory", [])) or "-", p.get("dsp", "-"), r.get("xc7") or "-", r.get("xcup") or "-",
            ecp5_cell(r.get("ecp5")) if "ecp5" in r else "-"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="tfc,mvau,cnv")
    ap.add_argument("--no-ecp5", action="store_true")
    ap.add_argument("--ecp5-cached", action="store_true",
                    help="ECP5 figures only where a previous run left them in the cache (no new place and route)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--blocks", default="",
                    help="only these layers (comma-separated names, e.g. MVAU_0,MVAU_4: TFC's and CNV's), minutes "
                         "instead of the 1-2 h of everything")
    ap.add_argument("--cnv-glue", action="store_true",
                    help="also the CNV's FIFOs and width converters (37 more blocks: about 3x the time; TFC has "
                         "the same kinds)")
    a = ap.parse_args(argv)
    from tests.handmade_cnv import fold_cnv_large_file

    only = set(a.only.split(","))
    blocks = set(filter(None, a.blocks.split(","))) or None
    ecp5 = False if a.no_ecp5 else "cached" if a.ecp5_cached else True
    log = (lambda m: print(m, file=sys.stderr, flush=True))
    designs = []
    done = (lambda: report(designs[-1:], False) if designs else None)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "tfc" in only:
            if not TFC.is_file():
                print(f"{TFC} not present; skipping TFC (needs ../shared)", file=sys.stderr)
            else:
                log("TFC_1W1A, published folding")
                (tmp / "tfc").mkdir()
                designs.append(("TFC_1W1A", build_design(TFC, TFC_FOLD, tmp / "tfc", a.jobs, ecp5, log,
                                                         blocks=blocks)))
                done()
        if "mvau" in only:
            log("MVAU UINT4 x INT4 PE16 SIMD32")
            designs.append(("MVAU u4w4", mvau_rows(tmp, ecp5)))
            done()
        if "cnv" in only:
            from hwgen.build import compile_model
            from tests.cnn_models import model_path

            log("CNV_1W1A, fold_cnv_large")
            (tmp / "cnv").mkdir()
            cnv = model_path("cnv_1w1a.onnx.gz", tmp / "cnv")
            names = [lay.name for lay in compile_model(cnv).layers if lay.op in ("MVAU", "VVAU")]
            rows = build_design(cnv, fold_cnv_large_file(names), tmp / "cnv", a.jobs, ecp5, log,
                                layers_only=not a.cnv_glue, blocks=blocks)
            for r in rows:
                if r["block"] == names[0]:
                    r["kind"] = "MVAU (8-bit first conv)"
            designs.append(("CNV_1W1A", rows))
    print("\n== all designs ==")
    return report(designs, a.markdown)


HEAD = ["design", "block", "kind", "LUT lvl", "carry", "memory", "DSP", "xc7 -1 MHz", "xcup -1 MHz", "ECP5 MHz"]


def report(designs, markdown: bool) -> int:
    from hwgen.report import table

    head = HEAD
    rows = [fmt_row(dn, r) for dn, rs in designs for r in sorted(rs, key=lambda r: r.get("xc7") or 1e9)]
    kinds = {}
    for dn, rs in designs:
        for r in rs:
            k = (dn, r["kind"])
            if k not in kinds or (r.get("xc7") or 1e9) < (kinds[k].get("xc7") or 1e9):
                kinds[k] = r
    krows = [fmt_row(dn, {**r, "block": r["block"]}) for (dn, _), r in sorted(kinds.items())]
    if markdown:
        print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
        print("\n".join("| " + " | ".join(map(str, r)) + " |" for r in krows))
    else:
        print("every block (xc7 path):\n" + table(rows, head))
        print("\nslowest block of each kind:\n" + table(krows, head))
    below = [r for r in krows if any(isinstance(r[i], float) and r[i] < TARGET[f] for i, f in ((7, "xc7"),
                                                                                               (8, "xcup")))]
    print(f"\ntargets: >= {TARGET['xc7']:g} MHz xc7 -1, >= {TARGET['xcup']:g} MHz xcup -1; "
          f"{len(below)} of {len(krows)} kinds below")
    return 0


if __name__ == "__main__":
    sys.exit(main())
