"""Sliding-window generators of FINN's CNV at the fold_cnv_large SIMDs: buffer, words, modelled cycles per frame
(SwgSpec.cycles, cycle-exact with the RTL: rtl_tests/test_swg.py), and with --synth yosys synth_xilinx (xc7)
resources of each rendered block.

    python benchmarks/bench_swg.py [--synth]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# CNV's convs: (input H = W, channels, SIMD of the consuming MVAU at fold_cnv_large, elem bits for 1W1A)
CNV_CONVS = [("conv0", 32, 3, 3, 8), ("conv1", 30, 64, 32, 1), ("conv2", 14, 64, 32, 1), ("conv3", 12, 128, 32, 1),
             ("conv4", 5, 128, 32, 1), ("conv5", 3, 256, 32, 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--synth", action="store_true", help="yosys synth_xilinx per block (slow: ~1 min each)")
    args = ap.parse_args()
    from hwgen.codegen.render import render
    from hwgen.layers.swg_spec import SwgSpec

    head = ["layer", "IFM", "C", "SIMD", "buffer words x bits", "out words/frame", "model cycles/frame",
            "overhead", "model s"]
    if args.synth:
        head += ["yosys LUT", "FF", "BRAM18", "LUTRAM"]
    rows = []
    for name, dim, c, simd, bits in CNV_CONVS:
        spec = SwgSpec(f"swg_{name}", dim, dim, c, simd, bits, (3, 3))
        t = time.perf_counter()
        period = spec.frame_period()
        dt = time.perf_counter() - t
        row = [name, f"{dim}x{dim}", c, simd, f"{spec.buf_words} x {spec.word_bits}", spec.out_words, period,
               f"{100 * (period / spec.out_words - 1):.2f} %", f"{dt:.3f}"]
        if args.synth:
            from hwgen.codegen.rtl import lib_modules_in, write_lib
            from hwgen.sim.yosys import synth

            with tempfile.TemporaryDirectory(prefix="bench-swg-") as d:
                src = Path(d) / f"{spec.name}.v"
                text = render("rtl/swg.v.j2", **spec.template_context())
                src.write_text(text)
                r = synth([src] + write_lib(d, lib_modules_in(text)), spec.name, cwd=d)  # + its output queue
            row += [r["LUT"], r["FF"], r["BRAM18"], r["LUTRAM"]]
        rows.append(row)
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in r) + " |")


if __name__ == "__main__":
    main()
