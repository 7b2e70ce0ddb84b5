"""Why a model has no solution: an elastic relaxation that finds, per row group, the least total
amount by which its rows must give way.

The elastic model adds two nonnegative slack columns per row, ``row_lower <= A x + s_minus - s_plus
<= row_upper``, and minimises the sum of the slacks; a group's violation is the sum of its rows'
slacks.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from allocator.errors import Infeasible
from allocator.solver.highs import new_highs, pass_model
from allocator.solver.model import LinearModel
from allocator.solver.options import SolveInfo

__all__ = ["infeasible_error", "group_violations"]


def group_violations(model: LinearModel) -> dict[str, float]:
    """The least total relaxation of each row group that makes ``model`` feasible (integrality
    ignored); empty when the relaxation itself cannot be solved.

    Examples
    --------
    >>> m = LinearModel.from_arrays([0.0], [[1.0], [1.0]], row_lower=[5.0, -np.inf],
    ...                             row_upper=[np.inf, 3.0], row_groups=["need", "cap"])
    >>> group_violations(m)
    {'need': 2.0}
    """
    import highspy

    m, n = model.shape
    if m == 0:
        return {}
    eye = sp.identity(m, format="csc")
    big = sp.hstack([model.A, eye, -eye], format="csc")
    cost = np.concatenate([np.zeros(n), np.ones(2 * m)])
    lower = np.concatenate([model.col_lower, np.zeros(2 * m)])
    upper = np.concatenate([model.col_upper, np.full(2 * m, np.inf)])
    elastic = LinearModel(
        c=cost,
        A=big,
        row_lower=model.row_lower,
        row_upper=model.row_upper,
        col_lower=lower,
        col_upper=upper,
        integrality=np.zeros(n + 2 * m, bool),
        row_groups=model.row_groups,
    )
    h = new_highs()
    pass_model(h, elastic)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return {}
    s = np.asarray(h.getSolution().col_value)[n:]
    slack = s[:m] + s[m:]
    out: dict[str, float] = {}
    for g, v in zip(model.row_groups, slack, strict=True):
        if v > 1e-7:
            out[str(g)] = out.get(str(g), 0.0) + float(v)
    return out


def infeasible_error(info: SolveInfo, model: LinearModel) -> Infeasible:
    """The :class:`~allocator.errors.Infeasible` to raise for ``model``: its message names the
    conflicting groups (worst first, at most five) and by how much each falls short."""
    violations = group_violations(model)
    if violations:
        worst = sorted(violations.items(), key=lambda kv: -kv[1])
        parts = ", ".join(f"{g} (short by {v:.4g})" for g, v in worst[:5])
        message = f"no plan meets every requirement; conflicting: {parts}"
    else:
        message = (
            "no plan meets every requirement (integrality or bounds make the model infeasible)"
        )
    exc = Infeasible(message, violations)
    exc.info = info
    return exc
