"""The board boundary (OUT/rtl/hwgen_dma_top.v, hwgen.codegen.dma) in Verilator, one DMA transfer per run.

    sim = DmaRtlsim(out_dir)                      # builds once (hash stamp) into OUT/rtlsim/dma/
    beats, tlast, stats = sim.run(in_beats)       # in_beats: uint8 (n, beat_bytes); TLAST on the last one

The C++ harness drives in0_V with the beats (TLAST on the last, as the MM2S DMA does at the end of a transfer) and
collects out_V beats until the first one with TLAST (as the S2MM DMA in simple mode ends its transfer), or until
`max_out` beats. Random valid / ready bubbles (p_in, p_out < 1) exercise the gearboxes' back-pressure paths.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from hwgen.codegen.dma import DMA_TOP
from hwgen.errors import ToolError

HARNESS_CPP = r"""// hwgen Verilator harness for the DMA boundary: one MM2S transfer in, one S2MM transfer out.
// usage: harness IN_FILE OUT_FILE MAX_OUT MAX_CYCLES P_IN P_OUT SEED
#include "Vtop.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

{common}
int main(int argc, char** argv) {
    if (argc < 8) { fprintf(stderr, "usage: %s IN OUT MAX_OUT MAX_CYCLES P_IN P_OUT SEED\n", argv[0]); return 2; }
    const size_t W = BEAT_BYTES;
    std::vector<uint8_t> in;
    if (!read_file(argv[1], in)) return 2;
    const size_t n_in = in.size() / W, max_out = strtoull(argv[3], nullptr, 10);
    const uint64_t max_cycles = strtoull(argv[4], nullptr, 10);
    const uint32_t p_in = atoi(argv[5]), p_out = atoi(argv[6]);
    rng_state ^= strtoull(argv[7], nullptr, 10) * 0x9E3779B97F4A7C15ULL;
    std::vector<uint8_t> out;
    std::vector<uint8_t> last;
    VerilatedContext ctx;
    Vtop top(&ctx);
    top.ap_clk = 0; top.ap_rst_n = 0; top.in0_V_TVALID = 0; top.out_V_TREADY = 0;
    for (int i = 0; i < 8; ++i) { top.ap_clk = !top.ap_clk; top.eval(); }
    top.ap_rst_n = 1;
    size_t i_in = 0;
    bool offering = false, done = false;
    uint64_t cycle = 0, first_in = 0, last_out = 0;
    std::vector<uint8_t> word(W);
    while (!done && last.size() < max_out && cycle < max_cycles) {
        if (!offering && i_in < n_in && (p_in >= 1000 || rnd1000() < p_in)) {
            offering = true;
            set_word(top.in0_V_TDATA, &in[i_in * W], W);
            top.in0_V_TLAST = (i_in == n_in - 1);
        }
        top.in0_V_TVALID = offering;
        const bool ready = p_out >= 1000 || rnd1000() < p_out;
        top.out_V_TREADY = ready;
        top.eval();
        if (offering && top.in0_V_TREADY) {
            if (i_in == 0) first_in = cycle;
            ++i_in;
            offering = false;
        }
        if (ready && top.out_V_TVALID) {
            get_word(top.out_V_TDATA, word.data(), W);
            out.insert(out.end(), word.begin(), word.end());
            last.push_back(top.out_V_TLAST ? 1 : 0);
            last_out = cycle;
            if (top.out_V_TLAST) done = true;
        }
        top.ap_clk = 1; top.eval();
        top.ap_clk = 0; top.eval();
        ++cycle;
    }
    top.final();
    FILE* fo = fopen(argv[2], "wb");
    if (!fo) { perror(argv[2]); return 2; }
    fwrite(out.data(), 1, out.size(), fo);
    fwrite(last.data(), 1, last.size(), fo);
    fclose(fo);
    printf("{\"cycles\": %llu, \"inputs\": %zu, \"outputs\": %zu, \"tlast\": %s, \"first_in\": %llu, "
           "\"last_out\": %llu}\n", (unsigned long long)cycle, i_in, last.size(), done ? "true" : "false",
           (unsigned long long)first_in, (unsigned long long)last_out);
    return 0;
}
"""


class DmaRtlsim:
    def __init__(self, out_dir, jobs: int = 2, log=None):
        from hwgen.codegen.rtl_project import load_manifest
        from hwgen.sim import verilator as vl

        self.out = Path(out_dir)
        self.rtl = self.out / "rtl"
        wrapper = self.rtl / f"{DMA_TOP}.v"
        if not wrapper.is_file():
            raise ToolError(f"{str(wrapper)!r} is missing; rebuild with `hwgen build`.")
        m = load_manifest(self.rtl)
        self.beat_bytes = _beat_bytes(wrapper)
        sources = [wrapper] + [self.rtl / f for f in m["verilog"]]
        self.work = self.out / "rtlsim" / "dma"
        self.work.mkdir(parents=True, exist_ok=True)
        cpp_text = HARNESS_CPP.replace("{common}", vl.STREAM_HARNESS_COMMON_CPP)
        args = ["--cc", "--exe", "--build", "-O1", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast",
                "--x-initial", "fast", "--prefix", "Vtop", "--top-module", DMA_TOP, "-j", str(jobs),
                "-CFLAGS", f"-O1 -DBEAT_BYTES={self.beat_bytes}", "-o", "harness",
                "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include"]  # as hwgen.sim.network_harness: split (PCH) builds
        h = hashlib.sha256(repr(args).encode() + cpp_text.encode())
        for s in sources:
            h.update(s.read_bytes())
        stamp, self.exe = self.work / "harness.stamp", self.work / "harness"
        if not (stamp.exists() and stamp.read_text() == h.hexdigest() and self.exe.exists()):
            if log:
                log("building the DMA-boundary Verilator model ...")
            cpp = self.work / "harness_main.cpp"
            cpp.write_text(cpp_text)
            env = vl.verilator_env()
            env["OBJCACHE"] = str(vl.objcache_script(Path.home() / ".cache" / "hwgen" / "verilator"))
            cmd = [vl.find_verilator(), *args, "-Mdir", str(self.work), str(cpp), *[str(s.resolve()) for s in sources]]
            vl.run_tool(cmd, cwd=self.work, env=env, what="verilator build (DMA boundary)")
            stamp.write_text(h.hexdigest())
        self.last_stats: dict = {}

    def run(self, beats: np.ndarray, max_out: int, p_in: float = 1.0, p_out: float = 1.0, seed: int = 1,
            max_cycles: int | None = None):
        """One transfer: (output beats uint8 (k, beat_bytes), their TLAST flags bool (k,), stats)."""
        from hwgen.sim import verilator as vl

        import os
        import uuid

        beats = np.ascontiguousarray(beats, dtype=np.uint8).reshape(-1, self.beat_bytes)
        tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # concurrent runs on one build directory do not collide
        fin, fout = self.work / f"in-{tag}.bin", self.work / f"out-{tag}.bin"
        beats.tofile(fin)
        limit = max_cycles or 1000 * (len(beats) + max_out + 100)
        cmd = [str(self.exe), str(fin), str(fout), str(int(max_out)), str(int(limit)),
               str(int(round(p_in * 1000))), str(int(round(p_out * 1000))), str(int(seed))]
        try:
            st = vl.run_harness(cmd, self.rtl, timeout=3600)
            raw = np.fromfile(fout, dtype=np.uint8)
        finally:
            for f in (fin, fout):
                f.unlink(missing_ok=True)
        k = st["outputs"]
        out = raw[:k * self.beat_bytes].reshape(k, self.beat_bytes)
        tlast = raw[k * self.beat_bytes:].astype(bool)
        self.last_stats = st
        return out, tlast, st


def _beat_bytes(wrapper: Path) -> int:
    import re

    m = re.search(r"input\s+wire\s+\[(\d+):0\]\s+in0_V_TDATA", wrapper.read_text())
    if not m:
        raise ToolError(f"{wrapper}: no in0_V_TDATA port")
    return (int(m.group(1)) + 1) // 8
