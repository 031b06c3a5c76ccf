"""The `hwgen` command line. User errors print one paragraph (no traceback) and exit 2.

SIGTERM and SIGINT (Ctrl-C) stop the external tools hwgen runs (hwgen.proc.stop_all) and unwind like Ctrl-C (a
half-written build directory is removed), exit 130. The module imports nothing heavy at the top, so the handlers
are in place before numpy and the rest load; a signal that arrives while a module is being imported is acted on
as soon as the import has finished (raising inside an import can leave an extension module half initialised).
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

from hwgen.errors import HwgenError, HwgenWarning, InputDataError


def _check_target_fps(v):
    if v is not None and not (math.isfinite(v) and v > 0):
        raise HwgenError(f"--target-fps {v!r}: give a positive finite rate in frames/s (e.g. --target-fps 100000), "
                         "or leave it out for the fastest design within the board's budget.")


def _writable_dir(path, option: str) -> Path:
    """Refuse, before any work, an output directory that is a file, lies inside a build directory or cannot be
    written (nothing is created)."""
    from hwgen.outdir import enclosing_build

    p = Path(path)
    inside = enclosing_build(p)
    if inside is not None:  # checked first: the write probe must not put a file into that build's directories
        raise HwgenError(f"{option} {str(p)!r} is inside the hwgen build directory {str(inside)!r}, which a rebuild "
                         "replaces as a whole (and which must hold only its own files); choose a directory outside "
                         "it.")
    if p.exists() and not p.is_dir():
        raise HwgenError(f"{option} {str(p)!r} is an existing file, not a directory; choose another {option}.")
    probe_in = p
    while not probe_in.exists():  # the nearest existing ancestor must take the new directory
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        raise HwgenError(f"{option} {str(p)!r}: {str(probe_in)!r} is a file, not a directory; choose another "
                         f"{option}.")
    _probe_write(probe_in, p, option)
    return p


def _writable_file(path, option: str) -> Path:
    """Refuse, before any work, an output file in a missing or read-only directory, or that is a directory."""
    p = Path(path)
    if p.is_dir():
        raise HwgenError(f"{option} {str(p)!r} is a directory; give a file name (e.g. {str(p / 'y.npy')!r}).")
    d = p.parent
    if not d.is_dir():
        raise HwgenError(f"{option} {str(p)!r}: directory {str(d)!r} does not exist; create it first or choose "
                         f"another {option}.")
    _probe_write(d, p, option)
    return p


def _probe_write(directory: Path, target: Path, option: str) -> None:
    """Refuse `target` when a file cannot be created in `directory` (tried, not guessed from mode bits: root)."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as e:
        raise HwgenError(f"{option} {str(target)!r} cannot be written: nothing can be created in {str(directory)!r} "
                         f"({e.strerror}); choose a writable {option}.") from None


def _budget_lines(s: dict) -> list[str]:
    """'MVAU_0 ... 319 % of the board's LUTs' lines for every resource above the board's capacity."""
    util = s.get("totals", {}).get("utilization", {})
    tot = s.get("totals", {}).get("estimate", {})
    cap = s.get("totals", {}).get("capacity", {})
    return [f"the design needs {u * 100:.0f} % of {s['board']}'s {r} ({tot.get(r):,} of {cap.get(r):,}, estimate; "
            f"largest: {_largest(s, r)})" for r, u in util.items() if u is not None and u > 1.0]


def _largest(s: dict, r: str) -> str:
    """The two layers that take most of resource r (which layer to fold further)."""
    from hwgen.fold.units import board_use

    use = sorted(((board_use(lay["resources"]["estimate"])[r], lay["name"]) for lay in s.get("layers", [])),
                 reverse=True)[:2]
    return ", ".join(f"{n} {v:,}" for v, n in use)


def _over_budget(s: dict, strict: bool, out=None) -> None:
    lines = _budget_lines(s)
    over = (s.get("folding") or {}).get("over_budget")
    if over and not lines and not strict:  # above the search's budget share, within the board: a warning only
        print(f"hwgen: warning: the cheapest folding that reaches --target-fps is over the share of the board the "
              f"folding search keeps for the layers: {over}", file=sys.stderr)
    if not lines:
        return
    advice = "lower --target-fps, set a cheaper --folding, or choose a larger --board"
    if strict:
        raise HwgenError("; ".join(lines) + f" (--strict: nothing written). To fit, {advice}.")
    for line in lines:
        print(f"hwgen: warning: {line}; it will not fit: {advice} (--strict makes this an error).",
              file=sys.stderr)


