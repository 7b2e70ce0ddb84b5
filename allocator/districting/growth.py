"""Start plans of the heuristic: k-means++ seeds and region growing from them."""

from __future__ import annotations

import heapq

import numpy as np


class GrowthSteps:
    """Seeding and growth, a mixin of :class:`allocator.districting.heuristic.Search` (uses its
    ``inst`` and ``rng``)."""

    def seeds(self, allocation, weighted: bool = False) -> list[int]:
        """k-means++ seeds per component: each next seed is drawn with probability proportional
        to its squared distance to the nearest seed (times its weight when ``weighted``, which
        puts more seeds where the weight is, e.g. among the large schools of a town)."""
        inst = self.inst
        seeds = []
        for members, kc in allocation:
            m = np.asarray(members)
            pool = m[inst.anchor[m]] if inst.need_anchor else m
            pw = inst.w[pool] + 1e-9 * max(float(inst.w[pool].max()), 1e-9)
            if weighted:
                first = int(pool[self.rng.choice(pool.size, p=pw / pw.sum())])
            else:
                first = int(pool[self.rng.integers(pool.size)])
            chosen = [first]
            dmin = inst.D[first, pool].copy()
            while len(chosen) < kc:
                p = dmin**2 * (pw if weighted else 1.0)
                if p.sum() <= 0:
                    free = np.flatnonzero(~np.isin(pool, chosen))
                    nxt = int(pool[free[self.rng.integers(free.size)]])
                else:
                    nxt = int(pool[self.rng.choice(pool.size, p=p / p.sum())])
                chosen.append(nxt)
                dmin = np.minimum(dmin, inst.D[nxt, pool])
            seeds.extend(chosen)
        return seeds

    def grow(self, seeds: list[int], randomness: float = 0.0) -> np.ndarray:
        """Grow parts from the seeds: the lightest part takes its nearest free neighbour.

        With ``randomness > 0`` part weights and distances are blurred by random factors in
        ``[1, 1 + randomness]``, so later starts grow different shapes.
        """
        inst = self.inst
        n = inst.n
        labels = np.full(n, -1, dtype=np.int64)
        weight = np.zeros(len(seeds))
        heaps = [[] for _ in seeds]
        noise = 1 + randomness * self.rng.random(n)
        tie = self.rng.random(n) * 1e-9
        for p, s in enumerate(seeds):
            labels[s] = p
            weight[p] = inst.w[s]
        for p, s in enumerate(seeds):
            for u in inst.adj[s]:
                heapq.heappush(heaps[p], (inst.D[seeds[p], u] * noise[u] + tie[u], u))
        left = n - len(seeds)
        order = list(range(len(seeds)))
        blur = 1 + randomness * self.rng.random(len(seeds))
        far = inst.far
        strict = far is not None  # parts pass over nodes they may not hold while others can
        deferred = [[] for _ in seeds]
        while left:
            order.sort(key=lambda r: (weight[r] * blur[r], r))
            grown = False
            for p in order:
                h = heaps[p]
                while h and (labels[h[0][1]] >= 0 or (strict and far[h[0][1], labels == p].any())):
                    item = heapq.heappop(h)
                    if labels[item[1]] < 0:
                        deferred[p].append(item)
                if not h:
                    continue
                _, u = heapq.heappop(h)
                labels[u] = p
                weight[p] += inst.w[u]
                left -= 1
                for x in inst.adj[u]:
                    if labels[x] < 0:
                        heapq.heappush(h, (inst.D[seeds[p], x] * noise[x] + tie[x], x))
                grown = True
                break
            if not grown and strict:
                # every free neighbour conflicts with its part: take them anyway, repair later
                strict = False
                for p, items in enumerate(deferred):
                    for item in items:
                        heapq.heappush(heaps[p], item)
                continue
            if not grown:  # cannot happen on components that each hold a seed
                raise RuntimeError("region growing stalled")
        return labels
