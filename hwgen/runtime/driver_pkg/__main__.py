"""python -m hwgen_driver --input x.npy --output y.npy | --throughput N  [--bitfile hwgen_top.bit]"""

import argparse
import sys

import numpy as np

from .accelerator import DmaTimeoutError, DmaTransferError, DriverInputError, FPGAAccelerator


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m hwgen_driver")
    ap.add_argument("--bitfile", default=None)
    ap.add_argument("--input")
    ap.add_argument("--output")
    ap.add_argument("--throughput", type=int, default=0, help="run N random frames and report images/s")
    ap.add_argument("--timeout", type=float, default=10.0)
    a = ap.parse_args(argv)
    try:
        acc = FPGAAccelerator(bitfile=a.bitfile, timeout_s=a.timeout)
        if a.input:
            y = acc.execute(np.load(a.input))
            np.save(a.output or "output.npy", y)
            print(f"{len(y)} outputs -> {a.output or 'output.npy'}")
        if a.throughput:
            r = acc.throughput_test(a.throughput)
            print(", ".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}" for k, v in r.items()))
    except (DriverInputError, DmaTimeoutError, DmaTransferError, FileNotFoundError) as e:
        print(f"hwgen_driver: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
