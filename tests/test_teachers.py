"""Tests of the teacher posting and rotation planner.

Hand-built regions of 1-4 schools whose best plan is worked out by hand (in the comments), the
rotation-quota diagnosis with its numbers, and invariants on random synthetic regions.
"""

from __future__ import annotations

import dataclasses
import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.errors import Infeasible, InputError
from allocator.metrics import allocation_r2
from allocator.planners.teachers import CATEGORIES, TeacherPolicy, plan_teachers
from allocator.planners.teachers import solve as teachers
from allocator.planners.teachers.data import split_heads
from allocator.region import SETTLEMENT_COLUMNS, Region
from allocator.solver import SolverOptions, solve_matrix
from allocator.standards import required_staff
from allocator.synth import make_region

_AREA_RANK = {"urban": 2, "town": 1, "rural": 0}


# --------------------------------------------------------------------------- hand-built regions
def school(
    sid,
    *,
    county="A",
    area="rural",
    level="primary",
    pupils=190,
    classes=6,
    T,
    Q,
    B,
    E,
    junior=0,
    **extra,
):
    lower = pupils // 2 if level != "junior" else 0
    upper = pupils - lower if level != "junior" else 0
    row = {
        "school_id": sid,
        "name": sid,
        "county": county,
        "township": "T",
        "area_type": area,
        "level": level,
        "node": f"n{sid}",
        "x": 0.0,
        "y": 0.0,
        "pupils_lower_primary": lower,
        "pupils_upper_primary": upper,
        "pupils_junior": junior if level != "junior" else pupils,
        "pupils_senior": 0,
        "classes": classes,
        "capacity": pupils + 50,
        "teachers": T,
        "teachers_qualified": Q,
        "teachers_backbone": B,
        "teachers_pe_arts": E,
        "floor_area_m2": 5.0 * pupils,
        "sports_area_m2": 8.0 * pupils,
        "equipment_value": 2500.0 * pupils,
        "multimedia_rooms": 5,
        "annual_cost": 1e6,
    }
    row.update(extra)
    return row


def hand_region(schools, edges):
    graph = nx.Graph()
    for k, s in enumerate(schools):
        graph.add_node(s["node"], x=float(k), y=0.0)
    for a, b, minutes in edges:
        graph.add_edge(f"n{a}", f"n{b}", minutes=float(minutes))
    settlements = pd.DataFrame({c: [] for c in SETTLEMENT_COLUMNS})
    return Region(pd.DataFrame(schools), settlements, graph, name="hand")


def transfers_of(plan):
    t = plan.transfers
    return sorted(
        zip(
            t["from_school_id"],
            t["to_school_id"],
            t["category"],
            t["count"],
            t["minutes"],
            strict=True,
        )
    )


def hires_of(plan):
    h = plan.hires
    return dict(zip(h["category"], h["count"], strict=True))


def test_backbone_goes_to_the_nearer_rural_school_up_to_what_the_sender_can_spare():
    # U: urban primary, 380 pupils -> requirement 20 teachers; 2017 needs qualified ceil(15.96)=16,
    #    backbone ceil(3.8)=4, PE/arts ceil(3.42)=4. It has 24 teachers, 20 qualified, 8 backbone,
    #    10 eligible; eligible backbone ceil(10/24 * 8) = 4. Quota ceil(0.1 * 10) = 1.
    # R1, R2: rural, 190 pupils -> requirement 10, backbone need 2. R1 has 9 teachers, 0 backbone
    #    (short 1 staff, 2 backbone); R2 meets everything. U-R1 20 min, U-R2 50 min.
    # Stage 1 needs 2 backbone at R1. Stage 2 (gap): urban rate 8/380 -> rural target
    # ceil(380 * 8 / 380) = 8 backbone, rural has 2: U sends all 4 it can spare (it keeps its
    # requirement of 20 staff and 4 backbone). Stage 3: all 4 to the nearer R1.
    region = hand_region(
        [
            school(
                "U", area="urban", pupils=380, classes=9, T=24, Q=20, B=8, E=5, teachers_eligible=10
            ),
            school("R1", T=9, Q=8, B=0, E=2, teachers_eligible=0),
            school("R2", T=10, Q=8, B=2, E=2, teachers_eligible=0),
        ],
        [("U", "R1", 20), ("U", "R2", 50), ("R1", "R2", 40)],
    )
    plan = plan_teachers(region, TeacherPolicy(hiring_quota=0))
    assert transfers_of(plan) == [("U", "R1", "backbone", 4, 20.0)]
    assert plan.hires.empty
    st_ = plan.staffing.set_index("school_id")
    assert st_.loc["U", "required_teachers"] == 20
    assert st_.loc["U", "need_backbone"] == 4 and st_.loc["R1", "need_backbone"] == 2
    assert st_.loc["U", "rotation_required"] == 1
    after = plan.apply(region).schools.set_index("school_id")
    assert after.loc["U", ["teachers", "teachers_qualified", "teachers_backbone"]].tolist() == [
        20,
        16,
        4,
    ]
    assert after.loc["R1", ["teachers", "teachers_qualified", "teachers_backbone"]].tolist() == [
        13,
        12,
        4,
    ]
    assert after.loc["U", "teachers_eligible"] == 6
    h = plan.headline()
    assert h["staff_shortfall_before"] == 1 and h["staff_shortfall_after"] == 0
    assert h["backbone_shortfall_before"] == 2 and h["backbone_shortfall_after"] == 0
    # backbone per 100 pupils, urban 8/380 -> 4/380, rural 2/380 -> 6/380
    assert h["backbone_per_100_urban_before"] == pytest.approx(100 * 8 / 380, abs=1e-4)
    assert h["backbone_per_100_rural_after"] == pytest.approx(100 * 6 / 380, abs=1e-4)
    assert plan.solve_info.status == "optimal"


