"""What a stalled rtlsim run says: the streams that stopped, named as summary.json and `HwGraph.fifo_depths` name
them, and why.

    stall_message(manifest, status, n_frames, watchdog) -> str

`manifest` is OUT/rtl/hwgen_top.json (hwgen.codegen.rtl_project), `status` the network harness' JSON status
(hwgen.sim.network_harness) of a run that ended with "stall" or "max_cycles". Per design stream the harness
tells whether its FIFO is full (the producer offers a word the FIFO refuses), whether its consumer refuses a word,
or whether it is empty. A join that waits on an empty input while another input of it is backed up is the
deadlock of a skip connection whose short branch cannot hold what the long branch keeps back: the message names
the join, the empty stream and the full FIFO(s) on the backed-up branch, and says which depth to raise.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_NAMES = 6  # blocked wires named besides the first one


@dataclass
class StreamState:
    name: str
    src: str
    dst: str
    depth: int
    occupancy: int
    delivered: int
    expected: int
    full: bool  # producer offers a word, the FIFO refuses it
    refused: bool  # the FIFO offers a word, the consumer refuses it
    empty: bool  # the FIFO offers nothing

    def describe(self) -> str:
        if self.full:
            what = "FIFO full, producer blocked"
        elif self.refused:
            what = "consumer not taking its words"
        elif self.empty and self.delivered < self.expected:
            what = "empty, consumer waiting"
        elif self.delivered >= self.expected:
            what = "done"
        else:
            what = "moving"
        return (f"  {self.name} ({self.src} -> {self.dst}, FIFO depth {self.depth}): {self.delivered}/"
                f"{self.expected} words delivered, {self.occupancy} in its FIFO, {what}")


def stream_states(m: dict, st: dict, n: int) -> list[StreamState]:
    wires, ds = st["streams"], {s["name"]: s for s in m["design_streams"]}
    out = []
    for f, occ in zip(m["fifos"], st.get("fifos") or [{}] * len(m["fifos"])):
        s, wi, wo = ds[f["stream"]], wires[f["in_wire"]], wires[f["out_wire"]]
        out.append(StreamState(f["stream"], s["src"], s["dst"], f["depth"], int(occ.get("occupancy", 0)),
                               int(wo["count"]), s["words_per_frame"] * n, bool(wi["valid"] and not wi["ready"]),
                               bool(wo["valid"] and not wo["ready"]), not wo["valid"]))
    return out


def _join_deadlock(m: dict, states: list[StreamState]) -> tuple[str, list[StreamState]] | None:
    """A join waiting on an empty input while another input is backed up: (message, the streams whose FIFOs to
    deepen), or None."""
    by_out = {f["out_wire"]: s for f, s in zip(m["fifos"], states)}  # wire into a block -> its stream
    fifo_by_out = {f["out_wire"]: f for f in m["fifos"]}
    producer_of = {w: stg for stg in m["stages"] if stg.get("kind") != "fifo" for w in stg["out_wires"]}
    for stg in m["stages"]:
        if stg.get("kind") == "fifo" or len(stg.get("in_wires", ())) < 2:
            continue
        ins = [by_out[w] for w in stg["in_wires"] if w in by_out]
        empty = [s for s in ins if s.empty and s.delivered < s.expected]
        backed = [s for s in ins if s.refused]
        if not (empty and backed):
            continue
        full = []  # full FIFOs on the backed-up branches, nearest the join first
        todo, seen = [w for w in stg["in_wires"] if by_out.get(w) in backed], set()
        while todo:
            w = todo.pop(0)
            if w in seen or w not in fifo_by_out:
                continue
            seen.add(w)
            s = by_out[w]
            if s.full:
                full.append(s)
                p = producer_of.get(fifo_by_out[w]["in_wire"])
                if p and len(p["out_wires"]) == 1:  # up to the fork: above it both branches share the FIFOs
                    todo += list(p["in_wires"])
        names = full or backed
        fix = ", ".join(f"{s.name!r}" for s in names)
        held = "; ".join(f"stream {s.name} ({s.src} -> {s.dst}) is full: {s.occupancy} words in its FIFO of depth "
                         f"{s.depth}" for s in full) or \
            "; ".join(f"stream {s.name} ({s.src} -> {s.dst}) holds words {stg['label']} cannot take" for s in backed)
        forks = sorted({s.src for s in full if _outputs(m, s.src) > 1})
        why = (f", so {' and '.join(forks)} cannot send on its other branch" if forks else "")
        waits = ", ".join(f"{s.name} ({s.src} -> {s.dst})" for s in empty)
        return (f"deadlock at the join {stg['label']}: it waits for data on stream {waits}, empty, while {held}"
                f"{why}. The branch FIFO is too shallow for what the other branch holds back: deepen the FIFO of "
                f"stream {fix} (HwGraph.fifo_depths, or `hwgen build --size-fifos`)"), names
    return None


def to_deepen(m: dict, st: dict, n: int) -> list[str]:
    """Names of the streams whose FIFOs a stalled run says to deepen: the backed-up branch of a deadlocked join,
    else every full FIFO."""
    states = stream_states(m, st, n)
    join = _join_deadlock(m, states)
    return [s.name for s in (join[1] if join else [s for s in states if s.full])]


def _outputs(m: dict, node: str) -> int:
    return sum(1 for s in m["design_streams"] if s["src"] == node)


def _chain_head(m: dict, st: dict, n: int) -> str:
    """The first stopped wire of a chain (what the message said before graphs branched)."""
    blocked, idle = [], []
    for s, r in zip(m["streams"], st["streams"]):
        if r["valid"] and not r["ready"]:
            blocked.append(s["name"])
        elif not r["valid"] and r["count"] < s["words_per_frame"] * n:
            idle.append(s["name"])
    if blocked:
        head = f"stream {blocked[-1]} stopped: its consumer never became ready"
        more = blocked[:-1][::-1]
        if more:
            head += (f" (also blocked: {', '.join(more[:MAX_NAMES])}"
                     f"{f' and {len(more) - MAX_NAMES} more' if len(more) > MAX_NAMES else ''})")
        return head
    if idle:
        return f"stream {idle[0]} stopped: its producer has no more data to send"
    return "the design stopped"


def stall_message(m: dict, st: dict, n: int, watchdog: int) -> str:
    states = stream_states(m, st, n)
    join = _join_deadlock(m, states)
    head = f"{join[0]}. Last wire stopped: {_chain_head(m, st, n)}" if join else _chain_head(m, st, n)
    what = (f"no stream moved for {watchdog} cycles" if st["status"] == "stall"
            else f"the run hit its cycle limit after {st['cycles']} cycles")
    return (f"rtlsim: design stalled: {head}; {what} (at cycle {st['cycles']}, {st['outputs']} output words of "
            f"{n * m['out']['words_per_frame']}). Streams:\n" + "\n".join(s.describe() for s in states))