def _cmd_build(a):
    from hwgen.build import build, compile_model, summary
    from hwgen.report import cpu_table, estimate_line, input_paragraph, island_table, layer_table, timing_table

    _check_target_fps(a.target_fps)
    _writable_dir(a.out, "-o")
    if a.strict:  # refuse before writing anything
        _over_budget(summary(compile_model(a.model, a.board, a.folding, a.target_fps, a.clock_mhz,
                                           input_dtype=a.input_dtype, hw_only=a.hw_only)), strict=True)
    s = build(a.model, a.out, board=a.board, folding_file=a.folding, target_fps=a.target_fps, synth=a.synth,
              size_fifos=a.size_fifos, log=(lambda *m: None) if a.quiet else print, clock_mhz=a.clock_mhz,
              input_dtype=a.input_dtype, hw_only=a.hw_only, ecp5=a.ecp5, strict=a.strict)
    if not a.quiet:
        print(input_paragraph(s) + "\n")
        print(layer_table(s))
        _print_pruned(s)
        print("\n" + estimate_line(s))
        print("\nislands:\n" + island_table(s.get("partitions", [])))
        print("\nCPU partitions:\n" + cpu_table(s["cpu_partitions"]))
        if "timing" in s:
            print("\n" + timing_table(s))
        print(f"\nwrote {a.out}/ in {s['build_seconds']:.2f} s (report: {a.out}/report/summary.json)")
    _over_budget(s, strict=False)
    _timing_warning(s)
    return 0


def _print_pruned(s: dict) -> None:
    from hwgen.report import pruned_lines

    lines = pruned_lines(s)
    if lines:
        print("\npruned (channels whose output is constant or unread; the rest is bit-exact as before):")
        print("\n".join("  " + ln for ln in lines))


def _timing_warning(s: dict) -> None:
    """A design whose open timing estimate is below the clock builds with a warning (--strict refuses it)."""
    from hwgen.sim.timing_report import verdict

    t = s.get("timing")
    if t:
        below, line = verdict(t)
        if below:
            print(f"hwgen: warning: {line} (--strict makes this an error).", file=sys.stderr)


def _load_npy(path):
    """The --input array: an .npy file, or an .npz archive holding exactly one array."""
    import numpy as np

    from hwgen.fileops import regular_file

    p = regular_file(path, "--input", InputDataError, hint="; give an .npy file (numpy.save)")
    try:
        x = np.load(p, allow_pickle=False)
    except Exception as e:
        raise InputDataError(f"--input {str(p)!r} is not a readable .npy array ({type(e).__name__}); give an .npy "
                             "file (numpy.save).") from None
    if isinstance(x, np.lib.npyio.NpzFile):
        with x:
            names = list(x.files)
            if len(names) != 1:
                raise InputDataError(f"--input {str(p)!r} is an .npz archive of {len(names)} arrays "
                                     f"({', '.join(map(repr, names[:6]))}); save the input array alone with "
                                     "numpy.save(FILE.npy, x).")
            x = x[names[0]]
    return x


def _ran_on(acc, backend: str) -> str:
    """What answered, as the output line says it: the backend, its threads, and whether the numpy reference
    stood in for it on any frames (the cpu backend while its kernels compile, Python API default)."""
    be = getattr(acc, "backend", None)
    words = [backend]
    if getattr(be, "threads", None):
        words.append(f"{be.threads} thread{'s' if be.threads != 1 else ''}")
    stood_in = getattr(be, "reference_frames", 0)
    if stood_in:
        words.append(f"numpy reference stood in for {stood_in} frame(s) while the kernels compiled")
    return ", ".join(words)


def _threads(v: str) -> int:
    import argparse

    try:
        n = int(v)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{v!r}: give a whole number of threads, at least 1")
    return n