def test_shortfall_is_weighted_by_pupils_before_distance():
    # U (urban, 380 pupils, 21 teachers for a requirement of 20) must rotate 1 teacher (quota of
    # 1 eligible). Its only spare head is a general teacher (every category is at its need).
    # R1: rural, 190 pupils, requirement 10, has 9: a head short weighs 190 / 10 = 19 pupils.
    # R2: rural teaching point, 40 pupils in 3 classes: requirement max(ceil(40/19),
    #     ceil(3 * 1.5)) = 5, has 4: a head short weighs 40 / 5 = 8 pupils. R2 is nearer.
    # Pupil-weighted shortfall sends the teacher to R1 (unweighted counts would tie and distance
    # would pick R2; a shortfall relative to the requirement alone, 1/10 vs 1/5, would pick R2).
    region = hand_region(
        [
            school(
                "U", area="urban", pupils=380, classes=9, T=21, Q=16, B=4, E=4, teachers_eligible=1
            ),
            school("R1", T=9, Q=8, B=2, E=2, teachers_eligible=0),
            school(
                "R2",
                level="teaching_point",
                pupils=40,
                classes=3,
                T=4,
                Q=0,
                B=0,
                E=0,
                teachers_eligible=0,
            ),
        ],
        [("U", "R1", 50), ("U", "R2", 10), ("R1", "R2", 45)],
    )
    assert required_staff(region.schools).tolist() == [20, 10, 5]
    plan = plan_teachers(region, TeacherPolicy(hiring_quota=0, backbone_share=0.0))
    assert transfers_of(plan) == [("U", "R1", "general", 1, 50.0)]
    st_ = plan.staffing.set_index("school_id")
    assert st_.loc["R2", "staff_shortfall_after"] == 1
    assert st_.loc["R1", "weighted_shortfall_before"] == pytest.approx(19.0)
    assert st_.loc["R2", "weighted_shortfall_before"] == pytest.approx(8.0)


def test_hires_cover_the_category_needs_with_the_fewest_posts():
    # One rural school, 190 pupils: requirement 10 staff, 8 qualified, 2 backbone, 2 PE/arts.
    # It has 7 teachers, 7 qualified, 2 backbone, 1 PE/arts: short 3 staff, 1 qualified, 1 PE.
    # Fewest posts: 3 (one qualified, one PE/arts, one general).
    one = [school("S", T=7, Q=7, B=2, E=1, teachers_eligible=0)]
    region = hand_region(one, [])
    plan = plan_teachers(region)
    assert hires_of(plan) == {"general": 1, "qualified": 1, "pe_arts": 1}
    assert plan.headline()["weighted_shortfall_after"] == 0
    # With money for 2 posts (250,000 / 110,000): a head short weighs 190/10 = 19 (staff),
    # 190/8 = 23.75 (qualified), 190/2 = 95 (PE/arts): a PE post saves 19 + 95, a qualified post
    # 19 + 23.75, a general one 19. Best: one PE/arts and one qualified post.
    plan = plan_teachers(region, TeacherPolicy(hiring_budget_yuan=250_000))
    assert hires_of(plan) == {"qualified": 1, "pe_arts": 1}
    assert plan.headline()["weighted_shortfall_after"] == pytest.approx(19.0)
    # Backbone cannot be hired; PE/arts only when allowed.
    plan = plan_teachers(region, TeacherPolicy(hire_categories=["general"]))
    assert hires_of(plan) == {"general": 3}


