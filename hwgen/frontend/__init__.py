"""Frontend: load, check and canonicalize quantized ONNX models."""

from pathlib import Path

from hwgen.frontend import cleanup, load


def import_model(path):
    """Load, check and canonicalize `path` -> qonnx ModelWrapper."""
    p = str(path)
    return cleanup.canonicalize(load.load_onnx(p), p)


__all__ = ["import_model", "Path"]
