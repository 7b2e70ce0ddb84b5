"""Compliance report: how a region's schools and counties measure up to a standard.

:func:`check` measures a region and returns a :class:`ComplianceReport` (tables, ``passes``,
``summary()``, ``to_csv()``); the model is in :mod:`allocator.check.compliance_report`, the text
summary in :mod:`allocator.check.summary`, the preschool tables (a region with kindergartens) in
:mod:`allocator.check.preschool_report`. The ``allocator check`` command is in
:mod:`allocator.cli`.

Examples
--------
>>> from allocator.synth import make_region
>>> report = check(make_region(schools=60, seed=1))
>>> sorted(report.tables)[:3]
['allocation_r2', 'area_gaps', 'area_types']
"""

from allocator.check import compliance_report
from allocator.check.compliance_report import AREA_ORDER, ComplianceReport
from allocator.check.preschool_report import preschool_tables

__all__ = ["AREA_ORDER", "ComplianceReport", "check"]


def check(region, standard="moe2017", preschool="preschool2021") -> ComplianceReport:
    """Measure a region against a standard (:func:`allocator.check.compliance_report.check`)
    and, when it has a kindergartens table, against a preschool standard too
    (:func:`allocator.check.preschool_report.preschool_tables`: ``preschool_counties``,
    ``preschool_indicators``, ``preschool_kindergartens``).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> report = check(make_region(schools=40, seed=3, kindergartens=True))
    >>> ind = report.tables["preschool_indicators"]
    >>> ind.loc[ind["county"] == "all", ["indicator", "scope"]].values.tolist()[:2]
    [['gross_enrolment_rate', 'national'], ['inclusive_share', 'national']]
    """
    report = compliance_report.check(region, standard)
    if hasattr(region, "kindergartens"):
        report.tables.update(preschool_tables(region, preschool))
    return report
