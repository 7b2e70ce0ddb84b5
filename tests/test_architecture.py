"""The shape of the code, as ARCHITECTURE.md describes it: layers, no cycles, no private names
crossing modules, cores that know nothing of schools, and modules and functions of a readable size.

Every check reads the source (``ast`` and ``tokenize``); nothing is imported.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "allocator"

#: Layers, lowest first: a module may import from its own layer and the layers below it.
#: A module belongs to the layer of the longest prefix that names it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",
        (
            "errors",
            "text",
            "i18n",
            "toml_input",
            "exact_outcome",
            "sheets",
            "frozen",
            "version",
        ),
    ),
    (
        "data",
        (
            "outputs",
            "plausibility",
            "travel",
            "region",
            "region_layers",
            "senior_schools",
            "io",
            "fingerprint",
            "defaults_report",
            "synth",
        ),
    ),
    ("standards", ("standards",)),
    ("measures", ("metrics", "compliance", "check", "forecast")),
    ("gis", ("gis",)),
    ("solver", ("solver",)),
    ("cores", ("location", "districting")),
    ("planners", ("planners",)),
    ("scenarios", ("scenario", "results")),
    ("report", ("report",)),
    ("runs", ("pipeline", "compare", "sweep", "writers", "years_run")),
    ("cli", ("cli", "__main__")),
)
CORES = ("location", "districting")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 120


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    """Index of the module's layer; the package root sits above every layer."""
    if module == "allocator":
        return len(LAYERS)
    rest = module.removeprefix("allocator.")
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (rest == prefix or rest.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS and ARCHITECTURE.md")
    return best


def _resolve(module: str, package: str, level: int) -> str:
    if level:
        base = package.split(".")
        base = base[: len(base) - level + 1]
        module = ".".join(base + ([module] if module else []))
    return module


def _imports(module: str, path: Path) -> list[tuple[str, str, int]]:
    """(imported module, imported name or "", line) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((a.name, "", node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(node.module or "", package, node.level)
            for alias in node.names:
                found.append((source, alias.name, node.lineno))
    return found


def _edges() -> list[tuple[str, str, int]]:
    """Module-level dependencies inside the package: (importer, imported, line)."""
    edges = []
    for module, path in MODULES.items():
        for source, name, line in _imports(module, path):
            if not source.startswith("allocator"):
                continue
            target = f"{source}.{name}" if name and f"{source}.{name}" in MODULES else source
            while target not in MODULES and "." in target:
                target = target.rpartition(".")[0]
            if target != module:
                edges.append((module, target, line))
    return edges


def test_every_module_is_in_a_layer():
    for module in MODULES:
        _layer(module)


def test_imports_go_only_down_the_layers():
    wrong = [
        f"{a} ({LAYERS[_layer(a)][0]}, line {line}) imports {b} ({LAYERS[_layer(b)][0]})"
        if _layer(b) < len(LAYERS)
        else f"{a} (line {line}) imports the package root; import the module itself"
        for a, b, line in _edges()
        if _layer(b) > _layer(a)
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    graph = nx.DiGraph((a, b) for a, b, _ in _edges())
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def _private_uses(path: Path, module: str) -> list[str]:
    """Private names of other allocator modules used in ``path``: imported or read as attributes."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    bound: dict[str, str] = {}  # local name -> allocator module it is bound to
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _resolve(node.module or "", package, node.level)
            if not source.startswith("allocator"):
                continue
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if private and source != module:
                    found.append(f"line {node.lineno}: from {source} import {alias.name}")
                if f"{source}.{alias.name}" in MODULES:
                    bound[alias.asname or alias.name] = f"{source}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("allocator") and alias.asname:
                    bound[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
            and _private(node.attr)
        ):
            found.append(f"line {node.lineno}: {bound[node.value.id]}.{node.attr}")
        elif (  # monkeypatch.setattr(module, "_name", ...) reaches in just the same
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "setattr"
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in bound
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
        ):
            found.append(f"line {node.lineno}: {bound[node.args[0].id]}.{node.args[1].value}")
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _files_using_allocator() -> dict[str, Path]:
    files = dict(MODULES)
    for folder in ("tests", "benchmarks", "examples"):
        for p in sorted((ROOT / folder).rglob("*.py")):
            files[str(p.relative_to(ROOT))] = p
    return files


def test_no_private_name_crosses_modules():
    wrong = []
    for module, path in _files_using_allocator().items():
        name = module if module in MODULES else "tests"
        wrong.extend(f"{module}: {use}" for use in _private_uses(path, name))
    assert not wrong, "\n".join(wrong)


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


_SCHOOL_WORDS = re.compile(r"school|pupil|teacher|student|kindergarten", re.IGNORECASE)


def test_cores_speak_of_sites_and_demand_not_schools():
    wrong = []
    for module, path in MODULES.items():
        if module.removeprefix("allocator.").split(".")[0] not in CORES:
            continue
        text = path.read_text(encoding="utf-8")
        docs = _docstring_lines(ast.parse(text))
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type not in (tokenize.NAME, tokenize.STRING, tokenize.COMMENT):
                continue
            if tok.type == tokenize.STRING and tok.start[0] in docs:
                continue
            if _SCHOOL_WORDS.search(tok.string):
                wrong.append(f"{module}, line {tok.start[0]}: {tok.string[:60]!r}")
    assert not wrong, "\n".join(wrong)


def test_modules_and_functions_stay_readable():
    long_modules, long_functions = [], []
    for module, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > MAX_MODULE_LINES:
            long_modules.append(f"{module}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{module}.{node.name}: {length} lines")
    message = "\n".join(long_modules + long_functions)
    assert not long_modules and not long_functions, message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from allocator.solver import _secret\n", ["from allocator.solver import _secret"]),
        ("import allocator.solver.matrix as m\nm._hidden()\n", ["allocator.solver.matrix._hidden"]),
        ("from allocator.solver import matrix\nmatrix.run_highs\n", []),
        ("from allocator import __version__\n", []),
        (
            "import allocator.solver.matrix as m\nmonkeypatch.setattr(m, '_limit', 0)\n",
            ["allocator.solver.matrix._limit"],
        ),
    ],
)
def test_the_private_name_check_can_fail(tmp_path, source, expected):
    path = tmp_path / "probe.py"
    path.write_text(source)
    found = _private_uses(path, "tests")
    assert [f.split(": ", 1)[1] for f in found] == expected
