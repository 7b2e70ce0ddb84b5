"""Necessary conditions for a partition, and how many parts each connected component takes.

:func:`allocate_parts` splits the ``k`` parts among the graph's connected components or raises
:class:`~allocator.errors.Infeasible` with the reason (too few nodes or anchors, more components
than parts, a node heavier than a part may be, a cut vertex whose pieces cannot be balanced).
"""

from __future__ import annotations

import math

import numpy as np

from allocator.districting.instance import Instance
from allocator.errors import Infeasible


def _cut_pieces(inst: Instance, members: list[int]):
    """Articulation points of one component with the pieces their removal leaves.

    Yields ``(v, [(weight, size, anchors), ...])`` for every cut vertex ``v``; one iterative DFS
    (Tarjan's low-points), subtree sums for the pieces below ``v`` and the rest for the piece above.
    """
    w, anchor, adj = inst.w, inst.anchor, inst.adj
    root = members[0]
    tot_w = float(w[members].sum())
    tot_s = len(members)
    tot_a = int(anchor[members].sum())
    disc, low = {root: 0}, {root: 0}
    sub_w, sub_s, sub_a = {}, {}, {}
    pieces = {}
    children = {root: 0}
    stack = [(root, -1, iter(adj[root]))]
    sub_w[root], sub_s[root], sub_a[root] = float(w[root]), 1, int(anchor[root])
    counter = 1
    while stack:
        v, parent, it = stack[-1]
        advanced = False
        for u in it:
            if u == parent:
                continue
            if u in disc:
                low[v] = min(low[v], disc[u])
                continue
            disc[u] = low[u] = counter
            counter += 1
            sub_w[u], sub_s[u], sub_a[u] = float(w[u]), 1, int(anchor[u])
            children[v] = children.get(v, 0) + 1
            stack.append((u, v, iter(adj[u])))
            advanced = True
            break
        if advanced:
            continue
        stack.pop()
        if parent >= 0:
            low[parent] = min(low[parent], low[v])
            sub_w[parent] += sub_w[v]
            sub_s[parent] += sub_s[v]
            sub_a[parent] += sub_a[v]
            if low[v] >= disc[parent]:
                pieces.setdefault(parent, []).append((sub_w[v], sub_s[v], sub_a[v]))
    for v, below in pieces.items():
        if v == root:
            if len(below) >= 2:
                yield v, below
            continue
        rest = (
            tot_w - float(w[v]) - sum(p[0] for p in below),
            tot_s - 1 - sum(p[1] for p in below),
            tot_a - int(anchor[v]) - sum(p[2] for p in below),
        )
        yield v, below + [rest]


def _max_parts(inst: Instance, weight: float, size: int, anchors: int) -> int:
    m = size if inst.lower <= 0 else min(size, int(math.floor(weight / inst.lower + 1e-9)))
    if inst.need_anchor:
        m = min(m, anchors)
    return max(m, 0)


def _component_counts(inst: Instance, members: list[int]) -> tuple[set[int], str, dict]:
    """Numbers of parts a component can hold, the reason when a number is excluded, and the
    amount (requirement -> by how much it fails) for that reason."""
    wc = float(inst.w[members].sum())
    size = len(members)
    anchors = int(inst.anchor[members].sum())
    ok, reason, amount = set(), "", {}
    hi = min(inst.k, _max_parts(inst, wc, size, anchors))
    for kc in range(1, hi + 1):
        if wc > kc * inst.upper * (1 + 1e-12):
            continue
        ok.add(kc)
    if not ok:
        reason = (
            f"the component of {size} node(s) starting at {inst.nodes[members[0]]!r} weighs "
            f"{wc:.6g}: no number of parts of weight {inst.lower:.6g}..{inst.upper:.6g}"
            + (f" with an anchor each ({anchors} anchor(s))" if inst.need_anchor else "")
            + " adds up to it"
        )
        # how far the weight is from what some number of parts could hold
        off = [
            max(kc * inst.lower - wc, wc - kc * inst.upper, 0.0) for kc in range(1, max(hi, 1) + 1)
        ]
        if hi < 1 and inst.need_anchor and anchors == 0:
            return ok, reason, {"anchor": 1.0}
        return ok, reason, {"balance": float(min(off))}
    if max(ok) == 1:
        return ok, reason, amount
    for v, pieces in _cut_pieces(inst, members):
        light = [p for p in pieces if _max_parts(inst, *p) == 0]
        forced = float(inst.w[v]) + sum(p[0] for p in light)
        room = sum(_max_parts(inst, *p) for p in pieces)
        for kc in sorted(ok):
            if kc < 2:
                continue
            if forced > inst.upper * (1 + 1e-12) or room < kc - 1:
                ok.discard(kc)
                if forced > inst.upper * (1 + 1e-12):
                    amount = {"balance": float(forced - inst.upper)}
                    reason = (
                        f"cut vertex {inst.nodes[v]!r}: {len(light)} of the {len(pieces)} pieces "
                        f"its removal leaves are too light (or lack an anchor) to form a part, so "
                        f"they must share its part, which then weighs at least {forced:.6g} > "
                        f"the upper bound {inst.upper:.6g}"
                    )
                else:
                    amount = {"parts": float(kc - 1 - room)}
                    reason = (
                        f"cut vertex {inst.nodes[v]!r}: the pieces its removal leaves can hold "
                        f"at most {room} part(s) besides its own, {kc - 1} needed"
                    )
    return ok, reason, amount


