"""RTL simulation and synthesis figures of TFC_1W1A with FINN's published folding (64 cycles per frame).

Prints: Verilator build time of the C++ harness (cold: a fresh build directory; the Verilator run-time objects
may come from the shared object cache), simulated cycles per second, wall time to push the 10,000 MNIST test
images through `--backend rtlsim` (target: under 60 s including the build), the measured cycles per frame,
latency and per-layer cycles, and yosys synth_xilinx LUT / FF / BRAM18 / DSP per layer (--no-synth to skip).

    python benchmarks/bench_rtlsim.py [--model TFC_1W1A] [--no-synth]

CNN-sized frames (`--case skip`): a handmade skip connection over 32x32x64 frames (tests/skip_graph.py: a fork,
a block that holds a whole frame, a join; 16,384 words and 32,768 cycles per frame, about CNV's 33k at
fold_cnv_large): simulated cycles per CPU second of the monitored network harness (per-wire stamps, idle cycles,
FIFO occupancy, watchdog) against the plain stream harness on the same design (the baseline), and the Python
time per frame around the simulation (packing, unpacking, figures), for two batch sizes.

    python benchmarks/bench_rtlsim.py --case skip

`--case cnv`: the same table for CNV-1W1A (tests/models/cnn) at FINN's fold_cnv_large (32,768 cycles per frame),
bit-exact with the reference backend.

    python benchmarks/bench_rtlsim.py --case cnv
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TFC = ROOT.parent / "shared" / "models" / "tfc"
FOLD = {"MVAU_0": {"PE": 16, "SIMD": 49}, "MVAU_1": {"PE": 8, "SIMD": 8}, "MVAU_2": {"PE": 8, "SIMD": 8},
        "MVAU_3": {"PE": 10, "SIMD": 8}}


def _child_cpu() -> float:
    """CPU seconds of this process' finished children (the harness runs): steadier than wall time on a shared
    machine."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def harness_rows(out: Path, batches, make_input, check) -> tuple[list, float]:
    """Rows of the speed table for the build in `out`: per batch size, the monitored rtlsim harness against the
    plain stream harness on the same Verilog (the baseline), in simulated cycles per CPU second."""
    from hwgen.codegen.rtl_project import load_manifest
    from hwgen.dtypes import from_name
    from hwgen.packing import pack_bytes
    from hwgen.runtime.accelerator import Accelerator
    from hwgen.sim.verilator import build_stream_harness, run_stream_harness

    t = time.perf_counter()
    acc = Accelerator(out, "rtlsim")
    t_vl = time.perf_counter() - t
    m = load_manifest(out / "rtl")
    plain = build_stream_harness([out / "rtl" / f for f in m["verilog"]], "hwgen_top", m["in"]["tdata_bits"],
                                 m["out"]["tdata_bits"])
    rows = []
    for n in batches:
        q = make_input(acc.graph, n)
        t, cpu = time.perf_counter(), _child_cpu()
        y = acc.execute_ints(q)
        wall, cpu_mon = time.perf_counter() - t, _child_cpu() - cpu
        tm, st = acc.backend.last_timing, acc.stats()
        words_in = pack_bytes(q, from_name(m["in"]["dtype"]), m["in"]["elems_per_word"])
        cpu = _child_cpu()
        _, ps = run_stream_harness(plain, words_in, (m["out"]["tdata_bits"] + 7) // 8,
                                   n * m["out"]["words_per_frame"], out / "rtl")
        cpu_plain = _child_cpu() - cpu
        mon, base = tm["simulated_cycles"] / cpu_mon, ps["cycles"] / cpu_plain
        rows.append([n, f"{tm['simulated_cycles']:,}", st["cycles_per_frame"], f"{tm['cycles_per_second'] / 1e6:.2f} M",
                     f"{mon / 1e6:.2f} M", f"{base / 1e6:.2f} M", f"{mon / base:.2f}",
                     f"{n / tm['sim_seconds']:.1f}", f"{(wall - tm['sim_seconds']) / n * 1e3:.1f}", check(q, y)])
    return rows, t_vl


SPEED_COLUMNS = ["frames", "simulated cycles", "cycles/frame", "cycles/s wall", "cycles/CPU-s (rtlsim harness)",
                 "cycles/CPU-s (plain harness, baseline)", "ratio", "frames/s wall", "Python ms/frame", "bit-exact"]


def bench_skip(h: int = 32, w: int = 32, c: int = 64, pe: int = 4, batches=(8, 64)) -> int:
    from hwgen.build import write_build
    from hwgen.report import table
    from tests.skip_graph import skip_graph, skip_reference, use_templates

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        use_templates(d / "templates")
        words = h * w * c // pe
        t = time.perf_counter()
        write_build(skip_graph(h, w, c, pe, short_depth=words), d / "o", log=lambda *_: None)
        t_build = time.perf_counter() - t
        rows, t_vl = harness_rows(
            d / "o", batches, lambda g, n: np.random.default_rng(n).integers(0, 16, (n, h * w * c)),
            lambda q, y: bool(np.array_equal(y, skip_reference(q, pe))))
    print(f"skip connection over {h}x{w}x{c} UINT4 frames, PE {pe} ({words:,} words per frame); hwgen build "
          f"{t_build:.2f} s, Verilator harness build {t_vl:.2f} s\n")
    print(table(rows, SPEED_COLUMNS))
    return 0


