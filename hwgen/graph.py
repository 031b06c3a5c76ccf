"""The hardware graph: CPU head -> chain of hardware layers -> CPU tail, and its build-directory form.

OUT/hwgraph.json       layers, datatypes, foldings, shapes (readable; also what FOLD.json names refer to)
OUT/params/<layer>.npz weights and thresholds
OUT/cpu/head.onnx, tail.onnx (+ tail_entry.npz)   the CPU partitions, standalone ONNX
OUT/hwgraph.onnx       a Netron-friendly view of the hardware graph
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from hwgen.cpu_partition import CpuPartition
from hwgen.errors import BuildDirError, InputDataError
from hwgen.layers import LAYER_TYPES
from hwgen.layers.base import HwLayer

FORMAT = "hwgen-hwgraph/1"


@dataclass
class HwGraph:
    head: CpuPartition
    layers: list[HwLayer]
    tail: CpuPartition
    input_name: str
    input_shape: list[int]  # batch-1 shape of the ONNX model input
    output_name: str
    model_path: str = ""
    meta: dict = field(default_factory=dict)

    # --- execution ----------------------------------------------------------------------------------------------
    def check_input(self, x) -> np.ndarray:
        x = np.asarray(x)
        want = tuple(self.input_shape[1:])
        if x.ndim == len(self.input_shape) - 1 and tuple(x.shape) == want:
            x = x[None]
        if tuple(x.shape[1:]) != want:
            raise InputDataError(
                f"input has shape {tuple(x.shape)}, the model expects (N, {', '.join(map(str, want))})."
            )
        if x.dtype.kind not in "fiub":
            raise InputDataError(f"input dtype {x.dtype} is not numeric; give float32 (or integer) values.")
        x32 = x.astype(np.float32, copy=False)
        if x.dtype.kind == "f" and not np.all(np.isfinite(x32)):
            bad = np.argwhere(~np.isfinite(x32))[0]
            raise InputDataError(f"input contains NaN or inf (first at index {tuple(int(i) for i in bad)}); the "
                                 "input quantizer has no defined result for it.")
        if x.dtype.kind == "f" and x.dtype.itemsize > 4 and not np.array_equal(x32.astype(x.dtype), x):
            raise InputDataError(f"input dtype {x.dtype} holds values float32 cannot represent exactly; the model "
                                 "computes in float32: convert the input to float32 first.")
        return x32

    def head_ints(self, x) -> np.ndarray:
        """Model input -> the first hardware layer's integer input, shape (N, features)."""
        q = self.head.run(self.check_input(x))
        first = self.layers[0]
        q = np.asarray(q).reshape(q.shape[0], -1)
        if not first.in_dtype.allowed(q):
            raise InputDataError(f"head produced values outside {first.in_dtype.name}; this is a bug.")
        return q.astype(np.int64)

    def execute(self, x, return_ints: bool = False):
        q = self.head_ints(x)
        for layer in self.layers:
            q = layer.execute(q)
        y = self.tail.run(q)
        return (y, q) if return_ints else y

    # --- persistence ----------------------------------------------------------------------------------------------
    def save(self, out: Path) -> None:
        out = Path(out)
        (out / "params").mkdir(parents=True, exist_ok=True)
        (out / "cpu").mkdir(parents=True, exist_ok=True)
        layers = []
        for layer in self.layers:
            d = layer.to_json()
            arrays = layer.arrays()
            if arrays:
                np.savez(out / "params" / f"{layer.name}.npz", **arrays)
                d["params"] = f"params/{layer.name}.npz"
            layers.append(d)
        onnx.save(self.head.to_onnx(), out / "cpu" / "head.onnx")
        onnx.save(self.tail.to_onnx(), out / "cpu" / "tail.onnx")
        entry_file = None
        if self.tail.entry:
            entry_file = "cpu/tail_entry.npz"
            np.savez(out / entry_file, **{k: v for k, v in self.tail.entry.items() if k != "kind"})
        doc = {
            "format": FORMAT,
            "model": self.model_path,
            "input": {"name": self.input_name, "shape": self.input_shape},
            "output": {"name": self.output_name},
            "head": self.head.to_json("cpu/head.onnx", None),
            "layers": layers,
            "tail": self.tail.to_json("cpu/tail.onnx", entry_file),
            "meta": self.meta,
        }
        (out / "hwgraph.json").write_text(json.dumps(doc, indent=2))
        onnx.save(self.onnx_view(), out / "hwgraph.onnx")

    @classmethod
    def load(cls, out: Path) -> "HwGraph":
        out = Path(out)
        f = out / "hwgraph.json"
        if not f.is_file():
            raise BuildDirError(f"{str(out)!r} is not an hwgen build directory (no hwgraph.json); run `hwgen build`.")
        try:
            doc = json.loads(f.read_text())
        except json.JSONDecodeError as e:
            raise BuildDirError(f"{str(f)!r} is not valid JSON ({e}); rebuild with `hwgen build`.") from None
        if doc.get("format") != FORMAT:
            raise BuildDirError(f"{str(f)!r} has format {doc.get('format')!r}, expected {FORMAT!r}; rebuild.")
        layers = []
        for d in doc["layers"]:
            cls_ = LAYER_TYPES.get(d["op"])
            if cls_ is None:
                raise BuildDirError(f"{str(f)!r}: unknown layer op {d['op']!r}.")
            arrays = dict(np.load(out / d["params"])) if "params" in d else {}
            layers.append(cls_.from_json(d, arrays))
        head = CpuPartition.from_json(doc["head"], onnx.load(out / doc["head"]["onnx"]), {})
        t = doc["tail"]
        entry = {}
        if t.get("entry_file"):
            entry = dict(np.load(out / t["entry_file"]))
            entry["kind"] = t["entry_kind"]
        tail = CpuPartition.from_json(t, onnx.load(out / t["onnx"]), entry)
        return cls(head, layers, tail, doc["input"]["name"], doc["input"]["shape"], doc["output"]["name"],
                   doc.get("model", ""), doc.get("meta", {}))

    def onnx_view(self) -> onnx.ModelProto:
        """The hardware graph as ONNX nodes of domain `hwgen` (for Netron; not executable)."""
        nodes, inits, prev = [], [], "hw_in"
        for layer in self.layers:
            out = f"{layer.name}_out"
            ins = [prev]
            for k, v in layer.arrays().items():
                t = f"{layer.name}_{k}"
                inits.append(numpy_helper.from_array(np.asarray(v, dtype=np.int64), t))
                ins.append(t)
            attrs = {"PE": layer.pe, "SIMD": layer.simd, "in_dtype": layer.in_dtype.name,
                     "out_dtype": layer.out_dtype.name, "cycles": layer.cycles()}
            attrs.update({k: v for k, v in layer.attrs().items() if isinstance(v, (int, str))})
            nodes.append(helper.make_node(layer.op, ins, [out], name=layer.name, domain="hwgen", **attrs))
            prev = out
        first, last = self.layers[0], self.layers[-1]
        g = helper.make_graph(
            nodes, "hwgen_hardware",
            [helper.make_tensor_value_info("hw_in", onnx.TensorProto.FLOAT, first.in_shape)],
            [helper.make_tensor_value_info(prev, onnx.TensorProto.FLOAT, last.out_shape)], inits,
        )
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("hwgen", 1)])
