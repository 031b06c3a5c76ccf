"""Malformed and hostile ONNX models for error-handling tests.

``CASES``: list of ``Case(id, make, expect)``.  ``make(tmp_path) -> pathlib.Path`` writes the model (or garbage)
file and returns its path; ``expect`` lists lowercase substrings a good error message must contain (compare with
``str(err).lower()``): the offending node / tensor / file name and a problem keyword.  Every model case is the
small 2-layer QONNX MLP of ``base_model()`` with exactly one defect; distinctive names (``bad_quant_w0`` ...)
are given to the node at fault, and tensors feeding it are named ``<node name>_...`` so a message naming
either the node or the tensor matches.

``HOSTILE_CASES``: valid models (pass onnx.checker, run in qonnx, same outputs as ``base_model()``) whose node,
tensor and graph names are hostile text; they must compile, and generated files must contain only sanitized
identifiers.  Their ``expect`` is empty.

Keywords used in ``expect`` (so the compiler's messages can match them):
  "not found" (missing file), "empty", "onnx" (unparsable file), "no nodes", "dynamic", "constant",
  "bit width", "scale", "nan", "inf", "zero point", "rounding", "shape", "quantiz" (unquantized weights),
  "cycle", the op type of an unsupported op ("fancyop", "sin"), and the names of nodes / tensors / files.

Base model (``base_model()``), input "inp" (1, 7) -> output "out" (1, 3):
  Quant_inp -> MatMul_0 (W0 via Quant_w0) -> Relu_0 -> Quant_act0 -> MatMul_1 (W1 via Quant_w1) -> out
"""

from __future__ import annotations

import copy
import os
import pathlib
import sys
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

try:  # imported as tests.malformed_models
    from .qonnx_gen import MLPSpec, make_mlp, qonnx_execute, random_inputs
except ImportError:  # run as a script / imported with tests/ on sys.path
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from qonnx_gen import MLPSpec, make_mlp, qonnx_execute, random_inputs  # noqa: E402

__all__ = ["Case", "CASES", "HOSTILE_CASES", "base_model", "hostile_names"]


@dataclass
class Case:
    id: str
    make: Callable[[pathlib.Path], pathlib.Path]
    expect: list = field(default_factory=list)
    # whether the written file still passes onnx.checker.check_model (None: not an ONNX file at all)
    checker_ok: Optional[bool] = True
    # a model qonnx executes that hwgen cannot put in hardware: built with a CPU island (issue 20), refused
    # with this error only by --hw-only
    valid: bool = False

    def __repr__(self):
        return f"Case({self.id!r})"


# ----------------------------------------------------------------------------------------------------------------
# base model and edit helpers

BASE_SPEC = MLPSpec(sizes=[7, 5, 3], in_bits=4, in_signed=True, in_scale=0.25, w_bits=4, act_bits=4,
                    act_signed=False, act_relu=True, scales_pow2=True, seed=11)


def base_model() -> onnx.ModelProto:
    """The valid 2-layer QONNX MLP every model case is derived from."""
    return make_mlp(BASE_SPEC)


def _node(m, name):
    for n in m.graph.node:
        if n.name == name:
            return n
    raise KeyError(name)


def _rename_tensor(m, old, new):
    g = m.graph
    for n in g.node:
        for k, t in enumerate(n.input):
            if t == old:
                n.input[k] = new
        for k, t in enumerate(n.output):
            if t == old:
                n.output[k] = new
    for coll in (g.initializer, g.input, g.output, g.value_info):
        for t in coll:
            if t.name == old:
                t.name = new


def _rename_node(m, old, new):
    """Rename node `old` to `new`, and its parameter initializers `old_*` to `new_*`."""
    n = _node(m, old)
    n.name = new
    for t in list(n.input):
        if t.startswith(old + "_"):
            _rename_tensor(m, t, new + t[len(old):])


def _init(m, name):
    for t in m.graph.initializer:
        if t.name == name:
            return t
    raise KeyError(name)


def _set_init(m, name, arr):
    t = _init(m, name)
    t.CopyFrom(numpy_helper.from_array(np.asarray(arr), name))