def test_hiring_quota_split_by_county_and_per_county_dict():
    schools = [
        school("A1", county="A", T=7, Q=7, B=2, E=2, teachers_eligible=0),  # 3 short
        school("B1", county="B", T=9, Q=8, B=2, E=2, teachers_eligible=0),  # 1 short
    ]
    region = hand_region(schools, [("A1", "B1", 300)])
    plan = plan_teachers(region, TeacherPolicy(hiring_quota=2))
    # split in proportion to the staffing gaps 3 : 1 -> 1.5 : 0.5 -> largest remainders 2 : 0
    # (ties broken by county order)
    assert plan.hires.groupby("county")["count"].sum().to_dict() == {"A": 2}
    plan = plan_teachers(region, TeacherPolicy(hiring_quota={"B": 5}))
    assert plan.hires.groupby("county")["count"].sum().to_dict() == {"B": 1}
    with pytest.raises(InputError, match="unknown county 'C'"):
        plan_teachers(region, TeacherPolicy(hiring_quota={"C": 1}))


def test_hiring_quota_follows_the_staffing_gaps_not_the_category_gaps():
    # A1 lacks 3 teachers of its 10 required (190 pupils / 19); B1 lacks 1, but also 6 qualified
    # (need 8 = ceil(4.2 x 1.9)) and 2 PE/arts teachers (need 2 = ceil(0.9 x 1.9)). The quota of 4
    # follows the staffing gaps 3 : 1 -> 3 : 1 exactly (a split by max(staff gap, qualified +
    # PE/arts gap) = 3 : 8 would give 1.09 : 2.91 -> 1 : 3).
    schools = [
        school("A1", county="A", T=7, Q=7, B=2, E=2, teachers_eligible=0),
        school("B1", county="B", T=9, Q=2, B=0, E=0, teachers_eligible=0),
    ]
    region = hand_region(schools, [("A1", "B1", 300)])
    assert required_staff(region.schools).tolist() == [10, 10]
    plan = plan_teachers(region, TeacherPolicy(hiring_quota=4))
    assert plan.hires.groupby("county")["count"].sum().to_dict() == {"A": 3, "B": 1}


def test_hiring_quota_split_on_a_synthetic_region_by_largest_remainder():
    # Seen: N=45, seed 8, two counties, hiring_quota=10 gave 6 / 4. The staffing gaps, recomputed
    # here from the standard, are 54 (江县) and 5 (北县): 10 x 54 / 59 = 9.15 and 0.85 -> floors
    # 9 and 0, the larger remainder (0.85) takes the last post: 9 / 1.
    region = make_region(schools=45, seed=8, counties=2)
    s = region.schools
    gap = (required_staff(s) - s["teachers"]).clip(lower=0).groupby(s["county"]).sum()
    assert gap.to_dict() == {"江县": 54, "北县": 5}
    plan = plan_teachers(region, TeacherPolicy(hiring_quota=10))
    assert plan.hires.groupby("county")["count"].sum().to_dict() == {"江县": 9, "北县": 1}


def test_an_unreachable_rotation_share_names_every_school_and_amount():
    # Seen: rotation_share=0.9 gave "integrality or bounds make the model infeasible" with no
    # violations. A school with 55 eligible teachers must send ceil(0.9 x 55) = 50, but only the
    # eligible heads free to move may leave.
    region = make_region(schools=60, seed=2)
    with pytest.raises(Infeasible) as err:
        plan_teachers(region, TeacherPolicy(rotation_share=0.9))
    v = err.value.violations
    assert v and all(k.startswith("江县: rotation_quota ") and a >= 1 for k, a in v.items())
    assert "C00S0000 must rotate 50 (90% of 55 eligible)" in str(err.value)
    # max_rotation_share equal to the share: 10 % of 55 is 5.5, the quota 6, the cap 5
    with pytest.raises(Infeasible) as err:
        plan_teachers(region, TeacherPolicy(max_rotation_share=0.1))
    assert err.value.violations["江县: rotation_quota C00S0000"] == 1.0
    assert "at most 5 may leave (max_rotation_share 0.1)" in str(err.value)


def test_contradictory_rotation_shares_are_refused():
    with pytest.raises(InputError) as err:
        TeacherPolicy(rotation_share=0.3, max_rotation_share=0.2)
    assert err.value.column == "max_rotation_share" and err.value.value == 0.2
    assert "rotation_share=0.3" in str(err.value)
    # below the standard's 10 %: refused when the standard is known, before any solve
    region = make_region(schools=30, seed=1)
    with pytest.raises(InputError, match="below the standard's rotation share 0.1"):
        plan_teachers(region, TeacherPolicy(max_rotation_share=0.05))


