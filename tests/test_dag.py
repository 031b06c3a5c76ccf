"""The hardware graph is a DAG: a stream with two consumers goes through a fork node, two streams meet in a join
node. Both kinds are defined here (like tests/test_extension_kind.py): Fork (1 input, 2 outputs) and EvenOdd (2
inputs: channel c comes from input c % 2). The digits MLP gets a branch: MVAU_0 -> Fork -> (direct |
Thresholding) -> EvenOdd -> MVAU_1. Reference, csim and rtlsim agree bit for bit, and a swap of the two join
inputs would be seen (the thresholding branch differs from the direct one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwgen.build import compile_model, write_build
from hwgen.graph import Edge
from hwgen.layers import Thresholding, register
from hwgen.layers.base import ChannelLayer

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx"

HLS_FORK = """\
#ifndef HWGEN_LAYER_{{ name }}_HPP
#define HWGEN_LAYER_{{ name }}_HPP
#include "hwgen_common.hpp"
static void {{ name }}(hwgen::stream<ap_uint<{{ W }}> >& in0, hwgen::stream<ap_uint<{{ W }}> >& out0,
                       hwgen::stream<ap_uint<{{ W }}> >& out1) {
#pragma HLS INLINE off
    for (int i = 0; i < {{ words }}; i++) {
#pragma HLS PIPELINE II=1
        const ap_uint<{{ W }}> x = in0.read();
        out0.write(x);
        out1.write(x);
    }
}
#endif
"""

HLS_EVENODD = """\
#ifndef HWGEN_LAYER_{{ name }}_HPP
#define HWGEN_LAYER_{{ name }}_HPP
#include "hwgen_common.hpp"
static void {{ name }}(hwgen::stream<ap_uint<{{ W }}> >& in0, hwgen::stream<ap_uint<{{ W }}> >& in1,
                       hwgen::stream<ap_uint<{{ W }}> >& out0) {
#pragma HLS INLINE off
    for (int i = 0; i < {{ words }}; i++) {
#pragma HLS PIPELINE II=1
        const ap_uint<{{ W }}> a = in0.read();
        const ap_uint<{{ W }}> b = in1.read();
        out0.write((a & ap_uint<{{ W }}>("{{ even_mask }}", 16)) | (b & ~ap_uint<{{ W }}>("{{ even_mask }}", 16)));
    }
}
#endif
"""

RTL_FORK = """\
module {{ module }} (
  input  wire ap_clk, input wire ap_rst_n,
  input  wire [{{ TDW - 1 }}:0] in0_V_TDATA, input wire in0_V_TVALID, output wire in0_V_TREADY,
  output wire [{{ TDW - 1 }}:0] out0_V_TDATA, output wire out0_V_TVALID, input wire out0_V_TREADY,
  output wire [{{ TDW - 1 }}:0] out1_V_TDATA, output wire out1_V_TVALID, input wire out1_V_TREADY
);
  // a word leaves on both outputs in the same cycle (the FIFOs behind them absorb the difference)
  assign in0_V_TREADY = out0_V_TREADY && out1_V_TREADY;
  assign out0_V_TVALID = in0_V_TVALID && out1_V_TREADY;
  assign out1_V_TVALID = in0_V_TVALID && out0_V_TREADY;
  assign out0_V_TDATA = in0_V_TDATA;
  assign out1_V_TDATA = in0_V_TDATA;
endmodule
"""

RTL_EVENODD = """\
module {{ module }} (
  input  wire ap_clk, input wire ap_rst_n,
  input  wire [{{ TDW - 1 }}:0] in0_V_TDATA, input wire in0_V_TVALID, output wire in0_V_TREADY,
  input  wire [{{ TDW - 1 }}:0] in1_V_TDATA, input wire in1_V_TVALID, output wire in1_V_TREADY,
  output wire [{{ TDW - 1 }}:0] out_V_TDATA, output wire out_V_TVALID, input wire out_V_TREADY
);
  localparam [{{ TDW - 1 }}:0] EVEN = {{ TDW }}'h{{ even_mask }};
  assign out_V_TVALID = in0_V_TVALID && in1_V_TVALID;
  assign in0_V_TREADY = out_V_TREADY && in1_V_TVALID;
  assign in1_V_TREADY = out_V_TREADY && in0_V_TVALID;
  assign out_V_TDATA = (in0_V_TDATA & EVEN) | (in1_V_TDATA & ~EVEN);