def bench_cnv(batches=(2, 8)) -> int:
    """CNV-1W1A (tests/models/cnn) at FINN's fold_cnv_large: 32,768 cycles per frame at the bound."""
    from hwgen.build import build, compile_model
    from hwgen.report import table
    from hwgen.runtime.accelerator import Accelerator
    from tests.cnn_models import io_pair, model_path
    from tests.handmade_cnv import fold_cnv_large_file

    x, _ = io_pair("cnv_1w1a.onnx.gz")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        model = model_path("cnv_1w1a.onnx.gz", d)
        names = [lay.name for lay in compile_model(model).layers if lay.op in ("MVAU", "VVAU")]
        (d / "FOLD.json").write_text(json.dumps(fold_cnv_large_file(names)))
        t = time.perf_counter()
        build(model, d / "o", folding_file=d / "FOLD.json", log=lambda *_: None)
        t_build = time.perf_counter() - t
        ref = Accelerator(d / "o", "reference")

        def frames(g, n):
            return g.head_ints(np.concatenate([x] * (n // len(x) + 1))[:n])

        rows, t_vl = harness_rows(d / "o", batches, frames,
                                  lambda q, y: bool(np.array_equal(y, ref.execute_ints(q).reshape(len(q), -1))))
    print(f"CNV-1W1A at fold_cnv_large (bound 32,768 cycles/frame); hwgen build {t_build:.2f} s, Verilator "
          f"harness build {t_vl:.2f} s\n")
    print(table(rows, SPEED_COLUMNS))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="TFC_1W1A")
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--case", choices=["tfc", "skip", "cnv"], default="tfc")
    a = ap.parse_args()
    if a.case == "skip":
        return bench_skip()
    if a.case == "cnv":
        return bench_cnv()
    from hwgen.boards import get_board
    from hwgen.build import build
    from hwgen.report import table
    from hwgen.runtime.accelerator import Accelerator
    from tests.conftest import load_mnist

    model = TFC / f"{a.model}.onnx"
    if not model.is_file():
        print(f"{model} not present; this benchmark needs ../shared", file=sys.stderr)
        return 1
    x, labels = load_mnist()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "fold.json").write_text(json.dumps(FOLD))
        t0 = time.perf_counter()
        build(model, d / "o", folding_file=d / "fold.json", log=lambda *_: None)
        t_build = time.perf_counter() - t0
        t = time.perf_counter()
        acc = Accelerator(d / "o", "rtlsim")
        t_vl = time.perf_counter() - t
        t = time.perf_counter()
        y = acc.execute(x)
        t_run = time.perf_counter() - t
        total = time.perf_counter() - t0
        st, tm = acc.stats(), acc.backend.last_timing
        ref = Accelerator(d / "o", "reference").execute(x)
        exact = bool(np.array_equal(y, ref))
        rows = [
            ["hwgen build (import, streamline, write HLS + RTL)", f"{t_build:.2f} s"],
            ["Verilator harness build", f"{t_vl:.2f} s"],
            ["simulation of 10,000 images (harness only)", f"{tm['sim_seconds']:.2f} s"],
            ["simulated cycles", f"{tm['simulated_cycles']:,}"],
            ["simulated cycles per second", f"{tm['cycles_per_second'] / 1e6:.2f} M"],
            ["10,000 images through --backend rtlsim (execute)", f"{t_run:.2f} s"],
            ["total incl. build and Verilator build (target < 60 s)", f"{total:.2f} s"],
            ["bit-exact with the reference / accuracy", f"{exact} / {np.mean(np.argmax(y, 1) == labels):.4f}"],
            ["steady state cycles per frame (estimate 64)", f"{st['cycles_per_frame']}"],
            ["first-frame latency, cycles", f"{st['latency_cycles']}"],
        ]
        print(f"{a.model}, folding {json.dumps(FOLD)}\n")
        print(table(rows, ["measure", "value"]))
        print()
        print(table([[n, v["estimate"], v["active_cycles"], v["cycles_per_frame"], v["frame_span"]]
                     for n, v in st["layers"].items()],
                    ["layer", "cycles()", "measured active", "measured interval", "frame span"]))
        if not a.no_synth:
            from hwgen.graph import HwGraph
            from hwgen.sim.yosys import synth_build

            t = time.perf_counter()
            s = synth_build(d / "o", HwGraph.load(d / "o"), get_board(None), log=None, jobs=2)
            t_syn = time.perf_counter() - t
            rows = [[n, v["luts"], v["ffs"], v["brams"], v["dsps"], v["seconds"]]
                    for n, v in list(s["layers"].items()) + list(s["glue"].items())]
            rows.append(["total", s["luts"], s["ffs"], s["brams"], s["dsps"], f"{t_syn:.1f} (wall)"])
            print(f"\nyosys synth_xilinx -family {s['family']} (out of context, per block)\n")
            print(table(rows, ["block", "LUT", "FF", "BRAM18", "DSP", "yosys s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
