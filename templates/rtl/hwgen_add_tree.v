// hwgen_add_tree: a pipelined balanced adder tree (static Verilog-2005, shipped with hwgen and copied into OUT/rtl;
// one module, parameterized per instance). sum = leaf 0 + ... + leaf N-1, modulo 2^OW.
//
// Level by level, flat in one module (a generate block per level, no recursion: a simulator with every signal
// public, as cocotb builds Verilator, gets a handful of scopes per tree instead of one per node). Level 0 holds
// the N leaves; node i of level l (l = 1 .. H, H = clog2(N)) is the sum of nodes 2i and 2i+1 of level l-1, or
// node 2i alone when it has no partner, so every leaf passes the same number of levels and registers (the tree is
// balanced by construction, no delay line). Level l has ceil(N / 2^l) nodes of min(OW, LW + l) bits, as the exact
// sum needs, so synthesis builds no wider adders than that. A level is registered when l + LOFF is a multiple of
// LPS and at the root: no register-to-register path crosses more than LPS adder levels (each one LUT + a carry
// chain), counting LOFF levels of logic the caller puts before the leaves in the first stage.
//
// Parameters
//   N        leaves (>= 1)
//   LW       bits of a leaf (>= 1)
//   LSIGNED  1: leaves are two's complement (sign-extended), 0: unsigned (zero-extended)
//   OW       bits of sum (>= 1)
//   LPS      adder levels per pipeline stage (>= 1)
//   LOFF     levels of logic before the leaves, in the first stage (0 .. LPS - 1; hwgen_mvu: 1 for its LUT partial
//            products, whose AND is a LUT level of its own)
//   ROOT     1 (the default): sum is always registered; latency = the registered levels among 1 .. clog2(N), the
//            root included, 1 for N = 1 (hwgen.layers.pipeline.tree_latency computes the same); 0: only the levels
//            l with l + LOFF a multiple of LPS
// The pipeline advances when en is high (stalls in place otherwise); no reset (the caller's valid bits have it).
module hwgen_add_tree #(
  parameter N = 2,
  parameter LW = 8,
  parameter LSIGNED = 1,
  parameter OW = 9,
  parameter LPS = 1,
  parameter LOFF = 0,
  parameter ROOT = 1
) (
  input  wire ap_clk,
  input  wire en,
  input  wire [N * LW - 1:0] leaves,
  output wire [OW - 1:0] sum
);

  localparam H = (N > 1) ? $clog2(N) : 0;

  // nodes and node bits of level l
  function integer nodes;
    input integer l;
    nodes = (N + (1 << l) - 1) >> l;
  endfunction
  function integer bits;
    input integer l;
    bits = (LW + l < OW) ? LW + l : OW;
  endfunction

  localparam WH = bits(H);

  initial begin
    if (N < 1 || LW < 1 || OW < 1 || LPS < 1 || LOFF < 0 || LOFF >= LPS + (LPS == 1)) begin
      $display("ERROR: hwgen_add_tree %m: illegal parameters N=%0d LW=%0d OW=%0d LPS=%0d LOFF=%0d", N, LW, OW, LPS,
               LOFF);
      $finish;
    end
  end

  genvar gl;
  generate
    // g_lvl[l].q: the nodes of level l, after the level's register if it has one
    for (gl = 0; gl <= H; gl = gl + 1) begin : g_lvl
      localparam NO = nodes(gl);
      localparam WO = bits(gl);
      localparam REG = (gl > 0 && (gl + LOFF) % LPS == 0) || (gl == H && ROOT != 0);
      wire [NO * WO - 1:0] q;
      reg [NO * WO - 1:0] s;
      if (gl == 0) begin : g_leaves
        // the leaves (their low OW bits when LW > OW: the sum is modulo 2^OW)
        integer i;
        always @* begin
          for (i = 0; i < N; i = i + 1) s[i * WO +: WO] = leaves[i * LW +: WO];
        end
        if (LW > OW) begin : g_unused
          wire unused_hi = &{1'b0, leaves};
        end
      end else begin : g_sum
        localparam NI = nodes(gl - 1);
        localparam WI = bits(gl - 1);
        wire [NI * WI - 1:0] x = g_lvl[gl - 1].q;
        // node i: node 2i + node 2i + 1, or + 0 when it has no partner (the index stays inside x)
        if (WO > WI) begin : g_grow
          // one bit wider: both extended by their sign (LSIGNED) or by 0
          reg [WI - 1:0] a, b;
          integer i;
          always @* begin
            for (i = 0; i < NO; i = i + 1) begin
              a = x[2 * i * WI +: WI];
              b = (2 * i + 1 < NI) ? x[((2 * i + 1 < NI) ? 2 * i + 1 : 2 * i) * WI +: WI] : {WI{1'b0}};
              s[i * WO +: WO] = {LSIGNED != 0 && a[WI - 1], a} + {LSIGNED != 0 && b[WI - 1], b};
            end
          end
        end else begin : g_cap
          // capped at OW bits: modulo 2^OW
          integer i;
          always @* begin
            for (i = 0; i < NO; i = i + 1)
              s[i * WO +: WO] = x[2 * i * WI +: WI]
                              + ((2 * i + 1 < NI) ? x[((2 * i + 1 < NI) ? 2 * i + 1 : 2 * i) * WI +: WI] : {WI{1'b0}});
          end
        end
      end
      if (REG) begin : g_reg
        reg [NO * WO - 1:0] r;
        always @(posedge ap_clk) begin
          if (en) r <= s;
        end
        assign q = r;
      end else begin : g_comb
        assign q = s;
      end
    end

    // the root, extended to OW bits
    wire [WH - 1:0] root = g_lvl[H].q;
    if (OW > WH) begin : g_out_ext
      assign sum = {{(OW - WH){LSIGNED != 0 ? root[WH - 1] : 1'b0}}, root};
    end else begin : g_out
      assign sum = root;
    end
    if (H == 0 && ROOT == 0) begin : g_unused_ctl
      wire unused_ctl = &{1'b0, ap_clk, en};
    end
  endgenerate

endmodule
