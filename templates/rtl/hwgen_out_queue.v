// hwgen_out_queue: the 2-word output queue (skid buffer) that ends an hwgen block's pipeline (static
// Verilog-2005, shipped with hwgen and copied into OUT/rtl; one module, parameterized per instance).
//
// The block's pipeline advances while the queue is not full (in_ready, from registers only) and offers a word
// with in_valid; a word is taken when in_valid && in_ready. Two entries let a full-rate stream run at one word
// per cycle while in_ready never depends on out_V_TREADY combinationally (the block's in0_V_TREADY can be
// in_ready itself). A word reaches out_V one cycle after it is taken.
//
// Parameters
//   WIDTH  data bits of a word (>= 1)
//   TDW    TDATA bits of out_V (>= WIDTH; the padding is zero)
// Synchronous active-low reset ap_rst_n empties the queue.
module hwgen_out_queue #(
  parameter WIDTH = 8,
  parameter TDW = 8
) (
  input  wire ap_clk,
  input  wire ap_rst_n,
  input  wire [WIDTH - 1:0] in_data,
  input  wire in_valid,
  output wire in_ready,
  output wire in_ready_next,  // in_ready's next value (the D of its register): for a block that registers a copy
  output wire [TDW - 1:0] out_V_TDATA,
  output wire out_V_TVALID,
  input  wire out_V_TREADY
);

  // parameter check (Verilog-2005 has no elaboration-time $error: synthesis (yosys) stops here with the
  // message, a simulation at time 0)
  initial begin
    if (WIDTH < 1 || TDW < WIDTH) begin
      $display("ERROR: hwgen_out_queue %m: illegal parameters WIDTH=%0d TDW=%0d (need WIDTH >= 1, TDW >= WIDTH)",
               WIDTH, TDW);
      $finish;
    end
  end

  reg [1:0] qcnt;
  reg [WIDTH - 1:0] q0, q1;
  // in_ready == (qcnt != 2), kept in its own register (computed from the next count) so that the block's
  // enable, which reaches every pipeline register, starts at a flip-flop and not behind a LUT
  reg rdy;
  assign in_ready = rdy;
  wire push = in_valid && in_ready;
  wire pop = (qcnt != 2'd0) && out_V_TREADY;
  wire [1:0] qnext = (push && !pop) ? qcnt + 2'd1 : (pop && !push) ? qcnt - 2'd1 : qcnt;
  always @(posedge ap_clk) begin
    if (push && (qcnt == 2'd0 || (pop && qcnt == 2'd1))) q0 <= in_data;
    else if (pop) q0 <= q1;
    if (push && qcnt == 2'd1 && !pop) q1 <= in_data;  // (no push when qcnt == 2)
  end
  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      qcnt <= 2'd0;
      rdy <= 1'b1;
    end else begin
      qcnt <= qnext;
      rdy <= (qnext != 2'd2);
    end
  end
  assign in_ready_next = !ap_rst_n || (qnext != 2'd2);
  assign out_V_TVALID = (qcnt != 2'd0);
  generate
    if (TDW > WIDTH) begin : g_pad
      assign out_V_TDATA = {{(TDW - WIDTH){1'b0}}, q0};
    end else begin : g_nopad
      assign out_V_TDATA = q0;
    end
  endgenerate

endmodule
