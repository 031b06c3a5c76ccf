"""Hardware layer kinds. `KINDS` (hwgen.layers.registry) maps the `op` names used in hwgraph.json to classes;
importing this package registers the built-in kinds."""

from hwgen.layers.label_select import LabelSelect
from hwgen.layers.mvau import MVAU
from hwgen.layers.registry import KINDS, register
from hwgen.layers.thresholding import Thresholding
from hwgen.layers.width_converter import WidthConverter

LAYER_TYPES = KINDS  # the old name

__all__ = ["MVAU", "Thresholding", "LabelSelect", "WidthConverter", "KINDS", "LAYER_TYPES", "register"]
