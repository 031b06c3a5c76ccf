"""Partition a walked graph into islands: hardware islands (one input stream, one output stream each: a DMA pair
on a board) and CPU islands between them, in topological order.

Hardware islands are the connected parts of the hardware layers. One that joins two island inputs, or gives the
CPU more than one value, cannot be one accelerator as it is: the node at the join (or the one producing the value
with the fewest layers behind it) moves to the CPU (a Retry) and the walk runs again. Every move puts one more
node on the CPU, so this ends: at worst with the whole model on the CPU.

The CPU runs the nodes the walk left to it, plus whatever they need that no island provides (recomputed from the
model's input: a quantizer's output a CPU node reads, say). CPU nodes between two hardware islands form one CPU
island. A CPU island before the first hardware island that only prepares its input becomes that island's head; one
after the last that only finishes its output becomes its tail (so a model with float work only at its edges is
one hardware island, as before islands).
"""

from __future__ import annotations

from hwgen.graph import Edge, HwGraph
from hwgen.islands import CpuIsland, IslandGraph
from hwgen.transforms.walk import Retry


def _components(layers, edges):
    parent = {lay.name: lay.name for lay in layers}

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for e in edges:
        if e.src is not None and e.dst is not None:
            parent[find(e.src)] = find(e.dst)
    comps: dict = {}
    for lay in layers:
        comps.setdefault(find(lay.name), []).append(lay)
    return comps, find


def _onnx_node_of(name, by_name, edges):
    """The ONNX node behind layer `name` (through Duplicates / converters, which have none)."""
    todo, seen = [name], set()
    while todo:
        n = todo.pop(0)
        if n is None or n in seen:
            continue
        seen.add(n)
        lay = by_name[n]
        if lay.onnx_nodes:
            return lay.onnx_nodes[0]
        todo += [e.src for e in edges if e.dst == n]
    return None


def hardware_islands(w, exits):
    """[(entry index, [layers], [exit indices])] per connected part; Retry when a part is not one accelerator."""
    comps, find = _components(w.layers, w.edges)
    by_name = {lay.name: lay for lay in w.layers}
    parts = []
    for root, lays in comps.items():
        names = {lay.name for lay in lays}
        ins = sorted({e.src_port for e in w.edges if e.src is None and e.dst in names})
        outs = sorted({e.dst_port for e in w.edges if e.dst is None and e.src in names})
        if len(ins) > 1:
            reach = {}
            for lay in lays:  # walk order is topological
                r = set()
                for e in w.edges:
                    if e.dst == lay.name:
                        r |= {e.src_port} if e.src is None else reach.get(e.src, set())
                reach[lay.name] = r
                if len(r) > 1:
                    node = _onnx_node_of(lay.name, by_name, w.edges)
                    raise Retry(node, "it joins values from two hardware islands (a skip connection around a CPU "
                                      "island); the join runs on the CPU")
        if not outs:
            continue  # nothing reads it
        if len(outs) > 1:
            def upstream(j):
                src = next(e.src for e in w.edges if e.dst is None and e.dst_port == j)
                seen, todo = set(), [src]
                while todo:
                    n = todo.pop()
                    if n is None or n in seen:
                        continue
                    seen.add(n)
                    todo += [e.src for e in w.edges if e.dst == n]
                return seen

            j = min(outs, key=lambda j: (len(upstream(j)), -j))
            src = next(e.src for e in w.edges if e.dst is None and e.dst_port == j)
            node = _onnx_node_of(src, by_name, w.edges)
            raise Retry(node, f"the CPU reads {len(outs)} values of one hardware island (" +
                        ", ".join(repr(exits[i].tensor) for i in outs) + "); an island gives it one, so this "
                        "node runs on the CPU")
        parts.append((ins[0], lays, outs[0]))
    return parts


