// hwgen_mvu: the pipelined matrix core of the MVAU and the VVAU (static Verilog-2005, shipped with hwgen and
// copied into OUT/rtl; one module, parameterized per instance, as finn-rtllib's mvu_vvu core serves both).
// mvau.v.j2 and vvau.v.j2 are thin wrappers that set its parameters (hwgen.codegen.rtl.mvau_context and
// hwgen.layers.vvau give them); semantics: kernels.mvau / kernels.vvau, bit-exact.
//
// Stream order. MVU (VVAU = 0): a vector is SF input words of SIMD elements, buffered and reused for the NF output
// folds; product (p, s) = x[s] * w[p*SIMD+s]; output word f = rows f*PE+p. VVU (VVAU = 1): an input word holds
// SIMD kernel positions x PE channels (element s*PE+p); product (p, s) = x[s*PE+p] * w[p*SIMD+s]; ORDER_WIN = 1:
// kernel position outer, channel fold inner (the NF partial sums live in an accumulator file), else a fold's SF
// words are consecutive. One word issued per cycle: SF*NF cycles per vector, whatever the pipeline depth.
//
// Pipeline (every stage advances while the 2-word output queue is not full (en) and stalls in place otherwise,
// so in0_V_TREADY comes from registers only):
//   1 issue: weight memory read (a block RAM's read; a logic ROM's address register), input word register (x1)
//   2 memory output register (a block RAM's DO register; a logic ROM's word register)              (x2, w2)
//   3 products: LUT products as partial-product leaves (an AND each, in the SIMD tree's first stage), or DSP48
//     with its A/B inputs from x2/w2 and M and P registers (DSP = 1: 2 stages), so a DSP never sits on a
//     combinational path; XNOR = 1: the xnor bits
//   4 SIMD sums: hwgen_add_tree per PE, a register every LPS adder levels (the LUT products' AND counted as one)
//     and at its root
//   5 accumulate (acc <= (first ? INIT : acc) + sum); the threshold memory is read 2 stages ahead so its output
//     is registered too
//   6 threshold compares registered (NT > 0), then the count of reached thresholds through an hwgen_add_tree
//   7 (base + count, or the accumulator resized to OB bits) -> the output queue (hwgen_out_queue)
// Latency (hwgen.layers.pipeline.matrix_latency computes the same): stages 1-2 (2) + DSP products (2) + the SIMD
// tree (its registered levels: SLAT) + accumulate (1) + [compares (1) + count tree ((clog2(NT) - 1) / LPS + 1)]
// + the queue (1) cycles from a fold's last word issued to its output word offered.
//
// Products up to 8 x 8 bits are built in LUTs from partial products (a sum synthesis maps to adders, never to a
// DSP, and marked use_dsp = "no" for Vivado); wider ones (DSP = 1) use the multiplier with the DSP48's registers.
// The caller's rule (hwgen.layers.cost.DSP_MIN_OPERAND_BITS) decides DSP; the cost model follows it.
//
// Parameters: PE, SIMD, SF, NF; IB, WB, OB element bits of input, weight, output; ACC accumulator bits (the
// exact result fits ACC signed bits; sums are modulo 2^ACC); IN_KIND, W_KIND: 0 unsigned, 1 signed, 2 bipolar
// (bit 1 = +1, 0 = -1); XNOR 1: in and w bipolar, XNOR-popcount; DSP; LPS adder levels per stage; VVAU,
// ORDER_WIN; W_CONST 1: one weight word, W_VALUE (no memory); else WEIGHT_FILE ($readmemh, SF*NF words of
// PE*SIMD*WB bits, element p*SIMD+s, in stream order) and W_STYLE (hwgen_rom STYLE); NT thresholds per row
// (0: none, the output is the accumulator sign-extended or truncated to OB bits), TB their bits, T_CONST /
// T_VALUE / THRESH_FILE / T_STYLE as for the weights (NF words of PE*NT*TB bits, element p*NT+t), BASE the
// OB-bit pattern added to the count; IN_TDW, OUT_TDW the TDATA widths (padding ignored / zero).
module hwgen_mvu #(
  parameter PE = 1,
  parameter SIMD = 1,
  parameter SF = 1,
  parameter NF = 1,
  parameter IB = 1,
  parameter WB = 1,
  parameter OB = 1,
  parameter ACC = 2,
  parameter IN_KIND = 2,
  parameter W_KIND = 2,
  parameter XNOR = 0,
  parameter DSP = 0,
  parameter LPS = 2,
  parameter VVAU = 0,
  parameter ORDER_WIN = 0,
  parameter W_CONST = 0,
  parameter [PE * SIMD * WB - 1:0] W_VALUE = 0,
  parameter WEIGHT_FILE = "WEIGHT_FILE_not_set",
  parameter [8 * 11 - 1:0] W_STYLE = "auto",
  parameter NT = 0,
  parameter TB = 1,
  parameter T_CONST = 0,
  parameter [PE * (NT > 0 ? NT : 1) * TB - 1:0] T_VALUE = 0,
  parameter THRESH_FILE = "THRESH_FILE_not_set",
  parameter [8 * 11 - 1:0] T_STYLE = "auto",
  parameter [OB - 1:0] BASE = 0,
  parameter IN_TDW = 8,
  parameter OUT_TDW = 8
) (
  input  wire ap_clk,
  input  wire ap_rst_n,
  input  wire [IN_TDW - 1:0] in0_V_TDATA,
  input  wire in0_V_TVALID,
  output wire in0_V_TREADY,
  output wire [OUT_TDW - 1:0] out_V_TDATA,
  output wire out_V_TVALID,
  input  wire out_V_TREADY
);

  localparam INW = (VVAU ? PE : 1) * SIMD * IB;  // input word bits
  localparam WW = PE * SIMD * WB;                // weight word bits
  localparam OUTW = PE * OB;
  localparam SFW = (SF > 1) ? $clog2(SF) : 1;
  localparam NFW = (NF > 1) ? $clog2(NF) : 1;
  localparam WD = SF * NF;                       // weight words
  localparam WAW = (WD > 1) ? $clog2(WD) : 1;
  localparam XS = (IN_KIND == 2) ? 2 : (IN_KIND == 1) ? IB : IB + 1;  // signed bits of an input, a weight
  localparam WS = (W_KIND == 2) ? 2 : (W_KIND == 1) ? WB : WB + 1;
  localparam PW = XS + WS;                                           // of a product
  localparam SW = XNOR ? ACC - 1 : ACC;                              // of a SIMD sum (popcount: mod 2^(ACC-1))
  localparam LWT = XNOR ? 1 : (PW < ACC ? PW : ACC);                 // of a tree leaf
  // LUT products: the selector is the operand with fewer significant bits (BIPOLAR: 2, +-1); its NPP bits
  // give NPP partial-product leaves, the top one negative (NEG) when it is signed
  localparam XBITS = (IN_KIND == 2) ? 2 : IB;
  localparam WBITS = (W_KIND == 2) ? 2 : WB;
  localparam SWAP = (XBITS < WBITS);
  localparam NPP = SWAP ? XBITS : WBITS;
  localparam NEG = SWAP ? (IN_KIND != 0) : (W_KIND != 0);
  localparam LUTP = !XNOR && !DSP;
  localparam NL = LUTP ? SIMD * NPP : SIMD;                          // tree leaves per PE
  // the LUT products' AND is a level of logic before the SIMD tree's leaves: its first stage has one adder level
  // less (hwgen_add_tree LOFF)
  localparam LOFF = LUTP ? 1 : 0;
  localparam HS = (NL > 1) ? $clog2(NL) : 0;
  localparam SLAT = (NL > 1) ? (HS + LOFF) / LPS - LOFF / LPS + ((HS + LOFF) % LPS != 0) : 1;  // SIMD tree latency
  localparam PLAT = (DSP && !XNOR) ? 2 : 0;                          // product stages before the tree
  localparam SP = 2 + PLAT + SLAT;                                   // stage of the SIMD sums (psum)
  localparam NTT = (NT > 0) ? NT : 1;
  localparam TW = PE * NTT * TB;
  localparam TLAT = (NTT > 1) ? ($clog2(NTT) - 1) / LPS + 1 : 1;     // count tree latency
  // accumulator start: XNOR -MW (acc = 2 * popcount - MW), LUT products with a negative partial product +MW
  // (one +1 per product), else 0; modulo 2^ACC
  localparam integer MWI = SF * SIMD;
  localparam [63:0] MW64 = {32'd0, MWI};
  localparam [ACC - 1:0] MWA = MW64[ACC - 1:0];
  localparam [ACC - 1:0] INIT = XNOR ? {ACC{1'b0}} - MWA : (LUTP && NEG) ? MWA : {ACC{1'b0}};
  localparam ACCF = (VVAU && ORDER_WIN && NF > 1);                   // accumulator file (one sum per fold)

  initial begin
    if (PE < 1 || SIMD < 1 || SF < 1 || NF < 1 || ACC < 2 || LPS < 1 || (XNOR && (IN_KIND != 2 || W_KIND != 2))
        || IN_TDW < INW || OUT_TDW < OUTW || (W_CONST && WD != 1) || (T_CONST && NF != 1)) begin
      $display("ERROR: hwgen_mvu %m: illegal parameters PE=%0d SIMD=%0d SF=%0d NF=%0d ACC=%0d LPS=%0d XNOR=%0d",
               PE, SIMD, SF, NF, ACC, LPS, XNOR);
      $finish;
    end
  end

  wire [INW - 1:0] in_data = in0_V_TDATA[INW - 1:0];
  generate
    if (IN_TDW > INW) begin : g_pad
      wire unused_pad = &{1'b0, in0_V_TDATA[IN_TDW - 1:INW]};
    end
  endgenerate

  // ---------------------------------------------------------------- issue: counters (and the MVU's input buffer)
  wire en;  // the output queue is not full: every stage advances
  reg [SFW - 1:0] sf;  // input word of the vector (MVU) / kernel tile (VVU)
  reg [NFW - 1:0] nf;  // output fold
  reg [WAW - 1:0] wa;  // weight word, in stream order
  reg nf_zero;  // nf == 0, registered
  wire need_in = VVAU ? 1'b1 : nf_zero;
  wire issue = en && (!need_in || in0_V_TVALID);
  localparam integer SF_M1 = SF - 1, NF_M1 = NF - 1, WD_M1 = WD - 1, ONE = 1;
  localparam [SFW - 1:0] SF_LAST = SF_M1[SFW - 1:0], SF_ONE = ONE[SFW - 1:0];
  localparam [NFW - 1:0] NF_LAST = NF_M1[NFW - 1:0], NF_ONE = ONE[NFW - 1:0];
  localparam [WAW - 1:0] WA_LAST = WD_M1[WAW - 1:0], WA_ONE = ONE[WAW - 1:0];
  // in0_V_TREADY == en && need_in, from a flip-flop of its own: en reaches every pipeline register, and the
  // producer's handshake logic should not wait for that net
  wire en_next;
  wire nf_zero_next = (issue && !(VVAU && ORDER_WIN) && sf == SF_LAST) ? (nf == NF_LAST) : nf_zero;
  reg tready;
  always @(posedge ap_clk) begin
    tready <= !ap_rst_n || (en_next && (VVAU ? 1'b1 : nf_zero_next));
  end
  assign in0_V_TREADY = tready;
  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      sf <= {SFW{1'b0}};
      nf <= {NFW{1'b0}};
      nf_zero <= 1'b1;
      wa <= {WAW{1'b0}};
    end else if (issue) begin
      wa <= (wa == WA_LAST) ? {WAW{1'b0}} : wa + WA_ONE;
      if (VVAU && ORDER_WIN) begin
        if (nf == NF_LAST) begin
          nf <= {NFW{1'b0}};
          sf <= (sf == SF_LAST) ? {SFW{1'b0}} : sf + SF_ONE;
        end else begin
          nf <= nf + NF_ONE;
        end
      end else if (sf == SF_LAST) begin
        sf <= {SFW{1'b0}};
        nf <= (nf == NF_LAST) ? {NFW{1'b0}} : nf + NF_ONE;
        nf_zero <= (nf == NF_LAST);
      end else begin
        sf <= sf + SF_ONE;
      end
    end
  end

  wire [INW - 1:0] x_sel;
  generate
    if (!VVAU && NF > 1) begin : g_ibuf
      // the vector is reused for NF folds: kept in a register file while folds 1.. NF-1 read it
      reg [INW - 1:0] ibuf [0:SF - 1];
      always @(posedge ap_clk) begin
        if (in0_V_TVALID && tready) ibuf[sf] <= in_data;  // (= issue && need_in, without the enable's fanout)
      end
      assign x_sel = need_in ? in_data : ibuf[sf];
    end else begin : g_noibuf
      assign x_sel = in_data;
    end
  endgenerate

  // ---------------------------------------------------------------- stages 1-2: memory read, registered output
  wire [WW - 1:0] w2;  // stage 2's weight word
  generate
    if (W_CONST) begin : g_wconst
      // one weight word (fully unrolled): a constant, which synthesis folds into the products
      assign w2 = W_VALUE;
      wire unused_wa = &{1'b0, wa};
    end else begin : g_wrom
      // two cycles: stage 2's word (hwgen_rom REG_OUT 2: a block RAM's read and output register, or a logic
      // ROM's address register and word register)
      hwgen_rom #(.WIDTH(WW), .DEPTH(WD), .INIT_FILE(WEIGHT_FILE), .STYLE(W_STYLE), .REG_OUT(2))
        u_wrom (.ap_clk(ap_clk), .en(en), .addr(wa), .data(w2));
    end
  endgenerate
  reg [INW - 1:0] x1, x2;
  always @(posedge ap_clk) begin
    if (en) begin
      x1 <= x_sel;
      x2 <= x1;
    end
  end

  // control delay line: stage k (1 .. SP) of the pipeline holds valid vs[k] (reset) and {first, last, nf} at
  // cd[(k - 1) * CD +: CD]
  localparam CD = 2 + NFW;
  reg [SP:1] vs;
  reg [CD * SP - 1:0] cd;
  always @(posedge ap_clk) begin
    if (!ap_rst_n) vs <= {SP{1'b0}};
    else if (en) vs <= {vs[SP - 1:1], issue};
  end
  always @(posedge ap_clk) begin
    if (en) cd <= {cd[CD * (SP - 1) - 1:0], sf == {SFW{1'b0}}, sf == SF_LAST, nf};
  end

  // ---------------------------------------------------------------- stages 3-4: products and SIMD sums
  wire [PE * SW - 1:0] psum;  // at stage SP
  genvar gp, gs, gb;
  generate
    for (gp = 0; gp < PE; gp = gp + 1) begin : g_pe
      wire [NL * LWT - 1:0] leaves;
      for (gs = 0; gs < SIMD; gs = gs + 1) begin : g_simd
        wire [IB - 1:0] xr = x2[(VVAU ? gs * PE + gp : gs) * IB +: IB];
        wire [WB - 1:0] wr = w2[(gp * SIMD + gs) * WB +: WB];
        if (XNOR) begin : g_xnor
          // BIPOLAR x BIPOLAR: product +1 iff the bits are equal; the tree counts them (popcount)
          assign leaves[gs] = ~(xr[0] ^ wr[0]);
        end else begin : g_mul
          wire [XS - 1:0] xs;
          wire [WS - 1:0] ws;
          if (IN_KIND == 2) begin : g_xb
            assign xs = xr[0] ? 2'b01 : 2'b11;
          end else if (IN_KIND == 1) begin : g_xsg
            assign xs = xr;
          end else begin : g_xu
            assign xs = {1'b0, xr};
          end
          if (W_KIND == 2) begin : g_wb
            assign ws = wr[0] ? 2'b01 : 2'b11;
          end else if (W_KIND == 1) begin : g_wsg
            assign ws = wr;
          end else begin : g_wu
            assign ws = {1'b0, wr};
          end
          if (DSP) begin : g_dsp
            // a DSP48 multiplier: M and P registers (A/B are x2 / w2), the cascade is never combinational
            reg signed [PW - 1:0] pm, pr;
            always @(posedge ap_clk) begin
              if (en) begin
                pm <= $signed(xs) * $signed(ws);
                pr <= pm;
              end
            end
            assign leaves[gs * LWT +: LWT] = pr[LWT - 1:0];
            if (PW > LWT) begin : g_unused
              wire unused_p = &{1'b0, pr[PW - 1:LWT]};
            end
          end else begin : g_lut
            // LUT product: the partial products of the narrower operand's bits (the selector) are leaves of the
            // SIMD tree, so the multiplier's adders are pipelined with it. A negative top bit's partial product
            // enters as its complement (-p = ~p + 1; the +1s are in INIT). Never a DSP.
            wire [PW - 1:0] ae;        // the wider operand, sign-extended
            wire [NPP - 1:0] sel;      // the selector's bits (its two's complement)
            if (SWAP) begin : g_selx
              assign ae = {{(PW - WS){ws[WS - 1]}}, ws};
              assign sel = xs[NPP - 1:0];
              if (XS > NPP) begin : g_unused
                wire unused_sel = &{1'b0, xs[XS - 1:NPP]};
              end
            end else begin : g_selw
              assign ae = {{(PW - XS){xs[XS - 1]}}, xs};
              assign sel = ws[NPP - 1:0];
              if (WS > NPP) begin : g_unused
                wire unused_sel = &{1'b0, ws[WS - 1:NPP]};
              end
            end
            for (gb = 0; gb < NPP; gb = gb + 1) begin : g_pp
              (* use_dsp = "no" *) wire [PW - 1:0] pp;
              assign pp = sel[gb] ? (ae << gb) : {PW{1'b0}};
              wire [PW - 1:0] lf = (NEG && gb == NPP - 1) ? ~pp : pp;
              assign leaves[(gs * NPP + gb) * LWT +: LWT] = lf[LWT - 1:0];
              if (PW > LWT) begin : g_unused
                wire unused_lf = &{1'b0, lf[PW - 1:LWT]};
              end
            end
          end
        end
      end
      hwgen_add_tree #(.N(NL), .LW(LWT), .LSIGNED(XNOR ? 0 : 1), .OW(SW), .LPS(LPS), .LOFF(LOFF))
        u_tree (.ap_clk(ap_clk), .en(en), .leaves(leaves), .sum(psum[gp * SW +: SW]));
    end
  endgenerate

  // ---------------------------------------------------------------- stage 5: accumulate (modulo 2^ACC: exact,
  // the final sum fits ACC signed bits; XNOR: acc = 2 * popcount - MW, the -MW at the first word)
  wire vp = vs[SP];
  wire firstp = cd[CD * (SP - 1) + NFW + 1];
  wire lastp = cd[CD * (SP - 1) + NFW];
  wire [NFW - 1:0] nfp = cd[CD * (SP - 1) +: NFW];
  reg [PE * ACC - 1:0] acc;
  wire [PE * ACC - 1:0] acc_old, acc_new;
  generate
    for (gp = 0; gp < PE; gp = gp + 1) begin : g_acc
      wire [ACC - 1:0] ps;
      if (XNOR) begin : g_x2
        assign ps = {psum[gp * SW +: SW], 1'b0};
      end else begin : g_same
        assign ps = psum[gp * SW +: SW];
      end
      assign acc_new[gp * ACC +: ACC] = (firstp ? INIT : acc_old[gp * ACC +: ACC]) + ps;
    end
    if (ACCF) begin : g_accf
      // one partial sum per channel fold (VVU, window order): written here and read combinationally (the same
      // fold comes back NF >= 2 issues later)
      reg [PE * ACC - 1:0] accf [0:NF - 1];
      always @(posedge ap_clk) begin
        if (en && vp) accf[nfp] <= acc_new;
      end
      assign acc_old = accf[nfp];
    end else begin : g_accr
      assign acc_old = acc;
      wire unused_nfp = &{1'b0, nfp};
    end
  endgenerate
  always @(posedge ap_clk) begin
    if (en && vp) acc <= acc_new;
  end
  // stage SP + 1 (A): acc holds a finished sum when va
  reg va;  // (the valid and last of stage SP, registered: cd's copies at stage SP + 1 are unused)
  always @(posedge ap_clk) begin
    if (!ap_rst_n) va <= 1'b0;
    else if (en) va <= vp && lastp;
  end
  wire [NFW - 1:0] nfm = cd[CD * (SP - 2) +: NFW];  // nf at stage SP - 1: the threshold memory's address

  // ---------------------------------------------------------------- stages 6-7: activation, output queue
  wire [OUTW - 1:0] act;
  wire vact;
  generate
    if (NT > 0) begin : g_thr
      // threshold word of fold nf: read at stage SP - 1, registered twice (memory output register) -> stage A
      wire [TW - 1:0] ta;  // (hwgen_rom REG_OUT 2, as the weights)
      if (T_CONST) begin : g_tconst
        assign ta = T_VALUE;
        wire unused_nf = &{1'b0, nfm};
      end else begin : g_trom
        hwgen_rom #(.WIDTH(TW), .DEPTH(NF), .INIT_FILE(THRESH_FILE), .STYLE(T_STYLE), .REG_OUT(2))
          u_trom (.ap_clk(ap_clk), .en(en), .addr(nfm), .data(ta));
      end
      // compares registered (stage C), then the count of reached thresholds (hwgen_add_tree, TLAT stages)
      reg [TLAT:0] vt;  // vt[0]: the compares are valid; vt[TLAT]: the count
      always @(posedge ap_clk) begin
        if (!ap_rst_n) vt <= {(TLAT + 1){1'b0}};
        else if (en) vt <= {vt[TLAT - 1:0], va};
      end
      assign vact = vt[TLAT];
      for (gp = 0; gp < PE; gp = gp + 1) begin : g_act
        wire [ACC - 1:0] a = acc[gp * ACC +: ACC];
        wire [TB - 1:0] ax;  // TB >= ACC: the thresholds' width covers the accumulator's range
        if (TB > ACC) begin : g_ax
          assign ax = {{(TB - ACC){a[ACC - 1]}}, a};
        end else begin : g_axn
          assign ax = a;
        end
        reg [NT - 1:0] ge;
        integer t;
        always @(posedge ap_clk) begin
          if (en) begin
            for (t = 0; t < NT; t = t + 1)
              ge[t] <= ($signed(ax) >= $signed(ta[(gp * NT + t) * TB +: TB]));
          end
        end
        wire [OB - 1:0] cnt;
        hwgen_add_tree #(.N(NT), .LW(1), .LSIGNED(0), .OW(OB), .LPS(LPS))
          u_cnt (.ap_clk(ap_clk), .en(en), .leaves(ge), .sum(cnt));
        assign act[gp * OB +: OB] = cnt + BASE;
      end
    end else begin : g_nothr
      assign vact = va;
      wire unused_nf = &{1'b0, nfm};
      for (gp = 0; gp < PE; gp = gp + 1) begin : g_act
        wire [ACC - 1:0] a = acc[gp * ACC +: ACC];
        if (OB > ACC) begin : g_ext
          assign act[gp * OB +: OB] = {{(OB - ACC){a[ACC - 1]}}, a};
        end else if (OB == ACC) begin : g_same
          assign act[gp * OB +: OB] = a;
        end else begin : g_trunc
          assign act[gp * OB +: OB] = a[OB - 1:0];
          wire unused_a = &{1'b0, a[ACC - 1:OB]};
        end
      end
    end
  endgenerate

  hwgen_out_queue #(.WIDTH(OUTW), .TDW(OUT_TDW)) u_queue (
    .ap_clk(ap_clk), .ap_rst_n(ap_rst_n), .in_data(act), .in_valid(vact), .in_ready(en), .in_ready_next(en_next),
    .out_V_TDATA(out_V_TDATA), .out_V_TVALID(out_V_TVALID), .out_V_TREADY(out_V_TREADY));

endmodule
