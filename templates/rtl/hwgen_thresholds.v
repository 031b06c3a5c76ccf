// hwgen_thresholds: pipelined multi-threshold activation of PE elements (static Verilog-2005, shipped with hwgen
// and copied into OUT/rtl; one module, parameterized per instance).
//
// act[p] = BASE + (number of the NT thresholds thr[p * NT + t] that x[p] reaches, x >= t), modulo 2^OB, all
// values TB-bit two's complement. The compares are registered (one TB-bit carry chain per stage), then counted by
// hwgen_add_tree (a register every LPS adder levels and at its root); the BASE add follows the root's register in
// the caller's output stage (an OB-bit adder, the same cycle as the caller's output queue write).
// Latency: 1 + hwgen.layers.pipeline.tree_latency(NT, LPS) cycles of en (hwgen.layers.pipeline.threshold_latency),
// x and thr presented together.
//
// Parameters
//   PE    elements (>= 1)
//   NT    thresholds per element (>= 1)
//   TB    bits of x and of a threshold (>= 1)
//   OB    bits of act (>= 1; 2^OB > NT unless the caller means the count modulo 2^OB)
//   BASE  constant added to the count, modulo 2^OB (the output type's lowest value's pattern)
//   LPS   adder levels per pipeline stage of the count tree (>= 1)
// The pipeline advances when en is high (stalls in place otherwise); no reset (the caller's valid bits have it).
module hwgen_thresholds #(
  parameter PE = 1,
  parameter NT = 1,
  parameter TB = 8,
  parameter OB = 1,
  parameter BASE = 0,  // (an unsized integer: its low OB bits count)
  parameter LPS = 1
) (
  input  wire ap_clk,
  input  wire en,
  input  wire [PE * TB - 1:0] x,
  input  wire [PE * NT * TB - 1:0] thr,
  output wire [PE * OB - 1:0] act
);

  initial begin
    if (PE < 1 || NT < 1 || TB < 1 || OB < 1 || LPS < 1) begin
      $display("ERROR: hwgen_thresholds %m: illegal parameters PE=%0d NT=%0d TB=%0d OB=%0d LPS=%0d", PE, NT, TB, OB,
               LPS);
      $finish;
    end
  end

  localparam [31:0] BASE32 = BASE;
  wire [OB - 1:0] BASE_OB = BASE32[OB - 1:0];
  genvar gp;
  generate
    for (gp = 0; gp < PE; gp = gp + 1) begin : g_pe
      wire [TB - 1:0] xp = x[gp * TB +: TB];
      reg [NT - 1:0] ge;
      integer t;
      always @(posedge ap_clk) begin
        if (en) begin
          for (t = 0; t < NT; t = t + 1)
            ge[t] <= ($signed(xp) >= $signed(thr[(gp * NT + t) * TB +: TB]));
        end
      end
      wire [OB - 1:0] cnt;
      hwgen_add_tree #(.N(NT), .LW(1), .LSIGNED(0), .OW(OB), .LPS(LPS))
        u_cnt (.ap_clk(ap_clk), .en(en), .leaves(ge), .sum(cnt));
      assign act[gp * OB +: OB] = cnt + BASE_OB;
    end
  endgenerate

endmodule
