"""A quantized candidate as the build sees it: compiled by the normal build path (hwgen.build.compile_model and
summary: the folding search and the resource model of every layer kind for the board and --target-fps) and run on
the `cpu` backend (sw_fallback, bit-exact with qonnx). Nothing here re-derives a cost."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx


@dataclass
class HwEstimate:
    luts: int  # layers + glue (FIFOs, width converters): totals.design_estimate
    layer_luts: int  # layers only: totals.estimate (what the folding search budgets)
    bram18: float
    dsps: int
    fps: float
    cycles_per_frame: int
    pruned: list  # what the build's channel-pruning pass removed
    fits: bool  # every resource of the layers within the board's capacity (summary totals.utilization)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class Candidate:
    """A QONNX model compiled for a board / rate; `.accuracy(x, y)` on the cpu backend."""

    def __init__(self, model: onnx.ModelProto, board=None, target_fps=None):
        from hwgen.build import compile_model, summary

        self.tmp = Path(tempfile.mkdtemp(prefix="hwgen-quantize-"))
        path = self.tmp / "candidate.onnx"
        onnx.save(model, str(path))
        self.path = path
        try:
            self.graph = compile_model(path, board=board, target_fps=target_fps)
            self.summary = summary(self.graph)
        except BaseException:
            self.close()
            raise
        self._cpu = None

    def estimate(self) -> HwEstimate:
        s = self.summary
        t = s["totals"]
        return HwEstimate(int(t["design_estimate"]["luts"]), int(t["estimate"]["luts"]),
                          float(t["design_estimate"]["bram18"]), int(t["design_estimate"]["dsps"]),
                          float(s["estimate"]["fps"]), int(s["estimate"]["cycles_per_frame"]),
                          list(self.graph.meta.get("pruned") or []),
                          all(u is None or u <= 1.0 for u in t["utilization"].values()))

    def outputs(self, x) -> np.ndarray:
        if self._cpu is None:
            from sw_fallback.backend import CpuBackend

            self._cpu = CpuBackend(None, self.graph)
        return np.asarray(self._cpu.execute(np.asarray(x, dtype=np.float32)))

    def accuracy(self, x, y) -> float:
        return accuracy(self.outputs(x), y)

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def accuracy(logits, y) -> float:
    logits = np.asarray(logits)
    return float((logits.reshape(len(y), -1).argmax(axis=1) == np.asarray(y).ravel()).mean())
