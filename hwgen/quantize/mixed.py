"""Mixed precision under an accuracy budget (`hwgen quantize --accuracy-drop PT --labels Y.npy`).

First the uniform bit widths are tried from the maximum (--weights / --acts) down, while they stay within the
budget; the narrowest uniform one is where a greedy descent starts: each round proposes, for every layer, its weights
one step narrower and its output activations one step narrower (steps BITS), quantizes each proposal (ptq),
compiles it by the normal build path for the board and --target-fps (hwgen.quantize.evaluate.Candidate: the
folding search and every kind's resource model) and runs it on the `cpu` backend on the labelled calibration set.
Of the proposals within PT points of the float accuracy that save LUTs and fit the board (the LUT objective
could otherwise trade LUTs for DSPs or BRAM the board does not have), it takes the one with the most LUTs saved
per point of accuracy lost; it stops when none is left. Every evaluated proposal is in the report's table.
"""

from __future__ import annotations

from hwgen.quantize.evaluate import Candidate, accuracy
from hwgen.quantize.export import to_qonnx
from hwgen.quantize.ptq import act_positions, linear_steps, quantize_net

BITS = (8, 6, 5, 4, 3, 2)


def _lower(b: int) -> int | None:
    smaller = [v for v in BITS if v < b]
    return max(smaller) if smaller else None


def describe(wbits, abits, has_act) -> str:
    return " ".join(f"{w}/{a if h else '-'}" for w, a, h in zip(wbits, abits, has_act))


def search(net, x, y, drop: float, board=None, target_fps=None, max_bits=(8, 8), log=print, **opts):
    """-> (QNet of the chosen bits, report dict with the table)."""
    n = len(linear_steps(net))
    owners = {o for _, o in act_positions(net).values() if o is not None}
    has_act = [k in owners for k in range(n)]
    float_acc = accuracy(net.forward(x), y)
    floor = float_acc - drop / 100.0
    cache: dict = {}
    rows = []

    def evaluate(wb, ab, change):
        key = (tuple(wb), tuple(ab))
        if key not in cache:
            qn = quantize_net(net, x, list(wb), list(ab), **opts)
            with Candidate(to_qonnx(qn), board=board, target_fps=target_fps) as c:
                est = c.estimate()
                acc = c.accuracy(x, y)
            cache[key] = (qn, acc, est)
            rows.append({"bits": describe(wb, ab, has_act), "w_bits": list(wb),
                         "a_bits": [a if h else None for a, h in zip(ab, has_act)], "change": change,
                         "accuracy": acc, "luts": est.luts, "layer_luts": est.layer_luts, "bram18": est.bram18,
                         "dsps": est.dsps, "fps": est.fps, "within": acc >= floor - 1e-12, "chosen": False})
            if log:
                log(f"  {describe(wb, ab, has_act):>24}  {change:<18} accuracy {acc * 100:6.2f} %  "
                    f"{est.luts:>8,} LUTs")
        return cache[key]

    if log:
        log(f"mixed precision: float accuracy {float_acc * 100:.2f} %, keeping >= {floor * 100:.2f} % "
            f"(bits per layer: weights/activations)")
    wb, ab = [max_bits[0]] * n, [max_bits[1]] * n
    _, acc, est = evaluate(wb, ab, "uniform")
    uniform = rows[-1]
    path = [rows[-1]]
    b = max(max_bits)
    while (b := _lower(b)) is not None:  # narrower uniform widths while within the budget
        w2, a2 = [min(b, max_bits[0])] * n, [min(b, max_bits[1])] * n
        _, acc2, est2 = evaluate(w2, a2, f"uniform {b} bits")
        if acc2 < floor - 1e-12 or not est2.fits:
            break
        if est2.luts < est.luts:
            wb, ab, acc, est = w2, a2, acc2, est2
            path.append(rows[-1])
    while True:
        props = []
        for k in range(n):
            lw = _lower(wb[k])
            if lw is not None:
                w2 = list(wb)
                w2[k] = lw
                props.append((w2, list(ab), f"layer {k} W {wb[k]}->{lw}"))
            la = _lower(ab[k])
            if has_act[k] and la is not None:
                a2 = list(ab)
                a2[k] = la
                props.append((list(wb), a2, f"layer {k} A {ab[k]}->{la}"))
        best = None
        for w2, a2, what in props:
            _, acc2, est2 = evaluate(w2, a2, what)
            saved = est.luts - est2.luts
            if acc2 < floor - 1e-12 or saved <= 0 or not est2.fits:
                continue
            score = saved / (max(acc - acc2, 0.0) * 100 + 0.05)
            if best is None or score > best[0]:
                best = (score, w2, a2, acc2, est2, cache_row(rows, w2, a2, has_act))
        if best is None:
            break
        _, wb, ab, acc, est, row = best
        path.append(row)
    chosen = cache[(tuple(wb), tuple(ab))][0]
    for r in path:
        r["step"] = True
    path[-1]["chosen"] = True
    report = {"float_accuracy": float_acc, "accuracy_drop": drop, "floor": floor, "board": board,
              "target_fps": target_fps, "uniform": {k: uniform[k] for k in ("bits", "accuracy", "luts")},
              "chosen": {k: path[-1][k] for k in ("bits", "w_bits", "a_bits", "accuracy", "luts")},
              "evaluated": rows, "on": "calibration set", "backend": "cpu"}
    return chosen, report


def cache_row(rows, wb, ab, has_act):
    d = describe(wb, ab, has_act)
    return next((r for r in rows if r["bits"] == d), None)


def format_table(m: dict) -> str:
    from hwgen.report import table

    rows = [[r["bits"], r["change"], f"{r['accuracy'] * 100:.2f}", f"{r['luts']:,}", f"{r['bram18']:g}", r["dsps"],
             ("chosen" if r["chosen"] else "step" if r.get("step") else "") + ("" if r["within"] else " over budget")]
            for r in m["evaluated"]]
    head = (f"mixed precision (W/A bits per layer), float accuracy {m['float_accuracy'] * 100:.2f} %, budget "
            f"{m['accuracy_drop']:g} points: uniform {m['uniform']['bits']} {m['uniform']['luts']:,} LUTs -> chosen "
            f"{m['chosen']['bits']} {m['chosen']['luts']:,} LUTs, {m['chosen']['accuracy'] * 100:.2f} %")
    return head + "\n" + table(rows, ["bits", "proposal", "accuracy %", "LUTs", "BRAM18", "DSP", ""])
