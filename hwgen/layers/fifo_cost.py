"""Resource cost of the stream FIFO (templates/rtl/hwgen_fifo.v) as yosys `synth_xilinx -family xc7` maps it, and
the depth rule that picks its style (hwgen.codegen.rtl.fifo_style): the glue of summary.json's totals."""

from __future__ import annotations

import math

from hwgen.bits import clog2 as _clog2
from hwgen.layers.roms import bram18_for

# FIFO on a stream (templates/rtl/hwgen_fifo.v; style "auto": a register array up to FIFO_SRL_MAX_DEPTH words, a RAM
# with a registered read above). yosys synth_xilinx -family xc7 maps the register array to flip-flops, not SRLs, so
# FF = bits * depth + the count, the read address and two flags, LUT = a read mux LUT per bit + ~7. Its read mux
# sits on the stream's path into the consumer (one LUT level up to 4 words, 4 at 32 words: 180 MHz xc7 -1 alone,
# ~130 with a consumer), and it costs a flip-flop per stored bit, so only tiny FIFOs are register arrays. The RAM
# style (a ring with a registered read) becomes LUTRAM (RAM32M: 6 bits x 32 words, RAM64M: 3 bits x 64 words, 4 LUTs
# each) with ~15 LUTs of pointers, count and flags and FF = bits (the output register) + 3 per count bit; up to 64
# words always (56 x 64 and 64 x 40 included), deeper ones (several RAM64M banks, a read mux per bit) only while
# they take at most FIFO_LUTRAM_MAX_BANKED_LUTS LUTRAM LUTs (yosys' choice: 16 x 100, 20 x 100, 8 x 200 LUTRAM; 12 x
# 200, 24 x 128, 16 x 150 block RAM), else block RAM (tiled as hwgen.layers.roms.bram18_for tiles a ROM: 64 x 65 in
# 2 BRAM18). Measured with yosys 2026-12-07 on 24 points from 1 x 5 to 64 x 1000 (LUTRAM and BRAM18 exact, FF within
# 3, LUT within 9; rtl_tests/test_yosys.py checks five).
FIFO_SRL_MAX_DEPTH = 4
FIFO_LUTRAM_MAX_BANKED_LUTS = 56


def fifo_resources(bits: int, depth: int) -> dict:
    """Estimated resources of the FIFO of a `bits`-wide stream holding `depth` words (same keys as the layers')."""
    cw = _clog2(depth + 1)
    if depth <= FIFO_SRL_MAX_DEPTH:
        aw = _clog2(depth) if depth > 1 else 0
        return {"luts": (bits if depth > 1 else 0) + 7, "ffs": bits * depth + cw + 2 + aw, "bram18": 0, "uram": 0,
                "dsps": 0, "lutram": 0}
    banks = math.ceil(depth / 64)
    lutram = 4 * math.ceil(bits / 6) if depth <= 32 else 4 * banks * math.ceil(bits / 3)
    if banks == 1 or lutram <= FIFO_LUTRAM_MAX_BANKED_LUTS:
        # several RAM64M banks: a read mux per bit and the banks' write decode
        return {"luts": 15 + (bits + 12 if banks > 1 else 0), "ffs": bits + 3 * cw, "bram18": 0, "uram": 0,
                "dsps": 0, "lutram": lutram}
    # block RAM (a one-read, one-write memory: tiled as yosys tiles the ROMs, 36 bits x 512 words per BRAM18 and
    # wider); the output register is the BRAM's own, only the pointers and count are flip-flops
    return {"luts": 3 * cw, "ffs": 3 * cw, "bram18": bram18_for(depth, bits),
            "uram": 0, "dsps": 0, "lutram": 0}
