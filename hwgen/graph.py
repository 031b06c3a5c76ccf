"""One hardware island: CPU head -> DAG of hardware layers -> CPU tail, and its build-directory form (a model is a
sequence of such islands and CPU islands: hwgen.islands).

Nodes are layer instances (hwgen.layers kinds) with `n_inputs` / `n_outputs` ports; `edges` connect a producer's
output port to a consumer's input port (None: the accelerator's input in0_V / output out_V). Streamline makes
a chain (the default edges); branching kinds add edges of their own. `design()` is the finished design every
emitter renders: the graph transform hwgen.transforms.streams places width converters (as nodes) and a FIFO on
every stream (as the stream's depth: the kinds' rule, or `fifo_depths` measured by `hwgen build --size-fifos`).

OUT/hwgraph.json       nodes, edges, streams (name, ends, datatype, elements per word, words per frame, bits,
                       depth), datatypes, foldings, NHWC shapes (readable; FOLD.json names refer to its nodes)
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
from hwgen.layers import KINDS
from hwgen.layers.base import HwLayer

FORMAT = "hwgen-hwgraph/3"  # /3: islands (hwgen.islands); /2 dirs are refused with "rebuild"


@dataclass(frozen=True)
class Edge:
    """A connection between compute nodes: src output port -> dst input port (None: accelerator in / out)."""

    src: str | None
    src_port: int
    dst: str | None
    dst_port: int

    def to_json(self) -> list:
        return [self.src, self.src_port, self.dst, self.dst_port]


def chain_edges(layers) -> list[Edge]:
    names = [None] + [lay.name for lay in layers] + [None]
    return [Edge(a, 0, b, 0) for a, b in zip(names, names[1:])]


def read_doc(out: Path, key: str | None = None) -> dict:
    """OUT/hwgraph.json of this format (with `key` in it), or a BuildDirError saying to rebuild."""
    f = Path(out) / "hwgraph.json"
    if not f.is_file():
        raise BuildDirError(f"{str(out)!r} is not an hwgen build directory (no hwgraph.json); run `hwgen build`.")
    try:
        doc = json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise BuildDirError(f"{str(f)!r} is not valid JSON ({e}); rebuild with `hwgen build`.") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or (key is not None and key not in doc):
        fmt = doc.get("format") if isinstance(doc, dict) else None
        raise BuildDirError(f"{str(f)!r} has format {fmt!r}, this hwgen reads {FORMAT!r}: the build directory was "
                            f"made by another hwgen version; rebuild it with `hwgen build MODEL -o {str(out)!r}`.")
    return doc


def check_input(x, input_shape) -> np.ndarray:
    """A model input (N, *shape) or one sample, checked and as float32 (the model computes in float32)."""
    x = np.asarray(x)
    want = tuple(input_shape[1:])
    if x.ndim == len(input_shape) - 1 and tuple(x.shape) == want:
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


@dataclass
class HwGraph:
    head: CpuPartition
    layers: list[HwLayer]  # the compute nodes (what the lowering passes made), topological order
    tail: CpuPartition
    input_name: str
    input_shape: list[int]  # batch-1 shape of the ONNX model input
    output_name: str
    model_path: str = ""
    meta: dict = field(default_factory=dict)
    edges: list[Edge] | None = None  # default: the layers as a chain
    fifo_depths: dict = field(default_factory=dict)  # stream name -> depth (measured), overrides the rule
    _finished: tuple | None = field(default=None, repr=False, compare=False)  # (key, Design): see design()

    def __post_init__(self):
        if self.edges is None:
            self.edges = chain_edges(self.layers)

    def node(self, name: str) -> HwLayer:
        return next(lay for lay in self.layers if lay.name == name)

    def design(self):
        """The finished design (hwgen.transforms.streams.Design): nodes with width converters, every stream with
        its name, ends, width and FIFO depth. Computed once for the current nodes, foldings, edges and FIFO
        depths, and handed out again until one of them changes (every emitter, the report and the driver ask
        for it; none recomputes it)."""
        from hwgen.transforms.streams import finish

        key = (tuple((lay.name, lay.op, lay.pe, lay.simd, lay.in_dtype.name, lay.out_dtype.name)
                     for lay in self.layers), tuple(self.edges), tuple(sorted(self.fifo_depths.items())))
        if self._finished is None or self._finished[0] != key:
            self._finished = (key, finish(self))
        return self._finished[1]

    # --- execution ----------------------------------------------------------------------------------------------
    def check_input(self, x) -> np.ndarray:
        return check_input(x, self.input_shape)

    def input_node(self) -> HwLayer:
        return self.node(next(e.dst for e in self.edges if e.src is None))

    def head_ints(self, x) -> np.ndarray:
        """Model input -> the first hardware layer's integer input, shape (N, features)."""
        q = self.head.run(self.check_input(x))
        first = self.input_node()
        q = np.asarray(q).reshape(q.shape[0], -1)
        if not first.in_dtype.allowed(q):
            raise InputDataError(f"head produced values outside {first.in_dtype.name}; this is a bug.")
        return q.astype(np.int64)

    def run_layers(self, q, run=None):
        """Integer input of the accelerator -> its integer output, node by node in topological order;
        run(layer, inputs) -> outputs (default: the kinds' numpy `execute`)."""
        run = run or (lambda layer, xs: layer.execute(*xs))
        vals = {(None, 0): q}
        for layer in self.layers:
            ins = [vals[(e.src, e.src_port)] for e in sorted((e for e in self.edges if e.dst == layer.name),
                                                              key=lambda e: e.dst_port)]
            # streams carry flat frames (NHWC order); each kind sees the per-frame shape it declares
            ins = [np.asarray(v).reshape(len(v), *layer.in_port_shape(p)[1:]) for p, v in enumerate(ins)]
            outs = run(layer, ins)
            outs = outs if layer.n_outputs > 1 else (outs,)
            for p, v in enumerate(outs):
                vals[(layer.name, p)] = v
        out = next(e for e in self.edges if e.dst is None)
        v = np.asarray(vals[(out.src, out.src_port)])
        return v.reshape(len(v), -1)  # the output stream: flat frames (NHWC order), as every backend returns it

    def execute(self, x, return_ints: bool = False):
        q = self.run_layers(self.head_ints(x))
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
        d = self.design()
        doc = {
            "format": FORMAT,
            "model": self.model_path,
            "input": {"name": self.input_name, "shape": self.input_shape},
            "output": {"name": self.output_name},
            "head": self.head.to_json("cpu/head.onnx", None),
            "layers": layers,
            "edges": [e.to_json() for e in self.edges],
            "fifo_depths": self.fifo_depths,
            # the finished design (derived: width converters and FIFO depths; for readers, not read back)
            "design": {"nodes": [{"name": n.name, "op": n.op} for n in d.nodes],
                       "streams": [st.to_json() for st in d.streams]},
            "tail": self.tail.to_json("cpu/tail.onnx", entry_file),
            "meta": self.meta,
        }
        f = out / "hwgraph.json"
        if f.is_file():  # island 0 of a build re-saved: keep the build's island list (hwgen.islands)
            try:
                old = json.loads(f.read_text())
            except json.JSONDecodeError:
                old = {}
            if isinstance(old, dict) and "islands" in old:
                doc["islands"] = old["islands"]
        f.write_text(json.dumps(doc, indent=2))
        onnx.save(self.onnx_view(), out / "hwgraph.onnx")

    @classmethod
    def load(cls, out: Path) -> "HwGraph":
        out = Path(out)
        doc = read_doc(out)
        f = out / "hwgraph.json"
        layers = []
        for d in doc["layers"]:
            cls_ = KINDS.get(d["op"])
            if cls_ is None:
                raise BuildDirError(f"{str(f)!r}: unknown layer kind {d['op']!r} (known: {', '.join(KINDS)}); "
                                    "import the module that registers it, or rebuild.")
            arrays = dict(np.load(out / d["params"])) if "params" in d else {}
            layers.append(cls_.from_json(d, arrays))
        head = CpuPartition.from_json(doc["head"], onnx.load(out / doc["head"]["onnx"]), {})
        t = doc["tail"]
        entry = {}
        if t.get("entry_file"):
            entry = dict(np.load(out / t["entry_file"]))
            entry["kind"] = t["entry_kind"]
        tail = CpuPartition.from_json(t, onnx.load(out / t["onnx"]), entry)
        edges = [Edge(*e) for e in doc["edges"]]
        return cls(head, layers, tail, doc["input"]["name"], doc["input"]["shape"], doc["output"]["name"],
                   doc.get("model", ""), doc.get("meta", {}), edges, dict(doc.get("fifo_depths", {})))

    def onnx_view(self) -> onnx.ModelProto:
        """The finished hardware graph as ONNX nodes of domain `hwgen` (for Netron; not executable): one node per
        block, one tensor per stream (named as the stream, FIFO depth in the node's attributes)."""
        d = self.design()
        nodes, inits = [], []
        for node in d.nodes:
            ins = [st.name for st in d.inputs_of(node.name)]
            for k, v in node.arrays().items():
                t = f"{node.name}_{k}"
                inits.append(numpy_helper.from_array(np.asarray(v, dtype=np.int64), t))
                ins.append(t)
            attrs = {"PE": node.pe, "SIMD": node.simd, "in_dtype": node.in_dtype.name,
                     "out_dtype": node.out_dtype.name, "cycles": node.cycles(),
                     "fifo_depths": [st.depth for st in d.inputs_of(node.name)]}
            attrs.update({k: v for k, v in node.attrs().items() if isinstance(v, (int, str))})
            nodes.append(helper.make_node(node.op, ins, [st.name for st in d.outputs_of(node.name)],
                                          name=node.name, domain="hwgen", **attrs))
        g = helper.make_graph(
            nodes, "hwgen_hardware",
            [helper.make_tensor_value_info(st.name, onnx.TensorProto.FLOAT, [1, st.words_per_frame * st.elems_per_word])
             for st in d.streams if st.src is None],
            [helper.make_tensor_value_info(st.name, onnx.TensorProto.FLOAT, [1, st.words_per_frame * st.elems_per_word])
             for st in d.streams if st.dst is None], inits,
        )
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("hwgen", 1)])
