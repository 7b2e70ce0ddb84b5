"""Single-node moves of the heuristic: candidates, exact evaluation, the connectivity test.

A node may move to a neighbouring part when the part it leaves stays connected (a local search
from its neighbours inside the part, stopped as soon as they all meet), keeps an anchor and, once
balance is reached, every part stays balanced. Every candidate move is evaluated exactly, with
the centres of both parts re-optimised.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np


class MoveSteps:
    """Single-node moves, a mixin of :class:`allocator.districting.heuristic.Search` (uses the
    state of :class:`~allocator.districting.search_state.SearchState`)."""

    def stays_connected(self, i: int) -> bool:
        """Does part(i) minus i stay connected? Interleaved searches from i's neighbours."""
        p = self.plist[i]
        pl = self.plist
        adj = self.inst.adj
        nb = [u for u in adj[i] if pl[u] == p]
        if len(nb) <= 1:
            return True
        # union-find over searches started at each neighbour: stop once all merged
        owner = {u: t for t, u in enumerate(nb)}
        parent = list(range(len(nb)))

        def find(t):
            while parent[t] != t:
                parent[t] = parent[parent[t]]
                t = parent[t]
            return t

        groups = len(nb)
        queues = [deque([u]) for u in nb]
        active = list(range(len(nb)))
        while groups > 1:
            progressed = False
            for t in active:
                q = queues[t]
                if not q:
                    continue
                progressed = True
                x = q.popleft()
                for y in adj[x]:
                    if y == i or pl[y] != p:
                        continue
                    o = owner.get(y)
                    if o is None:
                        owner[y] = t
                        q.append(y)
                    else:
                        a_, b_ = find(o), find(t)
                        if a_ != b_:
                            parent[a_] = b_
                            groups -= 1
                            if groups == 1:
                                return True
            if not progressed:
                return False
            # a search that has exhausted its queue while still separate proves a split
            roots = {}
            for t in range(len(nb)):
                r = find(t)
                roots.setdefault(r, False)
                if queues[t]:
                    roots[r] = True
            if any(not alive for alive in roots.values()):
                return False
        return True

    def candidates(self):
        """Every (node, neighbouring part) pair: arrays of nodes and of target parts."""
        lab = self.labels
        cross = lab[self.au] != lab[self.av]
        i = self.au[cross]
        q = lab[self.av[cross]]
        if i.size == 0:
            return i, q
        key = np.unique(i * self.inst.k + q)
        return key // self.inst.k, key % self.inst.k

    def evaluate(self, ii, Q):
        """Exact objective, secondary and violation after each single move (ii[t] -> Q[t])."""
        inst = self.inst
        P = self.labels[ii]
        w_ii = inst.w[ii]
        m = ii.size
        rows = np.arange(m)
        # compactness, over each part's members only (padded index table, sentinel column n)
        n = inst.n
        memb = self.members_table()
        colP = memb[P]  # m x width
        costx = np.concatenate([self.cost, np.full((inst.k, 1), np.inf)], axis=1)
        wDx = np.concatenate([self.wD, np.zeros((n, 1))], axis=1)
        vals = costx[P[:, None], colP] - wDx[ii[:, None], colP]
        vals[colP == ii[:, None]] = np.inf
        compP = vals.min(axis=1)
        compP[~np.isfinite(compP)] = 0.0
        colQ = memb[Q]
        valsQ = costx[Q[:, None], colQ] + wDx[ii[:, None], colQ]
        compQ = np.minimum(valsQ.min(axis=1), self.cost[Q, ii])  # i as the new centre
        total_comp = self.comp.sum() - self.comp[P] - self.comp[Q] + compP + compQ
        obj = inst.alpha * total_comp / inst.total
        sec = np.zeros(m)
        Wp = np.tile(self.Wp, (m, 1))
        Wp[rows, P] -= w_ii
        Wp[rows, Q] += w_ii
        if inst.beta > 0:
            Sp = np.tile(self.Sp, (m, 1))
            Sp[rows, P] -= self.wa[ii]
            Sp[rows, Q] += self.wa[ii]
            mu = Sp / np.where(Wp > 0, Wp, 1.0)
            obj = obj + inst.beta * (mu.max(axis=1) - mu.min(axis=1))
            sec = ((Wp * (mu - self.mean) ** 2).sum(axis=1)) / inst.total
        viol = np.maximum(Wp - inst.upper, 0).sum(axis=1) + np.maximum(inst.lower - Wp, 0).sum(
            axis=1
        )
        if inst.far is not None:
            fi = inst.far[ii]
            delta = (fi & self.member[Q]).sum(axis=1) - (fi & self.member[P]).sum(axis=1)
            after = int(self.nconf.sum()) + delta
            viol = viol + inst.upper * after
            obj = obj + self.penalty * after
        return obj, sec, viol

    def members_table(self) -> np.ndarray:
        """k x width table of each part's members, padded with the sentinel ``n``."""
        n, k = self.inst.n, self.inst.k
        order = np.argsort(self.labels, kind="stable")
        counts = np.bincount(self.labels, minlength=k)
        width = int(counts.max())
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        table = np.full((k, width), n, dtype=np.int64)
        pos = np.arange(n) - np.repeat(starts, counts)
        table[self.labels[order], pos] = order
        return table

    def allowed(self, ii, Q, balanced: bool):
        """Which moves keep the giving part non-empty with an anchor (and, when ``balanced``,
        every part within its bounds)."""
        inst = self.inst
        P = self.labels[ii]
        ok = self.size[P] > 1
        if inst.need_anchor:
            ok &= ~(inst.anchor[ii] & (self.nanch[P] <= 1))
        if balanced:
            slack = 1e-9 * max(1.0, inst.upper)
            ok &= self.Wp[P] - inst.w[ii] >= inst.lower - slack
            ok &= self.Wp[Q] + inst.w[ii] <= inst.upper + slack
        return ok

    def local_search(self, balanced: bool) -> bool:
        """Apply improving single moves until none is left; True if anything changed."""
        changed = False
        chunk = max(1, 2_000_000 // max(self.inst.n, 1))
        while time.perf_counter() < self.deadline:
            ii, Q = self.candidates()
            if ii.size == 0:
                break
            keep = self.allowed(ii, Q, balanced)
            ii, Q = ii[keep], Q[keep]
            if ii.size == 0:
                break
            obj0, sec0 = self.value()
            viol0 = self.violation()
            objs, secs, viols = [], [], []
            for s in range(0, ii.size, chunk):
                o, se, vi = self.evaluate(ii[s : s + chunk], Q[s : s + chunk])
                objs.append(o)
                secs.append(se)
                viols.append(vi)
            obj, sec, viol = np.concatenate(objs), np.concatenate(secs), np.concatenate(viols)
            tol = 1e-10 * max(1.0, abs(obj0))
            if balanced:
                better = (obj < obj0 - tol) | ((obj <= obj0 + tol) & (sec < sec0 - 1e-12))
                keyv = obj
            else:
                better = viol < viol0 - 1e-9 * max(1.0, self.inst.upper)
                keyv = viol
            idx = np.flatnonzero(better)
            if idx.size == 0:
                break
            order = idx[np.lexsort((sec[idx], obj[idx], keyv[idx]))]
            touched = set()
            moved = 0
            for t in order.tolist():
                i, q = int(ii[t]), int(Q[t])
                p = self.plist[i]
                if p in touched or q in touched:
                    continue  # stale evaluation; the next round sees the new state
                if moved:
                    # the imbalance term couples all parts: re-check against the current state
                    o1, s1, v1 = self.evaluate(ii[t : t + 1], Q[t : t + 1])
                    cur_obj, cur_sec = self.value()
                    tol = 1e-10 * max(1.0, abs(cur_obj))
                    if balanced:
                        still = o1[0] < cur_obj - tol or (
                            o1[0] <= cur_obj + tol and s1[0] < cur_sec - 1e-12
                        )
                    else:
                        still = v1[0] < self.violation() - 1e-9 * max(1.0, self.inst.upper)
                    if not still:
                        continue
                if not self.stays_connected(i):
                    continue
                self.move(i, q)
                touched.update((p, q))
                moved += 1
            if moved == 0:
                break
            changed = True
        return changed
