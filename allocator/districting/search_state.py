"""The state of one heuristic search: labels and per-part sums, kept up to date move by move.

Per part ``p``: its members, ``cost[p, c] = sum_{i in p} w_i d_ic`` (so the part's compactness
is the least ``cost`` over its members), weight ``Wp``, attribute sum ``Sp``, size, anchors and
pairs that may not share a part. A pair that may not share a part counts as a balance violation
of ``U`` while balance is repaired, and as a ``penalty`` larger than any difference of objective
while the plan is improved.
"""

from __future__ import annotations

import numpy as np

from allocator.districting.instance import Instance
from allocator.districting.objective import overall_mean


class SearchState:
    """State of one local search: labels plus per-part sums kept up to date move by move.

    The steps that change the state live in mixins (:mod:`.growth`, :mod:`.moves`,
    :mod:`.recombination`); :class:`allocator.districting.heuristic.Search` puts them together.
    """

    def __init__(self, inst: Instance, rng: np.random.Generator, deadline: float):
        """An empty state on ``inst``; ``rng`` drives every random choice, ``deadline`` is a
        ``perf_counter`` time."""
        self.inst = inst
        self.rng = rng
        self.deadline = deadline
        n, k = inst.n, inst.k
        self.wa = inst.w * inst.a if inst.a is not None else np.zeros(n)
        self.wD = inst.w[:, None] * inst.D  # row i: w_i * d(i, .)
        self.labels = np.zeros(n, dtype=np.int64)
        self.plist = [0] * n
        self.member = np.zeros((k, n), dtype=bool)
        self.cost = np.zeros((k, n))
        self.Wp = np.zeros(k)
        self.Sp = np.zeros(k)
        self.size = np.zeros(k, dtype=np.int64)
        self.nanch = np.zeros(k, dtype=np.int64)
        self.comp = np.zeros(k)
        self.nconf = np.zeros(k, dtype=np.int64)  # pairs that may not share a part, per part
        # directed arcs for boundary detection
        self.au = np.concatenate([inst.eu, inst.ev])
        self.av = np.concatenate([inst.ev, inst.eu])
        self.mean = overall_mean(inst)
        # a pair that may not share a part costs more than any objective can differ
        self.penalty = 0.0
        if inst.far is not None:
            spread = float(inst.a.max() - inst.a.min()) if inst.a is not None else 0.0
            finite = inst.D[np.isfinite(inst.D)]
            self.penalty = 10.0 * (inst.alpha * float(finite.max()) + inst.beta * spread) + 1.0
        self.local_index = np.full(n, -1, dtype=np.int64)
        self.version = np.zeros(k, dtype=np.int64)  # bumped whenever a part changes
        self.tried = {}  # (p, q) -> versions at the last failed recombination

    def load(self, labels: np.ndarray) -> None:
        """Take a labelling and recompute every part's sums."""
        inst = self.inst
        self.labels = labels.astype(np.int64).copy()
        self.plist = self.labels.tolist()
        for p in range(inst.k):
            self.refresh(p)
        self.version += 1

    def snapshot(self):
        """What :meth:`restore` needs to return to this state."""
        return self.labels.copy(), self.version.copy(), dict(self.tried)

    def restore(self, snap) -> None:
        """Return to a :meth:`snapshot`."""
        labels, version, tried = snap
        self.load(labels)
        self.version = version.copy()
        self.tried = dict(tried)

    def refresh(self, p: int) -> None:
        """Recompute the sums of part ``p`` from its members."""
        m = np.flatnonzero(self.labels == p)
        inst = self.inst
        self.member[p] = False
        self.member[p, m] = True
        self.cost[p] = self.wD[m].sum(axis=0)
        self.Wp[p] = inst.w[m].sum()
        self.Sp[p] = self.wa[m].sum()
        self.size[p] = m.size
        self.nanch[p] = int(inst.anchor[m].sum())
        self.comp[p] = self.cost[p][m].min() if m.size else 0.0
        if inst.far is not None:
            self.nconf[p] = int(inst.far[np.ix_(m, m)].sum()) // 2

    def means(self, Wp=None, Sp=None) -> np.ndarray:
        """Mean attribute per part (of the given weights and sums, or the current ones)."""
        Wp = self.Wp if Wp is None else Wp
        Sp = self.Sp if Sp is None else Sp
        return Sp / np.where(Wp > 0, Wp, 1.0)

    def value(self) -> tuple[float, float]:
        """(objective, secondary): secondary is the weighted spread of part means."""
        inst = self.inst
        obj = inst.alpha * self.comp.sum() / inst.total
        sec = 0.0
        if inst.beta > 0:
            mu = self.means()
            obj += inst.beta * (mu.max() - mu.min())
            sec = float(self.Wp @ (mu - self.mean) ** 2) / inst.total
        if self.penalty:
            obj += self.penalty * int(self.nconf.sum())
        return float(obj), sec

    def violation(self) -> float:
        """Balance violation (weight units) plus ``upper`` per pair that may not share a part."""
        inst = self.inst
        out = self.balance_violation()
        if inst.far is not None:
            out += inst.upper * int(self.nconf.sum())
        return out

    def balance_violation(self) -> float:
        """Weight by which the parts exceed their bounds, summed."""
        inst = self.inst
        return float(
            np.maximum(self.Wp - inst.upper, 0).sum() + np.maximum(inst.lower - self.Wp, 0).sum()
        )

    def move(self, i: int, q: int) -> None:
        """Move node ``i`` to part ``q``, updating both parts' sums."""
        p = self.plist[i]
        inst = self.inst
        if inst.far is not None:
            self.nconf[p] -= int((inst.far[i] & self.member[p]).sum())
            self.nconf[q] += int((inst.far[i] & self.member[q]).sum())
        self.labels[i] = q
        self.plist[i] = q
        self.member[p, i] = False
        self.member[q, i] = True
        self.cost[p] -= self.wD[i]
        self.cost[q] += self.wD[i]
        self.Wp[p] -= inst.w[i]
        self.Wp[q] += inst.w[i]
        self.Sp[p] -= self.wa[i]
        self.Sp[q] += self.wa[i]
        self.size[p] -= 1
        self.size[q] += 1
        if inst.anchor[i]:
            self.nanch[p] -= 1
            self.nanch[q] += 1
        for r in (p, q):
            self.comp[r] = self.cost[r][self.member[r]].min()
            self.version[r] += 1
