"""A model as islands, in topological order: hardware islands and CPU islands.

A hardware island is one dataflow accelerator (hwgen.graph.HwGraph: its CPU head turns an ONNX tensor into the
integer input stream, the layers run in hardware, its CPU tail turns the output stream back into ONNX tensors);
on a board each has its own top and DMA pair. A CPU island is ONNX nodes the CPU runs with the one CPU evaluator
(hwgen.onnx_eval), as qonnx computes them, each with the reason it is not in hardware. Islands exchange ONNX
tensors by name: `execute` keeps them in an environment and runs the islands in order.

Build directory (format hwgen-hwgraph/3):
    OUT/hwgraph.json     hardware island 0's graph (as hwgen.graph describes it) plus "islands": the model's input
                         and output and the island list (kind, directory or ONNX file, inputs, outputs, reasons)
    OUT/hls, OUT/rtl, OUT/params, OUT/cpu/head.onnx, tail.onnx   hardware island 0 (the layout of a one-island
                         build, unchanged)
    OUT/hw<k>/...        hardware island k >= 1: the same files, in its own directory
    OUT/cpu/cpu<k>.onnx  CPU island k's nodes, a standalone ONNX model
A model with no hardware at all is one CPU island (OUT/hwgraph.json has no layers then).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from hwgen.evaluator import Node
from hwgen.graph import FORMAT, HwGraph, check_input, read_doc
from hwgen.onnx_eval import SubgraphEvaluator


@dataclass
class CpuIsland:
    name: str  # cpu<k>
    nodes: list  # onnx.NodeProto, topological
    constants: dict
    inputs: list[str]  # tensors it reads from the model input or earlier islands
    outputs: list[str]  # tensors later islands (or the model output) read
    opset: int
    reasons: dict = field(default_factory=dict)  # node name -> why it runs on the CPU
    _ev: SubgraphEvaluator | None = field(default=None, repr=False)

    kind = "cpu"

    def evaluator(self) -> SubgraphEvaluator:
        if self._ev is None:
            self._ev = SubgraphEvaluator(self.nodes, self.constants, self.opset)
        return self._ev

    def run(self, env: dict) -> dict:
        return self.evaluator().run({t: env[t] for t in self.inputs}, list(self.outputs))

    def to_onnx(self) -> onnx.ModelProto:
        used = {i for n in self.nodes for i in n.input if i in self.constants}
        inits = [numpy_helper.from_array(np.asarray(self.constants[k]), k) for k in sorted(used)]
        g = helper.make_graph(list(self.nodes), f"hwgen_{self.name}", [onnx.ValueInfoProto(name=t) for t in self.inputs],
                              [onnx.ValueInfoProto(name=t) for t in self.outputs], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", self.opset),
                                                helper.make_opsetid("qonnx.custom_op.general", 1)])
        m.ir_version = 7
        return m

    def numpy_desc(self) -> tuple[dict, dict]:
        """The island as plain JSON nodes + constants, for the board's numpy evaluator (no onnx needed)."""
        return ({"name": self.name, "inputs": self.inputs, "outputs": self.outputs,
                 "nodes": [Node.of(n).to_json() for n in self.nodes]},
                {k: np.asarray(v) for k, v in self.constants.items()})

    def to_json(self, onnx_file: str) -> dict:
        return {"kind": "cpu", "name": self.name, "onnx": onnx_file, "inputs": self.inputs, "outputs": self.outputs,
                "opset": self.opset, "nodes": [n.name for n in self.nodes], "reasons": self.reasons}

    @classmethod
    def from_json(cls, d: dict, model: onnx.ModelProto) -> "CpuIsland":
        consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        return cls(d["name"], list(model.graph.node), consts, list(d["inputs"]), list(d["outputs"]), d["opset"],
                   dict(d.get("reasons", {})))


def hw_inputs(hw: HwGraph) -> list[str]:
    return [hw.input_name]


def hw_outputs(hw: HwGraph) -> list[str]:
    return [hw.output_name]


