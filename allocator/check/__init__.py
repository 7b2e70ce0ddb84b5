"""Compliance report: how a region's schools and counties measure up to a standard.

:func:`check` measures a region and returns a :class:`ComplianceReport` (tables, ``passes``,
``summary()``, ``to_csv()``); the model is in :mod:`allocator.check.compliance_report`, the text
summary in :mod:`allocator.check.summary`. The ``allocator check`` command is in
:mod:`allocator.cli`.

Examples
--------
>>> from allocator.synth import make_region
>>> report = check(make_region(schools=60, seed=1))
>>> sorted(report.tables)[:3]
['allocation_r2', 'area_gaps', 'area_types']
"""

from allocator.check.compliance_report import AREA_ORDER, ComplianceReport, check

__all__ = ["AREA_ORDER", "ComplianceReport", "check"]