def _cmd_run(a):
    import numpy as np

    from hwgen.runtime.accelerator import Accelerator

    # numpy.save appends .npy to a name without it: check and report the file that is really written
    _writable_file(a.output, "--output")
    output = a.output if str(a.output).endswith(".npy") else f"{a.output}.npy"
    _writable_file(output, "--output")
    if a.scheduler:  # the batch split over a Dask cluster's workers (OUT must be on a path they all see)
        from hwgen.explore.batch import ClusterRun

        acc = ClusterRun(a.out, a.backend, scheduler=a.scheduler)
    else:
        # the cpu backend's compiled kernels, compiled now if this machine has not yet (with a spinner), never
        # the numpy reference in their place: what the user asked for is what runs
        opts = {"wait_for_kernels": True, "threads": a.threads} if a.backend == "cpu" else {}
        acc = Accelerator(a.out, backend=a.backend, **opts)
    x = _load_npy(a.input)
    t = time.perf_counter()
    y = acc.execute(x)
    dt = time.perf_counter() - t
    np.save(output, y)
    n = x.shape[0] if x.ndim == len(acc.graph.input_shape) else 1
    print(f"{n} input(s) -> {output} {tuple(y.shape)} {y.dtype} [{_ran_on(acc, a.backend)}: {dt:.2f} s, "
          f"{n / dt:,.0f}/s]")
    return 0


def _cmd_inspect(a):
    from hwgen.build import compile_model, summary
    from hwgen.report import cpu_table, input_paragraph, island_table, layer_table

    s = summary(compile_model(a.model, board=a.board, input_dtype=a.input_dtype, hw_only=a.hw_only))
    _over_budget(s, strict=False)
    if a.json:
        print(json.dumps({"input": s["input"], "layers": s["layers"], "partitions": s["partitions"],
                          "cpu_partitions": s["cpu_partitions"], "pruned": s["pruned"]}, indent=2))
        return 0
    print(input_paragraph(s) + "\n")
    print("hardware layers (default folding):\n" + layer_table(s))
    _print_pruned(s)
    print("\nislands (what runs where, in order):\n" + island_table(s["partitions"]))
    print("\nCPU partitions:\n" + cpu_table(s["cpu_partitions"]))
    return 0


def _cmd_boards(a):
    from hwgen.boards import DEFAULT_BOARD, all_boards
    from hwgen.report import table

    rows = [[n + (" (default)" if n == DEFAULT_BOARD else ""), b.part, b.ps, f"{b.clock_mhz:g}",
             b.resources["luts"], b.resources["bram18"], b.resources["uram"], b.resources["dsps"]]
            for n, b in all_boards().items()]
    print(table(rows, ["board", "part", "PS", "MHz", "LUT", "BRAM18", "URAM", "DSP"]))
    return 0


def _cmd_verify(a):
    from hwgen.verify import VerifyError, verify

    backends = [b.strip() for b in a.backends.split(",") if b.strip()]
    if not backends:
        raise VerifyError(f"--backends {a.backends!r} names no backend, so nothing would be checked; give one or "
                          "more of reference,csim,rtlsim,cpu (e.g. --backends reference,rtlsim).")
    ties = []

    def log(line):
        print(line)
        ties.append(str(line).startswith("warning:"))

    ok = verify(a.out, n=a.n, backends=backends, seed=a.seed, model=a.model, log=log, threads=a.threads)
    if ok and any(ties):  # exit 0: the float64 graph agrees with hwgen where qonnx's float32 sums round across
        print("all bit-exact, except qonnx's float32 ties named in the warning above (hwgen equals the float64 graph "
              "there)")
    else:
        print("all bit-exact" if ok else "MISMATCH: see the lines above for which path differs from which, and where")
    return 0 if ok else 1


