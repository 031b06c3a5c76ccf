// hwgen_rom: a read-only memory loaded with $readmemh (weights, thresholds) (static Verilog-2005, shipped with
// hwgen and copied into OUT/rtl; one module, parameterized per instance).
//
// Parameters
//   WIDTH      bits of a word (>= 1)
//   DEPTH      words (>= 2; a one-word ROM is a constant, which hwgen writes as a wire so synthesis folds it)
//   INIT_FILE  $readmemh file, one hex word per line, read relative to the tool's working directory
//   STYLE      rom_style attribute: "auto" (none: the tool decides), "block", "distributed" or "logic"
//              (hwgen.layers.roms.rom_style decides)
//   REG_OUT    1: data is registered, loaded from addr when en (a block RAM's registered read);
//              2: two cycles from addr to data: STYLE "block", the block RAM's read and its output register (its
//              DO register); else (a ROM yosys builds in logic) addr registered, then the word, so the decode
//              starts at a flip-flop of its own instead of sharing a cycle with the caller's address counter
//              (yosys otherwise moves a word register in front of the decode);
//              0: data = the word at addr combinationally (en unused)
module hwgen_rom #(
  parameter WIDTH = 8,
  parameter DEPTH = 2,
  parameter INIT_FILE = "INIT_FILE_not_set",
  parameter [8 * 11 - 1:0] STYLE = "auto",
  parameter REG_OUT = 1
) (
  input  wire ap_clk,
  input  wire en,
  input  wire [((DEPTH > 1) ? $clog2(DEPTH) : 1) - 1:0] addr,
  output wire [WIDTH - 1:0] data
);

  // parameter check (Verilog-2005 has no elaboration-time $error: synthesis (yosys) stops here with the
  // message, a simulation at time 0)
  initial begin
    if (WIDTH < 1 || DEPTH < 2 || (REG_OUT != 0 && REG_OUT != 1 && REG_OUT != 2)
        || (STYLE != "auto" && STYLE != "block" && STYLE != "distributed" && STYLE != "logic")) begin
      $display("ERROR: hwgen_rom %m: illegal parameters WIDTH=%0d DEPTH=%0d STYLE=%s REG_OUT=%0d (need WIDTH >= 1, DEPTH >= 2, STYLE \"auto\", \"block\", \"distributed\" or \"logic\", REG_OUT 0, 1 or 2)",
               WIDTH, DEPTH, STYLE, REG_OUT);
      $finish;
    end
  end

  // the memory, with its rom_style attribute (an attribute value cannot be a parameter: one branch per style)
  localparam AW = (DEPTH > 1) ? $clog2(DEPTH) : 1;
  wire [AW - 1:0] ra;  // the address the memory reads
  generate
    if (REG_OUT == 2 && STYLE != "block") begin : g_areg
      // a flip-flop of its own: not the last stage of a shift register (SRL16E) the caller's address delay line
      // would otherwise become, whose clock-to-out is three times a flip-flop's (yosys xilinx_srl, Vivado)
      (* keep = "true", shreg_extract = "no" *) reg [AW - 1:0] a_r;
      always @(posedge ap_clk) begin
        if (en) a_r <= addr;
      end
      assign ra = a_r;
    end else begin : g_anoreg
      assign ra = addr;
    end
  endgenerate

  wire [WIDTH - 1:0] word;
  generate
    if (STYLE == "block") begin : g_block
      (* rom_style = "block" *) reg [WIDTH - 1:0] mem [0:DEPTH - 1];
      initial $readmemh(INIT_FILE, mem);
      assign word = mem[ra];
    end else if (STYLE == "distributed") begin : g_distributed
      (* rom_style = "distributed" *) reg [WIDTH - 1:0] mem [0:DEPTH - 1];
      initial $readmemh(INIT_FILE, mem);
      assign word = mem[ra];
    end else if (STYLE == "logic") begin : g_logic
      (* rom_style = "logic" *) reg [WIDTH - 1:0] mem [0:DEPTH - 1];
      initial $readmemh(INIT_FILE, mem);
      assign word = mem[ra];
    end else begin : g_auto
      reg [WIDTH - 1:0] mem [0:DEPTH - 1];
      initial $readmemh(INIT_FILE, mem);
      assign word = mem[ra];
    end
  endgenerate

  generate
    if (REG_OUT == 2 && STYLE == "block") begin : g_reg2
      reg [WIDTH - 1:0] q1, q2;
      always @(posedge ap_clk) begin
        if (en) begin
          q1 <= word;
          q2 <= q1;
        end
      end
      assign data = q2;
    end else if (REG_OUT != 0) begin : g_reg
      reg [WIDTH - 1:0] q;
      always @(posedge ap_clk) begin
        if (en) q <= word;
      end
      assign data = q;
    end else begin : g_comb
      assign data = word;
      wire unused_ctl = &{1'b0, ap_clk, en};
    end
  endgenerate

endmodule
