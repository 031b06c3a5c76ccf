"""The Alveo kernels (OUT/vivado/kernels: hwgen_idma -> hwgen_accel -> hwgen_odma) in C simulation with g++:
the host-buffer layout the README documents (one word per slot, slots back to back in 512-bit beats) goes
through the data movers and the accelerator bit-exactly, for narrow words (several per beat) and for words
wider than a beat."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pytest

from hwgen import packing
from hwgen.cli import main
from hwgen.codegen.hls import StreamIO
from hwgen.codegen.vivado import alveo_slot
from hwgen.graph import HwGraph
from hwgen.sim.csim import compile_shared
from tests.conftest import tfc_model

from tests.tools import require_module  # noqa: E402

require_module("hls4ml", "C simulation needs the ap_types headers (pip install hls4ml)")
ROOT = Path(__file__).resolve().parents[1]

HARNESS = r"""
#include <stdint.h>
#include <vector>
#include "kernels/hwgen_idma.cpp"
#include "kernels/hwgen_accel.cpp"
#include "kernels/hwgen_odma.cpp"

static void to_beats(const uint8_t* src, long n, std::vector<ap_uint<512> >& v) {
    for (long i = 0; i < (long)v.size(); i++)
        for (int b = 0; b < 64; b++) v[i].range(8 * b + 7, 8 * b) = (i * 64 + b < n) ? src[i * 64 + b] : 0;
}

extern "C" int hwgen_alveo_run(const uint8_t* in, long in_len, uint8_t* out, long out_len,
                               unsigned n_in_words, unsigned n_out_words) {
    std::vector<ap_uint<512> > ib((in_len + 63) / 64), ob((out_len + 63) / 64);
    to_beats(in, in_len, ib);
    hls::stream<ap_axiu<HARNESS_IN_BITS, 0, 0, 0> > s_in("idma_out");
    hls::stream<ap_axiu<HARNESS_OUT_BITS, 0, 0, 0> > s_out("accel_out");
    hwgen_idma(ib.data(), s_in, n_in_words);
    while (!s_in.empty()) hwgen_accel(s_in, s_out);  // free-running: one frame per call in C simulation
    hwgen_odma(ob.data(), s_out, n_out_words);
    if (!s_out.empty()) return 1;
    for (long i = 0; i < out_len; i++) out[i] = (uint8_t)ob[i / 64].range(8 * (i % 64) + 7, 8 * (i % 64)).to_uint();
    return 0;
}
"""


@pytest.mark.parametrize("model,extra", [
    ("tests/models/brevitas/mlp_w3a5_narrow.onnx", []),  # 40-bit in (8 per beat), 16-bit out (32 per beat)
    ("examples/digits/digits_mlp_w2a2.onnx", ["--target-fps", "1e8"]),  # 320-bit in: one word per beat
    ("TFC_1W1A", ["--target-fps", "2.5e8"]),  # 784-bit in (SIMD 784): two beats per word (needs ../shared)
])
def test_alveo_data_movers_and_accelerator_bit_exact(model, extra, tmp_path):
    out = tmp_path / "b"
    path = tfc_model(model) if model.startswith("TFC") else ROOT / model
    assert main(["build", str(path), "-o", str(out), "--board", "alveo-u50", "-q", *extra]) == 0
    g = HwGraph.load(out)
    d = g.design()  # the accelerator's outer streams
    i0 = i1 = StreamIO(d.input.elems_per_word, d.input.dtype, d.input.words_per_frame, d.output.elems_per_word,
                       d.output.dtype, d.output.words_per_frame)
    in_bytes, out_bytes = packing.padded_bytes(i0.in_bits), packing.padded_bytes(i1.out_bits)
    islot, oslot = alveo_slot(in_bytes), alveo_slot(out_bytes)
    src = tmp_path / "harness.cpp"
    src.write_text(HARNESS)
    so = compile_shared([src], tmp_path / "alveo.so", "g++", include_dirs=[out / "vivado", out / "hls"],
                        defines={"HARNESS_IN_BITS": in_bytes * 8, "HARNESS_OUT_BITS": out_bytes * 8})
    lib = ctypes.CDLL(str(so))
    lib.hwgen_alveo_run.restype = ctypes.c_int
    lib.hwgen_alveo_run.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p, ctypes.c_long,
                                    ctypes.c_uint, ctypes.c_uint]

    rng = np.random.default_rng(1)
    first = g.layers[0]
    n = 37
    dt = first.in_dtype
    q = rng.choice([-1, 1], (n, first.in_features)) if dt.bipolar else rng.integers(dt.min, dt.max + 1,
                                                                                     (n, first.in_features))
    words = packing.pack_bytes(q, i0.in_dtype, i0.in_elems)  # (n * in_words, in_bytes)
    assert words.shape == (n * i0.in_words, in_bytes)
    slots = np.zeros((words.shape[0], islot.bytes), np.uint8)
    slots[:, :in_bytes] = words
    n_out = n * i1.out_words
    res = np.zeros(n_out * oslot.bytes, np.uint8)
    rc = lib.hwgen_alveo_run(slots.ctypes.data, slots.size, res.ctypes.data, res.size, words.shape[0], n_out)
    assert rc == 0
    if model.startswith("TFC"):
        assert islot.beats == 2 and in_bytes == 98
    got_words = res.reshape(n_out, oslot.bytes)
    assert not got_words[:, out_bytes:].any()  # slot padding stays zero
    got = packing.unpack_bytes(got_words[:, :out_bytes], i1.out_dtype, i1.out_elems).reshape(n, -1)
    want = q
    for layer in g.layers:
        want = layer.execute(want)
    np.testing.assert_array_equal(got, want)