endmodule
"""


class _Elementwise(ChannelLayer):
    """PE channels per word, no memory, no arithmetic of its own."""

    template_dirs: tuple = ()

    def __init__(self, name, dtype, channels, **kw):
        kw.pop("in_dtype", None)
        kw.pop("out_dtype", None)
        super().__init__(name, dtype, dtype, **kw)
        self.channels = int(channels)

    @property
    def out_features(self):
        return self.channels

    def resources(self, pe=None, simd=None, mem_style=None):
        return {"luts": 0, "ffs": 0, "bram18": 0, "uram": 0, "dsps": 0, "lutram": 0}

    def _ctx(self):
        w = self.pe * self.in_dtype.bits
        return dict(W=w, TDW=(w + 7) // 8 * 8, words=self.num_vectors * self.channels // self.pe)

    def hls_context(self, lib):
        return dict(self._ctx(), name=self.name, even_mask=self._even_mask())

    def rtl_context(self, lib, module):
        return dict(self._ctx(), module=module, even_mask=self._even_mask()), {}

    def _even_mask(self) -> str:
        b = self.in_dtype.bits
        m = sum(((1 << b) - 1) << (p * b) for p in range(0, self.pe, 2))  # PE even, so channel parity = p parity
        return f"{m:x}"

    def attrs(self):
        return {"C": self.channels}

    @classmethod
    def from_json(cls, d, arrays):
        from hwgen.dtypes import from_name

        return cls(d["name"], from_name(d["in_dtype"]), d["attrs"]["C"], num_vectors=d.get("num_vectors", 1),
                   pe=d.get("pe", 1))


@register
class Fork(_Elementwise):
    op = "TestFork"
    n_outputs = 2
    hls_template = "hls/test_fork.hpp.j2"
    rtl_template = "rtl/test_fork.v.j2"

    def execute(self, x):
        return x, x.copy()


@register
class EvenOdd(_Elementwise):
    op = "TestEvenOdd"
    n_inputs = 2
    hls_template = "hls/test_evenodd.hpp.j2"
    rtl_template = "rtl/test_evenodd.v.j2"

    def execute(self, a, b):
        out = np.array(b, dtype=np.int64, copy=True)
        out[..., 0::2] = np.asarray(a)[..., 0::2]
        return out


@pytest.fixture(scope="module")
def dag_build(tmp_path_factory):
    tdir = tmp_path_factory.mktemp("dag_templates")
    for sub, name, text in [("hls", "test_fork.hpp.j2", HLS_FORK), ("hls", "test_evenodd.hpp.j2", HLS_EVENODD),
                            ("rtl", "test_fork.v.j2", RTL_FORK), ("rtl", "test_evenodd.v.j2", RTL_EVENODD)]:
        (tdir / sub).mkdir(exist_ok=True)
        (tdir / sub / name).write_text(text)
    Fork.template_dirs = EvenOdd.template_dirs = (tdir,)
    g = compile_model(MODEL, target_fps=1_000_000)
    m0, m1 = g.layers  # the last MatMul runs on the CPU (qonnx's float32 sum of it rounds)
    dt, c = m0.out_dtype, m0.out_features  # UINT2, 64 channels
    assert dt.name == "UINT2" and c % 4 == 0
    fork = Fork("Fork_0", dt, c, pe=4)
    inc = Thresholding("Inc_0", dt, np.tile([0, 1, 2], (c, 1)), dt, pe=2)  # x -> min(x + 1, 3)
    join = EvenOdd("Join_0", dt, c, pe=4)
    g.layers = [m0, fork, inc, join, m1]
    g.edges = [Edge(None, 0, "MVAU_0", 0), Edge("MVAU_0", 0, "Fork_0", 0), Edge("Fork_0", 0, "Join_0", 0),
               Edge("Fork_0", 1, "Inc_0", 0), Edge("Inc_0", 0, "Join_0", 1), Edge("Join_0", 0, "MVAU_1", 0),
               Edge("MVAU_1", 0, None, 0)]
    out = tmp_path_factory.mktemp("dag") / "out"
    s = write_build(g, out, log=lambda *a: None)
    return out, s


def test_dag_streams_and_tops(dag_build):
    from tests.test_one_design import tops_agree

    out, s = dag_build
    names = {st["name"]: st for st in tops_agree(out)}
    assert {"Fork_0_o1__dwc_Fork_0_Inc_0", "Fork_0__Join_0", "Inc_0__dwc_Inc_0_Join_0"} <= set(names)
    top = (out / "hls" / "hwgen_top.cpp").read_text()
    assert "Join_0(Fork_0__Join_0, dwc_Inc_0_Join_0__Join_0_i1, Join_0__dwc_Join_0_MVAU_1);" in top


def test_dag_bit_exact(dag_build):
    from hwgen.runtime.accelerator import Accelerator

    out, _ = dag_build
    ref = Accelerator(out, backend="reference")
    g = ref.graph
    x = np.load(ROOT / "examples" / "digits" / "digits_test.npz")["X_test"][:100].astype(np.float32)
    q = g.head_ints(x)
    want = ref.execute_ints(q)
    # the branch matters: the chain without it gives other results
    h = g.node("MVAU_0").execute(q)
    h2 = h.copy()
    h2[:, 1::2] = np.minimum(h[:, 1::2] + 1, 3)
    np.testing.assert_array_equal(want, g.node("MVAU_1").execute(h2))
    assert not np.array_equal(h2, h)
    for be in ("csim", "rtlsim"):
        np.testing.assert_array_equal(Accelerator(out, backend=be).execute_ints(q), want, err_msg=be)
