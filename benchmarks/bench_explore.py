"""Speedup of a `hwgen explore` sweep on 2 Dask workers against 1, both measured in the same run.

The sweep: the digits MLP (examples/digits), 2 boards x 3 target rates, each point a build plus rtlsim on
--rtlsim random inputs checked against qonnx. A warm-up sweep first fills the shared Verilator object cache, so
both timed sweeps start equally warm; each timed sweep writes a fresh directory (nothing from the point cache).
Workers are single-threaded processes of a LocalCluster (the default of `hwgen explore`); the cluster start is
timed separately. The 2-worker figure is bounded by the machine's free cores: the load average is printed.

    python benchmarks/bench_explore.py [--rtlsim 20] [--svg docs/explore_pareto.svg]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MODEL = ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx"
BOARDS, TARGETS = ["pynq-z2", "zcu104"], [1e5, 1e6, 4e6]


def sweep(workers: int, out: Path, rtlsim: int) -> dict:
    from hwgen.explore import explore
    from hwgen.explore.cluster import dask_client

    t0 = time.perf_counter()
    with dask_client(workers=workers) as client:
        t1 = time.perf_counter()
        res = explore(MODEL, out, BOARDS, TARGETS, rtlsim=rtlsim, client=client, log=None, progress=False)
        t2 = time.perf_counter()
    assert res["failed"] == 0 and all(p["bit_exact"] for p in res["points"]), res
    return {"workers": workers, "start": t1 - t0, "sweep": t2 - t1, "used": len({p["worker"] for p in res["points"]}),
            "points": len(res["points"]), "load": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rtlsim", type=int, default=20)
    ap.add_argument("--svg", default=None, help="copy the 2-worker sweep's Pareto plot here")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hwgen-bench-explore-"))
    try:
        print(f"warm-up sweep (fills the Verilator object cache), load average {os.getloadavg()[0]:.1f} ...")
        sweep(2, tmp / "warm", a.rtlsim)
        rows = [sweep(1, tmp / "one", a.rtlsim), sweep(2, tmp / "two", a.rtlsim)]
        if a.svg:
            shutil.copy(tmp / "two" / "pareto.svg", a.svg)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = rows[0]["sweep"]
    print(f"\n{rows[0]['points']} points (digits MLP, {len(BOARDS)} boards x {len(TARGETS)} targets, rtlsim "
          f"{a.rtlsim} inputs each), {os.cpu_count()} CPUs\n")
    print("| workers | workers used | cluster start s | sweep s | points/min | speedup | load avg (1 min) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['used']} | {r['start']:.1f} | {r['sweep']:.1f} | "
              f"{60 * r['points'] / r['sweep']:.1f} | {base / r['sweep']:.2f}x | {r['load']:.1f} |")


if __name__ == "__main__":
    main()
