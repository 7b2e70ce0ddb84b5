"""Key positions of TOML text (:func:`allocator.toml_input.key_lines`): the line of every key, so
that a scenario error names where the key is written."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from allocator.toml_input import key_lines


def test_key_lines_of_tables_arrays_inline_and_dotted_keys():
    text = (
        "# comment = not a key\n"  # 1
        'name = "a = b # c"\n'  # 2
        "[region]\n"  # 3
        "schools = 40\n"  # 4
        "[[steps]]\n"  # 5
        'planner = "x"\n'  # 6
        "keep = [\n"  # 7
        '  "a",\n'  # 8
        '  "b",\n'  # 9
        "]\n"  # 10
        "[[steps]]\n"  # 11
        "caps = { rural = 1, urban = { x = 2 } }\n"  # 12
        "[steps.solver]\n"  # 13
        "time_limit = 5\n"  # 14
        "[[variants]]\n"  # 15
        "steps.budget.objective = 'gap'\n"  # 16
        '"quoted key" = """multi\n'  # 17
        'line = 3"""\n'  # 18
        "after = 1\n"  # 19
    )
    lines = key_lines(text)
    assert lines[("name",)] == 2
    assert lines[("region", "schools")] == 4
    assert lines[("steps", 0)] == 5
    assert lines[("steps", 0, "keep", 1)] == 9
    assert lines[("steps", 1, "caps", "urban", "x")] == 12
    assert lines[("steps", 1, "solver", "time_limit")] == 14
    assert lines[("variants", 0, "steps", "budget", "objective")] == 16
    assert lines[("variants", 0, "quoted key")] == 17
    assert lines[("variants", 0, "after")] == 19
    assert ("line",) not in lines and ("variants", 0, "line") not in lines


_KEY = st.from_regex(r"[a-z][a-z_]{0,6}", fullmatch=True)
_SCALAR = st.one_of(
    st.integers(-5, 5), st.booleans(), st.text("ab=#[]{}\"' ", max_size=6), st.floats(0, 9)
)


@given(
    st.dictionaries(
        _KEY,
        st.one_of(_SCALAR, st.dictionaries(_KEY, _SCALAR, max_size=3)),
        min_size=1,
        max_size=5,
    )
)
def test_key_lines_finds_every_key_written_one_per_line(tree):
    # Write scalars first, then one [table] per nested dict; record where each key went.
    out, expected = [], {}
    scalars = {k: v for k, v in tree.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in tree.items() if isinstance(v, dict)}

    def literal(v):
        return json.dumps(v) if not isinstance(v, bool) else str(v).lower()

    for k, v in scalars.items():
        out.append(f"{k} = {literal(v)}  # note")
        expected[(k,)] = len(out)
    for k, table in tables.items():
        out.append(f"[{k}]")
        expected[(k,)] = len(out)
        for kk, v in table.items():
            out.append(f"{kk} = {literal(v)}")
            expected[(k, kk)] = len(out)
    text = "\n".join(out) + "\n"
    import tomllib

    assert tomllib.loads(text) == tree
    lines = key_lines(text)
    for path, line in expected.items():
        assert lines[path] == line, (path, text)
