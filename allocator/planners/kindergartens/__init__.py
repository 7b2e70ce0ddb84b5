"""Kindergarten places (学前教育): where to build, expand or make kindergartens inclusive so that
children aged 3-5 have a place within walking distance, on the location core.

Model
-----
Settlements i (clients) with children aged 3-5, d_i (:func:`~.data.children_3_5`); sites j:
the region's kindergartens (``status`` open: they stay open) and candidate sites (reserved land,
vacated school buildings, ``policy.candidate_nodes``). Each site has levels l (what it can become;
:func:`~.data.kindergarten_data`):

* an existing kindergarten: as it is (cost 0); plus 3, 6, ... classes (``size.module_classes``
  each, up to ``max_added_classes``, ``size.max_classes`` and ``size.max_children`` places;
  ``expand_yuan_per_class`` a class); a private one of ownership ``other`` also converted to
  inclusive private, alone or with an expansion (``inclusive_subsidy_yuan_per_place_per_year``
  x places x ``plan_years``);
* a candidate site: a new public kindergarten of 3, 6, 9 or 12 classes
  (``size.min_classes`` .. ``size.max_classes``; ``build_yuan_per_place`` a place).
* a primary school or teaching point of ``policy.attached_class_area_types`` (none by
  default; ``["rural"]`` for villages beyond every kindergarten's walk): 1 to
  ``attached.max_classes`` mixed-age preschool classes attached to the school (附设幼儿班,
  ``attached.places_per_class`` places each, ``attached.yuan_per_class`` a class: the
  standard's ``[attached]`` group; ``policy.attached_max_classes`` replaces the first).

A class holds the mean of the small, middle and large class sizes (25 / 30 / 35: 30 places). A
pair (i, j) is allowed when the walk from i to j along the roads (at ``walking.km_per_hour``) is
within i's limit (``walking.urban_minutes``, ``town_minutes``, ``rural_minutes``) and costs
``yuan_per_child_minute`` per child and minute. Levels carry the tags ``public`` (public
kindergartens) and ``inclusive`` (public and inclusive private).

:func:`allocator.location.levelled_location` then chooses one level per site (every existing one
keeps one) and the children served by each site: the least cost (levels plus walking) such that
the children placed reach the gross enrolment rate (``target_scope="reachable"``: of the children
within reach of some site; ``"all"``: of all), at least ``inclusive_share`` of them are in
inclusive kindergartens and ``public_share`` in public ones, and no kindergarten holds more than
its places. With ``budget_yuan`` it places as many children as the money buys, then at least cost.

Children beyond every walking limit are reported (``settlements.within_limit``), not hidden; a
target that cannot be met is explained with its numbers (:class:`~allocator.errors.Infeasible`).
Every plan is recomputed from its tables against the model (:mod:`~.verify`).

Examples
--------
>>> from allocator.synth import make_region
>>> region = make_region(schools=40, seed=3, kindergartens=True)
>>> plan = plan_kindergartens(region, KindergartenPolicy(public_share=0.6))
>>> plan.headline()["public_share"] >= 0.6 - 1e-9
True
"""

from allocator.planners.kindergartens.plan import SWEEP_FIGURES, KindergartenPlan
from allocator.planners.kindergartens.planner import plan_kindergartens
from allocator.planners.kindergartens.policy import KindergartenPolicy

__all__ = ["plan_kindergartens", "KindergartenPolicy", "KindergartenPlan", "SWEEP_FIGURES"]
