"""Hardware layer kinds. `KINDS` (hwgen.layers.registry) maps the `op` names used in hwgraph.json to classes;
importing this package registers the built-in kinds."""

from hwgen.layers.branching import AddStreams, Concat, Duplicate
from hwgen.layers.label_select import LabelSelect
from hwgen.layers.mvau import MVAU
from hwgen.layers.pool import Pool
from hwgen.layers.registry import KINDS, register
from hwgen.layers.swg import Pad, SlidingWindow
from hwgen.layers.thresholding import Thresholding
from hwgen.layers.upsample import Upsample
from hwgen.layers.vvau import VVAU
from hwgen.layers.width_converter import WidthConverter

LAYER_TYPES = KINDS  # the old name

__all__ = ["MVAU", "Thresholding", "LabelSelect", "WidthConverter", "SlidingWindow", "Pad", "Pool", "VVAU",
           "Duplicate", "AddStreams", "Concat", "Upsample", "KINDS", "LAYER_TYPES", "register"]
