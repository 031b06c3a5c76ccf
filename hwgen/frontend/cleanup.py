"""Bring a checked ONNX model into the canonical form the lowering passes read (with qonnx's transformations).

QCDQ (QuantizeLinear / Clip / DequantizeLinear) becomes QONNX Quant, shapes are inferred, constant
sub-graphs (Brevitas' Shape-Gather-Unsqueeze-Concat-Reshape chain, weight transposes) are folded. Node names
are kept as the user wrote them (qonnx's renaming passes are not run), so later errors name the user's nodes.
"""

from __future__ import annotations

import warnings

import onnx
from qonnx.core.modelwrapper import ModelWrapper

from hwgen.errors import HwgenError, UnsupportedModelError
from hwgen.frontend import load


def _transform(model: ModelWrapper, t, what: str, path: str) -> ModelWrapper:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.transform(t)
    except HwgenError:
        raise
    except Exception as e:
        msg = str(e).strip().splitlines()[-1][:400] if str(e).strip() else type(e).__name__
        raise UnsupportedModelError(
            f"{path}: {what} failed: {msg!r}. This usually means inconsistent tensor shapes (e.g. a MatMul whose "
            "weight rows do not match its input features) or an op used in a way hwgen does not support."
        ) from None


def canonicalize(model: onnx.ModelProto, path: str) -> ModelWrapper:
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import RemoveStaticGraphInputs, RemoveUnusedTensors
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.quant_constant_folding import FoldTransposeIntoQuantInit

    load.normalize_domains(model)
    load.check_structure(model, path)
    _name_unnamed_nodes(model)
    _constants_to_initializers(model)
    mw = ModelWrapper(model)
    if any(n.op_type in load.QCDQ_OPS for n in model.graph.node):
        from hwgen.frontend.qcdq import qcdq_to_quant

        mw = _transform(mw, InferShapes(), "shape inference", path)
        qcdq_to_quant(mw.model, path)
        left = [n for n in mw.graph.node if n.op_type in load.QCDQ_OPS]
        if left:
            raise UnsupportedModelError(
                f"{path}: {load.describe_node(left[0])} is not part of a QuantizeLinear -> (Clip) -> "
                "DequantizeLinear pattern with constant parameters; hwgen cannot convert it to a quantizer."
            )
    mw = _transform(mw, InferShapes(), "shape inference", path)
    mw = _transform(mw, FoldConstants(exclude_op_types=["Quant", "BipolarQuant", "Trunc"]), "constant folding", path)
    mw = _transform(mw, FoldTransposeIntoQuantInit(), "folding weight transposes", path)
    mw = _transform(mw, RemoveUnusedTensors(), "removing unused tensors", path)
    mw = _transform(mw, RemoveStaticGraphInputs(), "removing static inputs", path)
    mw = _transform(mw, InferShapes(), "shape inference", path)
    _name_unnamed_nodes(mw.model)
    load.check_quantizer_params(mw.model, path)
    return mw


def _name_unnamed_nodes(model: onnx.ModelProto) -> None:
    used = {n.name for n in model.graph.node if n.name}
    for k, n in enumerate(model.graph.node):
        if not n.name:
            name = f"{n.op_type}_{k}"
            while name in used:
                name += "_"
            n.name = name
            used.add(name)


def _constants_to_initializers(model: onnx.ModelProto) -> None:
    """Constant nodes -> initializers, so quantizer parameters given as Constant nodes count as constants."""
    from onnx import numpy_helper

    g = model.graph
    keep = []
    for n in g.node:
        if n.op_type == "Constant" and len(n.attribute) == 1 and n.attribute[0].name == "value":
            arr = numpy_helper.to_array(n.attribute[0].t)
            g.initializer.append(numpy_helper.from_array(arr, n.output[0]))
        else:
            keep.append(n)
    if len(keep) != len(g.node):
        del g.node[:]
        g.node.extend(keep)