def test_moves_stay_in_the_county_unless_allowed():
    schools = [
        school(
            "U",
            county="A",
            area="urban",
            pupils=380,
            classes=9,
            T=24,
            Q=16,
            B=4,
            E=4,
            teachers_eligible=12,
        ),
        school("R", county="B", T=8, Q=8, B=2, E=2, teachers_eligible=0),
    ]
    region = hand_region(schools, [("U", "R", 15)])
    policy = TeacherPolicy(hiring_quota=0, rotation_share=0.0)
    assert plan_teachers(region, policy).transfers.empty
    plan = plan_teachers(
        region, TeacherPolicy(hiring_quota=0, rotation_share=0.0, same_county=False)
    )
    # R is 2 short. U has 4 heads above its requirement; its qualified and PE/arts teachers are
    # at their needs, and of its 4 general teachers ceil(12/24 * 4) = 2 are eligible: they go.
    assert transfers_of(plan) == [("U", "R", "general", 2, 15.0)]


def test_direction_rules_and_district_rule():
    # A stronger rural school cannot receive from a weaker one under the direction rules.
    schools = [
        school("W", T=14, Q=8, B=0, E=2, teachers_eligible=5, district="d1"),  # weak, surplus
        school("S", T=8, Q=8, B=4, E=2, teachers_eligible=0, district="d2"),  # strong, short 2
    ]
    region = hand_region(schools, [("W", "S", 10)])
    assert plan_teachers(region, TeacherPolicy(hiring_quota=0)).transfers.empty
    free = TeacherPolicy(hiring_quota=0, direction_rules=False)
    assert transfers_of(plan_teachers(region, free)) == [("W", "S", "general", 2, 10.0)]
    district = TeacherPolicy(hiring_quota=0, direction_rules=False, same_district=True)
    assert plan_teachers(region, district).transfers.empty


# --------------------------------------------------------------------------- infeasible quotas
def test_quota_without_any_receiver_names_the_numbers():
    region = hand_region(
        [
            school(
                "U",
                area="urban",
                pupils=380,
                classes=9,
                T=40,
                Q=30,
                B=10,
                E=6,
                teachers_eligible=30,
            ),
            school("R1", T=9, Q=8, B=0, E=2, teachers_eligible=0),
        ],
        [("U", "R1", 20)],
    )
    with pytest.raises(Infeasible) as err:
        plan_teachers(region, TeacherPolicy(travel_limit_minutes=10, on_infeasible="error"))
    message = err.value.message
    assert (
        "county A: 3 eligible teachers must rotate out of 1 urban/high-quality schools" in message
    )
    assert "(10% of 30 eligible)" in message
    assert "can absorb only 0 (short by 3)" in message
    assert "U short by 3 (no school it may send to within 10 minutes" in message
    assert err.value.violations == {"A: rotation_quota": 3.0}
    # within 30 minutes the quota is met
    plan = plan_teachers(region, TeacherPolicy(travel_limit_minutes=30))
    assert plan.staffing.set_index("school_id").loc["U", "sent"] >= 3
    assert plan.quota_waived.empty
    # by default a school today's layout leaves no receiver has its quota waived, and listed
    plan = plan_teachers(region, TeacherPolicy(travel_limit_minutes=10))
    assert plan.quota_waived.values.tolist() == [
        ["A", "U", 3, "no school it may send to within 10 minutes under the direction rules"]
    ]
    assert plan.transfers.empty and plan.staffing.set_index("school_id").loc["U", "sent"] == 0
    assert "Rotation quota waived at 1 school" in plan.summary()
    assert "quota_waived" in plan.tables


def test_quota_limited_by_the_senders_requirement():
    # U has 21 teachers for a requirement of 20 and must rotate ceil(0.1 * 21) = 3; nobody may
    # replace them (no hires, nobody may move to an urban school): at most 1 can go.
    region = hand_region(
        [
            school(
                "U", area="urban", pupils=380, classes=9, T=21, Q=16, B=4, E=4, teachers_eligible=21
            ),
            school("R1", T=9, Q=8, B=2, E=2, teachers_eligible=0),
        ],
        [("U", "R1", 20)],
    )
    with pytest.raises(Infeasible) as err:
        plan_teachers(region, TeacherPolicy(hiring_quota=0, on_infeasible="error"))
    message = err.value.message
    assert "3 eligible teachers must rotate" in message and "absorb only 1 (short by 2)" in message
    assert "it can spare 1 above its requirement of 20" in message
    assert err.value.violations["A: rotation_quota"] == pytest.approx(2.0)
    # by default the county is left as it is and listed with the same numbers
    plan = plan_teachers(region, TeacherPolicy(hiring_quota=0))
    assert plan.unplanned[["county", "schools", "requirement", "amount"]].values.tolist() == [
        ["A", 2, "A: rotation_quota", 2.0]
    ]
    assert plan.unplanned["reason"].iloc[0] == message
    assert plan.transfers.empty and plan.hires["count"].sum() == 0
    assert "Not planned, left as they are: 1 county (A)" in plan.summary()
    # two new posts at U let it rotate 3 and stay at its requirement
    plan = plan_teachers(region, TeacherPolicy(hiring_quota=2))
    st_ = plan.staffing.set_index("school_id")
    assert st_.loc["U", "sent"] == 3 and st_.loc["U", "hired"] == 2
    assert st_.loc["U", "teachers_after"] == 20


