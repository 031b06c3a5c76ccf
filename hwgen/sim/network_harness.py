"""Whole-network Verilator harness: a stitched top built with `define HWGEN_MONITOR (mon_valid / mon_ready over
every wire of the design, hwgen.codegen.rtl_project), driven by a plain C++ loop (no Python per cycle).

It streams frames from a file and writes back, through files in the run's own temporary directory:
- the output words;
- per wire (every stream of any graph, forks and joins included), the cycle of the first and of the last
  handshake of every frame;
and prints one JSON status line: why it stopped (ok | stall | max_cycles), per wire its handshakes, TVALID /
TREADY at the end and the cycle of its last handshake; per stage (block or FIFO) its idle cycles (starved or
blocked without taking an input word); per FIFO its occupancy at the end and its maximum over the run.

The watchdog stops a run when no wire has moved for WATCHDOG cycles, so a deadlocked design (e.g. a skip
connection whose short-branch FIFO is too shallow) ends after a bounded number of cycles; the caller names the
stalled streams from the status (hwgen.sim.stall).

Per-cycle work in the loop is O(wires + stage ports + FIFOs); the stamps are O(wires * frames) memory, written
once at the end.
"""

from __future__ import annotations

from pathlib import Path

from hwgen.sim.verilator import HARNESS_RNG_CPP, HARNESS_WORDS_CPP, run_harness

