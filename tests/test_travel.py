"""Travel times: compiled Dijkstra against networkx, symmetry, triangle inequality, cutoff."""

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocator.synth import make_region


@pytest.fixture(scope="module")
def region():
    return make_region(schools=60, seed=11)


def dense(matrix):
    out = np.full(matrix.shape, np.inf)
    coo = matrix.tocoo()
    out[coo.row, coo.col] = coo.data
    return out


def test_matches_networkx(region):
    src = list(region.settlements["node"][:15])
    tgt = list(region.schools["node"])
    t = dense(region.travel_minutes(src, tgt))
    for i, s in enumerate(src):
        lengths = nx.single_source_dijkstra_path_length(region.roads, s, weight="minutes")
        np.testing.assert_allclose(t[i], [lengths[n] for n in tgt])


def test_cutoff_leaves_out_far_pairs_and_keeps_zero(region):
    nodes = list(region.schools["node"])
    full = dense(region.travel_minutes(nodes, nodes))
    cut = region.travel_minutes(nodes, nodes, cutoff=20)
    got = dense(cut)
    assert np.array_equal(np.isfinite(got), full <= 20)
    # a school to itself is 0 minutes and must stay a stored (reachable) entry
    assert all(cut[i, i] == 0 and cut[i].indices.tolist().count(i) == 1 for i in range(len(nodes)))


def test_cached(region):
    a = region.travel_minutes(region.settlements["node"], region.schools["node"], cutoff=45)
    b = region.travel_minutes(region.settlements["node"], region.schools["node"], cutoff=45)
    assert a is b


@given(seed=st.integers(0, 10_000))
def test_symmetric_and_triangle(seed):
    region = make_region(schools=12, seed=seed)
    nodes = list(region.roads.nodes)[:40]
    t = dense(region.travel_minutes(nodes, nodes))
    assert np.allclose(t, t.T)
    # d(i, k) <= d(i, j) + d(j, k) for all i, j, k
    assert (t[:, None, :] <= t[:, :, None] + t[None, :, :] + 1e-9).all()
