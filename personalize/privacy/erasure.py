"""Erasure (GDPR art. 17): everything personalize holds about a person, in one transaction.

Every door (``manage.py personalize_erase_data``, the admin action, the shopper's own page, a
deleted ``User``, withdrawn consent) calls :func:`erase`. It walks
:data:`~personalize.privacy.holdings.HOLDINGS` (so a model listed there is erased), writes an
:class:`~personalize.models.ErasureRecord` without personal data, and after commit rebuilds what
was computed from the person's data (cached lists, search statistics, trained models).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from personalize.caching import shoppers as shopper_state
from personalize.models import ErasureRecord, ModelVersion, Unsubscribe
from personalize.emails import suppression
from personalize.privacy import rebuild
from personalize.privacy.holdings import HOLDINGS
from personalize.privacy.people import Person, find_person

logger = logging.getLogger("personalize")

Source = ErasureRecord.Source


@dataclass
class ErasureResult:
    profiles: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    suppressed: bool = False
    record: ErasureRecord | None = None
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def erase(
    *,
    user: Any = None,
    email: str = "",
    shopper: Any = None,
    source: str = Source.API,
    actor: str = "",
    suppress: bool = False,
    dry_run: bool = False,
) -> ErasureResult:
    """Erase the person named by ``user``, ``email`` and/or ``shopper`` (all their profiles).

    ``suppress``: also keep their addresses from being stored or mailed again.
    ``dry_run``: count what would go, change nothing, record nothing.
    Raises :class:`~personalize.privacy.people.PersonNotFound` for an unknown user or key.
    """
    person = find_person(user=user, email=email, shopper=shopper)
    return erase_person(person, source=source, actor=actor, suppress=suppress, dry_run=dry_run)


def count_person(person: Person) -> dict[str, int]:
    counts = {holding.label: holding.rows(person.shopper_ids, person.emails).count() for holding in HOLDINGS}
    return {label: count for label, count in counts.items() if count}


def erase_person(
    person: Person, *, source: str = Source.API, actor: str = "", suppress: bool = False, dry_run: bool = False
) -> ErasureResult:
    if dry_run:
        return ErasureResult(profiles=len(person.shopper_ids), counts=count_person(person), dry_run=True)
    counts: Counter[str] = Counter()
    with transaction.atomic():
        # An unsubscribe is a wish that outlives the data: it becomes a suppression entry.
        unsubscribed = Unsubscribe.objects.filter(email__in=person.emails, email__gt="").exists() or (
            Unsubscribe.objects.filter(shopper__in=person.shopper_ids).exists()
        )
        trained_on_them = ModelVersion.objects.filter(is_active=True).exclude(artefact="").exists() and bool(
            person.shopper_ids
        )
        for holding in HOLDINGS:
            rows = holding.rows(person.shopper_ids, person.emails)
            if holding.anonymise:
                counts[holding.label] += rows.update(**holding.anonymise)
                continue
            _total, per_model = rows.delete()
            counts.update({label: n for label, n in per_model.items() if n})
        suppressed = bool((suppress or unsubscribed) and person.emails)
        if suppressed:
            suppression.suppress(person.emails)
        record = ErasureRecord.objects.create(
            source=source,
            actor=(actor or "")[:150],
            counts=dict(sorted(counts.items())),
            profiles=len(person.shopper_ids),
            suppressed=suppressed,
        )
        memberships = bool(counts.get("personalize.SegmentMembership"))
        transaction.on_commit(lambda: rebuild.after_erasure(retrain=trained_on_them, memberships=memberships))
        erased = list(person.shopper_ids)
        transaction.on_commit(lambda: shopper_state.bump(erased))  # no cached profile outlives the erasure
    logger.info("personalize: erasure %s (%s): %s rows", record.pk, source, sum(counts.values()))
    return ErasureResult(profiles=len(person.shopper_ids), counts=dict(counts), suppressed=suppressed, record=record)
