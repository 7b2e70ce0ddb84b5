"""Robustness over forecast draws: how often each decision is taken, and the robust plan.

For each setting of the other axes (a budget, a rule, a county), the draws whose plan was found
(status ``ok``) are counted, and each decision of their plans gets the share of those draws that
took it: a school closed (``close``), a budget line bought (``buy``: a school and an
intervention), a district formed with exactly its schools (``district``).

The *robust plan* of a threshold (``robust = 0.8``) lists the decisions taken in at least that
share of draws. It is a table of decisions, not a plan: it is not re-optimised, so it need not
meet the budget, the travel limits or the staffing of any one draw, and decisions that only make
sense together (a closure and the expansion that receives its pupils) may be split by it. Use it
to see which decisions hold whichever way births and migration go, then run the scenario with
those decisions fixed to get a plan.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"draw": [0, 1, 2, 3], "status": "ok",
...                   "decisions": [["close m S1"], ["close m S1", "close m S2"], ["close m S1"], []]})
>>> decision_shares(t)[["decision", "share"]].values.tolist()
[['close m S1', 0.75], ['close m S2', 0.25]]
>>> robust_plan(decision_shares(t), 0.7)["decision"].tolist()
['close m S1']
"""

from __future__ import annotations

import pandas as pd

__all__ = ["decision_parts", "decision_shares", "robust_plan"]

_META = ("key", "position", "status", "error", "seconds", "decisions", "draw")


def decision_parts(decision: str) -> dict:
    """A decision's kind, step and what it concerns (``school``, ``intervention``, ``schools``).

    Examples
    --------
    >>> decision_parts("buy budget S03 classrooms")
    {'kind': 'buy', 'step': 'budget', 'school': 'S03', 'intervention': 'classrooms'}
    """
    kind, step, rest = (decision.split(" ", 2) + ["", ""])[:3]
    if kind == "buy":
        school, _, intervention = rest.partition(" ")
        return {"kind": kind, "step": step, "school": school, "intervention": intervention}
    if kind == "district":
        return {"kind": kind, "step": step, "schools": rest}
    return {"kind": kind, "step": step, "school": rest}


def decision_shares(table: pd.DataFrame, measures: tuple = ()) -> pd.DataFrame:
    """Per setting of the non-draw axes: each decision, the draws that took it and their share.

    ``table`` is :func:`allocator.sweep.store.read_tasks`'s; columns named in ``measures`` are
    left out of the settings. Returns columns: the settings' axes, ``decision``, ``kind``,
    ``step``, ``taken``, ``draws`` (plans found) and ``share``.
    """
    axes = [c for c in table.columns if c not in _META and c not in measures]
    ok = table[table["status"] == "ok"]
    rows = []
    groups = ok.groupby(axes, sort=False, dropna=False) if axes else [((), ok)]
    for setting, group in groups:
        setting = setting if isinstance(setting, tuple) else (setting,)
        counts: dict[str, int] = {}
        for decisions in group["decisions"]:
            for d in set(decisions):
                counts[d] = counts.get(d, 0) + 1
        for d, n in counts.items():
            parts = decision_parts(d)
            rows.append(
                {
                    **dict(zip(axes, setting, strict=True)),
                    "decision": d,
                    "kind": parts["kind"],
                    "step": parts["step"],
                    "taken": n,
                    "draws": len(group),
                    "share": n / len(group),
                }
            )
    columns = [*axes, "decision", "kind", "step", "taken", "draws", "share"]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(
        [*axes, "share", "decision"], ascending=[True] * len(axes) + [False, True]
    ).reset_index(drop=True)


def robust_plan(shares: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The decisions taken in at least ``threshold`` of the draws (see the module docstring)."""
    return shares[shares["share"] >= threshold - 1e-12].reset_index(drop=True)
