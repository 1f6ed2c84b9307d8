"""Serving hands the shopper's segments to the recommender, the way training encodes them."""

import pytest

import personalize
from personalize.models import Shopper
from personalize.placements.pipeline import profile_of
from personalize.models import Segment, SegmentMembership
from tests import factories

pytestmark = pytest.mark.django_db


def _member_of_materialised_segment() -> Shopper:
    shopper = Shopper.objects.create()
    segment = Segment.objects.create(name="VIP", slug="vip", mode=Segment.Mode.MATERIALISED)
    SegmentMembership.objects.create(segment=segment, shopper=shopper)
    return shopper


def test_profile_of_a_shopper_carries_materialised_segments():
    shopper = _member_of_materialised_segment()
    _shopper, profile = profile_of(shopper)
    assert profile.features["segments"] == "vip"


def test_profile_of_a_request_carries_the_request_segments():
    shopper = _member_of_materialised_segment()
    request = factories.shopper_request(shopper)
    assert "vip" in personalize.segments_for(request)
    _shopper, profile = profile_of(request)
    assert "vip" in profile.features["segments"].split(",")
