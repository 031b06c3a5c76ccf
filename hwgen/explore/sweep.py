"""The client side of `hwgen explore`: cache lookup, one Dask task per missing point, progress, outputs.

DIR (-o) is guarded as `hwgen build` guards OUT: it must be new, empty, or a sweep directory hwgen explore made
(it holds explore's token file), never inside a build directory; the model is read and checked before any cluster
starts. Tasks that see DIR work in DIR/.work/ (removed when the sweep ends, however it ends, and by the next sweep),
so a terminated sweep leaves no temporary directory behind."""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

from hwgen.errors import HwgenError, ModelLoadError
from hwgen.explore.points import Point, grid
from hwgen.explore.task import TOKEN_FILE, WORK_DIR, run_point

RETRIES = 2  # re-runs of a task that raised something other than a HwgenError (a lost worker is retried by Dask)


def explore(model, out, boards=(None,), targets=(None,), clocks=(None,), rtlsim: int = 0, synth: bool = False,
            seed: int = 0, scheduler: str | None = None, workers: int | None = None, client=None, log=print,
            progress: bool = True, calib=None, labels=None, weights=(None,), acts=(None,), prunes=(None,)) -> dict:
    """Run the grid boards x targets x clocks; write OUT/results.json, results.csv, index.html.

    Returns {"points": [row, ...] in grid order, "cached": n, "ran": n, "failed": n}. `client`: an existing
    distributed.Client to use (else one on `scheduler`, else a LocalCluster of `workers` processes). A float model
    with `calib` (X.npy or an array; `labels` for accuracy) is swept over weights x acts x prunes through
    `hwgen quantize` in each task (the data travel with the tasks).
    """
    from hwgen.explore.results import write_outputs

    from hwgen.frontend.load import load_onnx

    log = log or (lambda *a: None)
    model = Path(model)
    load_onnx(model)  # a file that is not an ONNX model fails here, before a cluster starts
    try:
        model_bytes = model.read_bytes()
    except OSError as e:
        raise ModelLoadError(f"model file {str(model)!r} cannot be read ({e.strerror or e}).") from None
    sha = hashlib.sha256(model_bytes).hexdigest()
    points = grid(boards, targets, clocks, rtlsim, synth, seed, weights, acts, prunes)
    data = None
    if calib is not None or labels is not None or any(p.quantizes for p in points):
        data, digest = _sweep_data(model, calib, labels)
        sha = hashlib.sha256((sha + digest).encode()).hexdigest()
    if scheduler:
        from hwgen.explore.cluster import check_address

        check_address(scheduler)  # before anything is written
    keys = [p.key(sha) for p in points]
    out = Path(out).resolve()
    check_sweep_dir(out)
    try:
        (out / "points").mkdir(parents=True, exist_ok=True)
        share = {"dir": str(out), "token": _token(out)}
    except OSError as e:
        raise HwgenError(f"cannot write the sweep directory {str(out)!r} ({e.strerror or e}); give a writable "
                         "-o DIR.") from None
    rows = {k: r for k in keys if (r := cached_result(out, k)) is not None}
    todo = [(p, k) for p, k in zip(points, keys) if k not in rows]
    log(f"{len(points)} points: {len(rows)} done before (cached in {out / 'points'}), {len(todo)} to run")
    failed = 0
    _clean_partial(out)  # what a terminated sweep left
    try:
        if todo:
            (out / WORK_DIR).mkdir(exist_ok=True)
            with _client(client, scheduler, workers, len(todo)) as c:
                for row in _run(c, todo, model_bytes, str(model), share, len(points), len(rows), progress, data):
                    _save_result(out, row)
                    rows[row["hash"]] = row
                    failed += row["error"] is not None
    finally:
        _clean_partial(out)
    ordered = [rows[k] for k in keys]
    write_outputs(out, ordered, model=str(model))
    return {"points": ordered, "cached": len(points) - len(todo), "ran": len(todo), "failed": failed}


def _sweep_data(model, calib, labels):
    """({"calib": X, "labels": Y or None}, a digest of both) checked as `hwgen quantize` checks them."""
    from hwgen.quantize.floatnet import QuantizeError, load_float
    from hwgen.quantize.run import load_data

    if calib is None:
        raise QuantizeError("--weights / --acts / --prune sweep a float model through `hwgen quantize`: give its "
                            "calibration inputs with --calib X.npy (and --labels Y.npy for accuracy).")
    x, y = load_data(load_float(model), calib, labels)
    h = hashlib.sha256(x.tobytes() + str(x.shape).encode() + (b"" if y is None else y.tobytes()))
    return {"calib": x, "labels": y}, h.hexdigest()


