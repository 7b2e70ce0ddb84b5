"""The heuristic method (large graphs): multi-start local search with recombination.

Method
------
Multi-start: seeds spread by k-means++ sampling (every other start weight-biased; anchors as
seeds when anchors are required), parts grown from the seeds (the lightest part takes its
nearest free neighbour), balance repaired by moves, then improved until no move helps by

* single-node moves to a neighbouring part that keep the giving part connected (a local
  search from the node's neighbours inside its part, stopped as soon as they all meet) and
  every part balanced, evaluated exactly with centres re-optimised (:mod:`.moves`);
* recombination of two neighbouring parts: random spanning trees of their union, every tree
  edge whose cut leaves both sides balanced is scored exactly, the best is taken if it helps
  (:mod:`.recombination`).

A conflicting pair in one part counts as a violation (``U`` each) while balance is repaired
and as a penalty larger than any difference of objective while the plan is improved; a start
that still holds one is dropped.

Every random choice comes from ``numpy.random.default_rng(seed)``, so a run is deterministic
for a seed unless ``time_limit`` stops it early.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from allocator.districting.growth import GrowthSteps
from allocator.districting.instance import Instance
from allocator.districting.moves import MoveSteps
from allocator.districting.objective import conflict_count
from allocator.districting.recombination import RecombinationSteps
from allocator.districting.result import Partition, make_result
from allocator.districting.search_state import SearchState
from allocator.errors import Infeasible


class Search(SearchState, GrowthSteps, MoveSteps, RecombinationSteps):
    """One local search: the state with its growth, move and recombination steps."""


def tree_count(inst: Instance) -> int:
    """Spanning trees per recombination: more on small graphs, where each one is cheap."""
    return int(min(32, inst.n, max(4, 4000 // inst.n)))


def improve(search: Search, trees: int) -> None:
    """Alternate single moves and recombination rounds until neither helps (or time is up)."""
    while time.perf_counter() < search.deadline:
        moved = search.local_search(balanced=True)
        recombined = search.recombine_round(trees)
        if not moved and not recombined:
            break


def run_heuristic(
    inst: Instance,
    allocation,
    seed: int,
    starts: int,
    deadline: float,
    trees: int = 4,
    kicks: int = 10,
):
    """Best valid labelling over ``starts`` starts that reached balance (at most
    ``4 * starts + 8`` tried), or None when none did.

    Each start: k-means++ seeds, region growing, balance repair, improvement to a local
    optimum, then ``kicks`` rounds of iterated local search (re-split a random pair of
    neighbouring parts at a random balanced cut, improve, keep the result only if better).
    """
    best, best_val = None, None
    run = done = 0
    attempts = 4 * starts + 8  # a start that cannot reach balance fails fast: try more of them
    for run in range(1, attempts + 1):
        if done >= starts:
            run -= 1
            break
        rng = np.random.default_rng([seed, run])
        search = Search(inst, rng, deadline)
        seeds = search.seeds(allocation, weighted=run % 2 == 1)
        search.load(search.grow(seeds, 0.0 if run <= 2 else 0.5))
        _repair_balance(search, trees)
        if search.balance_violation() > 1e-9 * max(1.0, inst.upper):
            if time.perf_counter() >= deadline:
                break
            continue
        done += 1
        if done % 2 == 0 and inst.alpha > 0 and inst.beta > 0:
            # every other start settles compactness first, then both terms
            plain = Search(dataclasses.replace(inst, beta=0.0), rng, deadline)
            plain.load(search.labels)
            improve(plain, trees)
            search.load(plain.labels)
        improve(search, trees)
        _kick(search, trees, kicks)
        if conflict_count(inst, search.labels):
            done -= 1  # pairs that may not share a part still do: the start does not count
            if time.perf_counter() >= deadline:
                break
            continue
        val = search.value()
        if best_val is None or val < best_val:
            best, best_val = search.labels.copy(), val
        if time.perf_counter() >= deadline:
            break
    return best, run


def _repair_balance(search: Search, trees: int) -> None:
    """Moves that reduce the violation, and re-splits of unbalanced parts, up to 50 rounds."""
    if search.violation() <= 0:
        return
    for _ in range(50):
        search.local_search(balanced=False)
        if search.violation() <= 0 or time.perf_counter() >= search.deadline:
            break
        if not search.repair(trees):
            break


def _kick(search: Search, trees: int, kicks: int) -> None:
    """Iterated local search: re-split a random pair of neighbouring parts at a random balanced
    cut, improve, keep the result only if better; ``kicks`` times."""
    for _ in range(kicks):
        if time.perf_counter() >= search.deadline:
            break
        pairs = search.part_pairs()
        if not pairs:
            break
        snap = search.snapshot()
        before = search.value()
        p, q = pairs[int(search.rng.integers(len(pairs)))]
        if not search.recombine(p, q, 1, force=True):
            continue
        improve(search, trees)
        if not search.value() < before:
            search.restore(snap)


def heuristic_result(inst, graph, allocation, seed, starts, deadline, t0, notes=()) -> Partition:
    """The heuristic method's verified :class:`Partition`, or Infeasible when it found none."""
    labels, runs = run_heuristic(
        inst, allocation, int(seed), int(starts), deadline, tree_count(inst)
    )
    if labels is None:
        raise heuristic_failed(inst, runs)
    return make_result(inst, labels, graph, "heuristic", "local", None, None, t0, runs, None, notes)


def heuristic_failed(inst: Instance, runs: int) -> Infeasible:
    """The error when ``runs`` heuristic starts found no valid partition."""
    return Infeasible(
        f"the heuristic found no partition into {inst.k} connected parts of weight "
        f"{inst.lower:.6g}..{inst.upper:.6g}"
        + (" with an anchor each" if inst.need_anchor else "")
        + f" in {runs} start(s); one may still exist (try more starts, a larger "
        "tolerance, or method='exact' on small graphs)",
        {"balanced connected parts": float(inst.k)},
    )
