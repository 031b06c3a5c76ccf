// hwgen_fifo: the AXI4-Stream FIFO on every stream of an hwgen design (static Verilog-2005, shipped with hwgen
// and copied into OUT/rtl; one module, parameterized per instance).
//
// Parameters
//   WIDTH     data bits of a word (>= 1)
//   TDW       TDATA bits (>= WIDTH; hwgen pads to whole bytes): the padding is ignored on input, zero on output
//   DEPTH     words the FIFO holds (>= 1); the "ram" style holds one word more, in its output register
//   STYLE     "srl": shift register (shift-register LUTs / flip-flops), the oldest word read combinationally;
//             "ram": an inferred RAM (LUT RAM or block RAM, the tool's choice by size) with a registered read.
//             hwgen.codegen.rtl.fifo_style decides (srl up to 4 words: hwgen.layers.fifo_cost.FIFO_SRL_MAX_DEPTH).
//   SIZING    1: simulation only, for FIFO sizing (hwgen.sim.fifo_sizing): DEPTH is the capacity and the depth in
//             use and the style are read at time 0 from CFG_FILE (hex: depth, then 1 for "ram" / 0 for "srl"),
//             so trials change depths without rebuilding the model. Cycle for cycle it behaves as the FIFO of
//             that depth and style (the "ram" style is the same circuit; "srl" the same stream timing).
//   CFG_FILE  the configuration file of SIZING = 1
//
// Handshake: one word in and one word out per cycle. in0_V_TREADY comes from registers only, except at
// STYLE "srl" with DEPTH 1, where a full FIFO takes a word in the cycle its word leaves (else it would run at half
// rate), so in0_V_TREADY depends on out_V_TREADY combinationally; use DEPTH >= 2 to decouple the two sides.
// Synchronous active-low reset ap_rst_n empties the FIFO; the stored words are not reset.
module hwgen_fifo #(
  parameter WIDTH = 8,
  parameter TDW = 8,
  parameter DEPTH = 2,
  parameter [8 * 8 - 1:0] STYLE = "srl",
  parameter SIZING = 0,
  parameter CFG_FILE = "fifo.depth"
) (
  input  wire ap_clk,
  input  wire ap_rst_n,
  input  wire [TDW - 1:0] in0_V_TDATA,
  input  wire in0_V_TVALID,
  output wire in0_V_TREADY,
  output wire [TDW - 1:0] out_V_TDATA,
  output wire out_V_TVALID,
  input  wire out_V_TREADY
);

  localparam AW = (DEPTH > 1) ? $clog2(DEPTH) : 1;  // address bits
  localparam CW = $clog2(DEPTH + 1);                 // count bits (0 .. DEPTH)
  localparam integer DEPTH_M1 = DEPTH - 1;
  localparam [CW - 1:0] FULL = DEPTH[CW - 1:0];
  localparam [AW - 1:0] LAST = DEPTH_M1[AW - 1:0];
  localparam [CW - 1:0] C1 = 1;
  localparam [AW - 1:0] A1 = 1;

  // parameter checks (Verilog-2005 has no elaboration-time $error: synthesis (yosys) stops here with the
  // message, a simulation at time 0; hwgen checks the values before it writes them)
  initial begin
    if (WIDTH < 1 || TDW < WIDTH || DEPTH < 1 || (STYLE != "srl" && STYLE != "ram") || (SIZING != 0 && SIZING != 1)) begin
      $display("ERROR: hwgen_fifo %m: illegal parameters WIDTH=%0d TDW=%0d DEPTH=%0d STYLE=%s SIZING=%0d (need WIDTH >= 1, TDW >= WIDTH, DEPTH >= 1, STYLE \"srl\" or \"ram\", SIZING 0 or 1)",
               WIDTH, TDW, DEPTH, STYLE, SIZING);
      $finish;
    end
  end

  wire [WIDTH - 1:0] in_data = in0_V_TDATA[WIDTH - 1:0];
  wire [WIDTH - 1:0] out_data;
  generate
    if (TDW > WIDTH) begin : g_pad
      wire unused_pad = &{1'b0, in0_V_TDATA[TDW - 1:WIDTH]};
      assign out_V_TDATA = {{(TDW - WIDTH){1'b0}}, out_data};
    end else begin : g_nopad
      assign out_V_TDATA = out_data;
    end
  endgenerate

  reg [CW - 1:0] cnt;  // words stored (the "ram" style's output register not included)
  wire push = in0_V_TVALID && in0_V_TREADY;

  generate
    if (STYLE == "srl" && SIZING == 0) begin : g_srl
      // a write shifts every entry up; the oldest word is entry cnt-1. Every signal the ports and the read see
      // comes from a register (not empty, not full, and rd = the oldest entry, kept beside cnt instead of
      // computed from it), so a stream's path is this FIFO's read mux plus its consumer's input logic.
      reg nonempty, notfull;
      if (DEPTH == 1) begin : g_d1
        assign in0_V_TREADY = notfull || out_V_TREADY;
      end else begin : g_dn
        assign in0_V_TREADY = notfull;
      end
      assign out_V_TVALID = nonempty;
      wire pop = nonempty && out_V_TREADY;

      reg [WIDTH - 1:0] sr [0:DEPTH - 1];
      integer i;
      always @(posedge ap_clk) begin
        if (push) begin
          sr[0] <= in_data;
          for (i = 1; i < DEPTH; i = i + 1) sr[i] <= sr[i - 1];
        end
      end
      localparam [CW - 1:0] FULL_M1 = DEPTH_M1[CW - 1:0];
      if (DEPTH > 1) begin : g_rd
        reg [AW - 1:0] rd;  // cnt - 1, 0 when empty
        always @(posedge ap_clk) begin
          if (!ap_rst_n) rd <= {AW{1'b0}};
          else if (push && !pop && nonempty) rd <= rd + A1;
          else if (pop && !push && cnt != C1) rd <= rd - A1;
        end
        assign out_data = sr[rd];
      end else begin : g_rd0
        assign out_data = sr[0];
      end

      always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
          cnt <= {CW{1'b0}};
          nonempty <= 1'b0;
          notfull <= 1'b1;
        end else if (push && !pop) begin
          cnt <= cnt + C1;
          nonempty <= 1'b1;
          notfull <= (cnt != FULL_M1);
        end else if (pop && !push) begin
          cnt <= cnt - C1;
          nonempty <= (cnt != C1);
          notfull <= 1'b1;
        end
      end
    end else begin : g_ring
      // a circular buffer: "ram" reads into an output register (a RAM with a registered read, one word
      // more in flight); with SIZING, "srl" timing reads the oldest word combinationally
      wire [CW - 1:0] lim;  // depth in use
      wire reg_out;         // 1: "ram" style
      if (SIZING) begin : g_cfg
        reg [CW - 1:0] cfg [0:1];
        initial $readmemh(CFG_FILE, cfg);
        assign lim = cfg[0];
        assign reg_out = cfg[1][0];
      end else begin : g_fixed
        assign lim = FULL;
        assign reg_out = 1'b1;
      end

      reg [WIDTH - 1:0] mem [0:DEPTH - 1];
      reg [AW - 1:0] wp, rp;
      reg [WIDTH - 1:0] oq;
      reg ov;
      reg nonempty, notfull;  // cnt != 0, cnt != lim: registered, so the ports' handshakes start at flip-flops
      wire [CW - 1:0] lim_m1 = lim - C1;
      assign in0_V_TREADY = notfull || (!reg_out && lim == C1 && out_V_TREADY);
      wire ren = reg_out && nonempty && (!ov || out_V_TREADY);   // into the output register
      wire pop = !reg_out && nonempty && out_V_TREADY;           // "srl" timing: straight out
      wire take = ren || pop;
      assign out_V_TVALID = reg_out ? ov : nonempty;
      assign out_data = reg_out ? oq : mem[rp];

      always @(posedge ap_clk) begin
        if (push) mem[wp] <= in_data;
      end
      always @(posedge ap_clk) begin
        if (ren) oq <= mem[rp];
      end
      always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
          wp <= {AW{1'b0}};
          rp <= {AW{1'b0}};
          cnt <= {CW{1'b0}};
          ov <= 1'b0;
          nonempty <= 1'b0;
          notfull <= 1'b1;
        end else begin
          if (push) wp <= (wp == LAST) ? {AW{1'b0}} : wp + A1;
          if (take) rp <= (rp == LAST) ? {AW{1'b0}} : rp + A1;
          if (push && !take) begin
            cnt <= cnt + C1;
            nonempty <= 1'b1;
            notfull <= (cnt != lim_m1);
          end else if (take && !push) begin
            cnt <= cnt - C1;
            nonempty <= (cnt != C1);
            notfull <= 1'b1;
          end
          if (ren) ov <= 1'b1;
          else if (out_V_TREADY) ov <= 1'b0;
        end
      end
    end
  endgenerate

endmodule