def _run(client, todo, model_bytes, model_name, share, total, done, progress, data=None):
    """Submit every point (task key = its hash: pure and idempotent); yield rows as they finish."""
    from hwgen.explore.cluster import as_completed_watched

    futures = {}
    if data is not None:  # scattered once, not copied into every task
        data = client.scatter(data, broadcast=True)
    for p, k in todo:
        f = client.submit(run_point, model_bytes, model_name, asdict(p), k, share, data, key=f"hwgen-explore-{k}",
                          retries=RETRIES)
        futures[f] = (p, k)
    bar = progress_bar(total, done, enabled=progress)
    try:
        for f in as_completed_watched(client, futures):
            p, k = futures[f]
            try:
                row = f.result()
            except Exception as e:  # retries used up, or the task's workers kept dying (KilledWorker)
                row = error_row(p, k, f"{type(e).__name__}: {' '.join(str(e).split())}")
            bar.update(1)
            yield row
    finally:
        bar.close()
        for f in futures:
            f.release()


def progress_bar(total: int, done: int, enabled: bool = True):
    """A tqdm bar on stderr (hidden when stderr is not a terminal)."""
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="point", desc="hwgen explore", file=sys.stderr,
                disable=None if enabled else True, dynamic_ncols=True)


def error_row(p: Point, key: str, error: str) -> dict:
    return {"board": p.board, "target_fps": p.target_fps, "clock_mhz": p.clock_mhz, "weights": p.weights,
            "acts": p.acts, "prune": p.prune, "hash": key, "worker": None, "seconds": None, "error": error}


def cached_result(out: Path, key: str) -> dict | None:
    """A finished point's row (DIR/points/<key>/result.json), or None when it has to run (missing or failed)."""
    f = out / "points" / key / "result.json"
    try:
        row = json.loads(f.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return row if isinstance(row, dict) and row.get("error") is None and row.get("hash") == key else None


def _save_result(out: Path, row: dict) -> None:
    d = out / "points" / row["hash"]
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".result-{secrets.token_hex(4)}.tmp"
    tmp.write_text(json.dumps(row, indent=1))
    tmp.replace(d / "result.json")


def _token(out: Path) -> str:
    f = out / TOKEN_FILE
    try:
        t = f.read_text().strip()
    except OSError:
        t = ""
    if not t:
        t = secrets.token_hex(16)
        f.write_text(t + "\n")
    return t


def _clean_partial(out: Path) -> None:
    """Half-copied build directories of tasks whose worker died while publishing, and the tasks' work directories."""
    for d in (out / "points").glob("*/.*.tmp"):
        shutil.rmtree(d, ignore_errors=True) if d.is_dir() else d.unlink(missing_ok=True)
    shutil.rmtree(out / WORK_DIR, ignore_errors=True)


def check_sweep_dir(out: Path) -> None:
    """Refuse a -o DIR explore must not write into: a file, a directory inside a build directory, or a non-empty
    directory it did not make (it would overwrite that directory's index.html, results.csv ...)."""
    from hwgen.manifest import is_build_dir
    from hwgen.outdir import enclosing_build

    if out.exists() and not out.is_dir():
        raise HwgenError(f"-o {str(out)!r} is an existing file, not a directory; give a new directory for the sweep.")
    inside = enclosing_build(out)
    if inside is not None:
        raise HwgenError(f"-o {str(out)!r} is inside the hwgen build directory {str(inside)!r}, which a rebuild "
                         "replaces as a whole; give a directory outside it.")
    if out.is_dir() and not (out / TOKEN_FILE).is_file() and any(out.iterdir()):
        what = "an hwgen build directory" if is_build_dir(out) else "a non-empty directory"
        raise HwgenError(f"-o {str(out)!r} is {what} that hwgen explore did not make (no {TOKEN_FILE}); refusing to "
                         "overwrite its files. Give a new or empty directory, or the directory of an earlier sweep.")


class _client:
    """The given client (left open), else a new one (closed on exit)."""

    def __init__(self, client, scheduler, workers, n_tasks):
        self.given, self.scheduler, self.workers, self.n = client, scheduler, workers, n_tasks
        self.cm = None

    def __enter__(self):
        if self.given is not None:
            return self.given
        import os

        from hwgen.explore.cluster import dask_client

        n = self.workers or min(os.cpu_count() or 1, self.n)
        self.cm = dask_client(self.scheduler, n)
        return self.cm.__enter__()

    def __exit__(self, *exc):
        return self.cm.__exit__(*exc) if self.cm is not None else False