def test_a_county_whose_quota_cannot_be_absorbed_does_not_stop_the_others():
    schools = [
        school("U", area="urban", pupils=380, classes=9, T=21, Q=16, B=4, E=4, teachers_eligible=21),
        school("R1", T=9, Q=8, B=2, E=2, teachers_eligible=0),
        school(
            "U2", county="B", area="urban", pupils=380, classes=9, T=40, Q=30, B=10, E=6,
            teachers_eligible=30,
        ),
        school("R2", county="B", T=9, Q=8, B=0, E=2, teachers_eligible=0),
    ]  # fmt: skip
    region = hand_region(schools, [("U", "R1", 20), ("U2", "R2", 20)])
    policy = TeacherPolicy(hiring_quota={"A": 0, "B": 0})
    plan = plan_teachers(region, policy)
    assert plan.unplanned["county"].tolist() == ["A"]
    assert plan.unplanned["amount"].tolist() == [2.0]
    st_ = plan.staffing.set_index("school_id")
    assert st_.loc["U2", "sent"] >= 3 and st_.loc["U", "sent"] == 0
    assert set(plan.transfers["from_school_id"]) == {"U2"}
    with pytest.raises(Infeasible) as err:
        plan_teachers(region, dataclasses.replace(policy, on_infeasible="error"))
    assert err.value.violations == {"A: rotation_quota": 2.0}


# --------------------------------------------------------------------------- categories
@given(
    st.integers(0, 40).flatmap(
        lambda t: st.tuples(st.just(t), st.integers(0, t), st.integers(0, t), st.integers(0, t))
    ),
    st.data(),
)
def test_split_heads_keeps_subsets_within_teachers_whatever_moves(tqbe, data):
    T, Q, B, E = tqbe
    movable, locked = split_heads([T], [Q], [B], [E])
    movable, locked = movable[0], int(locked[0])
    assert (movable >= 0).all() and locked >= 0
    assert movable.sum() + locked == T
    out = np.array([data.draw(st.integers(0, int(m))) for m in movable])
    into = np.array([data.draw(st.integers(0, 5)) for _ in movable])
    d = into - out
    T2, Q2, B2, E2 = T + d.sum(), Q + d[0] + d[1], B + d[0], E + d[2]
    assert min(T2, Q2, B2, E2) >= 0
    assert max(Q2, B2, E2) <= T2