def allocate_parts(inst: Instance) -> list[tuple[list[int], int]]:
    """Split the k parts among the connected components, or raise Infeasible with the reason."""
    n, k = inst.n, inst.k
    if k > n:
        raise Infeasible(
            f"k = {k} parts but the graph has only {n} node(s)", {"parts": float(k - n)}
        )
    if inst.need_anchor and int(inst.anchor.sum()) < k:
        have = int(inst.anchor.sum())
        raise Infeasible(
            f"every part needs an anchor, but there are {have} anchor node(s) for k = {k} parts",
            {"anchor": float(k - have)},
        )
    heavy = np.flatnonzero(inst.w > inst.upper * (1 + 1e-12))
    if heavy.size:
        v = int(heavy[0])
        raise Infeasible(
            f"node {inst.nodes[v]!r} weighs {inst.w[v]:.6g}, more than the upper bound "
            f"{inst.upper:.6g} on a part ((1 + tolerance) x total / k)",
            {"balance": float(inst.w[v] - inst.upper)},
        )
    labels = inst.comp
    ncomp = int(labels.max()) + 1
    if ncomp > k:
        raise Infeasible(
            f"the graph has {ncomp} connected components and every one needs a part of its own, "
            f"but k = {k}",
            {"parts": float(ncomp - k)},
        )
    members = [[] for _ in range(ncomp)]
    for t in range(n):
        members[labels[t]].append(t)
    options = []
    amounts = {}
    for m in members:
        ok, reason, amount = _component_counts(inst, m)
        if not ok:
            raise Infeasible(reason, amount)
        options.append((ok, reason))
        for name, v in amount.items():
            amounts[name] = amounts.get(name, 0.0) + v
    # DP over components: reachable totals, keeping the split closest to proportional
    share = [float(inst.w[m].sum()) / inst.total * k for m in members]
    reach = [{0: (0.0, None)}]
    for c, (ok, _) in enumerate(options):
        nxt = {}
        for total, (cost, _) in reach[-1].items():
            for kc in sorted(ok):
                if total + kc > k:
                    continue
                value = cost + abs(kc - share[c])
                if total + kc not in nxt or value < nxt[total + kc][0] - 1e-12:
                    nxt[total + kc] = (value, kc)
        reach.append(nxt)
    if k not in reach[-1]:
        reasons = "; ".join(r for _, r in options if r)
        lo = sum(min(ok) for ok, _ in options)
        hi = sum(max(ok) for ok, _ in options)
        amounts["parts"] = float(max(lo - k, k - hi, 1))
        raise Infeasible(
            f"the {ncomp} connected component(s) can hold between {lo} and {hi} balanced parts "
            f"in total, not k = {k}" + (f" ({reasons})" if reasons else ""),
            amounts,
        )
    counts = []
    total = k
    for c in range(ncomp, 0, -1):
        kc = reach[c][total][1]
        counts.append(kc)
        total -= kc
    counts.reverse()
    return [(m, kc) for m, kc in zip(members, counts, strict=True)]