def _init_to_input(m, name):
    """Turn an initializer into a graph input (a runtime, non-constant tensor)."""
    t = _init(m, name)
    arr = numpy_helper.to_array(t)
    m.graph.initializer.remove(t)
    m.graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(arr.shape)))


def _insert_after(m, producer_out, new_nodes, new_out):
    """Insert nodes consuming tensor `producer_out`, rewire the old consumers to `new_out`."""
    g = m.graph
    consumers = [n for n in g.node if producer_out in n.input]
    for n in consumers:
        for k, t in enumerate(n.input):
            if t == producer_out:
                n.input[k] = new_out
    idx = max(i for i, n in enumerate(g.node) if producer_out in n.output) + 1
    for k, nn in enumerate(new_nodes):
        g.node.insert(idx + k, nn)


def _save(m, path: pathlib.Path) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(m.SerializeToString())
    return path


def _model_case(cid, mutate, expect, checker_ok=True, valid=False) -> Case:
    def make(tmp_path):
        m = base_model()
        mutate(m)
        return _save(m, pathlib.Path(tmp_path) / f"{cid}.onnx")

    make.mutate = mutate  # for the self-check
    return Case(cid, make, [e.lower() for e in expect], checker_ok, valid)


# ----------------------------------------------------------------------------------------------------------------
# file-level cases


def _write(path: pathlib.Path, data: bytes) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _missing(tmp_path):
    return pathlib.Path(tmp_path) / "does_not_exist.onnx"


def _empty(tmp_path):
    # note: b"" parses as an empty ModelProto (protobuf accepts it); a loader must check size / content itself
    return _write(pathlib.Path(tmp_path) / "empty_model.onnx", b"")


def _random_bytes(tmp_path):
    # 0xff-led bytes: not a valid protobuf tag stream, so onnx.load always fails
    data = b"\xff\xff\xff\xff" + np.random.default_rng(0).integers(0, 256, 2048, dtype=np.uint8).tobytes()
    return _write(pathlib.Path(tmp_path) / "random_bytes.bin", data)


def _truncated(tmp_path):
    data = base_model().SerializeToString()
    cut = len(data) // 2
    while True:  # the first half must really fail to parse (protobuf may accept some cut points)
        try:
            onnx.load_model_from_string(data[:cut])
            cut += 1
        except Exception:
            break
    return _write(pathlib.Path(tmp_path) / "truncated_model.onnx", data[:cut])


# ----------------------------------------------------------------------------------------------------------------
# model mutations (each breaks the base model in exactly one way)


def _no_nodes(m):
    g = m.graph
    del g.node[:]
    del g.initializer[:]
    g.output[0].CopyFrom(helper.make_tensor_value_info("inp", TensorProto.FLOAT, [1, 7]))


def _dynamic_feature_dim(m):
    _rename_tensor(m, "inp", "dyn_input")
    d = m.graph.input[0].type.tensor_type.shape.dim
    d[0].Clear()
    d[0].dim_param = "N"
    d[1].Clear()
    d[1].dim_param = "F"


def _weights_from_input(m):
    _rename_node(m, "Quant_w0", "bad_quant_w0")
    _rename_tensor(m, "W0", "bad_quant_w0_weight")
    _init_to_input(m, "bad_quant_w0_weight")


def _scale_from_input(m):
    _rename_node(m, "Quant_act0", "bad_quant_act0")
    _init_to_input(m, "bad_quant_act0_scale")


def _bitwidth(node, value, dtype=np.float32):
    def mut(m):
        new = "bad_" + node[0].lower() + node[1:]
        _rename_node(m, node, new)
        _set_init(m, new + "_bitwidth", np.asarray(value, dtype))

    return mut


def _scale_value(node, value):
    def mut(m):
        new = "bad_" + node[0].lower() + node[1:]
        _rename_node(m, node, new)
        old = numpy_helper.to_array(_init(m, new + "_scale"))
        _set_init(m, new + "_scale", np.full(old.shape, value, np.float32))

    return mut


def _zero_point_fractional(m):
    # a fractional zero point on *weights* cannot give integer weights (on activations it is fine: it folds
    # into the thresholds exactly)
    _rename_node(m, "Quant_w0", "bad_quant_w0")
    _set_init(m, "bad_quant_w0_zeropt", np.float32(0.5))


