"""Small generated shops for the recommender tests: two taste groups and a complementary pair."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from personalize.models import Event, Shopper
from tests import factories

# LightFM options that learn the small shops below in well under a second.
FAST_LIGHTFM = {"EPOCHS": 30, "NO_COMPONENTS": 16, "NUM_THREADS": 1, "RELOAD_SECONDS": 0}


def taste_shop(*, shoppers: int = 40, per_category: int = 6, seed: int = 7) -> dict:
    """Shoppers who like category A only or B only; a camera+lens pair always bought together.

    Returns ``{"a": [products], "b": [...], "camera": p, "lens": p, "shoppers": [...]}``.
    """
    rng = random.Random(seed)
    cat_a, cat_b = factories.category("Cameras"), factories.category("Books")
    a = [factories.product(category=cat_a, brand=f"brand-a{i % 2}") for i in range(per_category)]
    b = [factories.product(category=cat_b, brand=f"brand-b{i % 2}") for i in range(per_category)]
    camera, lens = a[0], a[1]
    start = timezone.now() - timedelta(days=20)
    events = []
    people = []
    for n in range(shoppers):
        shopper = Shopper.objects.create(country="FR" if n % 2 else "DE")
        people.append(shopper)
        group = a if n % 2 == 0 else b
        when = start + timedelta(days=rng.random() * 15)
        for product in rng.sample(group, k=min(4, len(group))):
            when += timedelta(minutes=rng.randint(1, 5))
            events.append(Event(shopper=shopper, kind="view", product_key=str(product.pk), created_at=when))
        if n % 4 == 0:  # camera buyers also buy the lens, in the same order
            when += timedelta(minutes=3)
            for product in (camera, lens):
                events.append(
                    Event(shopper=shopper, kind="purchase", product_key=str(product.pk), created_at=when,
                          context={"lines": [{"product": str(product.pk), "quantity": 1, "price": "10.00"}]})
                )
        elif n % 4 == 2:  # a few unrelated single-item orders, days apart
            for product in rng.sample(group[2:], k=2):
                when += timedelta(days=1)
                events.append(Event(shopper=shopper, kind="purchase", product_key=str(product.pk), created_at=when))
    Event.objects.bulk_create(events)
    return {"a": a, "b": b, "camera": camera, "lens": lens, "shoppers": people, "cat_a": cat_a, "cat_b": cat_b}
