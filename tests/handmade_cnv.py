"""A handmade CNV-1W1A hardware graph: FINN's CNV topology (convs 3->64, 64->64, pool, 64->128, 128->128, pool,
128->256, 256->256, FCs 256->512->512->10, 3x3 kernels without padding, 32x32x3 input) built from the layer kinds
with random bipolar weights and thresholds, for the folding search, the cycle bound and the memory plan without the
streamliner. The first conv takes 8-bit unsigned pixels; every later layer is XNOR-popcount; the last FC returns
its accumulators.

    g = cnv_graph()                      # layers named as the streamliner names them (MVAU_i, SWG_i, Pool_i)
    apply_fold_cnv_large(g.layers)       # FINN's fold_cnv_large on the 9 matrix layers
"""

from __future__ import annotations

import numpy as np

from hwgen.dtypes import BIPOLAR, DType
from hwgen.layers.conv_kernels import conv_weights_to_window_order
from hwgen.layers.mvau import MVAU
from hwgen.layers.pool import Pool
from hwgen.layers.swg import SlidingWindow
from tests.handmade import handmade_graph

# FINN's fold_cnv_large, (PE, SIMD) of the 9 matrix layers in graph order
FOLD_CNV_LARGE = [(16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (5, 1)]
CNV_BOUND_CYCLES = 32768  # the slowest layers at fold_cnv_large (FC 256->512 and 512->512)

# (in channels, out channels, max pool after it)
CONVS = [(3, 64, False), (64, 64, True), (64, 128, False), (128, 128, True), (128, 256, False), (256, 256, False)]
FCS = [(256, 512), (512, 512), (512, 10)]
UINT8 = DType(8, False)


def _thresholds(rng, ch: int, mw: int, in_dtype) -> np.ndarray:
    """One threshold per channel (bipolar output) inside the accumulator's range, so outputs vary."""
    if in_dtype.bipolar:
        return rng.integers(-mw // 4, mw // 4 + 1, size=(ch, 1)) * 2  # even: XNOR sums have MW's parity
    return rng.integers(-mw * 64, mw * 64 + 1, size=(ch, 1))


def cnv_layers(seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    layers, hw, in_dt = [], 32, UINT8
    n_swg = n_pool = n_mvau = 0
    for cin, cout, pool in CONVS:
        layers.append(SlidingWindow(f"SWG_{n_swg}", in_dt, (hw, hw), cin, (3, 3)))
        n_swg += 1
        hw -= 2
        w = conv_weights_to_window_order(rng.choice([-1, 1], size=(cout, cin, 3, 3)))
        layers.append(MVAU(f"MVAU_{n_mvau}", in_dt, BIPOLAR, w, _thresholds(rng, cout, w.shape[1], in_dt), BIPOLAR,
                           num_vectors=hw * hw, spatial=(hw, hw)))
        n_mvau += 1
        in_dt = BIPOLAR
        if pool:
            layers.append(SlidingWindow(f"SWG_{n_swg}", BIPOLAR, (hw, hw), cout, (2, 2), stride=(2, 2)))
            n_swg += 1
            hw //= 2
            layers.append(Pool(f"Pool_{n_pool}", BIPOLAR, BIPOLAR, (hw, hw), 4, cout))
            n_pool += 1
    for i, (fin, fout) in enumerate(FCS):
        w = rng.choice([-1, 1], size=(fout, fin))
        last = i == len(FCS) - 1
        thr = None if last else _thresholds(rng, fout, fin, BIPOLAR)
        out_dt = DType(11, True) if last else BIPOLAR
        layers.append(MVAU(f"MVAU_{n_mvau}", BIPOLAR, BIPOLAR, w, thr, out_dt))
        n_mvau += 1
    return layers


def cnv_graph(seed: int = 0, board: str = "pynq-z2"):
    return handmade_graph(cnv_layers(seed), input_shape=[1, 32, 32, 3], board=board)


def matrix_layers(layers) -> list:
    return [lay for lay in layers if lay.op in ("MVAU", "VVAU")]


def fold_cnv_large_file(layer_names) -> dict:
    """FOLD.json contents setting fold_cnv_large on the 9 matrix layers named (graph order)."""
    assert len(layer_names) == len(FOLD_CNV_LARGE), layer_names
    return {n: {"PE": pe, "SIMD": simd} for n, (pe, simd) in zip(layer_names, FOLD_CNV_LARGE)}
