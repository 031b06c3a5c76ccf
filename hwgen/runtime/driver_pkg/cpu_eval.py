"""The CPU work of the board driver: the hardware islands' heads and tails and the CPU islands, run by the one CPU
evaluator (evaluator.py, a copy of hwgen/evaluator.py) on numpy alone.

A board image may have no onnxruntime (PYNQ-Z1/Z2 run 32-bit ARM), so the driver package carries each piece as a
JSON list of nodes plus a .npz of constants. Element-wise IEEE operations, layout ops and the quantizers give
onnxruntime's bits; summing and transcendental ops may differ in the last bit (hwgen/evaluator.py says which;
hwgen's tests bound it on every test model).
"""

from __future__ import annotations

import json

import numpy as np

try:  # inside the driver package
    from .evaluator import OPS, QONNX_OPS, Evaluator
except ImportError:  # imported from hwgen itself
    from hwgen.evaluator import OPS, QONNX_OPS, Evaluator

OPS = set(OPS) | QONNX_OPS  # what the board can run


class InputTypeError(ValueError):
    """An input value outside the datatype the model declares for its input (finn_datatype annotation)."""


def check_input_type(x, spec: dict) -> None:
    """spec: InputGrid.to_json() (name, lo, hi, frac_bits, bipolar): every element must be a value of it."""
    with np.errstate(all="ignore"):
        q = np.asarray(x, dtype=np.float64) * (2.0 ** int(spec["frac_bits"]))
        bad = ~np.isfinite(q) | (q != np.round(q))
        bad |= ((q != 1) & (q != -1)) if spec["bipolar"] else ((q < spec["lo"]) | (q > spec["hi"]))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputTypeError(f"input element {idx} is {float(np.asarray(x)[idx])!r}, not a {spec['name']} value; the "
                             f"accelerator was built for inputs of that type (the model's input annotation).")


class NumpyPartition:
    def __init__(self, desc: dict, constants: dict):
        self.desc = desc
        self.c = constants

    @classmethod
    def load(cls, json_path, npz_path):
        with open(json_path) as f:
            desc = json.load(f)
        consts = dict(np.load(npz_path)) if npz_path else {}
        return cls(desc, consts)

    def entry_values(self, x):
        e = self.desc.get("entry_kind")
        if e == "index":
            x = np.asarray(x, dtype=np.int64)
            return x.reshape((x.shape[0],) + tuple(int(d) for d in self.c["__entry_shape"][1:]))
        if e == "acc":
            a = np.asarray(x, dtype=np.float64)
            return ((a - self.c["__entry_offset"]) * self.c["__entry_factor"]).astype(np.float32)
        if e == "int":
            return ((np.asarray(x).astype(np.float32) - self.c["__entry_zp"]) * self.c["__entry_scale"]).astype(
                np.float32, copy=False)
        return x

    def evaluator(self) -> Evaluator:
        if getattr(self, "_ev", None) is None:
            self._ev = Evaluator(self.desc["nodes"], self.c, engine="numpy",
                                 int_output=set(self.desc.get("int_output", [])))
        return self._ev

    def run(self, x):
        if self.desc.get("input_check"):
            check_input_type(x, self.desc["input_check"])
        v = self.entry_values(x)
        if not self.desc["nodes"]:
            return v
        return self.evaluator().run({self.desc["input"]: v}, [self.desc["output"]])[self.desc["output"]]


class NumpyIsland:
    """A CPU island: its nodes on the tensors the earlier islands made (env) -> the tensors it gives."""

    def __init__(self, desc: dict, constants: dict):
        self.desc, self.ev = desc, Evaluator(desc["nodes"], constants, engine="numpy")

    @classmethod
    def load(cls, json_path, npz_path):
        with open(json_path) as f:
            desc = json.load(f)
        return cls(desc, dict(np.load(npz_path)))

    def run(self, env: dict) -> dict:
        return self.ev.run({t: env[t] for t in self.desc["inputs"]}, list(self.desc["outputs"]))