def _cmd_report(a):
    from hwgen.build import load_summary
    from hwgen.report import cpu_table, estimate_line, input_paragraph, island_table, layer_table, timing_table

    s = load_summary(a.out)  # checked: every key printed below is there, with the right type
    if a.json:
        print(json.dumps(s, indent=2))
        return 0
    print(layer_table(s))
    print("\n" + estimate_line(s))
    if s.get("partitions"):
        print("\nislands:\n" + island_table(s["partitions"]))
    if "rtlsim" in s:
        r = s["rtlsim"]
        print(f"rtlsim: {r['cycles_per_frame']} cycles/frame measured, latency {r['latency_cycles']} cycles, "
              f"{r['frames']} frames")
    if "synth" in s:
        y = s["synth"]
        print(f"yosys: {y.get('luts')} LUT, {y.get('ffs')} FF, {y.get('brams')} BRAM18, {y.get('dsps')} DSP")
        for name, i in (y.get("islands") or {}).items():  # a model of several hardware islands: each one's
            print(f"  {name}: {i['luts']} LUT, {i['ffs']} FF, {i['brams']} BRAM18, {i['dsps']} DSP")
        print("\n" + timing_table(s))
    print("\nCPU partitions:\n" + cpu_table(s["cpu_partitions"]))
    if s.get("input"):
        print("\n" + input_paragraph(s))
    print(f"\nHTML report: {Path(a.out) / 'report' / 'index.html'}")
    return 0


def _cmd_demo(a):
    from hwgen.demo import run_demo

    return run_demo(_writable_dir(a.out, "-o"))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hwgen", description="Compile quantized ONNX networks into FPGA dataflow "
                                "accelerators, bit-exact with the QONNX graph.")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="compile MODEL.onnx into a build directory")
    b.add_argument("model")
    b.add_argument("-o", "--out", required=True, help="build directory to write")
    b.add_argument("--board", default=None, help="target board (see `hwgen boards`; default pynq-z2)")
    b.add_argument("--folding", default=None, help='FOLD.json: {"<layer>": {"PE": n, "SIMD": m}}')
    b.add_argument("--target-fps", type=float, default=None, help="fold for this many frames/s at the board clock")
    b.add_argument("--clock-mhz", type=float, default=None, help="clock to fold and report for (default: the board's)")
    b.add_argument("--synth", action="store_true",
                   help="synthesize the generated RTL with yosys: resources and the open timing estimate (longest "
                        "path and Fmax of every block with the board family's -1 datasheet delays)")
    b.add_argument("--ecp5", action="store_true",
                   help="with --synth: also place and route every block for a Lattice ECP5 (LFE5U-85F) with "
                        "nextpnr, its routed Fmax beside the estimate (slower; implies --synth)")
    b.add_argument("--size-fifos", action="store_true",
                   help="size the inter-layer FIFOs by simulation (minimal depths at full rate; takes a minute)")
    b.add_argument("--input-dtype", default=None, metavar="TYPE",
                   help="what the hardware receives when a float input feeds the first MatMul/Gemm directly: "
                        "INT8, UINT8, INTn, UINTn, BIPOLAR, FIXED<16,6> (hls4ml ap_fixed<16,6>); the first layer then "
                        "runs in hardware and outputs equal the model's for inputs of that type")
    b.add_argument("--hw-only", action="store_true",
                   help="refuse (naming the node and why) instead of running nodes between hardware layers on the "
                        "CPU (CPU islands); the input head and the output tail still run on the CPU")
    b.add_argument("--strict", action="store_true",
                   help="refuse a design over the board's resource budget, or (with --synth) whose timing "
                        "estimate is below the clock (default: build it and warn)")
    b.add_argument("-q", "--quiet", action="store_true")
    b.set_defaults(fn=_cmd_build)
    r = sub.add_parser("run", help="run inputs through a build")
    r.add_argument("out", help="build directory")
    r.add_argument("--backend", default="reference", choices=["reference", "rtlsim", "csim", "cpu", "pynq"])
    r.add_argument("--input", required=True, help="X.npy with the model's input shape (any batch size)")
    r.add_argument("--output", required=True, help="Y.npy to write")
    r.add_argument("--scheduler", default=None, help="tcp://HOST:PORT: split the batch over a Dask cluster (rtlsim)")
    r.add_argument("--threads", type=_threads, default=None, metavar="N",
                   help="cpu backend threads (default: the cores available to this process)")
    r.set_defaults(fn=_cmd_run)
    i = sub.add_parser("inspect", help="show what goes to hardware and what to the CPU, before building")
    i.add_argument("model")
    i.add_argument("--board", default=None)
    i.add_argument("--input-dtype", default=None, metavar="TYPE", help="as for build")
    i.add_argument("--hw-only", action="store_true", help="as for build")
    i.add_argument("--json", action="store_true")
    i.set_defaults(fn=_cmd_inspect)
    bd = sub.add_parser("boards", help="list the known boards")
    bd.set_defaults(fn=_cmd_boards)
    v = sub.add_parser("verify", help="random inputs through backends and the QONNX graph; exit 0 if bit-exact")
    v.add_argument("out", help="build directory")
    v.add_argument("-n", type=int, default=100, help="number of random inputs (plus inputs aimed at every threshold boundary)")
    v.add_argument("--backends", default="reference", help="comma-separated: reference,csim,rtlsim,cpu")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--threads", type=_threads, default=None, metavar="N",
                   help="cpu backend threads (default: the cores available to this process)")
    v.add_argument("--model", default=None,
                   help="the source model, when it is no longer at the path recorded at build time")
    v.set_defaults(fn=_cmd_verify)
    rp = sub.add_parser("report", help="print a build's report (per-layer table, estimates, measurements)")
    rp.add_argument("out", help="build directory")
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(fn=_cmd_report)
    dm = sub.add_parser("demo", help="build and run the shipped digits example, compare with qonnx")
    dm.add_argument("-o", "--out", default="hwgen_demo_build")
    dm.set_defaults(fn=_cmd_demo)
    from hwgen.explore.command import add_parser as add_explore

    add_explore(sub)
    from hwgen.quantize.command import add_parser as add_quantize

    add_quantize(sub)
    return p


