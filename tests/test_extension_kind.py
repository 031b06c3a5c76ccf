"""Proof of extension (issue 9): a new layer kind defined entirely in this file (a per-channel integer clamp: its
class, its HLS and RTL templates written to a temporary folder, its numba CPU kernel) goes into a built graph and
runs bit-exact on reference, cpu, csim and rtlsim, without any edit to hwgen. Width converters around it (PE 2
-> 5 -> out) are placed by the same graph transform as for the built-in kinds."""

from __future__ import annotations


import numba
import numpy as np
import pytest

from hwgen.build import write_build
from hwgen.dtypes import from_name
from hwgen.graph import HwGraph, chain_edges
from hwgen.layers import register
from hwgen.layers.base import ChannelLayer


HLS_TEMPLATE = """\
// clamp {{ name }} (a kind defined outside hwgen)
#ifndef HWGEN_LAYER_{{ name }}_HPP
#define HWGEN_LAYER_{{ name }}_HPP
#include "hwgen_common.hpp"

static void {{ name }}(hwgen::stream<ap_uint<{{ W }}> >& in0, hwgen::stream<ap_uint<{{ W }}> >& out0) {
#pragma HLS INLINE off
    static const int lo[{{ NF }}][{{ PE }}] = { {{ lo_rows | join(", ") }} };
    static const int hi[{{ NF }}][{{ PE }}] = { {{ hi_rows | join(", ") }} };
    for (int v = 0; v < {{ num_vectors }}; v++) {
        for (int f = 0; f < {{ NF }}; f++) {
#pragma HLS PIPELINE II=1
            const ap_uint<{{ W }}> x = in0.read();
            ap_uint<{{ W }}> y = 0;
            for (int p = 0; p < {{ PE }}; p++) {
#pragma HLS UNROLL
                {{ 'ap_int' if signed else 'ap_uint' }}<{{ B }}> e;
                e.range({{ B }} - 1, 0) = x.range(p * {{ B }} + {{ B }} - 1, p * {{ B }});
                int val = e.to_int();
                if (val < lo[f][p]) val = lo[f][p];
                if (val > hi[f][p]) val = hi[f][p];
                {{ 'ap_int' if signed else 'ap_uint' }}<{{ B }}> r = val;
                y.range(p * {{ B }} + {{ B }} - 1, p * {{ B }}) = r.range({{ B }} - 1, 0);
            }
            out0.write(y);
        }
    }
}
#endif
"""

RTL_TEMPLATE = """\
// clamp {{ module }} (a kind defined outside hwgen): one register stage, channel fold counter
module {{ module }} (
  input  wire ap_clk,
  input  wire ap_rst_n,
  input  wire [{{ TDW - 1 }}:0] in0_V_TDATA,
  input  wire in0_V_TVALID,
  output wire in0_V_TREADY,
  output wire [{{ TDW - 1 }}:0] out_V_TDATA,
  output wire out_V_TVALID,
  input  wire out_V_TREADY
);
  localparam [{{ NF * W - 1 }}:0] LO = {{ NF * W }}'h{{ lo_hex }};
  localparam [{{ NF * W - 1 }}:0] HI = {{ NF * W }}'h{{ hi_hex }};
  reg [{{ NFW - 1 }}:0] nf;
  reg [{{ W - 1 }}:0] q;
  reg qv;
  wire [{{ W - 1 }}:0] y;
  wire [{{ W - 1 }}:0] lo_w = LO[nf * {{ W }} +: {{ W }}];
  wire [{{ W - 1 }}:0] hi_w = HI[nf * {{ W }} +: {{ W }}];
  assign in0_V_TREADY = !qv || out_V_TREADY;
  genvar p;
  generate for (p = 0; p < {{ PE }}; p = p + 1) begin : g_ch
    wire [{{ B - 1 }}:0] x = in0_V_TDATA[p * {{ B }} +: {{ B }}];
    wire [{{ B - 1 }}:0] l = lo_w[p * {{ B }} +: {{ B }}];
    wire [{{ B - 1 }}:0] h = hi_w[p * {{ B }} +: {{ B }}];
{% if signed %}
    assign y[p * {{ B }} +: {{ B }}] = ($signed(x) < $signed(l)) ? l : (($signed(x) > $signed(h)) ? h : x);
{% else %}
    assign y[p * {{ B }} +: {{ B }}] = (x < l) ? l : ((x > h) ? h : x);
{% endif %}
  end endgenerate
  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      qv <= 1'b0;
      nf <= {{ NFW }}'d0;
    end else begin
      if (in0_V_TREADY) begin
        qv <= in0_V_TVALID;
        q <= y;
      end
      if (in0_V_TVALID && in0_V_TREADY) nf <= (nf == {{ NFW }}'d{{ NF - 1 }}) ? {{ NFW }}'d0 : nf + {{ NFW }}'d1;
    end
  end
  assign out_V_TDATA = {{ '{' }}{{ TDW - W }}'d0, q{{ '}' }};
  assign out_V_TVALID = qv;
endmodule
"""


