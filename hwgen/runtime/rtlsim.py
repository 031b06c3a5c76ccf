"""`rtlsim` backend: the stitched RTL (OUT/rtl/, hwgen.codegen.rtl_project) in a plain C++ Verilator harness.

    acc = Accelerator("out/", backend="rtlsim")       # options: watchdog, p_in, p_out, seed, record, log
    y = acc.execute(x)
    acc.stats()   # {"cycles_per_frame", "latency_cycles", "frames", "layers": {name: {...}}, "build_seconds", ...}

The harness (hwgen.sim.network_harness) is built once per Verilog design into hwgen's shared cache
(content-addressed, under a file lock; ROM contents are .mem files read at run time from the run's checked copy of
OUT/rtl/, hwgen.snapshot: a rebuild of OUT during the run cannot change the weights under it). A batch is one
run: the packed input words of every frame go in through a file, the outputs and per-wire per-frame cycle stamps
come back through files in the run's own temporary directory (concurrent runs of one build never mix); no Python
runs per cycle. Nothing is written into OUT except the measured figures in OUT/report/summary.json, and only into
the build they were measured on (hwgen.snapshot.BuildSnapshot.record): a run whose OUT was rebuilt meanwhile, or
that cannot write OUT, records nothing and warns.

Figures (full-rate runs, p_in = p_out = 1): steady-state cycles per frame = interval between the last output
words of consecutive frames over the second half of the batch; first-frame latency = cycles from the first input
word taken to the last output word of frame 0, inclusive. Per layer, on any graph: "cycles_per_frame", the same
interval on the layer's timing stream (its output; a fork's input, since its outputs may run apart; in a chain
every layer runs at the bottleneck's rate), "frame_span", the mean span from a frame's first to its last word
there, and "active_cycles": cycles per frame in which the layer's block took an input word or was neither
starved (an input it waits on empty; a join waits on all of its inputs) nor blocked (an output word refused):
the measured counterpart of layer.cycles() (exact when nothing downstream applies backpressure; a block that keeps
working while its output waits is counted as idle then). Per stream ("streams", by the names of summary.json):
the same interval and span on the stream into its consumer, and the FIFO's maximum occupancy. `stream_stamps()`
gives the raw first / last word cycles of every frame on every wire. After a full-rate run the figures go into
OUT/report/summary.json under "rtlsim".

Watchdog: when no stream of the design has moved for `watchdog` cycles (default 100,000) the run stops and
raises ToolError naming the stalled streams (hwgen.sim.stall): on a join waiting on an empty input while its
other input is backed up (a skip connection's short-branch FIFO too shallow), the join, the empty stream and the
full FIFO to deepen.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from hwgen import packing
from hwgen.dtypes import from_name
from hwgen.errors import InputDataError, ToolError

TOP = "hwgen_top"


def steady_interval(ends: np.ndarray) -> float | None:
    """Steady-state cycles between consecutive frame ends (second half of the run); None for one frame.
    Frames without an end stamp (0: the run stopped at the last output word while words of a last frame that no
    output needs, e.g. image rows below every window, were still on their way) are left out."""
    ends = np.asarray(ends, dtype=np.int64)
    done = np.flatnonzero(ends > 0)
    ends = ends[: done[-1] + 1] if len(done) else ends[:0]
    n = len(ends)
    if n < 2:
        return None
    k = n // 2 if n >= 4 else 0
    return float(ends[n - 1] - ends[k]) / (n - 1 - k)


class RtlsimBackend:
    def __init__(self, out_dir, graph, watchdog: int = 100_000, p_in: float = 1.0, p_out: float = 1.0,
                 seed: int = 1, record: bool = True, log=None, jobs: int = 2, snapshot=None, **_):
        from hwgen.codegen.rtl_project import load_manifest, write_rtl_project
        from hwgen.sim.network_harness import build_network_harness

        self.out = Path(out_dir).resolve()
        self.snapshot = snapshot  # the build the figures are recorded into (None: into out_dir/report itself)
        self.graph = graph
        self.rtl = self.out / "rtl"
        self.watchdog, self.p_in, self.p_out, self.seed, self.record = int(watchdog), p_in, p_out, seed, record
        if not (self.rtl / f"{TOP}.json").is_file():  # a build from before the RTL project existed
            write_rtl_project(self.rtl, graph, TOP)
        self.m = load_manifest(self.rtl, TOP)
        if "fifos" not in self.m:  # a build from before the manifest described stages and FIFOs
            write_rtl_project(self.rtl, graph, TOP)
            self.m = load_manifest(self.rtl, TOP)
        t = time.perf_counter()
        self.exe, self.rebuilt = build_network_harness(
            [self.rtl / f for f in self.m["verilog"]], TOP, self.m["in"]["tdata_bits"], self.m["out"]["tdata_bits"],
            None, jobs=jobs, log=log)
        self.build_seconds = time.perf_counter() - t
        self.last_timing: dict = {}
        self.last_stamps: dict = {}
        self.last_status: dict = {}  # the harness' status of the last run (stalled or not)
        self._stats: dict = {"build_seconds": round(self.build_seconds, 3), "rebuilt": self.rebuilt}

    def run_ints(self, q):
        mi, mo = self.m["in"], self.m["out"]
        q = np.asarray(q, dtype=np.int64)
        n = int(q.shape[0])
        if n == 0:
            return np.zeros((0, mo["features"]), dtype=np.int64)
        q = q.reshape(n, -1)
        if q.shape[1] != mi["features"]:
            raise InputDataError(f"rtlsim: got {q.shape[1]} input values per frame, the design takes {mi['features']}")
        t0 = time.perf_counter()
        words = packing.pack_bytes(q, from_name(mi["dtype"]), mi["elems_per_word"])
        t1 = time.perf_counter()
        wpf = [s["words_per_frame"] for s in self.m["streams"]]
        est = max(v["cycles"] for v in self.m["layers"].values())
        max_cycles = 50 * (n + 4) * max(est, mi["words_per_frame"], mo["words_per_frame"]) + 10 * self.watchdog
        out, stamps, st = self._run(words, n, wpf, max_cycles)
        t2 = time.perf_counter()
        self.last_status = st
        if st["status"] != "ok":
            raise ToolError(self._stall_message(st, n))
        if st["outputs"] != n * mo["words_per_frame"]:
            raise ToolError(f"rtlsim: {st['outputs']} output words for {n} frames, expected "
                            f"{n * mo['words_per_frame']} ({st['command']})")
        if st.get("tlast_errors"):
            raise ToolError(f"rtlsim: out_V_TLAST was wrong on {st['tlast_errors']} output words "
                            f"(expected on every {mo['words_per_frame']}th word)")
        y = packing.unpack_bytes(out, from_name(mo["dtype"]), mo["elems_per_word"]).reshape(n, mo["features"])
        t3 = time.perf_counter()
        self._figures(stamps, st, n)
        self.last_timing = {"pack_seconds": t1 - t0, "sim_seconds": t2 - t1, "unpack_seconds": t3 - t2,
                            "simulated_cycles": st["cycles"],
                            "cycles_per_second": st["cycles"] / max(t2 - t1, 1e-9)}
        return y

    def _run(self, words, n, wpf, max_cycles):
        from hwgen.sim.network_harness import fifo_spec, run_network_harness, stage_spec

        mi, mo = self.m["in"], self.m["out"]
        return run_network_harness(self.exe, words, n, mi["words_per_frame"], mo["words_per_frame"],
                                   (mo["tdata_bits"] + 7) // 8, wpf, self.rtl, stage_spec(self.m["stages"]),
                                   fifo_spec(self.m["fifos"]), watchdog=self.watchdog, max_cycles=max_cycles,
                                   p_in=self.p_in, p_out=self.p_out, seed=self.seed)

    def _stall_message(self, st, n) -> str:
        from hwgen.sim.stall import stall_message

        return stall_message(self.m, st, n, self.watchdog)

    def _figures(self, stamps, st, n):
        streams = self.m["streams"]
        first_in, out_end = stamps[0, 0], stamps[len(streams) - 1, 1]
        cpf = steady_interval(out_end)
        latency = int(out_end[0] - first_in[0] + 1)
        self.last_stamps = {s["wire"]: stamps[k] for k, s in enumerate(streams)}

        def timing(k):
            iv = steady_interval(stamps[k, 1])
            start, end = stamps[k, 0].astype(np.int64), stamps[k, 1].astype(np.int64)
            done = end > 0  # frames the run saw to their last word (see steady_interval)
            span = float(np.mean(end[done] - start[done] + 1)) if done.any() else 0.0
            return {"cycles_per_frame": None if iv is None else round(iv, 3), "frame_span": round(span, 3)}

        layers = {}
        for name, info in self.m["layers"].items():
            active = (st["cycles"] - st["stages"][info["stage"]]["idle"]) / n
            layers[name] = {"active_cycles": round(active, 3), **timing(info["timing_wire"]),
                            "timing_from": info["timing_from"], "estimate": info["cycles"]}
        fifos = {f["stream"]: {**timing(f["out_wire"]), "depth": f["depth"],
                               "max_occupancy": int(o["max_occupancy"])}
                 for f, o in zip(self.m["fifos"], st["fifos"])}
        figs = {"cycles_per_frame": None if cpf is None else round(cpf, 3), "latency_cycles": latency,
                "frames": n, "simulated_cycles": int(st["cycles"]), "layers": layers, "streams": fifos}
        full_rate = self.p_in >= 1.0 and self.p_out >= 1.0
        figs["full_rate"] = full_rate
        self._stats.update(figs)
        if self.record and full_rate:
            self._record(figs)

    def _record(self, figs):
        import warnings

        from hwgen.errors import HwgenWarning

        figs = {k: v for k, v in figs.items() if k != "full_rate"}
        if self.snapshot is not None:
            why = self.snapshot.record("report/summary.json", lambda s: {**s, "rtlsim": figs})
        else:
            why = self._record_in_dir(figs)
        if why:
            warnings.warn(HwgenWarning(f"the measured rtlsim figures were not recorded in report/summary.json: "
                                       f"{why}."), stacklevel=4)

    def _record_in_dir(self, figs) -> str | None:
        """Figures into out_dir/report/summary.json (a directory of the caller's own, not a snapshot)."""
        from hwgen.fileops import file_lock, write_text_atomic

        f = self.out / "report" / "summary.json"
        if not f.parent.is_dir():
            return None
        try:
            with file_lock(f.parent / ".summary.lock"):  # concurrent runs: read-modify-write one at a time
                try:
                    s = json.loads(f.read_text()) if f.is_file() else {}
                except (ValueError, OSError):
                    s = {}
                s["rtlsim"] = figs
                write_text_atomic(f, json.dumps(s, indent=2))
        except OSError as e:
            return f"{str(f)!r} cannot be written ({e.strerror})"
        return None

    def stats(self) -> dict:
        return dict(self._stats)

    def stream_stamps(self) -> dict:
        """{wire name: uint64 array (2, frames)}: the cycle of the first and of the last word of every frame on
        every wire of the last run (`<stream>_w` into a stream's FIFO, `<stream>` out of it)."""
        return dict(self.last_stamps)