NETWORK_HARNESS_CPP = r"""// hwgen Verilator network harness (top built with +define+HWGEN_MONITOR).
// usage: harness IN OUT STAMPS N_FRAMES IN_WPF OUT_WPF WATCHDOG MAX_CYCLES P_IN P_OUT SEED WPF_LIST STAGES FIFOS
//   IN: n_frames*IN_WPF byte-padded input words; OUT: n_frames*OUT_WPF output words (written as received)
//   STAMPS: uint64 [n_wires][2][n_frames]: cycle of the first / last handshake of every frame on every wire
//   WPF_LIST: comma-separated words per frame of each monitored wire (0 = not stamped)
//   STAGES: ';'-separated stages, each "in,in,.../out,out,..." (wire indices): idle cycles are counted per stage
//   FIFOS: comma-separated "in:out" wire pairs: occupancy = handshakes(in) - handshakes(out)
// Prints one JSON line: status ok | stall | max_cycles, cycles, per wire: handshakes, TVALID/TREADY at the end,
// cycle of the last handshake; per stage: idle cycles; per FIFO: occupancy at the end and its maximum.
#include "Vtop.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

{common_words}template <typename T> static bool bit(const T& sig, size_t i) { return ((uint64_t)sig >> i) & 1; }
template <std::size_t N> static bool bit(const VlWide<N>& sig, size_t i) { return (sig[i / 32] >> (i % 32)) & 1; }
template <typename T> static uint32_t word32(const T& sig, size_t k) {
    return k * 32 < 64 ? (uint32_t)((uint64_t)sig >> (32 * k)) : 0;
}
template <std::size_t N> static uint32_t word32(const VlWide<N>& sig, size_t k) { return sig[k]; }

{common_rng}
static std::vector<uint64_t> parse_list(const std::string& s, char sep) {
    std::vector<uint64_t> v;
    size_t i = 0;
    while (i < s.size()) {
        size_t j = s.find(sep, i);
        if (j == std::string::npos) j = s.size();
        if (j > i) v.push_back(strtoull(s.substr(i, j - i).c_str(), nullptr, 10));
        i = j + 1;
    }
    return v;
}

struct Stage { std::vector<uint64_t> in, out; };

int main(int argc, char** argv) {
    if (argc < 15) { fprintf(stderr, "usage: %s IN OUT STAMPS N_FRAMES IN_WPF OUT_WPF WATCHDOG MAX_CYCLES P_IN P_OUT SEED WPF_LIST STAGES FIFOS\n", argv[0]); return 2; }
    const size_t IN_BYTES = (IN_BITS + 7) / 8, OUT_BYTES = (OUT_BITS + 7) / 8;
    const size_t n_frames = strtoull(argv[4], nullptr, 10);
    const size_t in_wpf = strtoull(argv[5], nullptr, 10), out_wpf = strtoull(argv[6], nullptr, 10);
    const uint64_t watchdog = strtoull(argv[7], nullptr, 10), max_cycles = strtoull(argv[8], nullptr, 10);
    const uint32_t p_in = atoi(argv[9]), p_out = atoi(argv[10]);
    rng_state ^= strtoull(argv[11], nullptr, 10) * 0x9E3779B97F4A7C15ULL;
    const std::vector<uint64_t> wpf = parse_list(argv[12], ',');
    std::vector<Stage> stages;
    {
        const std::string spec = argv[13];
        size_t i = 0;
        while (i < spec.size()) {
            size_t j = spec.find(';', i);
            if (j == std::string::npos) j = spec.size();
            const std::string one = spec.substr(i, j - i);
            const size_t k = one.find('/');
            Stage st;
            st.in = parse_list(one.substr(0, k), ',');
            if (k != std::string::npos) st.out = parse_list(one.substr(k + 1), ',');
            stages.push_back(st);
            i = j + 1;
        }
    }
    std::vector<uint64_t> fifo_in, fifo_out;
    {
        const std::string spec = argv[14];
        size_t i = 0;
        while (i < spec.size()) {
            size_t j = spec.find(',', i);
            if (j == std::string::npos) j = spec.size();
            const std::string one = spec.substr(i, j - i);
            const size_t k = one.find(':');
            if (k != std::string::npos) {
                fifo_in.push_back(strtoull(one.substr(0, k).c_str(), nullptr, 10));
                fifo_out.push_back(strtoull(one.substr(k + 1).c_str(), nullptr, 10));
            }
            i = j + 1;
        }
    }
    const size_t ns = wpf.size(), nst = stages.size(), nf = fifo_in.size();
    const size_t n_in = n_frames * in_wpf, n_out = n_frames * out_wpf;
    std::vector<uint8_t> in(n_in * IN_BYTES), out(n_out * OUT_BYTES);
    FILE* fi = fopen(argv[1], "rb");
    if (!fi) { perror(argv[1]); return 2; }
    if (fread(in.data(), 1, in.size(), fi) != in.size()) { fprintf(stderr, "%s: short input file\n", argv[1]); return 2; }
    fclose(fi);
    std::vector<uint64_t> count(ns, 0), last_move(ns, 0), stamps(ns * 2 * n_frames, 0), idle(nst, 0);
    std::vector<uint64_t> occ_max(nf, 0), next_stamp(ns, 0);
    std::vector<int64_t> fifo_of_in(ns, -1);
    for (size_t k = 0; k < nf; ++k) fifo_of_in[fifo_in[k]] = (int64_t)k;
    std::vector<size_t> moved;
    moved.reserve(ns);
    const size_t n_words = (ns + 31) / 32;

    VerilatedContext ctx;
    Vtop top(&ctx);
    top.ap_clk = 0; top.ap_rst_n = 0; top.in0_V_TVALID = 0; top.out_V_TREADY = 0;
    for (int i = 0; i < 8; ++i) { top.ap_clk = !top.ap_clk; top.eval(); }
    top.ap_rst_n = 1;
    size_t i_in = 0, i_out = 0;
    bool offering = false;
    uint64_t cycle = 0, last_any = 0, tlast_errors = 0;
    const char* status = "ok";
    while (i_out < n_out) {
        if (max_cycles && cycle >= max_cycles) { status = "max_cycles"; break; }
        if (cycle - last_any > watchdog) { status = "stall"; break; }
        top.ap_clk = 0;
        if (!offering && i_in < n_in && (p_in >= 1000 || rnd1000() < p_in)) {
            offering = true;
            set_word(top.in0_V_TDATA, &in[i_in * IN_BYTES], IN_BYTES);
        }
        top.in0_V_TVALID = offering;
        const bool ready = p_out >= 1000 || rnd1000() < p_out;
        top.out_V_TREADY = ready;
        top.eval();
        // handshakes, 32 wires at a time: only the wires that moved cost anything
        moved.clear();
        for (size_t k = 0; k < n_words; ++k) {
            uint32_t hs = word32(top.mon_valid, k) & word32(top.mon_ready, k);
            while (hs) {
                const size_t s = 32 * k + __builtin_ctz(hs);
                hs &= hs - 1;
                moved.push_back(s);
                const uint64_t c = count[s]++;
                last_move[s] = cycle;
                if (wpf[s]) {  // first / last word of a frame: a countdown instead of a division per word
                    if (c == next_stamp[s]) {
                        const uint64_t f = c / wpf[s];
                        if (f < n_frames) stamps[(s * 2) * n_frames + f] = cycle;
                        next_stamp[s] = c + wpf[s];
                    }
                    if (c + 1 == next_stamp[s]) {
                        const uint64_t f = c / wpf[s];
                        if (f < n_frames) stamps[(s * 2 + 1) * n_frames + f] = cycle;
                    }
                }
            }
        }
        if (!moved.empty()) last_any = cycle;
        for (size_t s : moved) {  // a FIFO's occupancy only grows when its input wire moves
            const int64_t k = fifo_of_in[s];
            if (k < 0) continue;
            const uint64_t o = count[fifo_in[k]] - count[fifo_out[k]];
            if (o > occ_max[k]) occ_max[k] = o;
        }
        // a stage is idle when it takes no input word and is starved (an input it waits on is empty: TREADY
        // without TVALID, or any empty input of a join, which needs a word on every input) or blocked (an
        // output offers a word its consumer does not take; for a fork, any output not ready); stages given
        // without wires (FIFOs) are skipped
        for (size_t k = 0; k < nst; ++k) {
            const Stage& st = stages[k];
            bool took = false, starved = false, blocked = false;
            for (uint64_t w : st.in) {
                const bool vw = bit(top.mon_valid, w), rw = bit(top.mon_ready, w);
                took |= vw && rw;
                starved |= !vw && (rw || st.in.size() > 1);
            }
            // a fork (several outputs) holds nothing of its own: any output not ready blocks it, offered or not
            for (uint64_t w : st.out)
                blocked |= !bit(top.mon_ready, w) && (st.out.size() > 1 || bit(top.mon_valid, w));
            if (!took && (starved || blocked)) ++idle[k];
        }
        if (offering && top.in0_V_TREADY) { ++i_in; offering = false; }
        if (ready && top.out_V_TVALID) {
            get_word(top.out_V_TDATA, &out[i_out * OUT_BYTES], OUT_BYTES);
            ++i_out;
            if ((bool)top.out_V_TLAST != (i_out % out_wpf == 0)) ++tlast_errors;
        }
        top.ap_clk = 1; top.eval();
        ++cycle;
    }
    top.final();
    FILE* fo = fopen(argv[2], "wb");
    if (!fo) { perror(argv[2]); return 2; }
    fwrite(out.data(), 1, i_out * OUT_BYTES, fo);
    fclose(fo);
    FILE* fs = fopen(argv[3], "wb");
    if (!fs) { perror(argv[3]); return 2; }
    fwrite(stamps.data(), sizeof(uint64_t), stamps.size(), fs);
    fclose(fs);
    std::string js = "{\"status\": \"" + std::string(status) + "\", \"cycles\": " + std::to_string(cycle) +
                     ", \"inputs\": " + std::to_string(i_in) + ", \"outputs\": " + std::to_string(i_out) +
                     ", \"tlast_errors\": " + std::to_string(tlast_errors) + ", \"streams\": [";
    for (size_t s = 0; s < ns; ++s) {  // TVALID / TREADY as the last cycle left them (steady in a stall)
        js += (s ? ", " : "") + std::string("{\"count\": ") + std::to_string(count[s]) + ", \"valid\": " +
              std::to_string((int)bit(top.mon_valid, s)) + ", \"ready\": " + std::to_string((int)bit(top.mon_ready, s)) +
              ", \"last_move\": " + std::to_string(last_move[s]) + "}";
    }
    js += "], \"stages\": [";
    for (size_t k = 0; k < nst; ++k) js += (k ? ", " : "") + std::string("{\"idle\": ") + std::to_string(idle[k]) + "}";
    js += "], \"fifos\": [";
    for (size_t k = 0; k < nf; ++k)
        js += (k ? ", " : "") + std::string("{\"occupancy\": ") +
              std::to_string(count[fifo_in[k]] - count[fifo_out[k]]) + ", \"max_occupancy\": " +
              std::to_string(occ_max[k]) + "}";
    js += "]}";
    printf("%s\n", js.c_str());
    return 0;
}
"""
NETWORK_HARNESS_CPP = NETWORK_HARNESS_CPP.replace("{common_words}", HARNESS_WORDS_CPP).replace(
    "{common_rng}", HARNESS_RNG_CPP)


