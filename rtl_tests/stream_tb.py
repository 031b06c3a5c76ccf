"""Generic cocotb testbench for one-stream-in / one-stream-out hwgen RTL blocks.

Configured by `tb_config.json` in the working directory (written by rtl_tests/harness.py):
  inputs: list of input words (ints), n_out: words to collect, p_in / p_out: probability that the source offers a
  word / the sink is ready in a cycle (1.0 = no bubbles), seed, max_cycles.
Writes `tb_result.json`: outputs (ints), in_cycles / out_cycles (cycle index of every handshake), timed_out.
The pytest side compares against the golden model; this file only drives and records (AXI4-Stream rules:
TVALID held with stable TDATA until accepted).
"""

import json
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly


@cocotb.test()
async def stream_test(dut):
    with open("tb_config.json") as f:
        cfg = json.load(f)
    inputs = [int(x) for x in cfg["inputs"]]
    n_out = int(cfg["n_out"])
    p_in, p_out = float(cfg["p_in"]), float(cfg["p_out"])
    rng = random.Random(int(cfg["seed"]))
    max_cycles = int(cfg["max_cycles"])

    Clock(dut.ap_clk, 10, unit="ns").start()
    dut.ap_rst_n.value = 0
    dut.in0_V_TVALID.value = 0
    dut.in0_V_TDATA.value = 0
    dut.out_V_TREADY.value = 0
    for _ in range(4):
        await FallingEdge(dut.ap_clk)
    dut.ap_rst_n.value = 1

    tlast = bool(cfg.get("tlast", False))
    outputs, in_cycles, out_cycles, lasts = [], [], [], []
    i_in = 0
    offering = False
    cycle = 0
    timed_out = False
    while len(outputs) < n_out:
        await FallingEdge(dut.ap_clk)
        if cycle >= max_cycles:
            timed_out = True
            break
        if not offering and i_in < len(inputs) and rng.random() < p_in:
            offering = True
            dut.in0_V_TDATA.value = inputs[i_in]
        dut.in0_V_TVALID.value = 1 if offering else 0
        ready = rng.random() < p_out
        dut.out_V_TREADY.value = 1 if ready else 0
        await ReadOnly()
        if offering and int(dut.in0_V_TREADY.value):
            in_cycles.append(cycle)
            i_in += 1
            offering = False
        if ready and int(dut.out_V_TVALID.value):
            outputs.append(int(dut.out_V_TDATA.value))
            out_cycles.append(cycle)
            if tlast:
                lasts.append(int(dut.out_V_TLAST.value))
        cycle += 1
    # a few more cycles: nothing more may come out
    extra = 0
    if not timed_out:
        for _ in range(int(cfg.get("drain_cycles", 20))):
            await FallingEdge(dut.ap_clk)
            dut.in0_V_TVALID.value = 0
            dut.out_V_TREADY.value = 1
            await ReadOnly()
            if int(dut.out_V_TVALID.value):
                extra += 1
    with open("tb_result.json", "w") as f:
        json.dump({"outputs": outputs, "in_cycles": in_cycles, "out_cycles": out_cycles, "tlast": lasts,
                   "timed_out": timed_out, "inputs_accepted": i_in, "extra_outputs": extra}, f)
    assert not timed_out, f"timeout after {max_cycles} cycles: {len(outputs)}/{n_out} outputs, {i_in} inputs taken"
