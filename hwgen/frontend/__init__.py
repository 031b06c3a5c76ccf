"""Frontend: load, check and canonicalize quantized ONNX models."""

from pathlib import Path


def import_model(path):
    """Load, check and canonicalize `path` -> qonnx ModelWrapper."""
    from hwgen.frontend import cleanup, load  # qonnx is imported only when a model is imported

    p = str(path)
    return cleanup.canonicalize(load.load_onnx(p), p)


__all__ = ["import_model", "Path"]
