"""The rules of the kindergarten planner: :class:`KindergartenPolicy`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from allocator.errors import InputError
from allocator.planners.base import freeze
from allocator.region import AREA_TYPES
from allocator.standards.preschool import PreschoolStandard, load_preschool_standard

__all__ = ["KindergartenPolicy", "TARGET_SCOPES"]

#: Which children the gross enrolment target counts: those with a site within their walking limit
#: ("reachable"), or all ("all": a region with children beyond every site cannot meet it).
TARGET_SCOPES = ("reachable", "all")


@dataclass(frozen=True)
class KindergartenPolicy:
    """Rules for planning kindergarten places (frozen; mappings are kept read-only).

    Every norm left at None is read from the preschool standard (``preschool_standard``, with
    ``overrides``): see ``allocator/data/preschool/preschool2021.toml`` for the figures, their
    scope (national or local) and sources.

    Parameters
    ----------
    preschool_standard : str
        The preschool standard (``"preschool2021"``) or the path of a TOML file.
    overrides : mapping, optional
        Settings replacing the standard's, e.g. ``{"walking": {"urban_minutes": 10}}``.
    gross_enrolment_rate, inclusive_share, public_share : float, optional
        Targets (shares from 0 to 1): children placed / children aged 3-5; children in inclusive
        (public or inclusive private) kindergartens / children placed; in public ones / placed.
    target_scope : {"reachable", "all"}
        The children the enrolment target counts (see :data:`TARGET_SCOPES`).
    budget_yuan : float, optional
        None: the least cost meeting every target. A number: as many children placed as this
        money buys (building, expansion and subsidies over the plan years), then the least cost;
        the enrolment target is then reported, not imposed.
    max_added_classes : int
        Classes an existing kindergarten may add (in modules of ``size.module_classes``), within
        ``size.max_classes`` and ``size.max_children``.
    kindergartens_per_site : int
        Kindergartens a candidate site may hold (a large community builds two): its sizes run
        to this many times ``size.max_classes``, each kindergarten within ``size.max_children``.
    convert_private : bool
        Whether private kindergartens of ownership ``other`` may become inclusive (for a subsidy).
    candidate_nodes : list of str
        Road nodes of land reserved for kindergartens beyond the region's own candidate sites.
    candidate_area_types : list of str
        Every settlement of these area types (urban, town, rural) is a candidate site too: a new
        residential community builds its own kindergarten (配套园).
    attached_class_area_types : list of str
        The primary schools and teaching points (教学点; levels primary, teaching_point,
        nine_year) of these area types are candidate sites of preschool classes attached to the
        school (附设幼儿班): 1 to ``attached.max_classes`` mixed-age classes
        (``attached.places_per_class`` places each) in the school's rooms, at
        ``attached.yuan_per_class`` a class (the standard's ``[attached]`` group, local figures).
        The national policy for dispersed rural populations: besides one public
        central kindergarten per township, village kindergartens or classes attached to the
        primary school (国发〔2010〕41号; wording unconfirmed). ``["rural"]``: a rural child
        within the rural walking limit of a village school can then be placed (in a 200-school
        synthetic region, rural children within reach of a site go from 51 % to 80 %). Default
        none: the plan then also counts these children in its enrolment target and costs more.
    attached_max_classes : int, optional
        Classes a school may attach; None: the standard's ``attached.max_classes`` (3: one for
        each year, or mixed-age ones). Given, it replaces that figure (then a local one).
    children_factor : float
        Children aged 3-5 times this factor (1: as found): a growing new area plans for the
        children expected when its housing fills.
    base_year, year : int, optional
        Children aged 3-5 come from the settlements' ``children_3_5`` column when present; else
        from ``population`` times the standard's age share; else from the birth forecast
        (:mod:`allocator.forecast`): today's lower primary pupils give the births of
        ``base_year - 6``, the birth scenario moves them to the years of those aged 3-5 in
        ``year`` (default ``base_year``).
    birth_scenario : str
        Birth scenario of the forecast (``"medium"``).
    yuan_per_child_minute : float
        Weight of walking minutes in the cost (1 yuan per child-minute: a tie-breaker that sends
        children to their nearest kindergarten with room).
    time_limit : float, optional
        Seconds for the solver.
    mip_gap : float
        Relative gap within which a plan is called optimal (1e-4: about one place's cost in a
        plan of ten thousand places).

    Examples
    --------
    >>> p = KindergartenPolicy(public_share=0.6)
    >>> p.norms().public_share, p.norms().inclusive_share, p.norms().scope_of("targets.public_share")
    (0.6, 0.85, 'local')
    >>> KindergartenPolicy(target_scope="some")
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: table 'policy', column 'target_scope': KindergartenPolicy.target_scope must be one of reachable, all, got 'some'
    """

    preschool_standard: str = "preschool2021"
    overrides: Mapping | None = None
    gross_enrolment_rate: float | None = None
    inclusive_share: float | None = None
    public_share: float | None = None
    target_scope: str = "reachable"
    budget_yuan: float | None = None
    max_added_classes: int = 6
    kindergartens_per_site: int = 2
    convert_private: bool = True
    candidate_nodes: tuple[str, ...] = ()
    candidate_area_types: tuple[str, ...] = ()
    attached_class_area_types: tuple[str, ...] = ()
    attached_max_classes: int | None = None
    children_factor: float = 1.0
    base_year: int = 2025
    year: int | None = None
    birth_scenario: str = "medium"
    yuan_per_child_minute: float = 1.0
    time_limit: float | None = 60.0
    mip_gap: float = 1e-4

    def __post_init__(self):
        def bad(name, expected):
            value = getattr(self, name)
            raise InputError(
                f"KindergartenPolicy.{name} must be {expected}, got {value!r}",
                table="policy",
                column=name,
                value=value,
            )

        def number(name, low=0.0, high=math.inf, optional=True):
            v = getattr(self, name)
            if v is None and optional:
                return
            ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            if not ok or not low <= v <= high:
                bad(name, f"a number from {low:g} to {high:g}" + (" or None" if optional else ""))

        for name in ("gross_enrolment_rate", "inclusive_share", "public_share"):
            number(name, 0.0, 1.0)
        number("budget_yuan")
        number("yuan_per_child_minute", optional=False)
        number("time_limit", 1e-3)
        number("mip_gap", 0.0, 0.5, optional=False)
        if self.target_scope not in TARGET_SCOPES:
            bad("target_scope", f"one of {', '.join(TARGET_SCOPES)}")
        if self.kindergartens_per_site in (0, False):
            bad("kindergartens_per_site", "a whole number >= 1")
        names = ["max_added_classes", "base_year", "kindergartens_per_site"]
        names += ["year"] if self.year else []
        names += ["attached_max_classes"] if self.attached_max_classes is not None else []
        for name in names:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                bad(name, "a whole number >= 0")
        if not isinstance(self.convert_private, bool):
            bad("convert_private", "true or false")
        nodes = self.candidate_nodes
        if isinstance(nodes, str) or not all(isinstance(n, str | int) for n in nodes):
            bad("candidate_nodes", "a list of road nodes")
        object.__setattr__(self, "candidate_nodes", tuple(str(n) for n in nodes))
        areas = self.candidate_area_types
        if isinstance(areas, str) or not set(areas) <= set(AREA_TYPES):
            bad("candidate_area_types", f"a list of area types ({', '.join(AREA_TYPES)})")
        object.__setattr__(self, "candidate_area_types", tuple(areas))
        areas = self.attached_class_area_types
        if isinstance(areas, str) or not set(areas) <= set(AREA_TYPES):
            bad("attached_class_area_types", f"a list of area types ({', '.join(AREA_TYPES)})")
        object.__setattr__(self, "attached_class_area_types", tuple(areas))
        number("children_factor", 0.0, 100.0, optional=False)
        if self.overrides is not None and not isinstance(self.overrides, Mapping):
            bad("overrides", "a table of preschool settings")
        object.__setattr__(self, "overrides", freeze(self.overrides))
        self.norms()  # an unknown standard or setting fails here, with its name

    def norms(self) -> PreschoolStandard:
        """The preschool standard with this policy's overrides and targets applied."""
        extra = {g: dict(v) for g, v in dict(self.overrides or {}).items()}
        targets = {
            k: getattr(self, k)
            for k in ("gross_enrolment_rate", "inclusive_share", "public_share")
            if getattr(self, k) is not None
        }
        if targets:
            extra["targets"] = {**extra.get("targets", {}), **targets}
        if self.attached_max_classes is not None:
            extra["attached"] = {
                **extra.get("attached", {}),
                "max_classes": self.attached_max_classes,
            }
        if not extra:
            return load_preschool_standard(self.preschool_standard)
        # a figure set here is this area's choice: local, whatever the standard's scope
        scope = dict(load_preschool_standard(self.preschool_standard).scope)
        for group, keys in extra.items():
            if isinstance(keys, dict):
                scope.update({f"{group}.{key}": "local" for key in keys})
        return load_preschool_standard(self.preschool_standard, {**extra, "scope": scope})
