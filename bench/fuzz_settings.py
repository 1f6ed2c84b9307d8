"""Settings of the server bench/fuzz_api.py starts: the fault suite's (the demo shop as shipped on
PostgreSQL + Redis), with the API's throttles off so every generated request reaches the code
under test instead of a 429. Nothing else is relaxed: origin checks, consent, size and batch
limits stay as a store ships them.
"""

from bench.faults_settings import *  # noqa: F403

PERSONALIZE = {
    **PERSONALIZE,  # noqa: F405
    "API_THROTTLE_RATE": None,
    "NEW_PROFILES_PER_NETWORK_PER_HOUR": None,
}
