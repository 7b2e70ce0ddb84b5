"""HTML building blocks of the reports: escaping, number formatting, tables and the page frame.

Every page of :mod:`allocator.report` is plain HTML with one inline style sheet (:data:`CSS`), so
the file can be mailed and opened anywhere.
"""

from __future__ import annotations

import datetime as _dt
import html

import numpy as np
import pandas as pd

from allocator.i18n import Words
from allocator.report.interactive import has_figure, plotly_script
from allocator.report.widgets import TABLE_CSS, table_script
from allocator.sheets import decimals, rounded

__all__ = [
    "CSS",
    "Share",
    "escape",
    "format_value",
    "header",
    "headline_label",
    "html_table",
    "page",
    "change_class",
]

#: The style sheet every report page carries inline.
CSS = """
body{font-family:-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei",sans-serif;
max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:3px solid #1f77b4;padding-bottom:.2em}h2{border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f3f6fa}
td:first-child,th:first-child{text-align:left}
.better{color:#1a7f37;font-weight:600}.worse{color:#b42318;font-weight:600}
.best{background:#e6f4ea;font-weight:600}.note{color:#555;font-size:.92em;max-width:60em}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.88em}
img{max-width:100%;border:1px solid #eee;margin:.4em 0}.kpi{display:flex;gap:1em;flex-wrap:wrap}
.kpi div{background:#f3f6fa;border-radius:6px;padding:.6em 1em;min-width:11em}
.kpi b{display:block;font-size:1.4em}nav a{margin-right:1em}
"""


def escape(text) -> str:
    """``text`` as a string, escaped for HTML text and for attribute values in either quotes.

    Examples
    --------
    >>> escape("a < b & c"), escape("it's " + chr(34) + "x" + chr(34))
    ('a &lt; b &amp; c', 'it&#x27;s &quot;x&quot;')
    """
    return html.escape(str(text))


class Share(float):
    """A share, shown as a percentage by :func:`format_value`.

    Examples
    --------
    >>> format_value(Share(0.25))
    '25%'
    """


def format_value(value, column: str | None = None, words=None) -> str:
    """A number as the reports show it: grouped thousands, rounded to the unit that matters, '–'
    for none, never in exponent notation.

    With ``column``, a float gets the decimals :func:`allocator.sheets.decimals` gives that column
    (yuan whole, minutes 1, shares and CVs 3, ratios 2), trailing zeros kept so a column lines up;
    without, three significant digits (at most three decimals). With ``words``
    (:class:`allocator.i18n.Words`) yes and no are in its language.

    Examples
    --------
    >>> [format_value(v) for v in (12345.6, 0.5, 1234, None, True, 0.004, 11.969999999999999)]
    ['12,346', '0.5', '1,234', '–', 'yes', '0.004', '12']
    >>> format_value(59999818.69, "spent_yuan"), format_value(0.12345, "cv"), format_value(2.0, "cv")
    ('59,999,819', '0.123', '2.000')
    """
    if isinstance(value, Share):
        return f"{float(value):.0%}" if np.isfinite(value) else "–"
    if value is None or value is pd.NA or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, bool | np.bool_):
        if words is not None:
            return words("word.yes") if value else words("word.no")
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        v = float(value)
        if column is not None:
            return f"{v:,.{decimals(column)}f}"
        if v != 0 and abs(v) >= 10000:
            return f"{v:,.0f}"
        if abs(v) < 1:
            return f"{v:.3f}".rstrip("0").rstrip(".") if v else "0"
        return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.1f}"
    return str(value)


def header(column, words=None) -> str:
    """The reader's name of a table column: ``col.<column>`` in the labels when ``words`` is given,
    else an indicator's name (``ind.<column>``), else a name made of its parts
    (``<base>_before``, ``<base>_after``, ``<base>_ratio``: ``col.suffix_before`` ... around the
    base's name), else the column name itself (the CSV files keep the machine names).

    Examples
    --------
    >>> from allocator.i18n import Words
    >>> header("school_id", Words("zh")), header("school_id"), header("no_such_column", Words("zh"))
    ('学校代码', 'school_id', 'no_such_column')
    >>> header("staff_shortfall_after", Words("zh")), header("pupils_before", Words("en"))
    ('教师缺口（规划后）', 'pupils before')
    """
    if words is None:
        return str(column)
    found = _known_header(str(column), words)
    return str(column) if found is None else found


def headline_label(key: str, words) -> str:
    """The reader's name of a plan's headline figure: ``head.<key>``, else the column name
    :func:`header` makes of it, else the key with spaces.

    Examples
    --------
    >>> from allocator.i18n import Words
    >>> headline_label("schools_closed", Words("zh")), headline_label("staff_shortfall_before", Words("zh"))
    ('撤并学校数', '规划前教师缺口')
    >>> headline_label("minimax_before", Words("en"))
    'minimax before'
    """
    try:
        return words(f"head.{key}")
    except KeyError:
        found = _known_header(key, words)
        return key.replace("_", " ") if found is None else found


