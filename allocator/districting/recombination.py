"""Recombination of two neighbouring parts along random spanning trees.

The union of two parts is re-split along a tree edge of a random spanning tree (a minimum
spanning tree under random edge weights); every tree edge whose cut leaves both sides balanced
(and with an anchor each) is scored exactly, the best cut is taken if it helps. Also used to
repair balance and to kick a local optimum.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import minimum_spanning_tree


class RecombinationSteps:
    """Recombination, a mixin of :class:`allocator.districting.heuristic.Search` (uses the state
    of :class:`~allocator.districting.search_state.SearchState`)."""

    def part_pairs(self):
        """Pairs ``(p, q)``, ``p < q``, of parts joined by an edge."""
        lab = self.labels
        pu, pv = lab[self.inst.eu], lab[self.inst.ev]
        cross = pu != pv
        a_ = np.minimum(pu[cross], pv[cross])
        b_ = np.maximum(pu[cross], pv[cross])
        if a_.size == 0:
            return []
        key = np.unique(a_ * self.inst.k + b_)
        return [(int(x // self.inst.k), int(x % self.inst.k)) for x in key]

    def _pair_graph(self, p: int, q: int):
        """Nodes of parts p and q (global ids) and their internal edges (local ids) as CSR."""
        inst = self.inst
        nodes = np.flatnonzero((self.labels == p) | (self.labels == q))
        local = self.local_index
        local[nodes] = np.arange(nodes.size)
        inside = (local[inst.eu] >= 0) & (local[inst.ev] >= 0)
        lu, lv = local[inst.eu[inside]], local[inst.ev[inside]]
        local[nodes] = -1
        s = nodes.size
        mat = sp.csr_matrix((np.ones(lu.size), (lu, lv)), shape=(s, s))
        return nodes, mat

    def _trees(self, mat: sp.csr_matrix, count: int):
        """Random spanning trees (minimum spanning trees under random edge weights).

        Yields ``(order, parent, size)``: a preorder (every subtree contiguous), parents and
        subtree sizes.
        """
        s = mat.shape[0]
        for _ in range(count):
            mat.data = self.rng.random(mat.data.size) + 0.5
            tree = minimum_spanning_tree(mat).tocoo()
            if tree.nnz != s - 1:
                return
            nbrs = [[] for _ in range(s)]
            for u, v in zip(tree.row.tolist(), tree.col.tolist(), strict=True):
                nbrs[u].append(v)
                nbrs[v].append(u)
            root = int(self.rng.integers(s))
            yield _tree_order(nbrs, root)

    def recombine(self, p: int, q: int, trees: int, force: bool = False) -> bool:
        """Re-split parts p and q along the best balanced cut of random spanning trees.

        The cut is applied when it improves (objective, secondary); with ``force`` the best
        balanced cut found is applied regardless (used to repair balance).
        """
        inst = self.inst
        nodes, mat = self._pair_graph(p, q)
        s = nodes.size
        W2 = float(self.Wp[p] + self.Wp[q])
        S2 = float(self.Sp[p] + self.Sp[q])
        slack = 1e-9 * max(1.0, inst.upper)
        base_obj, base_sec = self.value()
        comp_rest = self.comp.sum() - self.comp[p] - self.comp[q]
        conflicts_rest = 0
        if inst.far is not None:
            conflicts_rest = int(self.nconf.sum() - self.nconf[p] - self.nconf[q])
        sub_w = inst.w[nodes]
        sub_wa = self.wa[nodes]
        sub_an = inst.anchor[nodes].astype(np.int64)
        total_an = int(sub_an.sum())
        best = None
        colpos = np.arange(s)
        for order, _parent, size in self._trees(mat, trees):
            # subtree of the node at preorder position r: positions r .. r + size - 1
            pw = np.concatenate([[0.0], np.cumsum(sub_w[order])])
            tin = np.arange(1, s)  # cut above every non-root position
            tout = tin + size[order[1:]]
            A = pw[tout] - pw[tin]
            ok = (A >= inst.lower - slack) & (A <= inst.upper + slack)
            ok &= (W2 - A >= inst.lower - slack) & (W2 - A <= inst.upper + slack)
            if inst.need_anchor:
                pa = np.concatenate([[0], np.cumsum(sub_an[order])])
                an = pa[tout] - pa[tin]
                ok &= (an >= 1) & (total_an - an >= 1)
            g = nodes[order]
            if not ok.any():
                continue
            tin, tout, A = tin[ok], tout[ok], A[ok]
            clashes = 0.0
            if inst.far is not None:
                clashes = conflicts_rest + _cut_conflicts(inst.far[np.ix_(g, g)], tin, tout)
            pref = np.vstack([np.zeros(s), np.cumsum(self.wD[np.ix_(g, g)], axis=0)])
            inside = (colpos[None, :] >= tin[:, None]) & (colpos[None, :] < tout[:, None])
            costA = pref[tout] - pref[tin]
            costB = pref[s][None, :] - costA
            compA = np.where(inside, costA, np.inf).min(axis=1)
            compB = np.where(~inside, costB, np.inf).min(axis=1)
            obj = inst.alpha * (comp_rest + compA + compB) / inst.total + self.penalty * clashes
            sec = np.zeros(tin.size)
            if inst.beta > 0:
                pwa = np.concatenate([[0.0], np.cumsum(sub_wa[order])])
                SA = pwa[tout] - pwa[tin]
                Wm = np.tile(self.Wp, (tin.size, 1))
                Sm = np.tile(self.Sp, (tin.size, 1))
                Wm[:, p], Wm[:, q] = A, W2 - A
                Sm[:, p], Sm[:, q] = SA, S2 - SA
                mu = Sm / np.where(Wm > 0, Wm, 1.0)
                obj = obj + inst.beta * (mu.max(axis=1) - mu.min(axis=1))
                sec = (Wm * (mu - self.mean) ** 2).sum(axis=1) / inst.total
            t = int(np.lexsort((sec, obj))[0])
            cand = (float(obj[t]), float(sec[t]))
            if best is None or cand < best[0]:
                best = (cand, g[tin[t] : tout[t]])
        if best is None:
            return False
        (obj, sec), sideA = best
        tol = 1e-10 * max(1.0, abs(base_obj))
        if force or obj < base_obj - tol or (obj <= base_obj + tol and sec < base_sec - 1e-12):
            self.labels[nodes] = q
            self.labels[sideA] = p
            for v in nodes.tolist():
                self.plist[v] = int(self.labels[v])
            self.refresh(p)
            self.refresh(q)
            self.version[p] += 1
            self.version[q] += 1
            return True
        return False

    def recombine_round(self, trees: int) -> bool:
        """Try every pair of neighbouring parts that changed since its last failed attempt."""
        pairs = self.part_pairs()
        self.rng.shuffle(pairs)
        changed = False
        for p, q in pairs:
            if time.perf_counter() >= self.deadline:
                break
            key = (p, q)
            stamp = (int(self.version[p]), int(self.version[q]))
            if self.tried.get(key) == stamp:
                continue
            if self.recombine(p, q, trees):
                changed = True
            else:
                self.tried[key] = stamp
        return changed

    def repair(self, trees: int) -> bool:
        """Re-split each unbalanced part, or one holding a conflicting pair, with a neighbour when
        their union can be split evenly."""
        inst = self.inst
        changed = False
        clash = set(np.flatnonzero(self.nconf > 0).tolist())
        for p, q in self.part_pairs():
            balanced = all(inst.lower <= self.Wp[r] <= inst.upper for r in (p, q))
            if balanced and p not in clash and q not in clash:
                continue
            W2 = self.Wp[p] + self.Wp[q]
            if not (2 * inst.lower <= W2 <= 2 * inst.upper):
                continue
            before = self.violation()
            saved = self.labels.copy()
            if self.recombine(p, q, max(trees, 8), force=True):
                if self.violation() < before - 1e-12:
                    changed = True
                else:
                    self.load(saved)
        return changed


def _cut_conflicts(F: np.ndarray, tin: np.ndarray, tout: np.ndarray) -> np.ndarray:
    """For each cut (positions ``tin..tout-1`` against the rest), the pairs flagged in the
    symmetric boolean matrix ``F`` (in preorder positions) that end on the same side."""
    Fi = F.astype(np.int64)
    S = np.zeros((F.shape[0] + 1, F.shape[0] + 1), dtype=np.int64)
    S[1:, 1:] = Fi.cumsum(axis=0).cumsum(axis=1)
    R = np.concatenate([[0], Fi.sum(axis=1).cumsum()])
    inside = S[tout, tout] - S[tin, tout] - S[tout, tin] + S[tin, tin]
    cross = R[tout] - R[tin] - inside
    outside = int(Fi.sum()) - inside - 2 * cross
    return (inside + outside) // 2


def _tree_order(nbrs: list, root: int):
    """Preorder, parent and subtree size of a tree given as neighbour lists."""
    s = len(nbrs)
    parent = [-1] * s
    order = []
    stack = [root]
    parent[root] = root
    while stack:
        v = stack.pop()
        order.append(v)
        for u in nbrs[v]:
            if parent[u] == -1:
                parent[u] = v
                stack.append(u)
    parent[root] = -1
    size = [1] * s
    for v in reversed(order):
        pv = parent[v]
        if pv >= 0:
            size[pv] += size[v]
    return np.asarray(order, dtype=np.int64), parent, np.asarray(size, dtype=np.int64)
