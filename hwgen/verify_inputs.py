"""Inputs for `hwgen verify` that exercise every threshold.

Random float inputs rarely reach threshold boundaries (on TFC_1W1A five of six random inputs quantize to -1), so
a one-step error in one threshold can pass unnoticed. The inputs here are built on the first hardware layer's
integer levels instead, and the float input is recovered by inverting the input quantizer:

- uniform: every first-layer input feature drawn uniformly over its integer levels;
- aimed: inputs whose accumulators land on threshold boundaries t or t - 1 (the two values a +-1 change of t
  decides differently): a climb over first-layer levels scored on every boundary not yet hit, in every channel
  and layer at once (hwgen.verify_cover), then, for the boundaries still open, the earlier per-boundary greedy
  search (BoundaryAimer: the accumulator of the first layer is linear in the levels; deeper layers are reached by
  trying a few single-feature changes at a time through the reference layers);
- raw: a few float inputs spanning and exceeding the quantizer's range (saturation, values between levels).

Every input kind is aimed: a declared input type (annotation, --input-dtype) with values of that type only; a head
that runs float work before the input quantizer (a float first layer on the CPU) and every hardware island after
a CPU island from their input quantizer (`quantizer_view`: the aimed values are then of the tensor that quantizer
reads, checked against qonnx on the model's nodes from that tensor on: hwgen.verify).

Everything is deterministic for a seed while the searches end on their input caps; a search that reaches its
time budget makes fewer inputs on a busier machine.
"""

from __future__ import annotations

import time

import numpy as np

from hwgen.layers.kernels import apply_thresholds

GRID = 4096  # probe values per input element when inverting the input quantizer
MAX_INVERT_ELEMS = 1 << 15  # larger inputs: raw random inputs only
MAX_LEVELS = 1 << 12  # input quantizers up to 12 bits are inverted
MAX_DECLARED_VALUES = 1 << 16  # a declared input type of up to 16 bits: aimed with its own values


def input_span(graph, head_ints=None) -> float:
    """A magnitude of input at which the first layer's input saturates (searched on the head itself, or on
    `head_ints`, a compiled head proven equal to it)."""
    head_ints = head_ints or graph.head_ints
    first = graph.layers[0]
    lo, hi = first.in_dtype.min, first.in_dtype.max
    for mag in [2.0 ** k for k in range(-8, 20)]:
        probe = np.full((2, *graph.input_shape[1:]), mag, np.float32)
        probe[1] = -mag
        q = head_ints(probe)
        if q.max() >= hi and q.min() <= lo:
            return mag
    return 1.0


