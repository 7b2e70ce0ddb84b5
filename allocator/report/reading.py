"""How the reports speak to their reader: the language, the stage names, and tables as a person
reads them (school names beside ids, values in words).

Used by :mod:`~allocator.report.run_page` and :mod:`~allocator.report.compare_page`; every word
comes from :class:`allocator.i18n.Words`.
"""

from __future__ import annotations

import inspect
import re
from functools import cache

import pandas as pd

from allocator.i18n import Words, check_language, labels, language_of
from allocator.sheets import with_names

__all__ = [
    "indicator_name",
    "reader_table",
    "sentence_in",
    "report_language",
    "school_names",
    "stage_labels",
    "table_name",
    "word_or",
]


def report_language(result, language: str | None = None) -> str:
    """The language of a run's report: ``language`` if given, else the scenario's
    ``[output] language``, else Chinese when the region's school or county names hold Chinese
    characters and English otherwise (:func:`allocator.i18n.language_of`).

    Examples
    --------
    >>> import pathlib
    >>> from allocator.pipeline import run_scenario
    >>> f = pathlib.Path(__file__).parents[2] / "scenarios" / "budget_policy_comparison.toml"
    >>> r = run_scenario(f, write=False, overrides={"region": {"schools": 40}})
    >>> report_language(r), report_language(r, "en")
    ('zh', 'en')
    """
    if language is not None:
        return check_language(language, where="--lang")
    chosen = getattr(getattr(result.scenario, "output", None), "language", None)
    if chosen is not None:
        return chosen
    schools = result.regions[0].schools
    return language_of([*schools["county"].unique(), *schools["name"].head(200)])


def stage_labels(result, words: Words) -> list[str]:
    """The stages in the reader's words: "before", then "after <step>" for each step."""
    return [words("stage.before"), *(words("stage.after", step=s.name) for s in result.steps)]


#: Columns whose values are words (``<family>.<value>`` in the labels; others stay as they are).
_VALUE_COLUMNS = {
    "part": "part",
    "area_type": "area",
    "level": "level",
    "band": "band",
    "status": "status",
    "stage": "when",
    "category": "category",
    "intervention": "intervention",
    "unit": "unit",
    "programme": "programme",
    "item": "item",
    "reason": "reason",
    "method": "method",
    "mode": "mergers.mode",
}


def reader_table(
    df: pd.DataFrame, words: Words, names=None, table: str | None = None
) -> pd.DataFrame:
    """``df`` as a person reads it: school names beside ids (from ``names``, id -> name), parts,
    area types, levels, bands and indicators in the reader's words. Headers are translated later,
    by :func:`allocator.report.tables.html_table`, except where ``table`` names a table whose
    column has a name of its own there (``colof.<table>.<column>`` in the labels: "places" of a
    kindergarten are not training places). Any other column's values that have words
    (``val.<column>.<value>``) are shown in words.

    Examples
    --------
    >>> df = pd.DataFrame({"action": ["build", "expand+convert"], "places_after": [90, 180]})
    >>> shown = reader_table(df, Words("zh"), table="kindergartens")
    >>> list(shown.columns), shown["措施"].tolist()
    (['措施', '规划后学位'], ['新建', '扩建并转为普惠'])
    """
    out = with_names(df, names) if names is not None else df.copy()
    for column, family in _VALUE_COLUMNS.items():
        if column in out.columns:
            out[column] = out[column].map(lambda v, f=family: word_or(words, f"{f}.{v}", v))
    for column in out.columns:
        if column not in _VALUE_COLUMNS and f"val.{column}" in _value_families():
            out[column] = out[column].map(lambda v, c=column: word_or(words, f"val.{c}.{v}", v))
    if table is not None:
        own = {c: word_or(words, f"colof.{table}.{c}", None) for c in out.columns}
        out = out.rename(columns={c: name for c, name in own.items() if name is not None})
    if "indicator" in out.columns:
        out["indicator"] = out["indicator"].map(lambda v: indicator_name(v, words))
    for column, (family, sep) in _SENTENCE_COLUMNS.items():
        if column in out.columns and words.language != "en":
            out[column] = out[column].map(lambda v, f=family, s=sep: _sentences(words, f, v, s))
    return out


@cache
def _value_families() -> frozenset:
    """``val.<column>`` for each column some of whose values have words in the labels."""
    return frozenset(".".join(k.split(".")[:2]) for k in labels() if k.startswith("val."))


def table_name(name: str, words: Words) -> str:
    """The reader's name of a plan table (``tablename.<name>``), else its file name.

    Examples
    --------
    >>> table_name("kindergarten_targets", Words("zh")), table_name("x", Words("zh"))
    ('幼儿园规划目标', 'x')
    """
    return word_or(words, f"tablename.{name}", name)


#: Columns whose cells are sentences a planner writes in English (each a label of the family,
#: whose English text is the sentence with its figures in braces), and what joins several.
_SENTENCE_COLUMNS = {
    "detail": ("detail", None),
    "kept_because": ("kept", "; "),
    "reason": ("breach", None),
}


