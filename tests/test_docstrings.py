"""Every example in the package's docstrings runs and prints what it shows.

The examples are the first code a reader copies, so they are tested like the code: each module's
doctests run (``doctest.testmod``) and a failure names the module and the example. Marked slow:
the examples plan whole synthetic regions (about a minute and a half in all on 2 cores).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import allocator

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(allocator.__path__, prefix="allocator.")
    if not info.name.endswith("__main__")
)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"


def test_the_modules_are_found():
    """The list above is the package (a wrong prefix would make the test above vacuous)."""
    assert {"allocator.i18n", "allocator.planners.mergers.plan", "allocator.solver.model"} <= set(
        MODULES
    )