def _print_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, HwgenWarning):
        print(f"hwgen: warning: {' '.join(str(message).split())}", file=sys.stderr)
    else:
        _show_warning(message, category, filename, lineno, file, line)


_show_warning = warnings.showwarning


def _not_now(frame) -> bool:
    """Is the main thread where an exception must not be raised: importing a module (it would be left half
    initialised), or running a finalizer (Python prints the exception and carries on)?"""
    while frame is not None:
        code = frame.f_code
        if (code.co_filename.startswith("<frozen importlib._bootstrap") or code.co_name == "__del__"
                or (code.co_name == "__call__" and code.co_filename.endswith("weakref.py"))):
            return True
        frame = frame.f_back
    return False


_pending = []  # a SIGTERM / SIGINT not acted on yet (it came during an import or a finalizer)


def _terminated(signum, frame):
    """SIGTERM / SIGINT: stop the child tools, then unwind like Ctrl-C (a half-written build directory is removed)."""
    from hwgen import proc

    if signum != signal.SIGALRM:
        _pending.append(signum)
    if not _pending:  # a stray SIGALRM (not ours): nothing to act on
        return
    proc.stop_all()
    if _not_now(frame):
        # Act when the import or finalizer is done: SIGALRM brings us back here within 5 ms. The whole command after
        # its imports can take less than 50 ms (a cached csim run), so a slower poll let it finish and exit 0.
        signal.setitimer(signal.ITIMER_REAL, 0.005)
        return
    _pending.clear()
    raise KeyboardInterrupt


def _act_on_pending_signal() -> None:
    """A signal still waiting for its import to finish is acted on before the command starts and before it reports
    success: a terminated command never exits 0."""
    if _pending:
        _pending.clear()
        raise KeyboardInterrupt


_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGALRM)


def main(argv=None) -> int:
    try:
        previous = {s: signal.signal(s, _terminated) for s in _SIGNALS}
    except ValueError:  # not the main thread (main() called from a thread): leave signals alone
        previous = {}
    try:
        args = parser().parse_args(argv)
        _act_on_pending_signal()
        with warnings.catch_warnings():
            warnings.showwarning = _print_warning
            warnings.simplefilter("always", HwgenWarning)
            code = args.fn(args)
        _act_on_pending_signal()
        return code
    except HwgenError as e:
        msg = " ".join(str(e).split())  # one paragraph, control characters from names flattened
        print(f"hwgen: error: {msg}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("hwgen: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed: not an error of ours
        sys.stderr.close()
        return 0
    finally:
        _pending.clear()
        if previous:
            signal.setitimer(signal.ITIMER_REAL, 0)
            for s, h in previous.items():
                signal.signal(s, h)


if __name__ == "__main__":
    sys.exit(main())
