"""Admin for every capability; each keeps its ModelAdmins in its own module here."""
from personalize.admin import events  # noqa: F401,E402 - shoppers, events, carts
from personalize.admin import placements  # noqa: F401,E402 - placement rules, preview, performance
from personalize.admin import segments  # noqa: F401,E402 - segments
from personalize.admin import recommenders  # noqa: F401,E402 - model versions, train now
from personalize.admin import emails  # noqa: F401,E402 - lifecycle email flows, sends, report
from personalize.admin import campaigns  # noqa: F401,E402 - offers, campaigns, results, impact