@dataclass
class IslandGraph:
    islands: list  # HwGraph | CpuIsland, topological order
    input_name: str
    input_shape: list[int]
    output_name: str
    model_path: str = ""
    meta: dict = field(default_factory=dict)

    # --- structure ---------------------------------------------------------------------------------------------
    @property
    def hw_islands(self) -> list[HwGraph]:
        return [i for i in self.islands if isinstance(i, HwGraph)]

    @property
    def cpu_islands(self) -> list[CpuIsland]:
        return [i for i in self.islands if isinstance(i, CpuIsland)]

    @property
    def all_layers(self) -> list:
        return [lay for hw in self.hw_islands for lay in hw.layers]

    def island_dir(self, out, k: int) -> Path:
        """The build directory of hardware island k: OUT itself for island 0, OUT/hw<k> after it."""
        return Path(out) if k == 0 else Path(out) / f"hw{k}"

    @property
    def single(self) -> HwGraph | None:
        """The hardware island when the model is exactly one (its head and tail do all the CPU work)."""
        hw = self.hw_islands
        return hw[0] if len(self.islands) == 1 and len(hw) == 1 else None

    def __getattr__(self, name):
        # a one-island model reads as its HwGraph (layers, edges, head, tail, head_ints, design, ...): the API
        # every caller of compile_model had before islands
        if name.startswith("__") or name in ("islands",):
            raise AttributeError(name)
        single = self.single
        if single is not None and hasattr(single, name):
            return getattr(single, name)
        raise AttributeError(f"{name!r}: the model has {len(self.hw_islands)} hardware and {len(self.cpu_islands)} "
                             "CPU islands; ask the island (graph.islands[k]) instead")

    def __setattr__(self, name, value):
        if name in self.__dataclass_fields__ or "islands" not in self.__dict__:
            object.__setattr__(self, name, value)
            return
        single = self.single
        if single is not None and hasattr(single, name):
            setattr(single, name, value)
        else:
            object.__setattr__(self, name, value)

    # --- execution ---------------------------------------------------------------------------------------------
    def check_input(self, x) -> np.ndarray:
        """As HwGraph.check_input, for the model's input."""
        return check_input(x, self.input_shape)

    def execute(self, x, run=None, outputs: list[str] | None = None, return_ints: bool = False):
        """The model's input -> its output, island by island. run(k, hw, q) -> the integers of hardware island k
        for its integer input q (default: the kinds' numpy execute). return_ints (a one-island model, as
        HwGraph.execute): also the accelerator's integer output."""
        single = self.single
        if return_ints:
            if single is None or run is not None or outputs is not None:
                raise ValueError("return_ints is for a model of one hardware island")
            return single.execute(x, return_ints=True)
        env = {self.input_name: self.check_input(x)}
        k = 0
        for isl in self.islands:
            if isinstance(isl, CpuIsland):
                env.update(isl.run(env))
                continue
            q = isl.head_ints(env[isl.input_name])
            y = isl.run_layers(q) if run is None else run(k, isl, q)
            env[isl.output_name] = isl.tail.run(np.asarray(y, dtype=np.int64))
            k += 1
        if outputs is not None:
            return {o: env[o] for o in outputs}
        return env[self.output_name]

    # --- what runs where ---------------------------------------------------------------------------------------
    def partitions(self, design=None) -> list[dict]:
        """summary.json "partitions": every island in order, what it runs and why, and the bytes crossing its
        boundary per frame (hardware islands: the DMA's padded frames each way)."""
        out, k = [], 0
        for isl in self.islands:
            if isinstance(isl, CpuIsland):
                out.append({"kind": "cpu", "name": isl.name, "inputs": isl.inputs, "outputs": isl.outputs,
                            "nodes": [n.name for n in isl.nodes],
                            "reasons": {n.name: isl.reasons.get(n.name, "") for n in isl.nodes}})
                continue
            d = design[k] if design is not None else isl.design()
            i, o = d.input, d.output
            out.append({"kind": "hw", "name": f"hw{k}", "dir": "." if k == 0 else f"hw{k}",
                        "inputs": [isl.input_name], "outputs": [isl.output_name],
                        "layers": [lay.name for lay in isl.layers],
                        "head": {"nodes": isl.head.node_names, "reason": isl.head.reason},
                        "tail": {"nodes": isl.tail.node_names, "reason": isl.tail.reason},
                        "in_bytes_per_frame": -(-i.bits // 8) * i.words_per_frame,
                        "out_bytes_per_frame": -(-o.bits // 8) * o.words_per_frame})
            k += 1
        return out

    # --- persistence -------------------------------------------------------------------------------------------
    def save(self, out) -> None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "cpu").mkdir(exist_ok=True)
        listing, k, c = [], 0, 0
        for isl in self.islands:
            if isinstance(isl, CpuIsland):
                f = f"cpu/{isl.name}.onnx"
                onnx.save(isl.to_onnx(), out / f)
                listing.append(isl.to_json(f))
                c += 1
                continue
            d = self.island_dir(out, k)
            isl.meta = self.meta
            isl.save(d)
            listing.append({"kind": "hw", "name": f"hw{k}", "dir": "." if k == 0 else f"hw{k}",
                            "inputs": [isl.input_name], "outputs": [isl.output_name]})
            k += 1
        f = out / "hwgraph.json"
        doc = json.loads(f.read_text()) if self.hw_islands else {"format": FORMAT, "model": self.model_path,
                                                                  "meta": self.meta}
        doc["islands"] = {"input": {"name": self.input_name, "shape": self.input_shape},
                          "output": {"name": self.output_name}, "list": listing}
        f.write_text(json.dumps(doc, indent=2))

    @classmethod
    def load(cls, out) -> "IslandGraph":
        out = Path(out)
        doc = read_doc(out, "islands")
        isl = doc["islands"]
        islands = []
        for d in isl["list"]:
            if d["kind"] == "cpu":
                islands.append(CpuIsland.from_json(d, onnx.load(out / d["onnx"])))
            else:
                islands.append(HwGraph.load(out / d["dir"]))
        return cls(islands, isl["input"]["name"], isl["input"]["shape"], isl["output"]["name"],
                   doc.get("model", ""), doc.get("meta", {}))
