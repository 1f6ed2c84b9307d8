"""After an erasure: rebuild what was computed from the erased person's data.

Trending/popular lists and search-suggestion statistics are recomputed from what is left (cheap,
one job each); trained models are retrained when an active one was trained on shoppers (the
hybrid model keeps a vector per shopper). All of it runs as background jobs
(:mod:`personalize.jobs`), named so that many erasures in a row start each job once.
"""

from __future__ import annotations

import logging

from django.utils.translation import gettext_lazy as _

from personalize import jobs

logger = logging.getLogger("personalize")

LISTS_JOB = "personalize.privacy.rebuild_lists"
SEARCH_JOB = "personalize.privacy.rebuild_search"
TRAIN_JOB = "personalize.privacy.retrain"
SEGMENTS_JOB = "personalize.privacy.refresh_segments"


def after_erasure(*, retrain: bool, memberships: bool = False) -> None:
    """Start the rebuild jobs (never raises: the erasure itself is already committed).

    ``memberships``: materialised segments lost members, so their counts are refreshed too.
    """
    wanted = [
        ("personalize.recommenders.training:refresh_lists", _("Lists rebuilt after an erasure"), LISTS_JOB, {}),
        ("personalize.placements.search:search_stats", _("Search suggestions rebuilt after an erasure"), SEARCH_JOB, {"refresh": True}),
    ]
    if memberships:
        wanted.append(("personalize.segments.materialise:refresh_segments", _("Segments refreshed after an erasure"), SEGMENTS_JOB, {}))
    if retrain:
        wanted.append(("personalize.recommenders.training:train_all", _("Retraining after an erasure"), TRAIN_JOB, {}))
    for target, label, name, kwargs in wanted:
        current = jobs.status(name)
        if current is not None and current.state == jobs.QUEUED:
            continue  # one queued rebuild already covers this erasure too
        try:
            jobs.start(target, label=str(label), name=name, kwargs=kwargs)
        except Exception:
            logger.exception("personalize: could not start %s after an erasure", name)