def _known_header(name: str, words) -> str | None:
    for key in (f"col.{name}", f"ind.{name}"):
        try:
            return words(key)
        except KeyError:
            pass
    for suffix in ("before", "after", "ratio"):
        if name.endswith(f"_{suffix}"):
            base = _known_header(name[: -len(suffix) - 1], words)
            if base is not None:
                return words(f"col.suffix_{suffix}", base=base)
    return None


def html_table(
    df: pd.DataFrame,
    max_rows: int | None = None,
    classes: pd.DataFrame | None = None,
    words=None,
) -> str:
    """An HTML table of ``df`` in a box that scrolls sideways when the table is wide.

    Each cell is formatted by :func:`format_value` (floats rounded by their column's decimals,
    :func:`allocator.sheets.rounded`, so a column of whole numbers shows none), each
    header named by :func:`header`; every text is escaped.

    Parameters
    ----------
    df : pandas.DataFrame
    max_rows : int, optional
        Show only the first rows and say how many there are in all.
    classes : pandas.DataFrame, optional
        A CSS class per cell (same shape as the rows shown; empty for none).
    words : allocator.i18n.Words, optional
        The language of headers, yes/no and the note on cut rows (English names if None).

    Returns
    -------
    str

    Examples
    --------
    >>> html_table(pd.DataFrame({"a": [1]}))
    '<div class="table-box" style="overflow-x:auto;max-width:100%"><table><tr><th>a</th></tr><tr><td>1</td></tr></table></div>'
    """
    shown = rounded(df if max_rows is None else df.head(max_rows))
    head = "".join(f"<th>{escape(header(c, words))}</th>" for c in shown.columns)
    floats = [pd.api.types.is_float_dtype(t) for t in shown.dtypes]
    body = []
    for i, row in enumerate(shown.itertuples(index=False)):
        cells = []
        for j, c in enumerate(shown.columns):
            cls = ""
            if classes is not None and classes.iat[i, j]:
                cls = f' class="{escape(classes.iat[i, j])}"'
            text = format_value(row[j], str(c) if floats[j] else None, words)
            cells.append(f"<td{cls}>{escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if max_rows is not None and len(df) > max_rows:
        note = (
            words("report.rows_cut", shown=max_rows, rows=f"{len(df):,}")
            if words is not None
            else f"First {max_rows} of {len(df):,} rows; the CSV file has all."
        )
        more = f'<p class="note">{escape(note)}</p>'
    return (
        '<div class="table-box" style="overflow-x:auto;max-width:100%">'
        f"<table><tr>{head}</tr>{''.join(body)}</table></div>{more}"
    )


def page(title: str, body: str, words: Words | None = None) -> str:
    """A complete HTML document: ``body`` with the title, the style sheet and a time stamp.

    The page works offline: when ``body`` holds a figure, plotly.js is inlined once in the head;
    a small script makes every table sortable, filterable and downloadable as CSV
    (:mod:`allocator.report.widgets`).

    Parameters
    ----------
    title : str
    body : str
        HTML.
    words : allocator.i18n.Words, optional
        The page's language (the default language if not given).

    Examples
    --------
    >>> page("t", "<p>x</p>").startswith("<!DOCTYPE html>")
    True
    """
    words = words if words is not None else Words()
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    lang = "zh-CN" if words.language == "zh" else words.language
    js = plotly_script() if has_figure(body) else ""
    return (
        f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{CSS}{TABLE_CSS}</style>{js}</head><body>{body}"
        f"<hr><p class='note'>{escape(words('page.written', stamp=stamp))}</p>"
        f"{table_script(words)}</body></html>"
    )


def change_class(before, after, better: str) -> str:
    """The CSS class of a change: ``"better"``, ``"worse"`` or ``""`` (none, or not a number).

    ``better`` says which way is good: ``"high"``, ``"low"`` or ``"one"`` (closer to 1).

    Examples
    --------
    >>> change_class(0.4, 0.3, "low"), change_class(0.9, 0.8, "one"), change_class("-", 1, "high")
    ('better', 'worse', '')
    """
    try:
        b, a = float(before), float(after)
    except (TypeError, ValueError):
        return ""
    if not (np.isfinite(a) and np.isfinite(b)) or abs(a - b) < 1e-12:
        return ""
    if better == "one":
        good = abs(a - 1) < abs(b - 1)
    else:
        good = (a > b) if better == "high" else (a < b)
    return "better" if good else "worse"
