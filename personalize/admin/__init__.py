"""Admin for every capability; each keeps its ModelAdmins in its own module here."""
from personalize.admin import (
    campaigns,  # noqa: F401,E402 - offers, campaigns, results, impact
    emails,  # noqa: F401,E402 - lifecycle email flows, sends, report
    events,  # noqa: F401,E402 - shoppers, events, carts
    placements,  # noqa: F401,E402 - placement rules, preview, performance
    privacy,  # noqa: F401,E402 - erasure log, suppressed addresses (actions on shoppers)
    recommenders,  # noqa: F401,E402 - model versions, train now
    segments,  # noqa: F401,E402 - segments
)