def _rounding_bogus(m):
    _rename_node(m, "Quant_act0", "bad_quant_act0")
    n = _node(m, "bad_quant_act0")
    for a in n.attribute:
        if a.name == "rounding_mode":
            a.s = b"BOGUS_MODE"


def _dangling(m):
    n = helper.make_node("Add", ["MatMul_0_out", "ghost_tensor"], ["bad_add_dangling_out"], name="bad_add_dangling")
    _insert_after(m, "MatMul_0_out", [n], "bad_add_dangling_out")


def _cycle(m):
    a = helper.make_node("Add", ["MatMul_0_out", "bad_cycle_b_out"], ["bad_cycle_a_out"], name="bad_cycle_a")
    b = helper.make_node("Relu", ["bad_cycle_a_out"], ["bad_cycle_b_out"], name="bad_cycle_b")
    _insert_after(m, "MatMul_0_out", [a, b], "bad_cycle_b_out")


def _matmul_mismatch(m):
    _rename_node(m, "MatMul_0", "bad_matmul0")
    rng = np.random.default_rng(1)
    _set_init(m, "W0", (rng.integers(-8, 8, size=(10, 5)) * 0.125).astype(np.float32))


def _unknown_op(m):
    n = helper.make_node("FancyOp", ["Quant_act0_out"], ["bad_fancy_op_out"], name="bad_fancy_op",
                         domain="com.example.fancy", mode="sparkle")
    _insert_after(m, "Quant_act0_out", [n], "bad_fancy_op_out")
    m.opset_import.append(helper.make_opsetid("com.example.fancy", 1))


def _unquantized_matmul(m):
    w = (np.random.default_rng(2).integers(-8, 8, size=(5, 5)) * 0.0625).astype(np.float32)
    m.graph.initializer.append(numpy_helper.from_array(w, "bad_float_matmul_weight"))
    n = helper.make_node("MatMul", ["Quant_act0_out", "bad_float_matmul_weight"], ["bad_float_matmul_out"],
                         name="bad_float_matmul")
    _insert_after(m, "Quant_act0_out", [n], "bad_float_matmul_out")


def _float_first_layer_float_weights(m):
    """Neither the input nor the first layer's weights quantized: a float model, refused (a float input may feed
    the first layer directly only when that layer's weights are quantized)."""
    g = m.graph
    for name in ("Quant_inp", "Quant_w0"):
        g.node.remove(_node(m, name))
    mm = _node(m, "MatMul_0")
    mm.input[0], mm.input[1] = "inp", "W0"
    mm.name = "bad_float_first_matmul"


def _repair_float_first_layer(m):
    base = {n.name: n for n in base_model().graph.node}
    mm = _node(m, "bad_float_first_matmul")
    mm.name = "MatMul_0"
    mm.input[0], mm.input[1] = "Quant_inp_out", "Quant_w0_out"
    for k, name in enumerate(("Quant_inp", "Quant_w0")):
        m.graph.node.insert(k, base[name])


def _sin(m):
    n = helper.make_node("Sin", ["Quant_act0_out"], ["bad_trig_node_out"], name="bad_trig_node")
    _insert_after(m, "Quant_act0_out", [n], "bad_trig_node_out")


