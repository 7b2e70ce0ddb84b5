"""What the consolidation planner does before the long solves, and with a county no plan fits.

Every county is checked first, all of them before any MIP (a few seconds in all): each settlement
band needs a school within its travel limits, ``max_schools`` must leave room for the schools the
keep rules hold, and the county's model must have a solution once whole pupils are not required
(its LP relaxation; if that has none, neither has the MIP). The checks name every county that
fails, with the requirement and the amount.

Where today's layout already breaks a limit (a village more than 30 minutes from any school with a
seat for its grade 1-3 pupils, or farther than any limit from every school), no plan can keep that
limit, and a plan that stopped there would leave the whole county unplanned. Instead such a band
("breach") may also go to its ``BREACH_SCHOOLS`` nearest schools beyond the limit, and may be
split; each pupil placed there costs a penalty larger than anything a closure, a classroom or a
trip can save per pupil, so the plan places as few pupils beyond limits as any plan can and never
makes a breach worse to save money. The plan reports them (``MergerPlan.breaches``).

With ``MergerPolicy(on_infeasible="report")`` (the default) the counties that still have no plan
are left as they are and listed in ``MergerPlan.unplanned`` with the reason; with ``"error"``
nothing beyond a limit is allowed and any county without a plan raises :class:`Infeasible`,
naming every such county at once.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from allocator.errors import Infeasible
from allocator.i18n import Words
from allocator.planners.mergers.columns import PLANNED_BANDS
from allocator.planners.mergers.data import County, nearest_before
from allocator.planners.mergers.model import linear_model
from allocator.planners.mergers.policy import MergerPolicy
from allocator.planners.mergers.result import CountyResult
from allocator.planners.mergers.sets import build_model, unservable, unservable_error
from allocator.planners.mergers.solve import explain_infeasible, solve_unit
from allocator.solver import LinearModel, SolverOptions, solve_matrix
from allocator.text import plural

#: Columns of ``MergerPlan.unplanned``.
UNPLANNED_COLUMNS = ("county", "schools", "settlements", "requirement", "amount", "reason")
#: Columns of ``MergerPlan.breaches``.
BREACH_COLUMNS = (
    "county", "settlement_id", "band", "pupils", "school_id", "minutes", "limit_minutes", "rule",
    "reason",
)  # fmt: skip


def band_limit(policy: MergerPolicy, band: str) -> float:
    """The longest trip a band may make: its day limit, or the boarding limit if it may board.

    Examples
    --------
    >>> from allocator.planners.mergers import MergerPolicy
    >>> band_limit(MergerPolicy(), "lower_primary"), band_limit(MergerPolicy(), "junior")
    (30.0, 90.0)
    """
    limit = policy.day_minutes(band)
    if band in policy.boarding_bands:
        limit = max(limit, policy.boarding_minutes)
    return float(limit)


def _served_demands(unit: County, exc: Infeasible) -> np.ndarray:
    """(settlements, 3) bool: the settlement bands an Infeasible names as finding no seat."""
    sid = {s: i for i, s in enumerate(unit.settlements["settlement_id"])}
    mask = np.zeros(unit.demand.shape, dtype=bool)
    for key in exc.violations:
        parts = key.split(" ")
        if parts[0] == "serve":
            parts = parts[1:]
        if len(parts) == 2 and parts[0] in sid and parts[1] in PLANNED_BANDS:
            mask[sid[parts[0]], PLANNED_BANDS.index(parts[1])] = True
    return mask & (unit.demand > 0)


def _with_breach(unit: County, mask: np.ndarray) -> County:
    old = unit.breach if unit.breach is not None else np.zeros(unit.demand.shape, dtype=bool)
    return dataclasses.replace(unit, breach=old | mask)


def check_county(
    unit: County, policy: MergerPolicy, options: SolverOptions, allow_breach: bool
) -> tuple[County, Infeasible | None]:
    """Check one county before its MIP; return it (with the bands today's layout already fails
    marked, when ``allow_breach``) and None, or an Infeasible naming the requirement and amount.

    Examples
    --------
    >>> from allocator.planners.mergers import MergerPolicy, plan_mergers
    >>> from allocator.synth import make_region
    >>> plan = plan_mergers(make_region(schools=40, seed=3), MergerPolicy(on_infeasible="error"))
    >>> plan.unplanned.empty and plan.breaches.empty
    True
    """
    travel_mode = unit.max_schools is not None
    before = nearest_before(unit, policy)
    model = build_model(unit, policy, travel_mode, before)
    bad = unservable(model)
    if bad.any():
        if not allow_breach:
            return unit, unservable_error(model, before[1])
        # a school that teaches the band is within the cutoff: it may go there, beyond its limit
        reach = np.zeros(bad.shape, dtype=bool)
        finite = np.isfinite(unit.travel)
        for b in range(3):
            reach[:, b] = (finite & unit.teaches[:, b][None, :]).any(axis=1)
        if (bad & ~reach).any():
            return unit, unservable_error(model, before[1], bad & ~reach)
        unit = _with_breach(unit, bad)
        model = build_model(unit, policy, travel_mode, before)
    forced = int(model.fixed_open.sum())
    if unit.max_schools is not None and forced > unit.max_schools:
        return unit, Infeasible(
            f"{unit.name}: max_schools={unit.max_schools} but the keep rules already keep "
            f"{forced} schools; raise max_schools or relax the keep rules",
            {"max_schools": float(forced - unit.max_schools)},
        )
    exc = _lp_infeasible(model, options)
    if exc is None or not allow_breach:
        return unit, exc
    # the bands today's layout fails: those the model cannot place with every school open (no
    # closure, no max_schools), even as split counts; none: the policy is the cause
    today = dataclasses.replace(unit, max_schools=None)
    failed_today = _lp_infeasible(build_model(today, policy, False, before), options, True)
    mask = np.zeros(bad.shape, dtype=bool)
    if failed_today is not None:
        mask = _served_demands(unit, failed_today)
    if not mask.any():
        return unit, exc
    unit = _with_breach(unit, mask)
    model = build_model(unit, policy, travel_mode, before)
    return unit, _lp_infeasible(model, options)


def _lp_infeasible(model, options: SolverOptions, keep_open: bool = False) -> Infeasible | None:
    """The model's LP relaxation (every existing school open with ``keep_open``): None if it has
    a solution, else the Infeasible naming what fails and by how much."""
    linear = linear_model(model, model.unit.max_schools is not None)
    lower = linear.col_lower.copy()
    if keep_open:
        lower[linear.columns["y"]] = np.where(model.unit.candidate, 0.0, 1.0)
    try:
        solve_matrix(linear.with_column_bounds(lower=lower, integrality=False), options=options)
    except Infeasible as exc:
        return explain_infeasible(model, exc)
    return None


def solve_county(
    unit: County, policy: MergerPolicy, options: SolverOptions
) -> CountyResult | Infeasible:
    """Solve one county's MIP; return the Infeasible instead of raising it (one county without a
    plan does not stop the others).

    With ``on_infeasible="report"``, a county whose villages cannot each send a whole band to one
    school, not even to today's schools all open (their LP has a plan, the MIP none), is solved
    once more with the villages the LP splits allowed to split (reported in the breaches).
    """
    try:
        return solve_unit(unit, policy, options)
    except Infeasible as exc:
        if _served_demands(unit, exc).any():
            return exc
        split = split_today(unit, policy, options)
        if split is None or not split.any():
            if exc.violations:
                return exc
            # today's schools hold every whole band: the policy's closures are the cause
            travel_mode = unit.max_schools is not None
            model = build_model(unit, policy, travel_mode)
            split = _split_bands(model, linear_model(model, travel_mode), options)
            return exc if split is None else _whole_village_error(unit, split, today=False)
        if policy.on_infeasible != "report":
            return _whole_village_error(unit, split)
        try:
            return solve_unit(dataclasses.replace(unit, split_today=split), policy, options)
        except Infeasible as again:
            return again


def _whole_village_error(unit: County, split: np.ndarray, today: bool = True) -> Infeasible:
    """Name the villages whose whole bands fit no plan (``today``: not even with every school of
    today open; else: under the policy's closures), with their pupils."""
    sid = unit.settlements["settlement_id"].to_numpy()
    violations = {}
    for s, b in zip(*np.nonzero(split & (unit.demand > 0)), strict=True):
        violations[f"whole_village {sid[s]} {PLANNED_BANDS[b]}"] = float(unit.demand[s, b])
    names = [k.split(" ", 1)[1] for k in violations]
    why = (
        "not even with every school of today open"
        if today
        else "under this policy (today's schools could hold them whole)"
    )
    advice = "allow split=True" if today else "allow split=True or relax max_schools / keep rules"
    exc = Infeasible(
        f"{unit.name}: no plan puts each whole village band at one school, {why}: "
        f"{len(names)} band{'s' if len(names) != 1 else ''} "
        f"({', '.join(names[:8])}{' ...' if len(names) > 8 else ''}, "
        f"{int(sum(violations.values()))} pupils) would have to be split; {advice}",
        violations,
    )
    exc.settlements = sorted({str(sid[s]) for s in np.flatnonzero(split.any(axis=1))})
    return exc


def split_today(unit: County, policy: MergerPolicy, options: SolverOptions):
    """(settlements, 3) bool: bands that must split even with every school of today open (those
    the LP splits; None when today's schools can take every whole band: then the policy, not the
    layout, is the cause)."""
    today = dataclasses.replace(unit, max_schools=None)
    model = build_model(today, policy, False)
    linear = linear_model(model, False)
    lower = linear.col_lower.copy()
    lower[linear.columns["y"]] = np.where(unit.candidate, 0.0, 1.0)
    linear = linear.with_column_bounds(lower=lower)
    try:
        solve_matrix(linear.with_objective(np.zeros(linear.shape[1])), options=options)
        return None
    except Infeasible:
        pass
    return _split_bands(model, linear, options)


def _split_bands(model, linear: LinearModel, options: SolverOptions):
    """(settlements, 3) bool: the whole-village bands the LP optimum of ``linear`` (the model's
    MILP) splits (None if the LP has no plan either)."""
    try:
        lp = solve_matrix(linear.with_column_bounds(integrality=False), options=options)
    except Infeasible:
        return None
    x = linear.column_values(lp.x, "x")
    frac = ~model.split_pair & (np.abs(x - np.round(x)) > 1e-6)
    mask = np.zeros(model.unit.demand.shape, dtype=bool)
    mask[model.ps[frac], model.pb[frac]] = True
    return mask if mask.any() else None


def combined_error(failed: list[tuple[County, Infeasible]]) -> Infeasible:
    """One Infeasible for every county without a plan (the county's own if only one).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> unit = County("A", pd.DataFrame(), pd.DataFrame(), *(np.zeros((0, 3)),) * 2,
    ...     np.zeros(0), np.zeros((0, 3)), np.zeros((0, 0)), np.zeros((0, 0)), None)
    >>> two = [(unit, Infeasible("A: short", {"x": 1.0})), (unit, Infeasible("A: y", {"y": 2.0}))]
    >>> combined_error(two).violations
    {'A: x': 1.0, 'A: y': 2.0}
    """
    if len(failed) == 1:
        return failed[0][1]
    violations, settlements = {}, []
    for unit, exc in failed:
        for key, value in exc.violations.items():
            violations[f"{unit.name}: {key}"] = float(value)
        settlements += list(getattr(exc, "settlements", []))
    n = len({unit.name for unit, _ in failed})
    message = f"{n} counties have no plan: " + " | ".join(exc.message for _, exc in failed)
    out = Infeasible(message, violations)
    out.settlements = sorted(set(settlements))
    return out


def unplanned_table(failed: list[tuple[County, Infeasible]]) -> pd.DataFrame:
    """One row per county left without a plan: its size, the requirement that fails (the largest
    violation), the amount by which it fails, and the full reason."""
    rows = []
    for unit, exc in failed:
        key, amount = max(exc.violations.items(), key=lambda kv: kv[1], default=("", np.nan))
        rows.append(
            {
                "county": unit.name,
                "schools": int((~unit.candidate).sum()),
                "settlements": len(unit.settlements),
                "requirement": key,
                "amount": float(amount),
                "reason": exc.message,
            }
        )
    return pd.DataFrame(rows, columns=list(UNPLANNED_COLUMNS))


def breach_table(res: CountyResult) -> pd.DataFrame:
    """The pupils a plan places beyond their travel limit, with the reason today's layout gives.

    A band goes beyond its limit only when no plan can keep it within: either no school teaching
    the band is within the limit, or those within it lack the seats for every band that has only
    them.
    """
    model, unit, policy = res.model, res.unit, res.model.policy
    used = np.flatnonzero(model.pbreach & (res.pupils > 0))
    if unit.split_today is not None:
        # whole bands of these villages fit no plan: the bands the plan splits
        mine = unit.split_today[model.ps, model.pb] & (res.pupils > 0) & ~model.pbreach
        key = model.ps * 3 + model.pb
        count = np.bincount(key[mine], minlength=3 * len(unit.settlements))
        used = np.union1d(used, np.flatnonzero(mine & (count[key] > 1)))
    if not len(used):
        return pd.DataFrame(columns=list(BREACH_COLUMNS))
    ids = unit.schools["school_id"].to_numpy()
    sid = unit.settlements["settlement_id"].to_numpy()
    rows = []
    for p in used:
        s, b = int(model.ps[p]), int(model.pb[p])
        band = PLANNED_BANDS[b]
        limit = band_limit(policy, band)
        within = np.flatnonzero((model.ps == s) & (model.pb == b) & ~model.pbreach)
        rule = "travel_limit"
        if not model.pbreach[p]:
            rule = "whole_village"
            n = int(((model.ps == s) & (model.pb == b) & (res.pupils > 0)).sum())
            reason = (
                f"split between {n} schools: no plan, not even with every school of today open, "
                "puts each whole band of the villages near it at one school"
            )
        elif len(within):
            names = ", ".join(ids[np.unique(model.pj[within])][:4])
            reason = (
                f"the schools within {limit:g} min ({names}) have no seat left for "
                f"{int(unit.demand[s, b] - res.pupils[within].sum())} of its "
                f"{int(unit.demand[s, b])} pupils"
            )
        else:
            reason = f"no school teaching {band} within {limit:g} min"
        rows.append(
            {
                "county": unit.name,
                "settlement_id": sid[s],
                "band": band,
                "pupils": int(res.pupils[p]),
                "school_id": ids[model.pj[p]],
                "minutes": round(float(model.pt[p]), 3),
                "limit_minutes": limit,
                "rule": rule,
                "reason": reason,
            }
        )
    return pd.DataFrame(rows, columns=list(BREACH_COLUMNS))


def counted(w: Words, n: int, word: str) -> str:
    """``n`` with its English noun (:func:`allocator.text.plural`) in English, the number alone
    in Chinese (the Chinese label carries its measure word).

    Examples
    --------
    >>> counted(Words("en"), 2, "school"), counted(Words("zh"), 2, "school")
    ('2 schools', '2')
    """
    return plural(n, word) if w.language == "en" else f"{n:,}"


def summary_lines(
    breaches: pd.DataFrame, unplanned: pd.DataFrame, w: Words | None = None
) -> list[str]:
    """Lines of ``MergerPlan.summary`` for the breaches and the counties left unplanned, in the
    language of ``w`` (English by default)."""
    w = w or Words("en")
    sep = w("summary.list_sep")
    lines = []
    b = breaches[breaches["rule"] == "travel_limit"]
    if len(b):
        per = b.groupby(["settlement_id", "band"], sort=False).agg(
            pupils=("pupils", "sum"),
            limit=("limit_minutes", "first"),
            reason=("reason", "first"),
        )
        pupils = int(per["pupils"].sum())
        lines.append(
            "  "
            + w("summary.mergers.beyond", pupils=counted(w, pupils, "pupil"),
                bands=counted(w, len(per), "settlement band"))
        )  # fmt: skip
        for (sid, band), r in per.head(5).iterrows():
            lines.append(
                f"    {sid} {band}"
                + w("summary.mergers.beyond_row", pupils=int(r.pupils), limit=f"{r.limit:g}",
                    reason=r.reason)
            )  # fmt: skip
        if len(per) > 5:
            lines.append("    " + w("summary.mergers.more_breaches", n=len(per) - 5))
    split = breaches[breaches["rule"] == "whole_village"]
    if len(split):
        bands = split.drop_duplicates(["settlement_id", "band"])
        lines.append(
            "  "
            + w("summary.mergers.split", bands=counted(w, len(bands), "settlement band"),
                which=sep.join(f"{r.settlement_id} {r.band}" for r in bands.head(5).itertuples())
                + (" ..." if len(bands) > 5 else ""))
        )  # fmt: skip
    u = unplanned
    if len(u):
        lines.append(
            "  "
            + w("summary.mergers.unplanned", counties=counted(w, len(u), "county"),
                names=sep.join(u["county"]))
        )  # fmt: skip
        for r in u.head(5).itertuples():
            lines.append(f"    {r.reason}")
    return lines
