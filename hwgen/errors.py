"""Errors a user can cause and fix.

Every user mistake raises a subclass of HwgenError. The CLI prints the message (no traceback) and exits 2.
A message names the file or the ONNX node, says what is wrong and what to do.
"""


class HwgenError(Exception):
    """Base class of all errors caused by the user's input or options."""

    exit_code = 2


class ModelLoadError(HwgenError):
    """The model file cannot be read as ONNX (missing, truncated, not ONNX)."""


class UnsupportedModelError(HwgenError):
    """The model is valid ONNX but hwgen cannot map it (op, pattern or shape it does not support)."""


class QuantizerError(HwgenError):
    """A quantizer has bad parameters (bit width, scale, zero point) or non-constant ones."""


class FoldingError(HwgenError):
    """A folding (PE/SIMD) is not legal for a layer."""


class InputDataError(HwgenError):
    """Input data given to a backend has the wrong shape, dtype or values."""


class BuildDirError(HwgenError):
    """A build directory is missing or incomplete."""


class TimingError(HwgenError):
    """`--strict`: the open timing estimate of the design is below the requested clock."""


class ToolError(HwgenError):
    """An external tool (compiler, Verilator, yosys) failed; the message has the command and its last output lines."""


class HwgenWarning(UserWarning):
    """Something legal but probably not what the user meant (printed by the CLI, exit code unchanged)."""


def describe_node(node) -> str:
    """A short, safe description of an ONNX node for error messages: op type and (repr-escaped) name."""
    name = node.name or "<unnamed>"
    outs = ", ".join(repr(o) for o in node.output[:2])
    return f"{node.op_type} node {name!r} (output {outs})"
