"""`hwgen explore` on the command line (registered by hwgen.cli with add_parser)."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    e = sub.add_parser("explore", help="sweep boards x target fps x clocks on Dask; Pareto plot of fps against LUTs")
    e.add_argument("model")
    e.add_argument("-o", "--out", required=True, help="sweep directory: results.json, results.csv, index.html")
    e.add_argument("--board", default=None, help="comma-separated boards (default pynq-z2)")
    e.add_argument("--target-fps", default=None, help="comma-separated targets (default: fastest that fits)")
    e.add_argument("--clock-mhz", default=None, help="comma-separated clocks (default: the board's)")
    e.add_argument("--rtlsim", type=int, default=0, metavar="N",
                   help="run N random inputs through Verilator per point and compare with qonnx")
    e.add_argument("--synth", action="store_true", help="yosys resource figures per point (slower)")
    e.add_argument("--scheduler", default=None, help="tcp://HOST:PORT of a running `dask scheduler` "
                   "(default: a local cluster of --workers processes)")
    e.add_argument("--workers", type=int, default=None, help="local cluster size (default: one per CPU)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--calib", default=None, metavar="X.npy", help="a float model: its calibration inputs; each "
                   "point runs `hwgen quantize` first")
    e.add_argument("--labels", default=None, metavar="Y.npy", help="class indices of --calib: accuracy per point")
    e.add_argument("--weights", default=None, help="comma-separated weight bits to sweep (float model; default 8)")
    e.add_argument("--acts", default=None, help="comma-separated activation bits to sweep (float model; default 8)")
    e.add_argument("--prune", default=None, help="comma-separated prune ratios to sweep, e.g. 0,0.25,0.5")
    e.set_defaults(fn=run)


def run(a) -> int:
    from hwgen.explore.points import parse_list
    from hwgen.explore.sweep import explore
    from hwgen.report import table

    from hwgen.errors import HwgenError

    if a.rtlsim < 0:
        raise HwgenError(f"--rtlsim {a.rtlsim}: give a number of inputs >= 0.")
    if a.workers is not None and a.scheduler:
        raise HwgenError(f"--workers {a.workers} sizes the local cluster, and --scheduler runs on an existing one "
                         "(with its own workers): give one of the two.")
    if a.workers is not None and a.workers < 1:
        raise HwgenError(f"--workers {a.workers}: give a number of worker processes >= 1.")
    res = explore(a.model, a.out, boards=parse_list(a.board, "--board", str),
                  targets=parse_list(a.target_fps, "--target-fps"), clocks=parse_list(a.clock_mhz, "--clock-mhz"),
                  rtlsim=a.rtlsim, synth=a.synth, seed=a.seed, scheduler=a.scheduler, workers=a.workers,
                  calib=a.calib, labels=a.labels, weights=parse_list(a.weights, "--weights", int),
                  acts=parse_list(a.acts, "--acts", int), prunes=parse_list(a.prune, "--prune", float, nonneg=True))
    quant = any(r.get("weights") is not None for r in res["points"])
    rows = [[r["board"], _num(r["target_fps"]), _num(r["clock_mhz"])]
            + ([f"w{r.get('weights')}a{r.get('acts')}", f"{r.get('prune') or 0:g}",
                "-" if r.get("accuracy") is None else f"{r['accuracy'] * 100:.2f}"] if quant else [])
            + [_num(r.get("fps")), _num(r.get("luts")), {True: "yes", False: "NO", None: "-"}[r.get("bit_exact")],
               r.get("worker") or "-", ("*" if r.get("pareto") else "") + (r["error"] or "")]
            for r in _with_front(res["points"])]
    print(table(rows, ["board", "target fps", "MHz"] + (["bits", "prune", "accuracy %"] if quant else [])
                + ["fps", "LUTs", "bit-exact", "worker", "Pareto / error"]))
    out = Path(a.out)
    print(f"\n{res['ran']} points run, {res['cached']} from the cache, {res['failed']} failed; "
          f"wrote {out / 'results.json'}, {out / 'results.csv'}, {out / 'index.html'}")
    bad = res["failed"] or any(r.get("bit_exact") is False for r in res["points"])
    return 1 if bad else 0


def _with_front(rows):
    from hwgen.explore.results import pareto_front

    front = set(pareto_front(rows))
    return [{**r, "pareto": i in front} for i, r in enumerate(rows)]


def _num(v) -> str:
    return "-" if v is None else f"{v:,.0f}" if isinstance(v, (int, float)) else str(v)
