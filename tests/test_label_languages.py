"""Each language of labels.csv in its own script: no Chinese characters in an English label (a
proper name kept in Chinese is listed here with its reason), no English word in the Chinese text of
the check summary's labels."""

from __future__ import annotations

import re

from allocator.i18n import labels

CJK = re.compile("[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")

#: English labels that may keep Chinese characters: key -> why (a proper name with no English).
PROPER_NAMES: dict[str, str] = {}

#: Names the Chinese check summary keeps in Latin letters: the tables a reader is sent to.
TABLE_NAMES = {"open_", "warnings"}


def test_no_english_label_has_chinese_characters():
    table = labels()
    assert set(PROPER_NAMES) <= set(table)
    found = {k: v["en"] for k, v in table.items() if CJK.search(v["en"])}
    assert found.keys() <= PROPER_NAMES.keys(), {
        k: v for k, v in found.items() if k not in PROPER_NAMES
    }


def test_the_check_summarys_chinese_labels_have_no_english_word():
    rows = {k: v["zh"] for k, v in labels().items() if k.startswith("checksum.")}
    assert len(rows) > 40
    for key, text in rows.items():
        if key.startswith("checksum.standard.") or key.startswith("checksum.warning."):
            assert CJK.search(text), key
        words = set(re.findall(r"[A-Za-z_]{3,}", re.sub(r"\{\w+(![rs])?\}", "", text)))
        assert words <= TABLE_NAMES, (key, words)