@numba.njit(cache=False)
def _clamp_kernel(x, lo, hi, out):
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            v = x[n, c]
            out[n, c] = lo[c] if v < lo[c] else (hi[c] if v > hi[c] else v)


@register
class Clamp(ChannelLayer):
    """y[c] = min(max(x[c], lo[c]), hi[c]) per channel; PE channels per word, C/PE words per pixel."""

    op = "TestClamp"
    array_fields = ("lo", "hi")
    hls_template = "hls/test_clamp.hpp.j2"
    rtl_template = "rtl/test_clamp.v.j2"
    template_dirs: tuple = ()  # set by the fixture: the temporary folder holding the templates

    def __init__(self, name, dtype, lo, hi, **kw):
        kw.pop("in_dtype", None)
        kw.pop("out_dtype", None)
        super().__init__(name, dtype, dtype, **kw)
        self.lo, self.hi = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)

    @property
    def channels(self):
        return int(self.lo.shape[0])

    @property
    def out_features(self):
        return self.channels

    def execute(self, x):
        return np.clip(np.asarray(x, dtype=np.int64), self.lo, self.hi)

    def out_range(self):
        return self.lo.copy(), self.hi.copy()

    def resources(self, pe=None, simd=None, mem_style=None):
        pe = self.pe if pe is None else pe
        b = self.in_dtype.bits
        return {"luts": 3 * pe * b, "ffs": pe * b + 8, "bram18": 0, "uram": 0, "dsps": 0, "lutram": 0}

    def _tables(self):
        nf, pe = self.channels // self.pe, self.pe
        return self.lo.reshape(nf, pe), self.hi.reshape(nf, pe)

    def hls_context(self, lib):
        lo, hi = self._tables()
        row = lambda t: "{" + ", ".join(str(int(v)) for v in t) + "}"  # noqa: E731
        b = self.in_dtype.bits
        return dict(name=self.name, PE=self.pe, NF=self.channels // self.pe, B=b, W=self.pe * b,
                    signed=self.in_dtype.signed, num_vectors=self.num_vectors,
                    lo_rows=[row(r) for r in lo], hi_rows=[row(r) for r in hi])

    def rtl_context(self, lib, module):
        lo, hi = self._tables()
        b, nf, w = self.in_dtype.bits, self.channels // self.pe, self.pe * self.in_dtype.bits

        def hexof(t):  # fold f at bits [f*W, (f+1)*W), channel p of it at [p*B, (p+1)*B), two's complement
            v = 0
            for f in range(nf):
                for p in range(self.pe):
                    v |= (int(t[f, p]) & ((1 << b) - 1)) << (f * w + p * b)
            return f"{v:x}"

        return dict(module=module, PE=self.pe, NF=nf, NFW=max(1, (nf - 1).bit_length()), B=b, W=w,
                    TDW=(w + 7) // 8 * 8, signed=self.in_dtype.signed, lo_hex=hexof(lo), hi_hex=hexof(hi)), {}

    def cpu_kernel(self, lib):
        lo, hi = self.lo, self.hi

        class ClampKernel(lib.Kernel):
            kind = "clamp"

            def compute(self, x, out):
                _clamp_kernel(np.ascontiguousarray(x), lo, hi, out)

        return ClampKernel(self)

    def attrs(self):
        return {"C": self.channels}

    @classmethod
    def from_json(cls, d, arrays):
        return cls(d["name"], from_name(d["in_dtype"]), arrays["lo"], arrays["hi"],
                   num_vectors=d.get("num_vectors", 1), onnx_nodes=d.get("onnx_nodes", []), pe=d.get("pe", 1))


@pytest.fixture(scope="module")
def clamp_build(tmp_path_factory):
    tdir = tmp_path_factory.mktemp("clamp_templates")
    (tdir / "hls").mkdir()
    (tdir / "rtl").mkdir()
    (tdir / "hls" / "test_clamp.hpp.j2").write_text(HLS_TEMPLATE)
    (tdir / "rtl" / "test_clamp.v.j2").write_text(RTL_TEMPLATE)
    Clamp.template_dirs = (tdir,)
    from hwgen.build import compile_model

    from tests.conftest import tfc_model

    # TFC_2W2A: its last MatMul stays in hardware (power-of-two scales: qonnx's float32 sum is exact)
    g = compile_model(tfc_model("TFC_2W2A"), target_fps=1_000_000)
    last = g.layers[-1]  # MVAU_3: INT8 accumulators, 10 channels, PE 2
    assert last.out_dtype.signed and last.out_features == 10
    lo = np.array([-64, -20, -5, 0, 3, -64, -30, -1, -10, 2])
    hi = np.array([63, 20, 5, 9, 40, 0, 30, 1, 10, 63])
    g.layers.append(Clamp("Clamp_0", last.out_dtype, lo, hi, pe=5))
    g.edges = chain_edges(g.layers)
    out = tmp_path_factory.mktemp("clamp_build") / "out"
    s = write_build(g, out, log=lambda *a: None)
    return out, s


def test_clamp_kind_in_every_emitter(clamp_build):
    out, s = clamp_build
    names = [st["name"] for st in s["streams"]]
    # PE 2 -> 5: two width converters (up to 10, then down to 5), then the clamp feeds out_V
    assert names[-4:] == ["MVAU_3__dwc_MVAU_3_Clamp_0", "dwc_MVAU_3_Clamp_0__dwc_MVAU_3_Clamp_0_1",
                          "dwc_MVAU_3_Clamp_0_1__Clamp_0", "Clamp_0__out"]
    assert "Clamp_0(dwc_MVAU_3_Clamp_0_1__Clamp_0, Clamp_0__out);" in (out / "hls" / "hwgen_top.cpp").read_text()
    assert (out / "rtl" / "hwgen_top_Clamp_0.v").is_file()
    assert HwGraph.load(out).layers[-1].op == "TestClamp"


def test_clamp_kind_bit_exact_on_every_backend(clamp_build):
    from hwgen.runtime.accelerator import Accelerator

    out, _ = clamp_build
    from tests.conftest import load_mnist

    x = load_mnist(150)[0]
    ref = Accelerator(out, backend="reference")
    g = ref.graph
    q = g.head_ints(x)
    want = ref.execute_ints(q)
    # the clamp really runs: the reference is the built-in layers followed by np.clip
    pre = q
    for lay in g.layers[:-1]:
        pre = lay.execute(pre)
    np.testing.assert_array_equal(want, np.clip(pre, g.layers[-1].lo, g.layers[-1].hi))
    assert np.any(pre != want)
    y_ref = ref.execute(x)
    for be in ("cpu", "csim", "rtlsim"):
        acc = Accelerator(out, backend=be)
        np.testing.assert_array_equal(acc.execute_ints(q), want, err_msg=be)
        np.testing.assert_array_equal(acc.execute(x), y_ref, err_msg=be)
