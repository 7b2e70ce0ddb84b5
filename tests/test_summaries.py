"""Plan and run summaries in English and Chinese: the same figures, no English left in Chinese."""

from __future__ import annotations

import pathlib
import re
from collections import Counter

import pytest

from allocator.errors import InputError
from allocator.i18n import labels
from allocator.pipeline import run_scenario
from allocator.planners.budget import BudgetPolicy, plan_budget
from allocator.planners.districts import DistrictPolicy, plan_districts
from allocator.planners.mergers import plan_mergers
from allocator.planners.teachers import plan_teachers
from allocator.synth import make_region

ROOT = pathlib.Path(__file__).resolve().parents[1]
# A number standing on its own (not the tail of a name such as ``moe2017`` or ``per_100``).
NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?")
PLACEHOLDER = re.compile(r"\{[^}]*\}")


@pytest.fixture(scope="module")
def region():
    return make_region(schools=36, seed=3)


PLANNERS = {
    "mergers": lambda r: plan_mergers(r),
    "districts": lambda r: plan_districts(r, DistrictPolicy(method="heuristic")),
    "budget": lambda r: plan_budget(r, BudgetPolicy(budget=2e7)),
    "teachers": lambda r: plan_teachers(r),
}


@pytest.fixture(scope="module")
def plans(region):
    return {name: make(region) for name, make in PLANNERS.items()}


def numbers(text: str) -> Counter:
    """The numbers of a summary; "per 100 pupils" names an indicator (每百名 in Chinese), not a figure."""
    return Counter(NUMBER.findall(re.sub(r"per 100 pupils|每百名|每 100 名", "", text)))


def english_fragments(prefixes: tuple[str, ...]) -> list[str]:
    """The English words of the labels under ``prefixes`` whose Chinese differs: each literal
    stretch between placeholders of two words or more, one of four letters or more (single words
    such as "indicators" also occur in names and in the planners' own notes)."""
    out = []
    for key, texts in labels().items():
        if not key.startswith(prefixes) or texts["en"] == texts["zh"]:
            continue
        for piece in PLACEHOLDER.split(texts["en"]):
            piece = piece.strip(" .,;:()")
            if " " in piece and re.search(r"[A-Za-z]{4,}", piece):
                out.append(piece)
    return out


def test_fragments_are_found_in_english(plans):
    """The check below can fail: the English summary holds its own label words."""
    text = plans["teachers"].summary("en")
    found = [f for f in english_fragments(("summary.teachers.",)) if f in text]
    assert "Teachers short of the norms" in found and "teachers in" in found


@pytest.mark.parametrize("name", list(PLANNERS))
def test_chinese_summary_has_no_english_labels(plans, name):
    zh = plans[name].summary("zh")
    assert re.search("[\u4e00-\u9fff]", zh)
    left = [f for f in english_fragments((f"summary.{name}.", "summary.run.")) if f in zh]
    assert left == []


@pytest.mark.parametrize("name", list(PLANNERS))
def test_same_numbers_in_both_languages(plans, name):
    en, zh = plans[name].summary("en"), plans[name].summary("zh")
    assert sum(numbers(en).values()) > 5
    assert numbers(en) == numbers(zh)


@pytest.mark.parametrize("name", list(PLANNERS))
def test_default_is_english(plans, name):
    assert plans[name].summary() == plans[name].summary("en")


@pytest.mark.parametrize("name", list(PLANNERS))
def test_unknown_language_is_one_input_error(plans, name):
    with pytest.raises(InputError, match="expected one of") as caught:
        plans[name].summary("fr")
    assert "\n" not in str(caught.value)


def test_numbers_regex_by_hand():
    assert numbers("moe2017 per_100 江县-D01: 1,234 -> 5.5 (12.0%)") == Counter(
        {"1,234": 1, "5.5": 1, "12.0": 1}
    )


@pytest.fixture(scope="module")
def result():
    scenario = ROOT / "scenarios" / "budget_policy_comparison.toml"
    return run_scenario(scenario, write=False, overrides={"region": {"schools": 36}})


def test_run_summary_in_chinese(result):
    en, zh = result.summary("en"), result.summary("zh")
    assert zh.splitlines()[0] == f"{result.scenario.name}：共 {len(result.steps)} 步，用时 " + (
        f"{result.seconds:.1f} 秒"
    )
    assert "达标学段数" in zh and "compliant school parts" in en
    assert [f for f in english_fragments(("summary.run.",)) if f in zh] == []
    assert numbers(en) == numbers(zh)
    with pytest.raises(InputError, match="expected one of"):
        result.summary("de")


def test_run_summary_gives_each_steps_status_in_the_readers_words(result):
    zh = result.summary("zh").splitlines()
    statuses = {"optimal": "最优", "feasible": "可行"}
    for step, line in zip(result.steps, zh[1 : 1 + len(result.steps)], strict=True):
        assert step.status in statuses, step.status
        assert statuses[step.status] in line and step.status not in line
