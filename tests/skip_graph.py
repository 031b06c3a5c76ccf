"""A skip connection made by hand, for the simulators: in0 -> Fork_0 -> Join_0 (short branch, direct) and
Fork_0 -> Rev_0 -> Join_0 (long branch), Join_0 -> out.

Rev_0 (ReverseFrame, defined here) reads a whole frame before it emits its first word (it sends the frame's words
in reverse order), so the short branch's FIFO (stream Fork_0__Join_0) must hold about a frame: with the kinds'
2-word rule the design deadlocks, which is what the watchdog must name. Fork / EvenOdd are tests/test_dag.py's
kinds; their templates and Rev_0's are written into a test's temporary directory by `use_templates`.
"""

from __future__ import annotations

import numpy as np

from hwgen.graph import Edge
from hwgen.layers import register
from tests.handmade import handmade_graph
from tests.test_dag import HLS_EVENODD, HLS_FORK, RTL_EVENODD, RTL_FORK, EvenOdd, Fork, _Elementwise

SHORT = "Fork_0__Join_0"  # the short branch's stream

HLS_REVERSE = """\
#ifndef HWGEN_LAYER_{{ name }}_HPP
#define HWGEN_LAYER_{{ name }}_HPP
#include "hwgen_common.hpp"
static void {{ name }}(hwgen::stream<ap_uint<{{ W }}> >& in0, hwgen::stream<ap_uint<{{ W }}> >& out0) {
#pragma HLS INLINE off
    ap_uint<{{ W }}> buf[{{ words }}];
    for (int i = 0; i < {{ words }}; i++) buf[i] = in0.read();
    for (int i = {{ words }} - 1; i >= 0; i--) out0.write(buf[i]);
}
#endif
"""

RTL_REVERSE = """\
module {{ module }} (
  input  wire ap_clk, input wire ap_rst_n,
  input  wire [{{ TDW - 1 }}:0] in0_V_TDATA, input wire in0_V_TVALID, output wire in0_V_TREADY,
  output wire [{{ TDW - 1 }}:0] out_V_TDATA, output wire out_V_TVALID, input wire out_V_TREADY
);
  // fill the whole frame, then drain it last word first (no double buffer: 2 x {{ words }} cycles per frame)
  reg [{{ TDW - 1 }}:0] mem [0:{{ words - 1 }}];
  reg [{{ AW - 1 }}:0] ptr;
  reg draining;
  assign in0_V_TREADY = !draining;
  assign out_V_TVALID = draining;
  assign out_V_TDATA = mem[ptr];
  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      ptr <= {{ AW }}'d0;
      draining <= 1'b0;
    end else if (!draining && in0_V_TVALID) begin
      mem[ptr] <= in0_V_TDATA;
      if (ptr == {{ AW }}'d{{ words - 1 }}) draining <= 1'b1;
      else ptr <= ptr + {{ AW }}'d1;
    end else if (draining && out_V_TREADY) begin
      if (ptr == {{ AW }}'d0) draining <= 1'b0;
      else ptr <= ptr - {{ AW }}'d1;
    end
  end
endmodule
"""


@register
class ReverseFrame(_Elementwise):
    """Reads a whole frame, then emits its words (PE channels each) in reverse order."""

    op = "TestReverseFrame"
    hls_template = "hls/test_reverse.hpp.j2"
    rtl_template = "rtl/test_reverse.v.j2"

    def execute(self, x):
        n = len(x)
        words = np.asarray(x).reshape(n, -1, self.pe)
        return words[:, ::-1, :].reshape(np.shape(x)).copy()

    def cycles(self, pe=None, simd=None):
        return 2 * super().cycles(pe, simd)

    def rtl_context(self, lib, module):
        ctx, files = super().rtl_context(lib, module)
        return dict(ctx, AW=max(1, (ctx["words"] - 1).bit_length())), files


def use_templates(tdir) -> None:
    """Write the templates of Fork, EvenOdd and ReverseFrame into tdir and point the kinds at it."""
    from pathlib import Path

    tdir = Path(tdir)
    for sub, name, text in [("hls", "test_fork.hpp.j2", HLS_FORK), ("hls", "test_evenodd.hpp.j2", HLS_EVENODD),
                            ("hls", "test_reverse.hpp.j2", HLS_REVERSE), ("rtl", "test_fork.v.j2", RTL_FORK),
                            ("rtl", "test_evenodd.v.j2", RTL_EVENODD), ("rtl", "test_reverse.v.j2", RTL_REVERSE)]:
        (tdir / sub).mkdir(parents=True, exist_ok=True)
        (tdir / sub / name).write_text(text)
    Fork.template_dirs = EvenOdd.template_dirs = ReverseFrame.template_dirs = (tdir,)


def skip_graph(h: int = 4, w: int = 8, c: int = 8, pe: int = 4, short_depth: int | None = None):
    """The skip connection over (1, h, w, c) UINT4 frames, PE channels per word (h*w*c/pe words per frame);
    short_depth forces the depth of the short branch's FIFO."""
    from hwgen.dtypes import from_name

    dt, nv = from_name("UINT4"), h * w
    layers = [Fork("Fork_0", dt, c, pe=pe, num_vectors=nv, spatial=(h, w)),
              ReverseFrame("Rev_0", dt, c, pe=pe, num_vectors=nv, spatial=(h, w)),
              EvenOdd("Join_0", dt, c, pe=pe, num_vectors=nv, spatial=(h, w))]
    edges = [Edge(None, 0, "Fork_0", 0), Edge("Fork_0", 0, "Join_0", 0), Edge("Fork_0", 1, "Rev_0", 0),
             Edge("Rev_0", 0, "Join_0", 1), Edge("Join_0", 0, None, 0)]
    g = handmade_graph(layers, edges=edges, input_shape=[1, h, w, c])
    if short_depth is not None:
        g.fifo_depths = {SHORT: int(short_depth)}
    return g


def skip_reference(q, pe: int):
    """What the graph computes on integer frames q (n, features): even channels direct, odd ones from the
    word-reversed frame."""
    n = len(q)
    rev = np.asarray(q).reshape(n, -1, pe)[:, ::-1, :].reshape(n, -1)
    out = rev.copy()
    out[:, 0::2] = np.asarray(q)[:, 0::2]
    return out
