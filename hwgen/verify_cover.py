"""Threshold-boundary coverage for `hwgen verify`: which boundaries a set of inputs exercises, and a bounded search
for inputs that exercise the ones not yet hit.

A boundary target is (layer, channel, value) with value = t or t - 1 for a threshold t of that channel (the two
accumulator values a +-1 error in t decides differently; hwgen.verify_inputs.boundary_targets lists them). The
search is one population hill climb used for every input kind: its state is a batch of inputs in whatever space is
searched (first-layer integer levels, a declared input type's values, or the model's float input ahead of a CPU
head or CPU islands), and it scores each candidate by how many still-uncovered targets its accumulators hit, with
the distance to the nearest uncovered target as the tie-break (so a climb moves towards boundaries before it
reaches one). One input can hit a boundary in every channel of every layer at once, so coverage grows much faster
than one aimed input per boundary; the climb stops at a time budget.
"""

from __future__ import annotations

import time

import numpy as np

from hwgen.layers.kernels import apply_thresholds, mvau

KEY = 1 << 40  # keys: channel * KEY + value + KEY // 2 (accumulators are well within +-2^39)
FAR = 1 << 20  # distances are capped here (the tie-break only needs "closer")


class Coverage:
    """Targets of one hardware island's chain of vector layers, and how often each has been hit."""

    def __init__(self, layers, reps: int = 1):
        from hwgen.verify_inputs import acc_targets, boundary_targets

        self.layers, self.reps = layers, reps
        per = {}
        for k, c, v in boundary_targets(layers):
            per.setdefault(k, []).append(c * KEY + v + KEY // 2)
        self.ks = sorted(per)
        self.w = {k: acc_targets(layers[k])[0] for k in self.ks}
        self.keys = {k: np.unique(np.array(per[k], np.int64)) for k in self.ks}
        self.count = {k: np.zeros(len(self.keys[k]), np.int64) for k in self.ks}
        self._open, self._flat = {}, {}

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.keys.values())

    @property
    def hit(self) -> int:
        return sum(int((c > 0).sum()) for c in self.count.values())

    @property
    def progress(self) -> int:
        """Hits that counted (each target up to reps times)."""
        return sum(int(np.minimum(c, self.reps).sum()) for c in self.count.values())

    def pre(self, q, acc0=None) -> dict:
        """Layer k -> (N, channels) value compared with its thresholds, for first-layer integer inputs q (or, for
        a matrix first layer, its accumulators acc0 instead: the level climb updates them incrementally)."""
        out = {}
        if not self.ks:
            return out
        for k, layer in enumerate(self.layers[:self.ks[-1] + 1]):
            if k == 0 and acc0 is not None:
                if 0 in self.w:
                    out[0] = acc0
                x = acc0 if layer.thresholds is None else self._activate(0, layer, acc0)
                continue
            if k == 0:
                x = np.asarray(q).reshape(len(q), -1)
            if k in self.w:
                w = self.w[k]
                out[k] = x if w is None else mvau(x, w)
                if k < self.ks[-1]:
                    x = self._activate(k, layer, out[k])
            elif k < self.ks[-1]:
                x = np.asarray(layer.execute(x.reshape(len(x), *layer.in_port_shape(0)[1:]))).reshape(len(x), -1)
        return out

    def _activate(self, k, layer, acc):
        """apply_thresholds(acc, ...) by one sorted search (8-bit layers: 255 thresholds a channel, where the
        kernel's loop over thresholds dominated the search's time)."""
        if k not in self._flat:
            thr = layer.thresholds
            ok = bool(np.all(np.diff(thr, axis=1) >= 0))
            off = np.arange(thr.shape[0], dtype=np.int64)[:, None] * KEY
            self._flat[k] = (thr + off).reshape(-1) if ok else None
        flat = self._flat[k]
        if flat is None:  # rows not ascending: the kernel's own definition
            return apply_thresholds(acc, layer.thresholds, layer.out_base, layer.out_dtype.bipolar)
        C, T = layer.thresholds.shape
        keys = acc + np.arange(C, dtype=np.int64)[None, :] * KEY
        count = np.searchsorted(flat, keys, side="right") - np.arange(C, dtype=np.int64)[None, :] * T
        return 2 * count - 1 if layer.out_dtype.bipolar else layer.out_base + count

    def _keys_of(self, p):
        return (np.arange(p.shape[1], dtype=np.int64)[None, :] * KEY + p.astype(np.int64) + KEY // 2)

    def add(self, pre: dict) -> None:
        """Count the targets hit by these inputs' values."""
        for k, p in pre.items():
            keys = self.keys[k]
            kk = self._keys_of(p).reshape(-1)
            idx = np.clip(np.searchsorted(keys, kk), 0, len(keys) - 1)
            on = keys[idx] == kk
            np.add.at(self.count[k], idx[on], 1)
        self._open = {}

    def open_keys(self, k):
        if k not in self._open:
            self._open[k] = self.keys[k][self.count[k] < self.reps]
        return self._open[k]

    def hits_and_closeness(self, pre: dict, fresh=None) -> tuple[np.ndarray, np.ndarray]:
        """Per input: how many open targets it hits, and a closeness in [0, 1) to the open targets (mean over
        channels and layers of how near each value is to its nearest open target, on a log scale)."""
        n = len(next(iter(pre.values()))) if pre else 0
        hits, far, m = np.zeros(n, np.int64), np.zeros(n), 0
        for k, p in pre.items():
            keys = self.open_keys(k)
            if len(keys) == 0:
                continue
            kk = self._keys_of(p)
            idx = np.searchsorted(keys, kk)
            above = keys[np.clip(idx, 0, len(keys) - 1)]
            below = keys[np.clip(idx - 1, 0, len(keys) - 1)]
            d = np.minimum(np.abs(above - kk), np.abs(kk - below))
            on = d == 0
            hits += on.sum(1)
            if fresh is not None and self.reps > 1:  # a target not hit at all counts twice: breadth first
                fk = self.keys[k][self.count[k] == 0]
                if len(fk):
                    at = np.clip(np.searchsorted(fk, kk), 0, len(fk) - 1)
                    fresh += (on & (fk[at] == kk)).sum(1)
            far += np.log1p(np.minimum(d, FAR)).mean(1) / np.log1p(FAR)
            m += 1
        return hits, 1 - far / max(m, 1)

    def hits(self, pre: dict) -> np.ndarray:
        return self.hits_and_closeness(pre)[0]

    def score(self, pre: dict) -> np.ndarray:
        """Per input: open targets hit (never hit ones twice), plus closeness / 2 as the tie-break (so a climb
        moves towards them)."""
        n = len(next(iter(pre.values()))) if pre else 0
        fresh = np.zeros(n, np.int64)
        h, c = self.hits_and_closeness(pre, fresh)
        return h + fresh + 0.5 * c

    def done(self) -> bool:
        return all(len(self.open_keys(k)) == 0 for k in self.ks)

    def open_targets(self, fresh: bool = False) -> list:
        """(layer, channel, value) of every target hit fewer than reps times, once per missing hit (fresh: only
        the targets never hit)."""
        out = []
        for k in self.ks:
            miss = np.maximum(self.reps - self.count[k], 0)
            if fresh:
                miss[self.count[k] > 0] = 0
            for key, m in zip(self.keys[k][miss > 0], miss[miss > 0]):
                out += [(k, int(key // KEY), int(key % KEY - KEY // 2))] * int(m)
        return out


def climb(start, mutate, evaluate, cover: Coverage, rng, deadline: float, steps: int = 24, tries: int = 8):
    """Hill-climb a batch of inputs (rows of start) on cover.score; evaluate(X) -> pre-activations dict."""
    X = start.copy()
    s = cover.score(evaluate(X))
    B = len(X)
    for _ in range(steps):
        if time.perf_counter() > deadline:
            break
        cand = mutate(np.repeat(X, tries, axis=0), rng)
        sc = cover.score(evaluate(cand)).reshape(B, tries)
        best = sc.argmax(1)
        better = sc[np.arange(B), best] >= s
        rows = np.flatnonzero(better)
        X[rows] = cand[rows * tries + best[rows]]
        s[rows] = sc[rows, best[rows]]
    return X


def climb_levels(start, inv, cover: Coverage, rng, deadline: float, steps: int = 24, tries: int = 8):
    """climb() over first-layer levels, one feature changed per candidate, with a matrix first layer's
    accumulators updated by that feature's weight column instead of recomputed (the bulk of the work otherwise:
    784 inputs on TFC)."""
    from hwgen.verify_inputs import matrix_of

    w0 = matrix_of(cover.layers[0])
    Q = start.copy()
    B, F = Q.shape
    A = mvau(Q, w0)
    s = cover.score(cover.pre(None, acc0=A))
    wT = np.asarray(w0, np.int64).T
    for _ in range(steps):
        if time.perf_counter() > deadline:
            break
        par = np.repeat(np.arange(B), tries)
        f = rng.integers(0, F, len(par))
        old = Q[par, f]
        jump = rng.random(len(par)) < 0.5
        new = inv.random_for(rng, f)  # a random reachable level, or the next one up or down (fine moves)
        nxt = np.clip(inv.rank[f, old - inv.lo] + rng.choice([-1, 1], len(par)), 0, inv.count[f] - 1)
        new = np.where(jump, new, inv.levels_of(f, nxt))
        acc = A[par] + wT[f] * (new - old)[:, None]
        sc = cover.score(cover.pre(None, acc0=acc)).reshape(B, tries)
        best = sc.argmax(1)
        rows = np.flatnonzero(sc[np.arange(B), best] >= s)
        pick = rows * tries + best[rows]
        Q[rows, f[pick]] = new[pick]
        A[rows] = acc[pick]
        s[rows] = sc[rows, best[rows]]
    return Q


def cover_search(start_fn, mutate, evaluate, cover: Coverage, rng, budget_s: float, max_inputs: int,
                 batch: int = 128, steps: int = 24, tries: int = 8, patience: int = 2, climber=None):
    """Batches of climbed inputs until every target is hit cover.reps times, the budget is spent, max_inputs
    are made or `patience` batches in a row add almost nothing; each batch's hits count before the next batch
    starts (so it aims at what is still open). climber(start, cover, rng, deadline, steps, tries): another
    climb (climb_levels)."""
    deadline = time.perf_counter() + budget_s
    out = []
    made, idle = 0, 0
    if cover.total == 0:
        return start_fn(0, rng)
    while made < max_inputs and not cover.done() and time.perf_counter() < deadline and idle < patience:
        b = min(batch, max_inputs - made)
        if climber is not None:
            X = climber(start_fn(b, rng), cover, rng, deadline, steps, tries)
        else:
            X = climb(start_fn(b, rng), mutate, evaluate, cover, rng, deadline, steps, tries)
        pre = evaluate(X)
        # keep only inputs that hit something still open (the rest add time to every backend, not coverage)
        useful = cover.hits(pre) >= 1
        before = cover.progress
        cover.add({k: v[useful] for k, v in pre.items()})
        out.append(X[useful])
        made += int(useful.sum())
        # the targets left may be unreachable (bounds per channel are not joint bounds): stop when batches stall
        idle = idle + 1 if cover.progress - before < max(1, b // 16) else 0
    return np.concatenate(out) if out else start_fn(0, rng)


def level_mutator(inv):
    """Mutations of first-layer levels: one or two features to a random reachable level, or one level step."""

    def mutate(Q, rng):
        Q = Q.copy()
        N, F = Q.shape
        rows = np.arange(N)
        f = rng.integers(0, F, N)
        jump = rng.random(N) < 0.5
        Q[rows[jump], f[jump]] = inv.random_for(rng, f[jump])
        # a step to the next reachable level up or down: fine moves that land exactly on a boundary
        st = rows[~jump]
        fs = f[~jump]
        cur = inv.rank[fs, Q[st, fs] - inv.lo]
        nxt = np.clip(cur + rng.choice([-1, 1], len(st)), 0, inv.count[fs] - 1)
        Q[st, fs] = inv.levels_of(fs, nxt)
        two = rows[rng.random(N) < 0.25]
        g = rng.integers(0, F, len(two))
        Q[two, g] = inv.random_for(rng, g)
        return Q

    return mutate


def float_mutator(span, values=None):
    """Mutations of model inputs: a few elements moved by a random-scale step (or to a random value of a
    declared type's grid, or one grid step)."""

    def mutate(X, rng):
        X = X.copy()
        N = len(X)
        flat = X.reshape(N, -1)
        E = flat.shape[1]
        rows = np.repeat(np.arange(N), 2)
        e = rng.integers(0, E, 2 * N)
        if values is None:
            scale = span * 10.0 ** rng.uniform(-4, 0.3, 2 * N)
            flat[rows, e] += (rng.standard_normal(2 * N) * scale).astype(flat.dtype)
        else:
            pos = np.clip(np.searchsorted(values, flat[rows, e]) + rng.choice([-1, 1], 2 * N), 0, len(values) - 1)
            jump = rng.random(2 * N) < 0.5
            pos[jump] = rng.integers(0, len(values), int(jump.sum()))
            flat[rows, e] = values[pos]
        return flat.reshape(X.shape)

    return mutate


class ModelCoverage:
    """The targets of every hardware island of a model, reached from the model's input: the CPU islands and
    heads run as in IslandGraph.execute, each hardware island's integer input scored on its own targets."""

    def __init__(self, g, reps: int = 1):
        self.g = g
        self.covs = [Coverage(hw.layers, reps) for hw in g.hw_islands]

    @property
    def total(self) -> int:
        return sum(c.total for c in self.covs)

    @property
    def hit(self) -> int:
        return sum(c.hit for c in self.covs)

    @property
    def progress(self) -> int:
        return sum(c.progress for c in self.covs)

    def pre(self, x) -> dict:
        """(island k, layer j) -> values compared with thresholds, for model inputs x: the islands run as
        IslandGraph.execute runs them, up to the last hardware island's integer input."""
        from hwgen.islands import CpuIsland

        out = {}
        isl = self.g.islands
        last = max(i for i, s in enumerate(isl) if not isinstance(s, CpuIsland))
        env, k = {self.g.input_name: np.asarray(x, np.float32)}, 0
        with np.errstate(all="ignore"):  # searched inputs may overflow a float head: such rows just score low
            for i, s in enumerate(isl[:last + 1]):
                if isinstance(s, CpuIsland):
                    env.update(s.run(env))
                    continue
                q = s.head_ints(env[s.input_name])
                for j, p in self.covs[k].pre(q).items():
                    out[(k, j)] = p
                if i < last:
                    env[s.output_name] = s.tail.run(np.asarray(s.run_layers(q), dtype=np.int64))
                k += 1
        return out

    def _split(self, pre):
        per = [{} for _ in self.covs]
        for (k, j), p in pre.items():
            per[k][j] = p
        return per

    def hits(self, pre: dict) -> np.ndarray:
        n = len(next(iter(pre.values()))) if pre else 0
        return sum((c.hits(p) for c, p in zip(self.covs, self._split(pre)) if p), np.zeros(n, np.int64))

    def score(self, pre: dict) -> np.ndarray:
        parts = [p for p in self._split(pre)]
        return sum((c.score(p) for c, p in zip(self.covs, parts) if p), np.zeros(len(next(iter(pre.values())))))

    def add(self, pre: dict) -> None:
        for c, p in zip(self.covs, self._split(pre)):
            if p:
                c.add(p)

    def done(self) -> bool:
        return all(c.done() for c in self.covs)


def model_inputs(g, start, budget_s: float, max_inputs: int, rng, values=None, reps: int = 1):
    """Model inputs (not tensors inside it) whose hardware islands' accumulators land on threshold boundaries:
    a climb over the model's input through its CPU head or CPU islands. start: (M, ...) starting inputs (raw
    floats, or values of a declared type). Returns (inputs, ModelCoverage)."""
    cover = ModelCoverage(g, reps)
    span = float(np.abs(start).max(initial=0)) or 1.0
    vals = None if values is None else np.unique(np.asarray(values, np.float32))

    def starts(b, r):
        return start[r.integers(0, len(start), b)].copy()

    x = cover_search(starts, float_mutator(span, vals), cover.pre, cover, rng, budget_s, max_inputs)
    return x.astype(np.float32), cover
