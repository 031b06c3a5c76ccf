// hwgen_add_tree: a pipelined balanced adder tree (static Verilog-2005, shipped with hwgen and copied into OUT/rtl;
// one module, parameterized per instance). sum = leaf 0 + ... + leaf N-1, modulo 2^OW.
//
// The tree splits N leaves into a full left half of 2^(H-1) leaves (H = clog2(N)) and the rest, recursively (a
// module instantiating itself under a generate guard, as finn-rtllib's add trees and verilog-axis arbiters do),
// so every path has the same number of adder levels up to the shorter right branch, which is delayed to match.
// A node of height h (h adder levels above the leaves) has a register after it when h is a multiple of LPS: no
// register-to-register path crosses more than LPS adder levels (each one LUT + a carry chain). Node widths grow
// one bit per level (min(OW, LW + h)), as the exact sum needs, so synthesis builds no wider adders than that.
//
// Parameters
//   N        leaves (>= 1)
//   LW       bits of a leaf (>= 1)
//   LSIGNED  1: leaves are two's complement (sign-extended), 0: unsigned (zero-extended)
//   OW       bits of sum (>= 1)
//   LPS      adder levels per pipeline stage (>= 1)
//   ROOT     1 (the default, for users): sum is always registered; latency = (clog2(N) - 1) / LPS + 1 cycles
//            (1 for N <= 2 or LPS >= clog2(N)); 0: inside the recursion (sum registered iff clog2(N) % LPS == 0,
//            latency clog2(N) / LPS)
// The pipeline advances when en is high (stalls in place otherwise); no reset (the caller's valid bits have it).
module hwgen_add_tree #(
  parameter N = 2,
  parameter LW = 8,
  parameter LSIGNED = 1,
  parameter OW = 9,
  parameter LPS = 1,
  parameter ROOT = 1
) (
  input  wire ap_clk,
  input  wire en,
  input  wire [N * LW - 1:0] leaves,
  output wire [OW - 1:0] sum
);

  localparam H = (N > 1) ? $clog2(N) : 0;
  localparam AW = (LW + H < OW) ? LW + H : OW;  // width of this node's sum
  localparam REG = (ROOT != 0) || (H > 0 && H % LPS == 0);

  initial begin
    if (N < 1 || LW < 1 || OW < 1 || LPS < 1) begin
      $display("ERROR: hwgen_add_tree %m: illegal parameters N=%0d LW=%0d OW=%0d LPS=%0d", N, LW, OW, LPS);
      $finish;
    end
  end

  wire [AW - 1:0] s;  // this node's sum (AW bits, before the register)
  generate
    if (N == 1) begin : g_leaf
      if (LW >= AW) begin : g_trunc
        assign s = leaves[AW - 1:0];
        if (LW > AW) begin : g_unused
          wire unused_hi = &{1'b0, leaves[LW - 1:AW]};
        end
      end else begin : g_ext
        assign s = {{(AW - LW){LSIGNED != 0 ? leaves[LW - 1] : 1'b0}}, leaves};
      end
    end else begin : g_node
      localparam N1 = 1 << (H - 1);  // the full left half
      localparam N2 = N - N1;
      localparam H2 = (N2 > 1) ? $clog2(N2) : 0;
      localparam W1 = (LW + H - 1 < AW) ? LW + H - 1 : AW;
      localparam W2 = (LW + H2 < AW) ? LW + H2 : AW;
      localparam D = (H - 1) / LPS - H2 / LPS;  // cycles the right branch is delayed to meet the left one
      wire [W1 - 1:0] s1;
      wire [W2 - 1:0] s2;
      hwgen_add_tree #(.N(N1), .LW(LW), .LSIGNED(LSIGNED), .OW(W1), .LPS(LPS), .ROOT(0)) u_l (
        .ap_clk(ap_clk), .en(en), .leaves(leaves[N1 * LW - 1:0]), .sum(s1));
      hwgen_add_tree #(.N(N2), .LW(LW), .LSIGNED(LSIGNED), .OW(W2), .LPS(LPS), .ROOT(0)) u_r (
        .ap_clk(ap_clk), .en(en), .leaves(leaves[N * LW - 1:N1 * LW]), .sum(s2));
      wire [W2 - 1:0] s2d;
      if (D > 0) begin : g_delay
        reg [W2 - 1:0] dl [0:D - 1];
        integer i;
        always @(posedge ap_clk) begin
          if (en) begin
            dl[0] <= s2;
            for (i = 1; i < D; i = i + 1) dl[i] <= dl[i - 1];
          end
        end
        assign s2d = dl[D - 1];
      end else begin : g_nodelay
        assign s2d = s2;
      end
      wire [AW - 1:0] e1, e2;
      if (W1 < AW) begin : g_e1
        assign e1 = {{(AW - W1){LSIGNED != 0 ? s1[W1 - 1] : 1'b0}}, s1};
      end else begin : g_e1n
        assign e1 = s1;
      end
      if (W2 < AW) begin : g_e2
        assign e2 = {{(AW - W2){LSIGNED != 0 ? s2d[W2 - 1] : 1'b0}}, s2d};
      end else begin : g_e2n
        assign e2 = s2d;
      end
      assign s = e1 + e2;
    end
  endgenerate

  wire [AW - 1:0] q;
  generate
    if (REG) begin : g_reg
      reg [AW - 1:0] r;
      always @(posedge ap_clk) begin
        if (en) r <= s;
      end
      assign q = r;
    end else begin : g_comb
      assign q = s;
    end
    if (OW > AW) begin : g_out_ext
      assign sum = {{(OW - AW){LSIGNED != 0 ? q[AW - 1] : 1'b0}}, q};
    end else begin : g_out
      assign sum = q;
    end
    if (!REG && N == 1) begin : g_unused_ctl
      wire unused_ctl = &{1'b0, ap_clk, en};
    end
  endgenerate

endmodule
