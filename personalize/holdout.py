"""The store-wide holdout: a sticky share of shoppers who see no personalisation at all.

Comparing them with everyone else is how a store measures what personalisation earns.
Holdout shoppers get neutral lists (the same for everyone), no campaigns, no lifecycle emails.
"""

from __future__ import annotations

from personalize.conf import personalize_settings as ps
from personalize.experiments import in_share
from personalize.models import Shopper

SALT = "personalize.holdout"


def in_holdout(shopper: Shopper | None) -> bool:
    """Whether this shopper is in the store-wide control group (sticky per shopper key)."""
    return shopper is not None and in_share(shopper.key, SALT, float(ps.HOLDOUT_PERCENT or 0))
