"""Hardware layers. `LAYER_TYPES` maps the `op` names used in hwgraph.json to classes."""

from hwgen.layers.label_select import LabelSelect
from hwgen.layers.mvau import MVAU
from hwgen.layers.thresholding import Thresholding

LAYER_TYPES = {cls.op: cls for cls in (MVAU, Thresholding, LabelSelect)}

__all__ = ["MVAU", "Thresholding", "LabelSelect", "LAYER_TYPES"]
