"""District areas on the map: each district as the Voronoi cells of its schools, cut to its county.

:func:`district_cells` gives each school the part of its county nearest to it, the county being
the hull of its schools widened a little (:func:`district_outline`), so districts tile their
county without overlapping; :func:`district_colours` colours neighbouring districts differently.
Plain geometry with scipy (no GIS library needed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import ConvexHull, Delaunay, QhullError, Voronoi

__all__ = ["district_outline", "district_cells", "district_colours"]


def district_outline(x, y, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """The outline of a district: the convex hull of its schools, each widened by ``margin``.

    Every school is replaced by twelve points on a circle of radius ``margin`` around it, so one
    school or schools in a line still give an area.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The outline's x and y, closed (the first point repeated at the end).

    Examples
    --------
    >>> ox, oy = district_outline([0.0], [0.0], 1.0)
    >>> bool(np.allclose(np.hypot(ox, oy), 1.0)), bool(ox[0] == ox[-1])
    (True, True)
    """
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    px = (np.asarray(x, float)[:, None] + margin * np.cos(angles)).ravel()
    py = (np.asarray(y, float)[:, None] + margin * np.sin(angles)).ravel()
    try:
        idx = ConvexHull(np.column_stack([px, py])).vertices
    except QhullError:  # pragma: no cover - twelve points on a circle are never degenerate
        idx = np.arange(len(px))
    idx = np.append(idx, idx[0])
    return px[idx], py[idx]


def _clip(cell: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """The convex polygon ``cell`` cut to the convex, anticlockwise, closed polygon ``clip``."""
    out = list(map(tuple, cell))
    for (ax, ay), (bx, by) in zip(clip[:-1], clip[1:], strict=True):
        if not out:
            break
        points, out = out, []

        def inside(p, ax=ax, ay=ay, bx=bx, by=by):
            return (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) >= 0

        def cross(p, q, ax=ax, ay=ay, bx=bx, by=by):
            d1 = (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax)
            d2 = (bx - ax) * (q[1] - ay) - (by - ay) * (q[0] - ax)
            t = d1 / (d1 - d2)
            return (p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]))

        prev = points[-1]
        for point in points:
            if inside(point):
                if not inside(prev):
                    out.append(cross(prev, point))
                out.append(point)
            elif inside(prev):
                out.append(cross(prev, point))
            prev = point
    return np.array(out, dtype=float).reshape(-1, 2)


def _inside_convex(points: np.ndarray, clip: np.ndarray) -> bool:
    a, b = clip[:-1], clip[1:]
    side = (b[:, 0] - a[:, 0]) * (points[:, None, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (
        points[:, None, 0] - a[:, 0]
    )
    return bool((side >= -1e-9).all())


def district_cells(schools: pd.DataFrame, margin: float) -> dict[str, list[np.ndarray]]:
    """The area of each district: the Voronoi cells of its schools within their county.

    Each school gets the part of the county nearest to it (the county being the hull of its
    schools widened by ``margin``), so districts tile their county without overlapping.

    Parameters
    ----------
    schools : pandas.DataFrame
        ``x``, ``y``, ``county`` and ``district`` (schools with no district are left out).
    margin : float
        How far beyond its outermost schools a county's areas reach (km).

    Returns
    -------
    dict
        District → its cells, each an (n, 2) array of corners.

    Examples
    --------
    >>> s = pd.DataFrame({"x": [0.0, 2.0], "y": [0.0, 0.0], "county": "A", "district": ["d1", "d2"]})
    >>> cells = district_cells(s, 1.0)
    >>> bool(cells["d1"][0][:, 0].max() <= 1.0 + 1e-9 <= cells["d2"][0][:, 0].min() + 2e-9)
    True
    """
    out: dict[str, list[np.ndarray]] = {}
    sub = schools[schools["district"].notna()].drop_duplicates(["x", "y"])
    for _, county in sub.groupby("county", sort=False):
        x, y = county["x"].to_numpy(float), county["y"].to_numpy(float)
        ox, oy = district_outline(x, y, margin)
        clip = np.column_stack([ox, oy])
        names = county["district"].astype(str).tolist()
        if len(county) == 1:
            out.setdefault(names[0], []).append(clip[:-1])
            continue
        far = 10 * (np.ptp(ox) + np.ptp(oy) + 1)
        cx, cy = x.mean(), y.mean()
        pts = np.column_stack(
            [np.append(x, [cx - far, cx + far, cx, cx]), np.append(y, [cy, cy, cy - far, cy + far])]
        )
        try:
            vor = Voronoi(pts)
        except QhullError:  # all schools of the county in a line
            for name, xi, yi in zip(names, x, y, strict=True):
                bx, by = district_outline([xi], [yi], margin)
                out.setdefault(name, []).append(np.column_stack([bx, by]))
            continue
        for i, name in enumerate(names):
            region = vor.regions[vor.point_region[i]]
            if not region or -1 in region:
                continue
            cell = vor.vertices[region]
            centre = cell.mean(axis=0)
            cell = cell[np.argsort(np.arctan2(cell[:, 1] - centre[1], cell[:, 0] - centre[0]))]
            if not _inside_convex(cell, clip):
                cell = _clip(cell, clip)
            if len(cell) >= 3:
                out.setdefault(name, []).append(cell)
    return out


def district_colours(schools: pd.DataFrame, colours: int) -> dict[str, int]:
    """A colour number per district (0, 1, ...), neighbouring districts in different ones.

    Two districts are neighbours when two of their schools are (the schools' Delaunay triangles).

    Examples
    --------
    >>> s = pd.DataFrame({"x": [0.0, 1, 2, 3], "y": [0.0, 1, 0, 1], "district": list("aabb")})
    >>> district_colours(s, 10)
    {'a': 0, 'b': 1}
    """
    sub = schools[schools["district"].notna()].drop_duplicates(["x", "y"])
    names = list(dict.fromkeys(sub["district"].astype(str)))
    near: dict[str, set[str]] = {n: set() for n in names}
    if len(sub) >= 4:
        try:
            tri = Delaunay(sub[["x", "y"]].to_numpy(float))
            label = sub["district"].astype(str).to_numpy()
            for simplex in tri.simplices:
                for a in simplex:
                    for b in simplex:
                        if label[a] != label[b]:
                            near[label[a]].add(label[b])
        except QhullError:
            pass
    colour: dict[str, int] = {}
    for n in names:
        used = {colour[m] for m in near[n] if m in colour}
        colour[n] = next(c for c in range(len(names) + 1) if c not in used) % colours
    return colour
