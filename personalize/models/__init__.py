"""personalize's models, one module per capability, all under the ``personalize`` app label.

Products are referenced by their key (``str(pk)``) and resolved through the adapter, so the
shipped migrations never name a store's product model. Capability code imports from here
(``from personalize.models import Shopper, Campaign``); this package imports nothing above the
adapter, so it can never close an import cycle.
"""

from personalize.models.campaigns import *  # noqa: F401,F403
from personalize.models.core import *  # noqa: F401,F403
from personalize.models.emails import *  # noqa: F401,F403
from personalize.models.offers import *  # noqa: F401,F403
from personalize.models.placements import *  # noqa: F401,F403
from personalize.models.recommenders import *  # noqa: F401,F403
from personalize.models.segments import *  # noqa: F401,F403
from personalize.models.privacy import *  # noqa: F401,F403
