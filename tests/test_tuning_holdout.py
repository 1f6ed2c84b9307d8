"""The two held-out sets of one fit part (``evaluation.holdout_split``) and profiles read
from other events than the fit part (``Validation(profiles=...)``)."""

from __future__ import annotations

import numpy as np
import pytest

from personalize.recommenders import training
from personalize.recommenders.evaluation import Validation, holdout_split
from personalize.recommenders.popular import PopularRecommender
from tests.recommender_data import taste_shop

pytestmark = pytest.mark.django_db


def _events(data) -> set[tuple[int, int, float]]:
    return set(zip(data.users.tolist(), data.items.tolist(), data.times.tolist()))


def test_holdout_split_gives_each_shopper_a_latest_and_an_older_set(fast):
    taste_shop()
    data = training.load_training_data()
    fit, (latest, older) = holdout_split(data, 0.25, seed=0)
    assert (latest.name, older.name) == ("latest", "older")
    assert fit.n_events + latest.test.n_events + older.test.n_events == data.n_events
    assert not _events(fit) & _events(latest.test) and not _events(fit) & _events(older.test)
    assert not _events(latest.test) & _events(older.test)
    for held in (latest, older):  # each set's profiles: every event but its own
        assert held.profiles.n_events + held.test.n_events == data.n_events
    for user in set(latest.test.users.tolist()):
        newest = latest.test.times[latest.test.users == user].min()
        rest = np.r_[fit.times[fit.users == user], older.test.times[older.test.users == user]]
        assert rest.max() <= newest  # latest: the shopper's newest events
        assert (older.test.users == user).sum() == (latest.test.users == user).sum()
    # the older draw is seeded: the same seed repeats it, another seed draws differently
    assert _events(holdout_split(data, 0.25, seed=0)[1][1].test) == _events(older.test)
    draws = {frozenset(_events(holdout_split(data, 0.25, seed=s)[1][1].test)) for s in range(5)}
    assert len(draws) > 1


def test_shoppers_with_too_few_events_stay_in_the_fit_part(fast):
    taste_shop()
    data = training.load_training_data()
    fit, sets = holdout_split(data, 0.1, seed=0, min_events=10_000)
    assert fit.n_events == data.n_events and all(not held.test.n_events for held in sets)


def test_validation_reads_profiles_and_seen_products_from_the_given_events(fast):
    taste_shop()
    data = training.load_training_data()
    fit, (latest, older) = holdout_split(data, 0.25, seed=0)
    plain = Validation(fit, older.test, max_users=None)
    wide = Validation(fit, older.test, max_users=None, profiles=older.profiles)
    only_latest = {
        u: set(latest.test.items[latest.test.users == u].tolist()) - set(fit.items[fit.users == u].tolist())
        for u in wide.users
    }
    user, newest = next((u, items) for u, items in only_latest.items() if items)
    # the older set's shoppers are profiled with their newest events too (as a random
    # protocol's test set is), and those products count as seen
    assert newest <= wide.seen[user] and not newest <= plain.seen.get(user, set())
    assert len(wide.profiles[user].interactions) > len(plain.profiles[user].interactions)
    popular = PopularRecommender("p")
    popular.fit(fit)
    assert wide.score(popular)["users"] == len(wide.users) > 0