def build_network_harness(sources: list, top: str, in_bits: int, out_bits: int, build_dir=None, cache_dir=None,
                          jobs: int = 2, log=None) -> tuple[Path, bool]:
    """Verilate a stitched top (with +define+HWGEN_MONITOR) and NETWORK_HARNESS_CPP; returns (executable, rebuilt).

    Built once per (sources, widths, flags, harness) into hwgen's shared cache (see hwgen.sim.verilator_cache); ROM
    contents are .mem files read at run time, so builds that differ only in weights share one executable.
    `build_dir` is ignored (kept for callers of the old signature).
    """
    args = ["--cc", "--exe", "--build", "-O1", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast",
            "--x-initial", "fast", "+define+HWGEN_MONITOR", "--prefix", "Vtop", "--top-module", top, "-j",
            str(jobs), "-CFLAGS", f"-O1 -DIN_BITS={int(in_bits)} -DOUT_BITS={int(out_bits)}",
            # the PyPI wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, which breaks split (PCH) builds
            "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include"]
    from hwgen.sim.verilator_cache import cached_harness

    return cached_harness(NETWORK_HARNESS_CPP, args, sources, top, cache_dir, log)


def stage_spec(stages: list[dict]) -> str:
    """The STAGES argument: "in,in/out;..." from the manifest's stages (in_wires / out_wires); FIFOs without
    wires (their idle cycles are not reported)."""
    return ";".join("/" if s.get("kind") == "fifo" else
                    ",".join(map(str, s["in_wires"])) + "/" + ",".join(map(str, s["out_wires"])) for s in stages)


