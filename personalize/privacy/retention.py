"""Retention (GDPR art. 5(1)(e)): old events and long-idle anonymous profiles are deleted.

The periodic job ``personalize.privacy.purge`` (daily) and ``manage.py personalize_purge`` call
:func:`purge`. It deletes by primary key in batches of ``RETENTION_BATCH_SIZE``, each batch in
its own short transaction with a pause between, so neither SQLite nor PostgreSQL holds a lock on
a table for long and the store keeps writing events while it runs.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from personalize.conf import personalize_settings as ps
from personalize.models import Contact, Event, Shopper

logger = logging.getLogger("personalize")


def _delete_in_batches(queryset: QuerySet, batch_size: int, pause: float, counts: Counter) -> None:
    while True:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return
        with transaction.atomic():
            _total, per_model = queryset.model._default_manager.filter(pk__in=ids).delete()
        counts.update(per_model)
        if len(ids) < batch_size:
            return
        if pause:
            time.sleep(pause)


def purge(now: datetime | None = None, *, batch_size: int | None = None, pause: float | None = None) -> dict[str, int]:
    """Delete what is older than the retention settings; returns rows deleted per model."""
    now = now or timezone.now()
    size = max(1, int(batch_size or ps.RETENTION_BATCH_SIZE))
    rest = ps.RETENTION_PAUSE_SECONDS if pause is None else pause
    counts: Counter[str] = Counter()
    if ps.EVENT_RETENTION_DAYS:
        cutoff = now - timedelta(days=ps.EVENT_RETENTION_DAYS)
        _delete_in_batches(Event.objects.filter(created_at__lt=cutoff), size, rest, counts)
        _delete_in_batches(Contact.objects.filter(created_at__lt=cutoff), size, rest, counts)
    if ps.ANONYMOUS_PROFILE_RETENTION_DAYS:
        idle = now - timedelta(days=ps.ANONYMOUS_PROFILE_RETENTION_DAYS)
        # A shopper's rows go with it (cascade): fewer profiles per batch keeps batches short.
        profiles = Shopper.objects.filter(user__isnull=True, last_seen__lt=idle)
        _delete_in_batches(profiles, max(1, size // 10), rest, counts)
    result = {label: n for label, n in sorted(counts.items()) if n}
    if result:
        logger.info("personalize: retention purge deleted %s", result)
    return result