@cache
def _patterns(family: str) -> tuple[tuple[re.Pattern, str], ...]:
    """Each label of ``family`` as a pattern of its English text, figures as named groups."""
    out = []
    for key, texts in labels().items():
        if key.startswith(f"{family}."):
            parts = re.split(r"\{(\w+)\}", texts["en"])
            regex = "".join(
                re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts)
            )
            out.append((re.compile(f"{regex}\\Z"), key))
    return tuple(out)


def sentence_in(words: Words, family: str, text):
    """A planner's English sentence in the reader's words: the label of ``family`` whose English
    text it is, with the same figures (a figure that is a value word, such as a band, in words
    too); any other text as it is.

    Examples
    --------
    >>> zh = Words("zh")
    >>> sentence_in(zh, "detail", "becomes one nine-year school with S7 on the same site")
    '与同址的 S7 合并为一所九年一贯制学校'
    >>> sentence_in(zh, "breach", "no school teaching junior within 60 min")
    '60 分钟内没有招收初中7–9年级的学校'
    >>> sentence_in(zh, "detail", "something else")
    'something else'
    """
    if not isinstance(text, str):
        return text
    for pattern, key in _patterns(family):
        found = pattern.match(text)
        if found:
            values = {k: _figure_in(words, k, v) for k, v in found.groupdict().items()}
            return words(key, **values)
    return text


#: Figures of a sentence that are sentences themselves, and their label family.
_NESTED = {"why": "why_not"}


def _figure_in(words: Words, name: str, value: str) -> str:
    """A figure of a sentence in the reader's words: a value word (a band, an intervention), an
    indicator's name, a nested sentence, or the figure as it is."""
    if name in _VALUE_COLUMNS:
        return word_or(words, f"{_VALUE_COLUMNS[name]}.{value}", value)
    if name == "indicator":
        return indicator_name(value, words)
    if name in _NESTED:
        return sentence_in(words, _NESTED[name], value)
    return value


def _sentences(words: Words, family: str, text, sep: str | None):
    if sep is None or not isinstance(text, str):
        return sentence_in(words, family, text)
    return words("report.list_sep").join(sentence_in(words, family, t) for t in text.split(sep))


def indicator_name(key: str, words: Words, *, short: bool = False) -> str:
    """The reader's name of an indicator: its full name (``ind.<key>`` in the labels) or, with
    ``short``, its chart label (``chart.indicator.<key>``); the key itself if there is none.

    The one place every table, verdict, chart and map names an indicator.

    Examples
    --------
    >>> indicator_name("backbone_per_100", Words("zh"))
    '每百名学生拥有县级以上骨干教师数'
    >>> indicator_name("backbone_per_100", Words("zh"), short=True), indicator_name("x", Words("en"))
    ('骨干教师/百生', 'x')
    """
    return word_or(words, f"{'chart.indicator' if short else 'ind'}.{key}", key)


def word_or(words: Words, key: str, default):
    """``words(key)``, or ``default`` when the labels have no such key (a value, a headline or a
    column that has no name of its own is shown as it is).

    Examples
    --------
    >>> word_or(Words("zh"), "part.primary", "primary"), word_or(Words("zh"), "part.x", "x")
    ('小学', 'x')
    """
    try:
        return words(key)
    except KeyError:
        return default


def school_names(result) -> pd.Series:
    """School id -> name of every school at any stage (closed schools keep their names)."""
    frames = [r.schools[["school_id", "name"]] for r in result.regions]
    both = pd.concat(frames).drop_duplicates("school_id", keep="last")
    return both.set_index("school_id")["name"]


def plan_text(plan, language: str) -> str:
    """A plan's ``summary()`` in the reader's language; a plan (say, one registered by a user)
    whose ``summary()`` takes no language speaks its own, and a plan without one gives "".

    Examples
    --------
    >>> class Own:
    ...     def summary(self):
    ...         return "mine"
    >>> plan_text(Own(), "zh"), plan_text(object(), "zh")
    ('mine', '')
    """
    summary = getattr(plan, "summary", None)
    if summary is None:
        return ""
    try:
        takes_language = bool(inspect.signature(summary).parameters)
    except (TypeError, ValueError):  # a builtin without a signature
        takes_language = False
    if not takes_language:
        return summary()
    return _notes_in(Words(language), summary(language))


def _notes_in(words: Words, text: str) -> str:
    """A plan text's notes (lines of ``summary.budget.note``, which a planner writes in English)
    in the reader's words (the ``note`` labels), when the reader's language is not English."""
    if words.language == "en":
        return text
    prefix = words("summary.budget.note", note="")
    lines = [
        prefix + sentence_in(words, "note", line[len(prefix) :])
        if line.startswith(prefix)
        else line
        for line in text.split("\n")
    ]
    return "\n".join(lines)