# --------------------------------------------------------------------------- invariants
def _check_plan(region, policy, plan):
    s = region.schools.set_index("school_id")
    st_ = plan.staffing.set_index("school_id")
    tr = plan.transfers
    hires = plan.hires
    # conservation: every column changes by exactly what was hired into it
    hired = hires.groupby("category")["count"].sum().reindex(CATEGORIES, fill_value=0)
    after = plan.apply(region).schools.set_index("school_id")  # validates subsets <= teachers
    for col, cats in (
        ("teachers", CATEGORIES),
        ("teachers_qualified", ("backbone", "qualified")),
        ("teachers_backbone", ("backbone",)),
        ("teachers_pe_arts", ("pe_arts",)),
    ):
        assert after[col].sum() - s[col].sum() == hired[list(cats)].sum()
        assert (after[col] >= 0).all()
    # per school: after = before - sent + received + hired
    sent = tr.groupby("from_school_id")["count"].sum().reindex(s.index, fill_value=0)
    recv = tr.groupby("to_school_id")["count"].sum().reindex(s.index, fill_value=0)
    hire = hires.groupby("school_id")["count"].sum().reindex(s.index, fill_value=0)
    assert (after["teachers"] == s["teachers"] - sent + recv + hire).all()
    # only eligible teachers rotate
    eligible = np.floor(policy.eligible_share * s["teachers"] + 1e-9)
    assert (sent <= eligible).all()
    # quota met; backbone share per county over rotation schools
    rot = st_["rotation_school"]
    assert (sent[rot] >= st_.loc[rot, "rotation_required"]).all()
    share = 0.1 if policy.rotation_share is None else policy.rotation_share
    quota = np.ceil(share * eligible[rot] - 1e-9)
    # a quota is waived only where no school may receive (listed with the quota it had), and
    # in counties left unplanned (listed with the reason; nothing moves there)
    waived = plan.quota_waived.set_index("school_id")["rotation_required"]
    quota[quota.index.isin(waived.index)] = 0
    left = st_["county"].isin(plan.unplanned["county"])
    quota[left[rot]] = 0
    assert not tr["from_school_id"].map(st_["county"]).isin(plan.unplanned["county"]).any()
    assert (plan.unplanned["amount"] > 0).all() and plan.unplanned["reason"].str.len().all()
    assert (st_.loc[rot, "rotation_required"] == quota).all()
    assert (waived == np.ceil(share * eligible[waived.index] - 1e-9)).all()
    assert not (tr["from_school_id"].isin(waived.index)).any()
    bb = tr[tr["category"] == "backbone"].groupby("from_school_id")["count"].sum()
    bb = bb.reindex(s.index, fill_value=0)
    for _county, grp in st_[rot].groupby("county"):
        assert bb[grp.index].sum() >= 0.2 * sent[grp.index].sum() - 1e-9
    # senders stay at their requirement (or where they were, if below)
    req = required_staff(region.schools).to_numpy()
    req = pd.Series(req, index=s.index)
    senders = sent > 0
    assert (after.loc[senders, "teachers"] >= np.minimum(req, s["teachers"])[senders]).all()
    # moves: within the county and the travel limit (recomputed from the roads), and the direction
    if len(tr):
        assert (
            s.loc[tr["from_school_id"], "county"].to_numpy()
            == s.loc[tr["to_school_id"], "county"].to_numpy()
        ).all()
        src = s.loc[tr["from_school_id"], "node"]
        dst = s.loc[tr["to_school_id"], "node"]
        for a, b, minutes in zip(src, dst, tr["minutes"], strict=True):
            exact = nx.shortest_path_length(region.roads, a, b, weight="minutes")
            assert minutes == pytest.approx(exact, abs=0.01)
            assert exact <= policy.travel_limit_minutes + 1e-9
        rank_from = s.loc[tr["from_school_id"], "area_type"].map(_AREA_RANK).to_numpy()
        rank_to = s.loc[tr["to_school_id"], "area_type"].map(_AREA_RANK).to_numpy()
        assert (rank_from >= rank_to).all()
        assert (tr["count"] > 0).all()
    # hires within the quota
    if policy.hiring_quota is not None:
        assert hires["count"].sum() <= policy.hiring_quota
    # R^2 before/after as metrics.allocation_r2 computes them
    for row in plan.allocation_r2.itertuples():
        members = s[(s["county"] == row.county) & (s["level"] == row.level)]
        if len(members) >= 3 and members["teachers"].nunique() > 1:
            pupils = members[[c for c in s.columns if c.startswith("pupils_")]].sum(axis=1)
            assert row.r2_before == pytest.approx(allocation_r2(pupils, members["teachers"]))


@settings(max_examples=20)
@given(
    schools=st.integers(12, 30),
    seed=st.integers(0, 10_000),
    limit=st.sampled_from([30.0, 45.0, 60.0]),
    quota=st.sampled_from([None, 0, 5, 40]),
    rotation_share=st.sampled_from([0.0, 0.1, 0.2]),
)
def test_invariants_on_random_regions(schools, seed, limit, quota, rotation_share):
    region = make_region(schools=schools, seed=seed)
    policy = TeacherPolicy(
        travel_limit_minutes=limit, hiring_quota=quota, rotation_share=rotation_share
    )
    try:
        plan = plan_teachers(region, policy)
    except Infeasible as exc:
        assert "must rotate" in exc.message and exc.violations
        assert all(v > 0 for v in exc.violations.values())
        return
    _check_plan(region, policy, plan)
    if rotation_share == 0.0:
        # nobody has to move, so the plan is never worse than doing nothing
        st_ = plan.staffing
        assert st_["weighted_shortfall_after"].sum() <= st_["weighted_shortfall_before"].sum()


def test_more_posts_never_leave_a_larger_shortfall():
    region = make_region(schools=40, seed=11)
    totals = []
    for quota in (0, 10, 40, None):
        plan = plan_teachers(region, TeacherPolicy(hiring_quota=quota, rotation_share=0.0))
        totals.append(plan.headline()["weighted_shortfall_after"])
    assert all(a >= b - 1e-6 for a, b in zip(totals, totals[1:], strict=False))
    assert totals[-1] <= totals[0]


