"""CI's constraints file pins every dependency to the lower bound pyproject.toml declares."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _release(version: str) -> tuple[int, ...]:
    """'3.3' -> (3, 3, 0): a release number padded to compare 1.8 with 1.8.0."""
    parts = [int(p) for p in version.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def _lower_bounds() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    bounds = {}
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()
        lower = re.search(r">=\s*([0-9.]+)", requirement)
        assert lower, f"{requirement!r} in pyproject.toml declares no lower bound"
        bounds[name] = lower.group(1)
    return bounds


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "ci" / "lowest.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_lowest_constraints_pin_each_declared_lower_bound():
    bounds, pins = _lower_bounds(), _pins()
    assert "numpy" in bounds and "pytest" in bounds  # both lists were read
    assert sorted(pins) == sorted(bounds)
    for name, lower in bounds.items():
        assert _release(pins[name]) == _release(lower), (name, pins[name], lower)


def test_release_padding():
    assert _release("1.8") == _release("1.8.0") == (1, 8, 0)
    assert _release("3.3.1") > _release("3.3")


def test_every_data_file_ships_in_the_package():
    """A data file no package-data glob names would be missing from an installed wheel."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["allocator"]
    package = ROOT / "allocator"
    shipped = {p for g in globs for p in package.glob(g)}
    data = {p for p in (package / "data").rglob("*") if p.is_file() and p.suffix != ".pyc"}
    assert data, "no data files found"
    assert sorted(str(p.relative_to(package)) for p in data - shipped) == []
