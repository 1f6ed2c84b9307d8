"""Where personalize keeps personal data: one entry per model, read by export and erasure.

A model added to personalize must be listed here (as a :class:`Holding` or in
:data:`NOT_PERSONAL`): ``tests/test_privacy.py`` fails for a model that is in neither, so erasure
always reaches everything stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db.models import Model, Q, QuerySet

from personalize.models import canonical_email


@dataclass(frozen=True)
class Holding:
    """A model holding personal data: how its rows of a person are found and erased.

    ``shopper_field``: the foreign key to ``Shopper`` (``"pk"`` for ``Shopper`` itself).
    ``email_field``: a field holding an address, matched too (case-insensitively; with
    ``canonical`` the field holds ``canonical_email`` forms, matched in that form as well).
    ``anonymise``: fields set on erasure instead of deleting the rows (records the store's
    accounts need, such as the discount given on an order).
    """

    label: str
    shopper_field: str | None = "shopper"
    email_field: str | None = None
    anonymise: dict[str, Any] = field(default_factory=dict)
    canonical: bool = False

    @property
    def model(self) -> type[Model]:
        return apps.get_model(self.label)

    def rows(self, shopper_ids: Iterable[int], emails: Iterable[str] = ()) -> QuerySet:
        condition = Q(pk__in=[])
        ids = list(shopper_ids)
        if self.shopper_field and ids:
            condition |= Q(**{f"{self.shopper_field}__in": ids})
        for address in emails:
            if self.email_field and address:
                condition |= Q(**{f"{self.email_field}__iexact": address})
                if self.canonical:
                    condition |= Q(**{self.email_field: canonical_email(address)})
        return self.model._default_manager.filter(condition)


# Order matters for erasure: rows that point at others go first, the profiles last.
HOLDINGS: tuple[Holding, ...] = (
    Holding("personalize.CampaignConversion"),
    Holding("personalize.CampaignAssignment"),
    Holding("personalize.SegmentMembership"),
    Holding(
        "personalize.Redemption",
        email_field="email",
        canonical=True,
        anonymise={"shopper": None, "code": "", "order_ref": "", "email": ""},
    ),
    Holding("personalize.OfferCode"),
    Holding("personalize.EmailSend", email_field="email"),
    Holding("personalize.Unsubscribe", email_field="email"),
    Holding("personalize.Contact"),
    Holding("personalize.Cart"),
    Holding("personalize.Event"),
    Holding("personalize.Shopper", shopper_field="pk", email_field="email"),
)

# Models without data about a person (configuration, aggregates, the privacy records).
NOT_PERSONAL: frozenset[str] = frozenset(
    {
        "personalize.Offer",
        "personalize.Campaign",
        "personalize.CampaignVariant",
        "personalize.CampaignContent",
        "personalize.Segment",
        "personalize.SegmentRule",
        "personalize.Flow",
        "personalize.Step",
        "personalize.PlacementRule",
        # Trained models hold a vector per shopper id: erasure retrains them (erasure.rebuild),
        # and a vector whose shopper no longer exists is never served.
        "personalize.ModelVersion",
        "personalize.ErasureRecord",
        "personalize.EmailSuppression",
    }
)


def holding_for(label: str) -> Holding | None:
    return next((holding for holding in HOLDINGS if holding.label == label), None)