def fifo_spec(fifos: list[dict]) -> str:
    """The FIFOS argument: "in:out,..." from the manifest's fifos."""
    return ",".join(f"{f['in_wire']}:{f['out_wire']}" for f in fifos)


def run_network_harness(exe, in_words, n_frames: int, in_wpf: int, out_wpf: int, out_bytes: int, stream_wpf: list,
                        rundir, stages: str = "", fifos: str = "", watchdog: int = 100_000, max_cycles: int = 0,
                        p_in: float = 1.0, p_out: float = 1.0, seed: int = 1, timeout: float = 3600):
    """Run a harness from build_network_harness. in_words: uint8 (n_frames*in_wpf, in_bytes); stages / fifos: the
    stage_spec / fifo_spec strings. The simulator runs in rundir (where the .mem files are). Returns (outputs
    uint8 (n, out_bytes), stamps uint64 (n_wires, 2, n_frames), status dict from the harness). Does not raise on a
    stall: the caller reads status["status"] ("ok" | "stall" | "max_cycles") and names the streams. The input,
    output and stamp files of a run live in a private temporary directory, so concurrent runs of one build never
    read each other's results."""
    import tempfile

    import numpy as np

    from hwgen.fileops import scratch_base

    with tempfile.TemporaryDirectory(prefix="hwgen-rtlsim-", dir=scratch_base()) as tmp:  # this run's own files
        fin, fout, fst = Path(tmp) / "in.bin", Path(tmp) / "out.bin", Path(tmp) / "stamps.bin"
        np.ascontiguousarray(in_words, dtype=np.uint8).tofile(fin)
        cmd = [str(Path(exe).resolve()), str(fin), str(fout), str(fst), str(int(n_frames)), str(int(in_wpf)),
               str(int(out_wpf)), str(int(watchdog)), str(int(max_cycles)), str(int(round(p_in * 1000))),
               str(int(round(p_out * 1000))), str(int(seed)), ",".join(str(int(w)) for w in stream_wpf),
               stages, fifos]
        status = run_harness(cmd, Path(rundir).resolve(), timeout)
        out = np.fromfile(fout, dtype=np.uint8).reshape(-1, out_bytes)
        stamps = np.fromfile(fst, dtype=np.uint64).reshape(len(stream_wpf), 2, int(n_frames))
    status["command"] = " ".join(cmd[:12]) + " ..."
    return out, stamps, status
