"""System checks for PERSONALIZE["PLACEMENTS"] (E017-E019)."""

from __future__ import annotations

import pytest

from personalize.placements.checks import check_placements


def ids(settings, **extra):
    settings.PERSONALIZE = {**settings.PERSONALIZE, **extra}
    return sorted({e.id for e in check_placements()})


def test_the_defaults_pass(settings):
    assert ids(settings) == []


@pytest.mark.parametrize(
    "placements",
    [
        "for_you",
        {"for_you": ["default"]},
        {"for_you": {"method": "guess"}},
        {"for_you": {"diversity": {"category": 0}}},
        {"for_you": {"variants": [{"recommender": "popular"}]}},
        {"for_you": {"variants": [{"name": "a", "weight": -1}]}},
        {"for_you": {"variants": [{"name": "a"}, {"name": "a"}]}},
    ],
)
def test_bad_shapes_are_e017(settings, placements):
    assert ids(settings, PLACEMENTS=placements) == ["personalize.E017"]


def test_unknown_recommender_aliases_are_e018(settings):
    assert ids(settings, PLACEMENTS={"refill": {"recommender": "nope"}}) == ["personalize.E018"]
    assert ids(settings, PLACEMENTS={"for_you": {"variants": [{"name": "b", "recommender": "nope"}]}}) == ["personalize.E018"]
    assert ids(settings, NEUTRAL_RECOMMENDER="nope") == ["personalize.E018"]


def test_a_bad_rules_hook_is_e019(settings):
    assert ids(settings, PLACEMENTS={"for_you": {"rules": "no.such.hook"}}) == ["personalize.E019"]
    assert ids(settings, PLACEMENTS={"for_you": {"rules": "personalize.conf.DEFAULTS"}}) == ["personalize.E019"]
    assert ids(settings, PLACEMENTS={"for_you": {"rules": "tests.test_placements_rules.only_high_margin"}}) == []