def build_islands(w, exits, model_input, input_shape, model_output) -> IslandGraph:
    parts = hardware_islands(w, exits)
    nodes = list(w.g.node)
    index = {n.name: i for i, n in enumerate(nodes)}
    producer = {o: n for n in nodes for o in n.output if o}
    graph_outputs = [o.name for o in w.g.output]
    hws = []
    for k, lays, j in parts:
        names = {lay.name for lay in lays}
        edges = []
        for e in w.edges:
            if (e.src in names) or (e.dst in names):
                edges.append(Edge(e.src, 0 if e.src is None else e.src_port, e.dst, 0 if e.dst is None else e.dst_port))
        entry, ex = w.entries[k], exits[j]
        shape = [int(d) for d in (w.mw.get_tensor_shape(entry.tensor) or input_shape)]
        hw = HwGraph(entry.head, lays, ex.tail, entry.tensor, shape, ex.tensor, edges=edges)
        prio = min((index.get(nm, len(nodes)) for lay in lays for nm in lay.onnx_nodes), default=len(nodes))
        if entry.first:
            prio = -1
        hws.append((hw, prio))
    # the CPU: the nodes the walk left to it, and what they need that no island gives
    cpu = {n.name: n for n in w.cpu_nodes}
    reasons = dict(w.cpu)
    available = {model_input} | {t for hw, _ in hws for t in (hw.output_name,)}
    for n in cpu.values():
        available |= {o for o in n.output if o}
    need = [i for n in cpu.values() for i in n.input] + [hw.input_name for hw, _ in hws] + graph_outputs
    while need:
        t = need.pop()
        if not t or t in available or w._is_const(t):
            continue
        p = producer[t]
        cpu[p.name] = p
        reasons.setdefault(p.name, f"recomputed on the CPU: {t!r} is needed there")
        available |= {o for o in p.output if o}
        need += list(p.input)
    # order: hardware islands and CPU nodes, each once its inputs exist, earliest in the graph first
    units = [("hw", hw, prio) for hw, prio in hws] + [("cpu", n, index[n.name]) for n in cpu.values()]
    have, order = {model_input}, []
    pending = sorted(units, key=lambda u: u[2])
    while pending:
        for u in pending:
            if all(t in have or not t or w._is_const(t) for t in _needs(u)):
                break
        else:
            raise RuntimeError(f"islands cannot be ordered (waiting: {[_label(u) for u in pending]})")
        pending.remove(u)
        order.append(u)
        have |= set(_gives(u))
    islands, group = [], []
    for u in order + [None]:
        if u is not None and u[0] == "cpu":
            group.append(u[1])
            continue
        if group:
            islands.append(group)
            group = []
        if u is not None:
            islands.append(u[1])
    later_reads = _reads_after(islands, graph_outputs)
    out, c = [], 0
    for pos, isl in enumerate(islands):
        if isinstance(isl, HwGraph):
            out.append(isl)
            continue
        made = {o for n in isl for o in n.output if o}
        ins = []
        for n in isl:
            for i in n.input:
                if i and i not in made and not w._is_const(i) and i not in ins:
                    ins.append(i)
        outs = [o for n in isl for o in n.output if o and o in later_reads[pos]]
        out.append(CpuIsland(f"cpu{c}", list(isl), w.consts_for(isl), ins, outs, w.opset,
                             {n.name: reasons.get(n.name, "") for n in isl}))
        c += 1
    _absorb_edges(out, model_input, model_output)
    return IslandGraph(out, model_input, input_shape, model_output)


def _needs(u):
    if u[0] == "hw":
        return [u[1].input_name]
    return list(u[1].input)


def _gives(u):
    if u[0] == "hw":
        return [u[1].output_name]
    return [o for o in u[1].output if o]


def _label(u):
    return u[1].name if u[0] == "cpu" else f"hardware island reading {u[1].input_name!r}"


def _reads_after(islands, graph_outputs):
    """Per island position: the tensors read by the islands after it (and the model's outputs)."""
    res, acc = [None] * len(islands), set(graph_outputs)
    for pos in range(len(islands) - 1, -1, -1):
        res[pos] = set(acc)
        isl = islands[pos]
        if isinstance(isl, HwGraph):
            acc.add(isl.input_name)
        else:
            acc |= {i for n in isl for i in n.input if i}
    return res


def _absorb_edges(islands, model_input, model_output):
    """A CPU island after the last hardware island that only finishes its output joins that island's tail."""
    if len(islands) >= 2 and isinstance(islands[-1], CpuIsland) and isinstance(islands[-2], HwGraph):
        cpu, hw = islands[-1], islands[-2]
        if cpu.inputs == [hw.output_name] and cpu.outputs == [model_output] and hw.tail.entry.get("kind") != "index":
            hw.tail.nodes = list(hw.tail.nodes) + list(cpu.nodes)
            hw.tail.constants = {**hw.tail.constants, **cpu.constants}
            hw.tail.output = model_output
            hw.tail.reason += "; " + "; ".join(dict.fromkeys(cpu.reasons.get(n.name, "") for n in cpu.nodes))
            hw.tail.reset()
            hw.output_name = model_output
            islands.pop()