CASES: list = [
    Case("missing_file", _missing, ["does_not_exist.onnx", "not found"], None),
    Case("empty_file", _empty, ["empty_model.onnx", "empty"], None),
    Case("random_bytes", _random_bytes, ["random_bytes.bin", "onnx"], None),
    Case("truncated_model", _truncated, ["truncated_model.onnx", "onnx"], None),
    _model_case("no_nodes", _no_nodes, ["no nodes"]),
    _model_case("dynamic_feature_dim", _dynamic_feature_dim, ["dyn_input", "dynamic"]),
    _model_case("weights_from_graph_input", _weights_from_input, ["bad_quant_w0", "constant"]),
    _model_case("quant_scale_from_graph_input", _scale_from_input, ["bad_quant_act0", "constant"]),
    _model_case("bitwidth_2_5", _bitwidth("Quant_w0", 2.5), ["bad_quant_w0", "bit width"]),
    _model_case("bitwidth_0", _bitwidth("Quant_w1", 0.0), ["bad_quant_w1", "bit width"]),
    _model_case("bitwidth_40", _bitwidth("Quant_act0", 40.0), ["bad_quant_act0", "bit width"]),
    _model_case("bitwidth_negative", _bitwidth("Quant_w0", -4.0), ["bad_quant_w0", "bit width"]),
    _model_case("bitwidth_not_scalar", _bitwidth("Quant_w1", [4.0, 4.0]), ["bad_quant_w1", "bit width"]),
    _model_case("nan_scale", _scale_value("Quant_w0", np.nan), ["bad_quant_w0", "scale", "nan"]),
    _model_case("inf_scale", _scale_value("Quant_inp", np.inf), ["bad_quant_inp", "scale", "inf"]),
    _model_case("zero_scale", _scale_value("Quant_act0", 0.0), ["bad_quant_act0", "scale"]),
    _model_case("zero_point_fractional", _zero_point_fractional, ["bad_quant_w0", "zero point"], valid=True),
    _model_case("rounding_mode_bogus", _rounding_bogus, ["bad_quant_act0", "rounding"]),
    _model_case("dangling_tensor", _dangling, ["bad_add_dangling", "ghost_tensor"], checker_ok=False),
    _model_case("graph_cycle", _cycle, ["bad_cycle", "cycle"], checker_ok=False),
    _model_case("matmul_shape_mismatch", _matmul_mismatch, ["bad_matmul0", "shape"]),
    _model_case("unknown_custom_op", _unknown_op, ["bad_fancy_op", "fancyop"]),
    _model_case("unquantized_float_matmul", _unquantized_matmul, ["bad_float_matmul", "quantiz"], valid=True),
    _model_case("unsupported_sin", _sin, ["bad_trig_node", "sin"], valid=True),
    _model_case("float_first_layer_float_weights", _float_first_layer_float_weights,
                ["bad_float_first_matmul", "quantiz"], valid=True),
]


# ----------------------------------------------------------------------------------------------------------------
# hostile names


def _long(i):
    return ("L" * 4991) + f"_{i:08d}"  # 5000 chars, unique in the tail only