def test_lp_first_stages_reach_the_mip_optima(monkeypatch):
    # A backbone share of 50 % makes some LP optima fractional on some HiGHS releases (on others
    # every stage is integral as an LP): whichever path runs, every stage must reach the optimum
    # of the whole MIP solved exactly.
    region = make_region(schools=40, seed=1)
    policy = TeacherPolicy(backbone_share=0.5)
    fast = plan_teachers(region, policy)

    def mip_stage(model, stage, options, previous, integral=False):
        sol = solve_matrix(stage, options=SolverOptions(mip_gap=0.0))
        return teachers.complete_solution(model, sol.x), sol.info, "mip"

    monkeypatch.setattr(teachers, "solve_stage", mip_stage)
    exact = plan_teachers(region, policy)
    assert list(exact.solves["stage"]) == list(fast.solves["stage"])
    assert np.allclose(fast.solves["objective"], exact.solves["objective"], rtol=1e-7, atol=1e-6)
    for key in ("weighted_shortfall_after", "hires"):
        assert fast.headline()[key] == pytest.approx(exact.headline()[key])


# --------------------------------------------------------------------------- plan object, policy
def test_plan_tables_summary_and_apply_guard():
    region = make_region(schools=40, seed=3)
    plan = plan_teachers(region)
    assert set(plan.tables) >= {
        "transfers",
        "hires",
        "staffing",
        "allocation_r2",
        "backbone_by_area",
    }
    assert list(plan.transfers.columns[:5]) == [
        "from_school_id",
        "to_school_id",
        "category",
        "count",
        "minutes",
    ]
    assert list(plan.hires.columns[:3]) == ["school_id", "category", "count"]
    text = plan.summary()
    assert "Rotations:" in text and "R²" in text
    h = plan.headline()
    assert all(isinstance(v, int | float | str) for v in h.values())
    assert all(not (isinstance(v, float) and math.isnan(v)) for v in h.values())
    area = plan.backbone_by_area.set_index("area_type")
    assert area["backbone_share_before"].sum() == pytest.approx(1.0)
    other = make_region(schools=40, seed=4)
    with pytest.raises(InputError, match="plan was made for"):
        plan.apply(other)


def test_progress_is_reported_per_county():
    region = make_region(schools=30, counties=2, seed=5)
    messages = []
    try:
        plan_teachers(region, progress=messages.append)
    except Infeasible:
        pass
    assert messages[0].startswith("county 1/2 ")


@pytest.mark.parametrize(
    "kwargs, column",
    [
        ({"hiring_quota": -1}, "hiring_quota"),
        ({"hiring_quota": 2.5}, "hiring_quota"),
        ({"hiring_budget_yuan": {"A": -5}}, "hiring_budget_yuan"),
        ({"eligible_share": 1.5}, "eligible_share"),
        ({"travel_limit_minutes": -10}, "travel_limit_minutes"),
        ({"hire_categories": ["backbone"]}, "hire_categories"),
        ({"hire_categories": ["teachers"]}, "hire_categories"),
        ({"need_weights": {"staf": 1}}, "need_weights"),
        ({"stage_rule": "loose"}, "stage_rule"),
        ({"direction_rules": "yes"}, "direction_rules"),
        ({"travel_limit_minutes": None, "same_county": False}, "travel_limit_minutes"),
        ({"pupils_per_teacher": {"primary": 0}}, "pupils_per_teacher"),
        ({"on_infeasible": "skip"}, "on_infeasible"),
    ],
)
def test_policy_validation_names_the_field(kwargs, column):
    with pytest.raises(InputError) as err:
        TeacherPolicy(**kwargs)
    assert err.value.column == column and err.value.table == "policy"


def test_policy_from_toml_values_and_overrides():
    policy = TeacherPolicy(
        **{
            "hire_categories": ["general"],
            "rotation_levels": ["primary"],
            "pupils_per_teacher": {"primary": 15.0},
            "need_weights": {"staff": 2},
        }
    )
    assert policy.hire_categories == ("general",)
    assert policy.need_weights == {"staff": 2.0, "qualified": 0.0, "backbone": 0.0, "pe_arts": 0.0}
    region = hand_region([school("S", pupils=150, T=10, Q=8, B=2, E=2, teachers_eligible=0)], [])
    # 150 / 15 = 10 required instead of ceil(150 / 19) = 8
    plan = plan_teachers(region, policy)
    assert plan.staffing["required_teachers"].tolist() == [10]


