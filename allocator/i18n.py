"""The words people read, in Chinese and English, from one data file.

Every label, heading, sentence and table header a report or a command shows is looked up here by
key in ``allocator/data/i18n/labels.csv`` (columns ``key``, ``en``, ``zh``; one row per key,
sorted by key), never written into the code. A sentence with figures names them in braces
(``"{n} schools pass"``) and :meth:`Words.__call__` fills them in. The official Chinese terms
are used: 差异系数, 优质均衡, 学区, 撤点并校, 九年一贯制, 教学点, 骨干教师, 交流轮岗.

Examples
--------
>>> words = Words("zh")
>>> words("term.cv"), Words("en")("term.cv")
('差异系数', 'CV (coefficient of variation)')
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from allocator.errors import InputError

__all__ = ["LANGUAGES", "Words", "labels", "check_language", "language_of", "status_word"]

#: The languages every label has, the first being the default.
LANGUAGES = ("zh", "en")


@lru_cache(maxsize=1)
def labels() -> dict[str, dict[str, str]]:
    """Every key's texts: ``{key: {"en": ..., "zh": ...}}`` (read once).

    Examples
    --------
    >>> labels()["word.passes"]["zh"]
    '达标'
    """
    source = resources.files("allocator") / "data" / "i18n" / "labels.csv"
    table: dict[str, dict[str, str]] = {}
    with source.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            key = row["key"]
            if key in table:
                raise InputError(
                    f"labels.csv, line {line}: key {key!r} appears twice; expected one row per key",
                    file="labels.csv",
                    line=line,
                    column="key",
                )
            table[key] = {lang: row[lang] for lang in LANGUAGES}
    return table


def check_language(language: str, *, where: str = "language") -> str:
    """``language`` if it is one of :data:`LANGUAGES`, else one clear :class:`InputError`.

    Examples
    --------
    >>> check_language("en")
    'en'
    >>> check_language("fr")
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: language: expected one of 'zh', 'en', got 'fr'
    """
    if language not in LANGUAGES:
        expected = ", ".join(repr(x) for x in LANGUAGES)
        raise InputError(f"{where}: expected one of {expected}, got {language!r}")
    return language


def language_of(names) -> str:
    """The language a region speaks, from its names: ``"zh"`` when any name holds a Chinese
    character (CJK unified ideographs), else ``"en"``.

    This is the default of a report's language when neither ``[output] language`` nor ``--lang``
    says otherwise; pass the school and county names.

    Examples
    --------
    >>> language_of(["桃乐实验小学", "Riverside"]), language_of(["Riverside", None])
    ('zh', 'en')
    """
    for name in names:
        if isinstance(name, str) and any("\u3400" <= c <= "\u9fff" for c in name):
            return "zh"
    return "en"


@dataclass(frozen=True)
class Words:
    """The texts of one language: ``Words("zh")("word.passes")`` is ``"达标"``.

    Parameters
    ----------
    language : {"zh", "en"}

    Examples
    --------
    >>> Words("en")("word.passes"), Words("zh")("word.fails")
    ('passes', '未达标')
    """

    language: str = LANGUAGES[0]

    def __post_init__(self) -> None:
        check_language(self.language)

    def __call__(self, key: str, **values) -> str:
        """The text of ``key`` in this language, with ``{name}`` fields filled from ``values``.

        A key missing from the data file raises ``KeyError`` naming it (a test checks that every
        key the code uses is there).
        """
        try:
            text = labels()[key][self.language]
        except KeyError:
            raise KeyError(f"no label {key!r} in allocator/data/i18n/labels.csv") from None
        return text.format(**values) if values else text


def status_word(status: str, words: Words) -> str:
    """A plan's solve status in the reader's language (the label, else the status as it is).

    Examples
    --------
    >>> status_word("optimal", Words("zh")), status_word("n/a", Words("en"))
    ('最优', 'n/a')
    """
    key = "summary.na" if status == "n/a" else f"solver.status.{status}"
    try:
        return words(key)
    except KeyError:
        return status
