"""CNN test models with skip connections / concat (tests/models/cnn) compiled by hwgen, through csim and rtlsim:
bit-exact with the reference backend, measured cycles per frame against the slowest layer's cycles(), and the
depths the join-FIFO rule (hwgen.transforms.streams.balance_joins) gave the join inputs.

    python benchmarks/bench_skip_models.py [MODEL ...]      (default: resnet_w4a4 concat_pad_w4a4)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hwgen.build import compile_model, write_build  # noqa: E402
from hwgen.runtime.accelerator import Accelerator  # noqa: E402
from tests.cnn_models import io_pair, model_path  # noqa: E402


def run(name: str, scratch: Path) -> dict:
    g = compile_model(model_path(name + ".onnx", scratch))
    out = scratch / name
    write_build(g, out, log=lambda *a: None)
    x, _ = io_pair(name + ".onnx")
    ref = Accelerator(out, backend="reference")
    q = ref.graph.head_ints(x[:4])
    want = np.asarray(ref.execute_ints(q)).reshape(len(q), -1)
    row = {"model": name}
    for be in ("csim", "rtlsim"):
        t = time.time()
        acc = Accelerator(out, backend=be)
        row[be] = bool(np.array_equal(np.asarray(acc.execute_ints(q)).reshape(len(q), -1), want))
        row[be + "_s"] = time.time() - t
        if be == "rtlsim":
            row["cycles"] = acc.stats()["cycles_per_frame"]
    d = g.design()
    row["bound"] = max(lay.cycles() for lay in g.layers)
    row["joins"] = ", ".join(f"{s.name}={s.depth}" for s in d.streams if s.dst and d.by_name[s.dst].n_inputs > 1)
    return row


def main(argv=None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or ["resnet_w4a4", "concat_pad_w4a4"]
    print(f"{'model':18s} {'csim':>5s} {'rtlsim':>6s} {'cycles/frame':>12s} {'max cycles()':>12s}  join FIFO depths")
    with tempfile.TemporaryDirectory(prefix="hwgen-skip-") as td:
        for n in names:
            r = run(n, Path(td))
            print(f"{r['model']:18s} {str(r['csim']):>5s} {str(r['rtlsim']):>6s} {r['cycles']:12.0f} {r['bound']:12d}  "
                  f"{r['joins']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