def test_teachers_eligible_column_is_checked():
    region = hand_region([school("S", T=10, Q=8, B=2, E=2, teachers_eligible=11)], [])
    with pytest.raises(InputError) as err:
        plan_teachers(region)
    assert err.value.column == "teachers_eligible" and err.value.row_id == "S"
    with pytest.raises(InputError, match="no 'district' column"):
        plan_teachers(
            hand_region([school("S", T=10, Q=8, B=2, E=2)], []), TeacherPolicy(same_district=True)
        )


def test_scenario_standard_overrides_reach_the_teacher_planner(tmp_path):
    # [standard] overrides are the norms the planner uses: staffing ratios and rotation shares
    from allocator.scenario import parse_scenario
    from allocator.standards import load_standard

    text = (
        "[region]\nschools = 30\nseed = 2\n[standard]\nbase = 'moe2017'\n"
        "overrides = { rotation = { share = 0.3, backbone_share = 0.25 }, "
        "staffing = { pupils_per_teacher = { primary = 15.0 } } }\n"
        "[[steps]]\nplanner = 'teachers'\n"
    )
    step = parse_scenario(text, tmp_path / "x.toml").steps[0]
    policy = step.policy()
    standard = policy.load_standard()
    assert standard.rotation.share == 0.3 and standard.rotation.backbone_share == 0.25
    assert standard.staffing.pupils_per_teacher["primary"] == 15.0
    region = make_region(schools=30, seed=2)
    plan = plan_teachers(region, policy)
    st_ = plan.staffing
    expected = required_staff(region.schools, standard).to_numpy()
    assert st_["required_teachers"].tolist() == expected.tolist()
    default = required_staff(region.schools, load_standard("moe2017")).to_numpy()
    assert (expected != default).any()
    rot = st_["rotation_school"].to_numpy(bool)
    assert rot.any()
    quota = np.ceil(np.round(0.3 * st_["eligible"].to_numpy(float), 9))
    assert st_.loc[rot, "rotation_required"].tolist() == quota[rot].astype(int).tolist()
    tr = plan.transfers
    from_rotation = tr["from_school_id"].isin(st_.loc[rot, "school_id"])
    rotated = int(tr.loc[from_rotation, "count"].sum())
    backbone = int(tr.loc[from_rotation & (tr["category"] == "backbone"), "count"].sum())
    assert backbone >= 0.25 * rotated - 1e-9


def test_plan_and_policy_are_frozen_and_the_headline_starts_with_the_solve():
    from allocator.planners.base import HEADLINE_KEYS

    policy = TeacherPolicy(
        hiring_quota={"X": 3},
        need_weights={"staff": 2},
        pupils_per_teacher={"primary": 18.0},
        standard_overrides={"rotation": {"share": 0.1}},
    )
    assert hash(policy) == hash(dataclasses.replace(policy))
    for table in (policy.hiring_quota, policy.need_weights, policy.pupils_per_teacher):
        with pytest.raises(TypeError):
            table["staff"] = 1.0
    region = make_region(schools=40, seed=3)
    plan = plan_teachers(region)
    h = plan.headline()
    assert tuple(h)[:4] == HEADLINE_KEYS
    assert h["objective"] == pytest.approx(h["weighted_shortfall_after"], abs=1e-3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.transfers = plan.transfers.iloc[:0]
    staffing = plan.tables["staffing"]
    staffing["teachers_after"] = -1
    assert (plan.staffing["teachers_after"] >= 0).all()


def test_the_block_model_names_its_columns_and_row_groups():
    from allocator.planners.teachers.data import county_blocks, hiring_caps, school_arrays
    from allocator.planners.teachers.model import build_model

    region = make_region(schools=40, seed=3)
    policy = TeacherPolicy(hiring_quota=5, receiver_headroom_share=0.5)
    standard = policy.load_standard()
    d = school_arrays(region, policy, standard)
    caps = hiring_caps(policy, d, list(dict.fromkeys(d.county)))
    block = next(county_blocks(region, d, policy))
    model = build_model(d, block, caps, policy, standard)
    assert list(model.lp.columns) == ["moves", "hires", "out", "in", "shortfall", "gap"]
    assert {"flow", "rotation_quota", "shortfall", "hiring_quota"} <= set(model.lp.row_groups)
    moves = model.lp.columns["moves"]
    assert (
        model.lp.integrality[moves].all() and not model.lp.integrality[model.nx + model.nh :].any()
    )
    elastic = build_model(d, block, caps, policy, standard, elastic=True)
    assert list(elastic.lp.columns)[-2:] == ["elastic_quota", "elastic_share"]
    assert elastic.lp.column_block("elastic_quota").size == len(model.quota_schools)