_THEMES = {
    "quotes": lambda i: f"q\"uo'te{i}\"; '",
    "shell": lambda i: f"$(rm -rf /){i};`id`|&& echo pwned",
    "backticks": lambda i: f"`reboot`_{i}_``",
    "newlines": lambda i: f"line1\nline2_{i}\r\n\tend\\",
    "comment_terminators": lambda i: f"*/ x{i} /* // -- # ;",
    "html_script": lambda i: f"<script>alert({i})</script>&amp;",
    "very_long": _long,
    "unicode": lambda i: f"ñame_{i}_数据_🙂_\u202eevil\u200b\u0000"[:-1] + "é",
    "case_only": lambda i: (f"Layer{i // 2}" if i % 2 else f"layer{i // 2}"),
    "sanitize_collision": lambda i: ["a-b", "a_b", "a b", "a.b", "a__b", "A-B"][i % 6] + str(i // 6),
    "reserved_words": lambda i: ["module", "wire", "int", "class", "begin", "end", "input", "output", "void",
                                 "return", "always", "reg", "default", "template", "std", "new"][i % 16]
                                 + ("" if i < 16 else str(i)),
    "digits_and_empty_like": lambda i: ["0", "1abc", "_", "__", "-", ".", " ", "...", "9_9", "__init__"][i % 10]
                                        + ("" if i < 10 else f"#{i}"),
}


def hostile_names(theme: str, n: int) -> list:
    """n distinct hostile names of a theme (distinct as strings; may collide after sanitizing)."""
    names = [_THEMES[theme](i) for i in range(n)]
    assert len(set(names)) == n, theme
    return names


def _hostile_mutation(theme, rename_io=True, empty_node_names=False):
    def mut(m):
        g = m.graph
        tensors = []
        for t in g.initializer:
            tensors.append(t.name)
        for n in g.node:
            tensors.extend(o for o in n.output if o not in tensors)
        if not rename_io:
            tensors = [t for t in tensors if t not in ("inp", "out")]
        else:
            tensors.insert(0, "inp")
        names = hostile_names(theme, len(tensors) + len(g.node) + 1)
        for old, new in zip(tensors, names):
            _rename_tensor(m, old, new)
        for n, new in zip(g.node, names[len(tensors):]):
            n.name = "" if empty_node_names else new
        g.name = names[-1]
        g.doc_string = f"{names[-1]} */ <!-- -->"
        m.producer_name = names[0][:200]

    return mut


def _hostile_case(cid, theme, **kw) -> Case:
    mutate = _hostile_mutation(theme, **kw)

    def make(tmp_path):
        m = base_model()
        mutate(m)
        return _save(m, pathlib.Path(tmp_path) / f"hostile_{cid}.onnx")

    make.mutate = mutate
    return Case(cid, make, [], True)


def _kitchen_sink(m):
    mixed = []
    for th in _THEMES:
        mixed.extend(hostile_names(th, 3))
    g = m.graph
    tensors = [t.name for t in g.initializer] + [o for n in g.node for o in n.output]
    for k, old in enumerate(["inp"] + tensors):
        _rename_tensor(m, old, f"{mixed[k % len(mixed)]}#{k}")
    for k, n in enumerate(g.node):
        n.name = f"{mixed[(k + 7) % len(mixed)]}@{k}"
    g.name = "graph */ `$(id)` \n <script>"


HOSTILE_CASES: list = [_hostile_case(th, th) for th in _THEMES] + [
    _hostile_case("empty_node_names", "quotes", empty_node_names=True),
    _hostile_case("io_names_kept_shell_inside", "shell", rename_io=False),
]
_ks = Case("kitchen_sink", None, [], True)


def _make_ks(tmp_path):
    m = base_model()
    _kitchen_sink(m)
    return _save(m, pathlib.Path(tmp_path) / "hostile_kitchen_sink.onnx")


_make_ks.mutate = _kitchen_sink
_ks.make = _make_ks
HOSTILE_CASES.append(_ks)


# ----------------------------------------------------------------------------------------------------------------
# repairs: undo exactly the one defect of a model case (used by the self-check to prove nothing else is broken)


def _restore_init(m, name, base_name):
    arr = numpy_helper.to_array(_init(base_model(), base_name))
    for t in list(m.graph.input):
        if t.name == name:
            m.graph.input.remove(t)
            m.graph.initializer.append(numpy_helper.from_array(arr, name))
            return
    _set_init(m, name, arr)


def _drop_nodes(m, prefix):
    """Remove inserted nodes named prefix*, rewiring consumers of their outputs to their first input."""
    g = m.graph
    bad = [n for n in g.node if n.name.startswith(prefix)]
    for n in bad:
        g.node.remove(n)
    src = {}
    for n in bad:
        src[n.output[0]] = n.input[0]
    for n in g.node:
        for k, t in enumerate(n.input):
            while t in src:
                t = src[t]
            n.input[k] = t


def _repair_io(m):
    _rename_tensor(m, "dyn_input", "inp")
    d = m.graph.input[0].type.tensor_type.shape.dim
    for k, v in enumerate((1, 7)):
        d[k].Clear()
        d[k].dim_value = v


def _repair_rounding(m):
    for a in _node(m, "bad_quant_act0").attribute:
        if a.name == "rounding_mode":
            a.s = b"ROUND"


def _repair_no_nodes(m):
    m.CopyFrom(base_model())


_REPAIRS = {
    "no_nodes": _repair_no_nodes,
    "dynamic_feature_dim": _repair_io,
    "weights_from_graph_input": lambda m: _restore_init(m, "bad_quant_w0_weight", "W0"),
    "quant_scale_from_graph_input": lambda m: _restore_init(m, "bad_quant_act0_scale", "Quant_act0_scale"),
    "bitwidth_2_5": lambda m: _restore_init(m, "bad_quant_w0_bitwidth", "Quant_w0_bitwidth"),
    "bitwidth_0": lambda m: _restore_init(m, "bad_quant_w1_bitwidth", "Quant_w1_bitwidth"),
    "bitwidth_40": lambda m: _restore_init(m, "bad_quant_act0_bitwidth", "Quant_act0_bitwidth"),
    "bitwidth_negative": lambda m: _restore_init(m, "bad_quant_w0_bitwidth", "Quant_w0_bitwidth"),
    "bitwidth_not_scalar": lambda m: _restore_init(m, "bad_quant_w1_bitwidth", "Quant_w1_bitwidth"),
    "nan_scale": lambda m: _restore_init(m, "bad_quant_w0_scale", "Quant_w0_scale"),
    "inf_scale": lambda m: _restore_init(m, "bad_quant_inp_scale", "Quant_inp_scale"),
    "zero_scale": lambda m: _restore_init(m, "bad_quant_act0_scale", "Quant_act0_scale"),
    "zero_point_fractional": lambda m: _restore_init(m, "bad_quant_w0_zeropt", "Quant_w0_zeropt"),
    "rounding_mode_bogus": _repair_rounding,
    "dangling_tensor": lambda m: _drop_nodes(m, "bad_add_dangling"),
    "graph_cycle": lambda m: _drop_nodes(m, "bad_cycle"),
    "matmul_shape_mismatch": lambda m: _restore_init(m, "W0", "W0"),
    "unknown_custom_op": lambda m: _drop_nodes(m, "bad_fancy_op"),
    "unquantized_float_matmul": lambda m: _drop_nodes(m, "bad_float_matmul"),
    "unsupported_sin": lambda m: _drop_nodes(m, "bad_trig_node"),
    "float_first_layer_float_weights": _repair_float_first_layer,
}


# ----------------------------------------------------------------------------------------------------------------
# self-check


def self_check(tmp_path) -> None:
    """Every case is broken in the intended way only; hostile models are valid and equivalent to the base."""
    tmp_path = pathlib.Path(tmp_path)
    base = base_model()
    onnx.checker.check_model(base, full_check=True)
    x = random_inputs(base, 16, 0)
    y = qonnx_execute(base, x)
    ids = [c.id for c in CASES] + [c.id for c in HOSTILE_CASES]
    assert len(ids) == len(set(ids))
    for c in CASES:
        p = c.make(tmp_path / "cases")
        assert all(e == e.lower() for e in c.expect)
        if c.checker_ok is None:
            if c.id == "empty_file":
                assert p.exists() and p.stat().st_size == 0
            elif c.id != "missing_file":
                assert p.exists()
                try:
                    onnx.load(str(p))
                    raise AssertionError(f"{c.id}: file parses as ONNX")
                except AssertionError:
                    raise
                except Exception:
                    pass
            else:
                assert not p.exists()
            continue
        m = onnx.load(str(p))
        assert m.SerializeToString() != base.SerializeToString(), c.id
        g = m.graph
        known = {n.name.lower() for n in g.node} | {t.lower() for n in g.node for t in list(n.input) + list(n.output)}
        known |= {t.name.lower() for t in list(g.input) + list(g.initializer)}
        for e in c.expect:
            if "_" in e:  # a name: must be a node or tensor of this model (a prefix of one for "bad_cycle")
                assert any(k.startswith(e) for k in known), (c.id, e)
        # undoing the one defect gives a valid model that computes exactly what the base model computes
        fixed = copy.deepcopy(m)
        _REPAIRS[c.id](fixed)
        onnx.checker.check_model(fixed, full_check=True)
        assert np.array_equal(qonnx_execute(fixed, x), y), c.id
        if c.checker_ok:
            onnx.checker.check_model(m)
        else:
            try:
                onnx.checker.check_model(m)
                raise AssertionError(f"{c.id}: expected onnx.checker to fail")
            except onnx.checker.ValidationError:
                pass
    for c in HOSTILE_CASES:
        p = c.make(tmp_path / "hostile")
        m = onnx.load(str(p))
        onnx.checker.check_model(m, full_check=True)
        assert np.array_equal(qonnx_execute(m, x), y), c.id


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        self_check(d)
    print(f"ok: {len(CASES)} malformed cases, {len(HOSTILE_CASES)} hostile cases")
