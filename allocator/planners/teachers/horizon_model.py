"""The hiring model over years: one MILP per county deciding how many teachers each school hires
in each year of the horizon.

Model (one county)
------------------
Data: schools i, years t = 1..Y; S_i the teachers today; R_it the retirements of year t and
C_it = R_i1 + ... + R_it; r_it the required staff of year t (the staffing norms on that year's
forecast pupils); H_t the county's hiring quota of year t; w = ``surplus_years``, a = ``surplus_slack``.
U_i = max(0, max_t (r_it - S_i + C_it)), the most a school could need to hire.

Variables: h_it >= 0 integer (hires, h_it <= U_i); s_it >= 0 (teachers short); z_it in {0, 1}
(whether school i hires in year t). The stock without rotations is
S_it = S_i - C_it + sum_{u <= t} h_iu.

* shortfall: s_it >= r_it - S_it;
* quota: sum_i h_it <= H_t;
* link: h_it <= U_i z_it;
* no surplus hire (a hard rule): for t and each tau = t .. min(t + w, Y),
  S_i - C_i,tau + sum_{u <= t} h_iu <= r_i,tau + a + M (1 - z_it), M = U_i - (r_i,tau + a - S_i +
  C_i,tau): a school hires in year t only if, with that hire and less the retirements to come, it
  stays within its requirement plus the slack in that year and each of the next w years (years
  beyond the horizon are not known and not checked). A school whose stock already exceeds a coming
  requirement does not hire; its shortfall now is reported instead.

Objective, lexicographic in one solve: min W * sum s_it + sum_t (Y - t + 1) h_it, W = Y * sum_i U_i
+ 1: first the fewest teacher-years short, then the fewest teacher-years of new posts paid within
the horizon (fewest hires, each as late as the norms allow). Both parts are whole numbers at an
integer optimum and the second is below W, so the weights order them exactly.

Rotations are not in this model: they are planned year by year afterwards (see
:mod:`allocator.planners.teachers.horizon`).

Examples
--------
>>> import numpy as np
>>> h, info = hire_over_years(np.array([20]), np.array([[0, 3, 4]]), np.array([[20, 20, 20]]),
...                           np.array([3.0, 3.0, 3.0]), window=3, slack=0)
>>> h.tolist()
[[0, 3, 3]]
"""

from __future__ import annotations

import numpy as np

from allocator.solver import ModelBuilder, SolveInfo, SolverOptions, solve_matrix

__all__ = ["hire_over_years", "surplus_hires"]


def hire_over_years(
    stock: np.ndarray,
    retire: np.ndarray,
    required: np.ndarray,
    quota: np.ndarray,
    window: int,
    slack: int,
    options: SolverOptions | None = None,
) -> tuple[np.ndarray, SolveInfo]:
    """Hires per school and year of one county (see the module's docstring).

    Parameters
    ----------
    stock : array (n,)
        Teachers today.
    retire, required : array (n, Y)
        Retirements and required staff per year.
    quota : array (Y,)
        The county's hires allowed each year (inf: no limit).
    window, slack : int
        ``surplus_years`` and ``surplus_slack``.

    Returns
    -------
    (hires, SolveInfo)
        ``hires`` (n, Y) whole numbers.
    """
    stock = np.asarray(stock, np.int64)
    n, Y = required.shape
    base = required - stock[:, None] + np.cumsum(retire, axis=1)  # r_it - S_i + C_it
    upper = np.maximum(base.max(axis=1, initial=0), 0).astype(float)
    if n == 0 or not upper.any() or not np.any(np.asarray(quota) > 0):
        info = SolveInfo("optimal", 0.0, 0.0, 0.0, 0.0, "none")
        return np.zeros((n, Y), np.int64), info
    years_left = (Y - np.arange(Y)).astype(float)
    W = Y * float(upper.sum()) + 1.0
    b = ModelBuilder()
    h = b.add_columns(
        "hires", (n, Y), cost=np.tile(years_left, n), upper=np.repeat(upper, Y), integer=True
    )
    s = b.add_columns("shortfall", (n, Y), cost=W)
    z = b.add_columns("hire_year", (n, Y), upper=1.0, integer=True)
    ii, tt = np.divmod(np.arange(n * Y), Y)
    # shortfall: s_it + sum_{u<=t} h_iu >= base_it
    ri, ci = [], []
    for u in range(Y):
        later = tt >= u
        ri.append(np.flatnonzero(later))
        ci.append(ii[later] * Y + u)
    rows, cols = np.concatenate(ri), np.concatenate(ci)
    b.add_rows(
        "shortfall",
        n * Y,
        {s: (np.arange(n * Y), np.arange(n * Y), 1.0), h: (rows, cols, 1.0)},
        lower=base.reshape(-1).astype(float),
    )
    finite = np.isfinite(np.asarray(quota, float))
    for t in np.flatnonzero(finite):
        b.add_rows(f"hiring_quota__{t}", 1, {h: (0, np.arange(n) * Y + t, 1.0)}, upper=quota[t])
    b.add_rows(
        "hire_link",
        n * Y,
        {h: (np.arange(n * Y), np.arange(n * Y), 1.0), z: (np.arange(n * Y), np.arange(n * Y), -upper[ii])},
        upper=0.0,
    )  # fmt: skip
    _surplus_rows(b, h, z, base, upper, window, slack)
    sol = solve_matrix(b.build(), options=options)
    hires = np.round(sol.x[: n * Y]).astype(np.int64).reshape(n, Y)
    return hires, sol.info


def _surplus_rows(b, h, z, base, upper, window, slack) -> None:
    """The rows that forbid a hire that would be surplus within ``window`` years."""
    n, Y = base.shape
    row_cols, z_cols, z_vals, rhs = [], [], [], []
    for i in range(n):
        for t in range(Y):
            for tau in range(t, min(t + window, Y - 1) + 1):
                room = base[i, tau] + slack  # r + a - S + C at tau: hires that stay needed
                big = upper[i] - room
                if big <= 0:
                    continue  # even every hire possible stays needed
                row_cols.append(i * Y + np.arange(t + 1))
                z_cols.append(i * Y + t)
                z_vals.append(big)
                rhs.append(room + big)
    k = len(rhs)
    if not k:
        return
    counts = [len(c) for c in row_cols]
    b.add_rows(
        "surplus_hire",
        k,
        {
            h: (np.repeat(np.arange(k), counts), np.concatenate(row_cols), 1.0),
            z: (np.arange(k), np.array(z_cols), np.array(z_vals, float)),
        },
        upper=np.array(rhs, float),
    )


def surplus_hires(
    stock: np.ndarray,
    retire: np.ndarray,
    required: np.ndarray,
    hires: np.ndarray,
    window: int,
    slack: int,
) -> list[tuple[int, int, int]]:
    """Hires that break the surplus rule: (school, year, year it is surplus), recomputed.

    Examples
    --------
    >>> surplus_hires(np.array([20]), np.array([[2, 0]]), np.array([[20, 15]]),
    ...               np.array([[2, 0]]), 3, 0)
    [(0, 0, 1)]
    """
    stock = np.asarray(stock, np.int64)
    n, Y = required.shape
    held = stock[:, None] - np.cumsum(retire, axis=1)
    hired = np.cumsum(hires, axis=1)
    out = []
    for i, t in zip(*np.nonzero(hires > 0), strict=True):
        for tau in range(t, min(t + window, Y - 1) + 1):
            if held[i, tau] + hired[i, t] > required[i, tau] + slack:
                out.append((int(i), int(t), int(tau)))
                break
    return out