def raw_inputs(graph, n: int, rng, span: float | None = None) -> np.ndarray:
    """Floats spanning the input quantizer's range and beyond (saturation), a quarter on a grid (ties, levels)."""
    span = input_span(graph) if span is None else span
    x = rng.uniform(-1.5 * span, 1.5 * span, size=(n, *graph.input_shape[1:])).astype(np.float32)
    k = max(1, n // 4)
    x[:k] = np.round(x[:k] / (span / 16)) * (span / 16)
    return x.astype(np.float32)


class LevelInverter:
    """Float model inputs that the head quantizes to chosen first-layer integer levels.

    Probes the head with constant inputs on a grid to learn, per feature, one float value for each reachable
    level, and one-hot probes to learn which input element feeds which feature. Only for heads that map each
    input element to one feature (element-wise quantizers, reshapes); `build` returns None otherwise."""

    def __init__(self, shape, perm, values, lo):
        self.shape, self.perm, self.values, self.lo = tuple(shape), perm, values, lo
        self.reachable = ~np.isnan(values)  # (F, levels)
        self.count = self.reachable.sum(1)  # reachable levels per feature
        self.order = np.argsort(~self.reachable, axis=1, kind="stable")  # reachable level indices first
        self.rank = np.argsort(self.order, axis=1)  # level index -> its position among the reachable ones

    @classmethod
    def build(cls, graph, span: float, values=None):
        """values: the only input values allowed (a declared input type's), else a float grid over the span."""
        shape = tuple(graph.input_shape[1:])
        first = graph.layers[0]
        E = int(np.prod(shape))
        lo, hi = int(first.in_dtype.min), int(first.in_dtype.max)
        if E > MAX_INVERT_ELEMS or hi - lo > MAX_LEVELS:
            return None
        if values is not None:
            grid = np.unique(np.asarray(values, np.float32))
        else:
            grid = np.unique(np.concatenate([np.linspace(-1.5 * span, 1.5 * span, GRID), [0.0]]).astype(np.float32))
        levels = np.concatenate([graph.head_ints(np.broadcast_to(chunk[:, None], (len(chunk), E)).reshape(
            (len(chunk), *shape)).copy()) for chunk in np.array_split(grid, max(1, len(grid) * E // (1 << 22)))])
        F = levels.shape[1]
        if F != E:
            return None
        # two grid values where every feature has a different level: one-hot probes reveal element -> feature
        k_lo, k_hi = int(np.argmin(levels.sum(1))), int(np.argmax(levels.sum(1)))
        if not np.all(levels[k_lo] != levels[k_hi]):
            return None
        base = np.full(E, grid[k_lo], np.float32)
        perm = np.full(F, -1)
        for s in range(0, E, 4096):
            rows = np.arange(s, min(E, s + 4096))
            probe = np.broadcast_to(base, (len(rows), E)).copy()
            probe[np.arange(len(rows)), rows] = grid[k_hi]
            diff = graph.head_ints(probe.reshape((len(rows), *shape))) != levels[k_lo]
            if not np.all(diff.sum(1) == 1):
                return None
            perm[diff.argmax(1)] = rows
        if np.any(perm < 0):
            return None
        # per feature and level: the grid value midway between the first and last grid value giving that level
        # (the head is monotone per element, so that is inside the level's interval)
        nL = hi - lo + 1
        key = (np.arange(F)[None, :] * nL + (levels - lo)).reshape(-1)
        g = np.broadcast_to(np.arange(len(grid))[:, None], levels.shape).reshape(-1)
        first = np.full(F * nL, len(grid), np.int64)
        last = np.full(F * nL, -1, np.int64)
        np.minimum.at(first, key, g)
        np.maximum.at(last, key, g)
        has = last >= 0
        values = np.full(F * nL, np.nan, np.float32)
        values[has] = grid[(first[has] + last[has]) // 2]
        values = values.reshape(F, nL)
        # a non-monotone head could put that midpoint on another level: keep only levels it really gives
        rows = np.empty((nL, E), np.float32)
        rows[:, perm] = np.where(np.isnan(values), grid[0], values).T  # row j: every feature at its level j value
        check = graph.head_ints(rows.reshape((nL, *shape)))
        values[check.T != np.arange(lo, hi + 1)[None, :]] = np.nan
        return cls(shape, perm, values, lo)

    def levels_of(self, f: np.ndarray, k: np.ndarray) -> np.ndarray:
        """The k-th reachable level (ascending) of features f."""
        return self.order[f, k] + self.lo

    def random_for(self, rng, f: np.ndarray) -> np.ndarray:
        """One uniformly drawn reachable level for each feature index in f."""
        return self.levels_of(f, (rng.random(f.shape) * self.count[f]).astype(np.int64))

    def random_levels(self, rng, n: int) -> np.ndarray:
        """(n, F) levels, each feature uniform over its reachable levels."""
        F = self.count.shape[0]
        return self.random_for(rng, np.broadcast_to(np.arange(F), (n, F)))

    def biased_levels(self, rng, n: int) -> np.ndarray:
        """(n, F) levels drawn around a random position per input (binomial over the reachable levels): inputs
        mostly low, mostly high or in between, as real data often are (MNIST: mostly background)."""
        F = self.count.shape[0]
        f = np.broadcast_to(np.arange(F), (n, F))
        return self.levels_of(f, rng.binomial(self.count[f] - 1, rng.random((n, 1))))

    def floats(self, q: np.ndarray) -> np.ndarray:
        """(N, F) levels (reachable ones) -> (N, *input shape) float32 inputs."""
        v = self.values[np.arange(q.shape[1])[None, :], q - self.lo]
        x = np.empty_like(v)
        x[:, self.perm] = v
        return x.reshape((q.shape[0], *self.shape))


def matrix_of(layer):
    """The (out, in) integer matrix W of a layer computing W @ x on one vector per frame (an FC's MVAU), else
    None. Asked of the layer's own arrays and shapes, not of its kind."""
    w = getattr(layer, "weights", None)
    if getattr(layer, "num_vectors", 1) != 1 or w is None or getattr(w, "ndim", 0) != 2:
        return None
    if tuple(w.shape) != (layer.out_features, layer.in_features) or getattr(layer, "n_inputs", 1) != 1:
        return None
    return w


def acc_targets(layer):
    """(acc weights or None, thresholds) of a layer whose output is a threshold count of a per-channel value:
    a matrix layer's accumulator, or a re-quantization of its input element by element."""
    thr = getattr(layer, "thresholds", None)
    if getattr(layer, "num_vectors", 1) != 1 or thr is None:
        return None
    w = matrix_of(layer)
    if w is not None:
        return w, thr
    if getattr(layer, "weights", None) is None and layer.in_features == layer.out_features == thr.shape[0]:
        return None, thr
    return None


def boundary_targets(layers):
    """Every (layer index, channel, value) with value = t or t - 1 for a threshold t inside the reachable range,
    over the chain of vector layers at the start of `layers`."""
    out = []
    for k, layer in enumerate(layers):
        if layer.n_inputs != 1 or layer.n_outputs != 1 or int(np.prod(layer.in_nhwc[1:3])) > 1:
            # the search runs the layers as a chain of vectors: it stops at the first fork, join or
            # feature map (a CNN's frames are too large to search through; its inputs stay uniform levels)
            break
        at = acc_targets(layer)
        if at is None:
            continue
        w, thr = at
        if w is not None:
            lo, hi = layer.acc_range()
        else:
            lo = np.full(thr.shape[0], layer.in_dtype.min)
            hi = np.full(thr.shape[0], layer.in_dtype.max)
        # XNOR accumulators (sum of MW products of -1 / +1) all have the parity of MW
        parity = layer.mw % 2 if getattr(layer, "binary_xnor", False) else None
        for c in range(thr.shape[0]):
            for t in np.unique(thr[c]):
                for v in (int(t), int(t) - 1):
                    if lo[c] <= v <= hi[c] and (parity is None or v % 2 == parity):
                        out.append((k, c, v))
    return out


class BoundaryAimer:
    """Greedy search over first-layer levels for inputs putting one channel's pre-activation on a value."""

    def __init__(self, graph, inverter: LevelInverter, rng, tries: int = 128, steps: int = 128, pool: int = 1024):
        self.layers, self.inv, self.rng = graph.layers, inverter, rng
        self.tries, self.steps = tries, steps
        # starting points: deep pre-activations of uniform inputs cover a narrow range; biased ones reach further
        self.pool = np.concatenate([inverter.random_levels(rng, pool // 2), inverter.biased_levels(rng, pool // 2)])
        self._pool_inputs = {}

    def _starts(self, k, w, chans, want):
        """For each target, a pool input whose pre-activation is among the 4 closest to the wanted value."""
        if k not in self._pool_inputs:
            self._pool_inputs[k] = self._forward(self.pool, k, 0)
        x = self._pool_inputs[k]
        pre = x[:, chans] if w is None else x @ w[chans].T  # (pool, targets)
        near = np.argsort(np.abs(pre - want[None, :]) + self.rng.random(pre.shape) * 0.5, axis=0)[:4]
        return self.pool[near[self.rng.integers(0, 4, len(chans)), np.arange(len(chans))]].copy()

    def targets(self):
        """Every (layer index, channel, value) with value = t or t - 1 for a threshold t inside the reachable range."""
        return boundary_targets(self.layers)

    def _first_outputs(self, q, acc0, owner, f, new):
        """First layer's output for candidates `owner` rows of q with feature f set to level new; for an MVAU
        first layer incrementally: its accumulator changes by W[:, f] * (new - old)."""
        first = self.layers[0]
        if matrix_of(first) is not None:
            acc = acc0[owner] + (new - q[owner, f])[:, None] * first.weights.T[f]
            if first.thresholds is None:
                return acc
            return apply_thresholds(acc, first.thresholds, first.out_base, first.out_dtype.bipolar)
        cand = q[owner].copy()
        cand[np.arange(len(owner)), f] = new
        return first.execute(cand)

    def _forward(self, x, k, start=1):
        """Layer k's input from layer `start`'s input x. Candidates mostly differ in features that change no
        activation downstream, so each layer runs on the distinct rows only."""
        for layer in self.layers[start:k]:
            x = x.reshape(len(x), -1)  # flat frames (NHWC order), reshaped per kind as HwGraph.run_layers does
            key = x.astype(np.float64) @ self._mix(x.shape[1])  # row hash; a collision only misguides the search
            _, first, back = np.unique(key, return_index=True, return_inverse=True)
            xi = x[first].reshape(len(first), *layer.in_port_shape(0)[1:])
            x = np.asarray(layer.execute(xi)).reshape(len(first), -1)[back.reshape(-1)]
        return x.reshape(len(x), -1)

    @staticmethod
    def _mix(n):
        return np.random.default_rng(n).random(n) + 0.5

    def _pre(self, x, w, chans):
        """The value compared with each row's target channel thresholds, from that layer's input rows x."""
        if w is None:
            return x[np.arange(len(chans)), chans]
        return np.einsum("nf,nf->n", x, w[chans])

    def aim(self, batch, deadline: float = float("inf")):
        """batch: (layer k, channel c, value v) of one layer -> ((len, F) levels greedily improved, number hit);
        the search stops at time.perf_counter() deadline."""
        k = batch[0][0]
        w, _ = acc_targets(self.layers[k])
        first = self.layers[0]
        F = self.inv.count.shape[0]
        want = np.array([v for _, _, v in batch])
        chans = np.array([c for _, c, _ in batch])
        q = self._starts(k, w, chans, want)
        dist = np.abs(self._pre(self._forward(q, k, 0), w, chans) - want)
        # the first layer is cheap to search (linear): as many single-feature steps as it takes
        steps = max(self.steps, 2 * F) if k == 0 else self.steps
        for _ in range(steps):
            if time.perf_counter() > deadline:
                break
            live = np.flatnonzero(dist > 0)
            if live.size == 0:
                break
            S = min(self.tries, F)
            f = self.rng.integers(0, F, len(live) * S)
            owner = np.repeat(live, S)
            new = self.inv.random_for(self.rng, f)  # a random reachable level for each tried feature
            if k == 0:  # the pre-activation is linear in the levels (or is the level itself)
                cur = self._pre(q, w, chans)[owner]
                if w is None:
                    val = np.where(f == chans[owner], new, cur)
                else:
                    val = cur + w[chans[owner], f] * (new - q[owner, f])
            else:
                linear = matrix_of(first) is not None
                acc0 = first.weights @ q.T if linear else None
                x1 = self._first_outputs(q, None if acc0 is None else acc0.T, owner, f, new)
                val = self._pre(self._forward(x1, k), w, chans[owner])
            d = np.abs(val - want[owner]).reshape(len(live), S)
            best = d.argmin(1)
            better = d[np.arange(len(live)), best] <= dist[live]
            pick = live[better]
            sel = np.flatnonzero(better) * S + best[better]
            q[pick, f[sel]] = new[sel]
            dist[pick] = d[np.flatnonzero(better), best[better]]
        return q, int((dist == 0).sum())


def verify_inputs(graph, n: int, seed: int = 0, reps: int = 3, max_aimed: int = 2048,
                  budget_s: float = 15.0, method: str = "cover") -> tuple[np.ndarray, dict]:
    """n random inputs (1/8 raw floats, the rest uniform first-layer levels) plus inputs aimed at the threshold
    boundaries (at most max_aimed, searched for at most budget_s seconds).

    method "cover" (default): a climb over first-layer levels scored on every boundary still open
    (hwgen.verify_cover), each input hitting boundaries in many channels and layers at once; "boundary" (the
    earlier search, kept for comparison in benchmarks/bench_verify_aim.py): `reps` inputs aimed at one boundary
    each, boundaries sampled when there are more than max_aimed / reps.

    Returns (inputs, info) with info counting each kind, the boundary targets and how many the inputs hit."""
    from hwgen.frontend.input_types import declared_grid
    from hwgen.verify_cover import Coverage, climb_levels, cover_search, level_mutator

    rng = np.random.default_rng(seed)
    grid = declared_grid(graph)
    extra = {}
    if grid is not None:  # the build is bit-exact for inputs of its declared type (annotation, --input-dtype):
        # aim with values of that type only
        vals = grid.values() if grid.hi - grid.lo < MAX_DECLARED_VALUES else None
        inv = LevelInverter.build(graph, 1.0, values=vals) if vals is not None else None
        extra = {"declared": grid.name}
        if inv is None:
            x = grid.random(rng, (n, *graph.input_shape[1:]))
            return x, {"raw": 0, "uniform": n, "aimed": 0, "targets": 0, "hit": 0, **extra}
        n_raw = max(1, n // 8) if n >= 4 else 0
        parts = [grid.random(rng, (n_raw, *graph.input_shape[1:])), inv.floats(inv.random_levels(rng, n - n_raw))]
    else:
        span = input_span(graph)
        inv = LevelInverter.build(graph, span)
        if inv is None:  # head not invertible element by element: raw inputs only
            return raw_inputs(graph, n, rng, span), {"raw": n, "uniform": 0, "aimed": 0, "targets": 0, "hit": 0}
        n_raw = max(1, n // 8) if n >= 4 else 0
        parts = [raw_inputs(graph, n_raw, rng, span), inv.floats(inv.random_levels(rng, n - n_raw))]
    if method == "cover":
        t0 = time.perf_counter()
        # each boundary from several inputs (a changed activation has to reach the output): more when the model
        # has few boundaries and the inputs cost little
        cover = Coverage(graph.layers, reps)
        cover.reps = int(np.clip(max_aimed // 2 // max(1, cover.total), reps, 3 * reps))
        cover.add(cover.pre(graph.head_ints(np.concatenate(parts))))  # the random inputs' hits count too
        climber = None
        if matrix_of(graph.layers[0]) is not None:
            def climber(start, cov, r, deadline, steps, tries):
                return climb_levels(start, inv, cov, r, deadline, steps, tries)
        q = cover_search(lambda b, r: np.concatenate([inv.random_levels(r, b - b // 2), inv.biased_levels(r, b // 2)]),
                         level_mutator(inv), cover.pre, cover, rng, 0.5 * budget_s, max_aimed, climber=climber)
        parts.append(inv.floats(q))
        # what the climb left open: one input aimed at each (the search of "boundary"), in the time left
        # (boundaries never hit first, then the missing repeats)
        aimer = None
        for fresh in (True, False, True, False):  # again while time is left: the aimer's starts are random
            left = cover.open_targets(fresh)
            room = max_aimed - len(q)
            if not left or room <= 0 or time.perf_counter() - t0 > budget_s:
                continue
            left = [left[i] for i in np.sort(rng.permutation(len(left))[:room])]
            aimer = aimer or BoundaryAimer(graph, inv, rng)
            for k in sorted({t[0] for t in left}):
                if time.perf_counter() - t0 > budget_s:
                    break
                qk, _ = aimer.aim([t for t in left if t[0] == k], deadline=t0 + budget_s)
                pre = cover.pre(qk)
                useful = cover.hits(pre) >= 1
                cover.add({j: v[useful] for j, v in pre.items()})
                parts.append(inv.floats(qk[useful]))
                q = np.concatenate([q, qk[useful]])
        return np.concatenate(parts).astype(np.float32), {"raw": n_raw, "uniform": n - n_raw, "aimed": len(q),
                                                          "targets": cover.total, "hit": cover.hit, **extra}
    aimer = BoundaryAimer(graph, inv, rng)
    targets = aimer.targets()
    # several inputs per boundary (different starting points): a changed activation has to reach the output
    chosen = [targets[i] for i in np.sort(rng.permutation(len(targets))[:max_aimed // reps])] * reps
    hit = 0
    t0 = time.perf_counter()
    for k in sorted({t[0] for t in chosen}):
        batch = [t for t in chosen if t[0] == k]
        if time.perf_counter() - t0 > budget_s:  # out of time: uniform levels instead
            q, h = inv.random_levels(rng, len(batch)), 0
        else:
            q, h = aimer.aim(batch)
        hit += h
        parts.append(inv.floats(q))
    x = np.concatenate(parts).astype(np.float32)
    return x, {"raw": n_raw, "uniform": n - n_raw, "aimed": len(chosen), "targets": len(targets), "hit": hit,
               **extra}


def quantizer_view(hw):
    """Hardware island `hw` seen from its input quantizer: when its head runs float work first (a float first
    layer on the CPU, say), a copy whose head is the quantizer and what follows it, reading the quantizer's input
    tensor; aimed inputs are then values of that tensor (so every input kind gets inputs aimed at the first
    hardware layer's thresholds). None when the head is already element-wise from its input."""
    import dataclasses

    from hwgen.cpu_partition import CpuPartition
    from hwgen.frontend.input_types import declared_grid
    from hwgen.frontend.load import ELEMENTWISE_OPS, SHAPE_OPS

    head = hw.head
    names = [n.output[0] for n in head.nodes]
    qs = [i for i, n in enumerate(head.nodes) if n.output[0] in head.int_output]
    if not qs or qs[-1] == 0 or declared_grid(hw) is not None:
        return None
    if all(n.op_type in ELEMENTWISE_OPS | SHAPE_OPS for n in head.nodes[:qs[-1]]):
        return None  # element-wise from the input: LevelInverter inverts the whole head
    qnode = head.nodes[qs[-1]]
    zero = np.zeros((1, *hw.input_shape[1:]), np.float32)
    with np.errstate(all="ignore"):
        ctx = head.evaluator().run({head.input: head.entry_values(zero)})
    t = qnode.input[0]
    if t not in ctx or names.index(qnode.output[0]) != qs[-1]:
        return None
    nodes = head.nodes[qs[-1]:]
    sub = CpuPartition("head", nodes, {k: v for k, v in head.constants.items()}, t, head.output, head.opset,
                       reason=head.reason, int_output=set(head.int_output))
    return dataclasses.replace(hw, head=sub, input_name=t, input_shape=[1, *np.asarray(ctx[t]).shape[1:]],
                               edges=list(hw.edges))
