"""CPU partitions: the float work at the edges of the graph that hardware does not do.

The head turns the model's float input into the first integer stream (input scaling and the input quantizer);
the tail turns the last integer stream back into the model's output (final scale / bias, softmax, ...).
Each is a small ONNX model of the original nodes, evaluated exactly as qonnx evaluates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from hwgen.frontend.input_types import InputGrid
from hwgen.evaluator import Node
from hwgen.onnx_eval import SubgraphEvaluator


@dataclass
class CpuPartition:
    role: str  # "head" or "tail"
    nodes: list  # onnx.NodeProto, topological
    constants: dict  # name -> np.ndarray
    input: str
    output: str
    opset: int
    reason: str
    int_output: set = field(default_factory=set)
    # tail only: how the integer stream becomes the float tensor `input`
    entry: dict = field(default_factory=dict)  # {"kind": "acc", "factor", "offset"} | {"kind": "int", "zp", "scale"}
    # head only: the input's declared datatype (finn_datatype annotation), checked on every run
    input_check: InputGrid | None = None
    explain: str = ""  # head only: the long story of where the input enters hardware (build report; not saved)
    _ev: SubgraphEvaluator | None = field(default=None, repr=False)

    @property
    def node_names(self) -> list[str]:
        return [n.name for n in self.nodes]

    def reset(self) -> None:
        """Forget the cached evaluator (after the nodes or constants changed)."""
        self._ev = None

    def append(self, node) -> None:
        """Add `node` at the end; its first output becomes the partition's output."""
        self.nodes = list(self.nodes) + [node]
        self.output = node.output[0]
        self._ev = None

    def prepend(self, nodes, new_input: str) -> None:
        """Put `nodes` first; they read the partition's new input `new_input`."""
        self.nodes = list(nodes) + list(self.nodes)
        self.input = new_input
        self._ev = None

    def evaluator(self) -> SubgraphEvaluator:
        if self._ev is None:
            self._ev = SubgraphEvaluator(self.nodes, self.constants, self.opset, int_output=set(self.int_output))
        return self._ev

    def entry_values(self, q: np.ndarray) -> np.ndarray:
        e = self.entry
        if not e:
            return q
        if e["kind"] == "index":  # label select indices -> the ONNX output's int64 shape
            q = np.asarray(q, dtype=np.int64)
            return q.reshape((q.shape[0],) + tuple(int(d) for d in np.asarray(e["shape"])[1:]))
        if e["kind"] == "acc":
            a = np.asarray(q, dtype=np.float64)
            return ((a - e["offset"]) * e["factor"]).astype(np.float32)
        return ((np.asarray(q).astype(np.float32) - e["zp"]) * e["scale"]).astype(np.float32, copy=False)

    def run(self, x: np.ndarray) -> np.ndarray:
        if self.input_check is not None:
            self.input_check.check(x)
        v = self.entry_values(x)
        if not self.nodes:
            return v
        return self.evaluator().run({self.input: v}, [self.output])[self.output]

    # --- persistence as a standalone ONNX model --------------------------------------------------------------
    def to_onnx(self) -> onnx.ModelProto:
        used = {i for n in self.nodes for i in n.input if i in self.constants}
        inits = [numpy_helper.from_array(np.asarray(self.constants[k]), k) for k in sorted(used)]
        g = helper.make_graph(
            list(self.nodes), f"hwgen_{self.role}",
            [onnx.ValueInfoProto(name=self.input)], [onnx.ValueInfoProto(name=self.output)], inits,
        )
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", self.opset),
                                                helper.make_opsetid("qonnx.custom_op.general", 1)])
        m.ir_version = 7
        return m

    def numpy_desc(self) -> tuple[dict, dict]:
        """The partition as plain JSON nodes + constants, for the board-side numpy evaluator (no onnx needed)."""
        nodes = [Node.of(n).to_json() for n in self.nodes]
        consts = {k: np.asarray(v) for k, v in self.constants.items()}
        for k, v in self.entry.items():
            if k != "kind":
                consts[f"__entry_{k}"] = np.asarray(v)
        desc = {"role": self.role, "input": self.input, "output": self.output, "nodes": nodes,
                "int_output": sorted(self.int_output), "entry_kind": self.entry.get("kind")}
        if self.input_check is not None:
            desc["input_check"] = self.input_check.to_json()
        return desc, consts

    def to_json(self, onnx_file: str, entry_file: str | None) -> dict:
        return {"role": self.role, "onnx": onnx_file, "input": self.input, "output": self.output,
                "opset": self.opset, "reason": self.reason, "nodes": self.node_names,
                "int_output": sorted(self.int_output), "entry_kind": self.entry.get("kind"),
                "entry_file": entry_file, "input_check": self.input_check and self.input_check.to_json()}

    @classmethod
    def from_json(cls, d: dict, model: onnx.ModelProto, entry: dict) -> "CpuPartition":
        consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        return cls(role=d["role"], nodes=list(model.graph.node), constants=consts, input=d["input"],
                   output=d["output"], opset=d["opset"], reason=d["reason"], int_output=set(d["int_output"]),
                   entry=entry, input_check=InputGrid.from_json(d.get("input_check")))
