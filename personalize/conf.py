"""personalize's settings: defaults here, the project's ``PERSONALIZE`` dict layered on top.

Read lazily (``from personalize.conf import personalize_settings as ps; ps.COOKIE_NAME``),
reloaded when a test changes ``PERSONALIZE``; a mistyped key raises ``AttributeError``.
Each capability adds its keys to ``DEFAULTS`` under a comment naming it. An installed app may
give defaults of its own (``personalize_defaults`` on its AppConfig: ``personalize.contrib.oscar``
names Oscar's adapter, basket URL and sender); the project's ``PERSONALIZE`` still wins.
"""

from __future__ import annotations

import warnings
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    # --- host shop -----------------------------------------------------------------------
    # "app_label.ModelName" of the store's product model.
    "PRODUCT_MODEL": None,
    # Dotted path of the adapter class that maps the store to what personalize needs.
    "ADAPTER": "personalize.adapters.DefaultAdapter",
    # How widgets and emails write a price: "{amount}" is the localised number ("€{amount}",
    # "{amount} zł"); the filter is ``{{ value|price }}``.
    "PRICE_FORMAT": "{amount}",
    # django-oscar (personalize.contrib.oscar, docs/oscar.md): a "Personalisation" section
    # linking personalize's admin pages in Oscar's dashboard menu.
    "OSCAR_DASHBOARD_LINKS": True,
    # --- shopper identity ----------------------------------------------------------------
    "COOKIE_NAME": "personalize_id",
    "COOKIE_AGE_SECONDS": 60 * 60 * 24 * 365,
    "COOKIE_SECURE": False,
    "COOKIE_SAMESITE": "Lax",
    "COOKIE_SALT": "personalize.shopper",
    # Minutes of inactivity after which a request counts as a new visit.
    "VISIT_TIMEOUT_MINUTES": 30,
    # A request whose User-Agent looks like a bot never creates a shopper row.
    "IGNORE_BOTS": True,
    # Request header holding the shopper's country (a CDN's, e.g. "HTTP_CF_IPCOUNTRY").
    "COUNTRY_HEADER": "HTTP_CF_IPCOUNTRY",
    # Path to a GeoLite2/GeoIP2 country database; used when the header is absent.
    "GEOIP_PATH": None,
    # --- events --------------------------------------------------------------------------
    "TRACKING_ENABLED": True,
    # Extra event kinds a store may record besides the built-in ones.
    "EXTRA_EVENT_KINDS": [],
    # --- browser beacon / API ------------------------------------------------------------
    "API_MAX_BATCH": 50,
    "API_THROTTLE_RATE": "120/min",
    # Origins (scheme://host[:port]) allowed to post events besides the request's own host.
    "TRUSTED_ORIGINS": [],
    # Kinds a browser may post. Cart changes and purchases come from the server (the store's
    # own cart and checkout), so a browser can neither fake an order nor a cart's prices;
    # "purchase" is refused even when listed here.
    "API_EVENT_KINDS": ["view", "impression", "rec_click", "search", "category_view", "page_view"],
    # Largest request body the beacon endpoint reads (bytes).
    "API_MAX_BODY_BYTES": 64 * 1024,
    # How many recent events make up a shopper's profile for recommendations and rules.
    "PROFILE_EVENTS": 200,
    # A shopper's profile is cached until they act (an event, the cart, a merge: a new state
    # token, personalize.caching.shoppers) and at most this long (0: load it every time).
    "PROFILE_CACHE_SECONDS": 3600,
    # --- holdout and fatigue -------------------------------------------------------------
    # Percent of shoppers (sticky) who see no personalisation at all: the store-wide control.
    "HOLDOUT_PERCENT": 0,
    # One cap across channels: after an offer (on site or by email) no other offer for this long.
    "FATIGUE_WINDOW_MINUTES": 60,
    # --- recommenders (engine) -----------------------------------------------------------
    # Backends by alias, like CACHES; "default" is the served hybrid model.
    "RECOMMENDERS": {
        "default": {"BACKEND": "personalize.recommenders.lightfm.LightFMRecommender", "OPTIONS": {}},
        "popular": {"BACKEND": "personalize.recommenders.popular.PopularRecommender", "OPTIONS": {}},
        "bought_together": {
            "BACKEND": "personalize.recommenders.cooccurrence.CoOccurrenceRecommender",
            "OPTIONS": {"KINDS": ["purchase"]},
        },
        "also_viewed": {
            "BACKEND": "personalize.recommenders.cooccurrence.CoOccurrenceRecommender",
            "OPTIONS": {"KINDS": ["view", "rec_click"]},
        },
    },
    # Activate a new model version even when it scores below the active one on NDCG@10.
    "RECOMMENDER_FORCE_ACTIVATE": False,
    # Days of events a training run reads (None: all of them).
    "TRAINING_WINDOW_DAYS": 365,
    # A run still "training" after this long was killed: the next run marks it failed.
    "TRAINING_TIMEOUT_MINUTES": 120,
    # --- segments ------------------------------------------------------------------------
    # Seconds a request's segments stay cached in its session (and compiled definitions in a process).
    "SEGMENT_CACHE_SECONDS": 300,
    # Dotted paths of extra rule classes (``personalize.segments.rules.Rule`` subclasses).
    "SEGMENT_RULES": [],
    # Shoppers per batch when a materialised segment is refreshed.
    "SEGMENT_REFRESH_BATCH": 5000,
    # RFM thresholds (see docs/segments.md); keys missing here keep their default.
    "SEGMENT_RFM": {
        "recent_days": 30,
        "frequent_orders": 3,
        "big_spender_value": 500,
        "at_risk_days": 60,
        "at_risk_min_orders": 2,
        "lapsed_days": 180,
    },
    # Time zone for day/hour rules and RFM ages; None means settings.TIME_ZONE.
    "STORE_TIME_ZONE": None,
    # --- widgets -------------------------------------------------------------------------
    "RECENTLY_VIEWED_LIMIT": 8,
    "WIDGET_MAX_LIMIT": 50,
    # A widget's HTML is rendered once per process for the same list (same products, placement,
    # model version, variant, title, language, catalogue generation) and reused for up to
    # LOCAL_CACHE_SECONDS: everyone who gets the same "similar" or trending list. Turn off
    # when a store's widget template reads the request or the user (widgets/render.py).
    "WIDGET_HTML_CACHE": True,
    # --- recommendation placements (docs/placements.md) ------------------------------------
    # Placement name -> config, merged key by key over the built-in placements: "recommender"
    # (alias), "method" ("recommend" or "similar"), "exclude_purchased" (False for
    # consumables), "exclude_cart", "diversity" ({"category": n, "brand": n} over DIVERSITY),
    # "rules" (dotted path of a callable(placement, profile) -> Q), "backfill" (top up with
    # popular items), "variants" ([{"name", "recommender", "weight"}] for an A/B test).
    "PLACEMENTS": {},
    # At most this many items per category / brand in one list (None: no cap).
    "DIVERSITY": {"category": 4, "brand": 3},
    # Candidates asked of a recommender per item shown, so filtering never empties a list.
    "RECOMMENDATION_OVERFETCH": 4,
    # A product one widget showed is not repeated by the next widget on the same page.
    "DEDUPLICATE_PAGE": True,
    # Seconds a recommender's candidate list stays cached (keyed by model version).
    "RECOMMENDATION_CACHE_SECONDS": 300,
    # --- serving speed (caching/local.py, placements/cards.py) ---------------------------
    # The freshness bound: a value read from the shared cache (generations of campaigns,
    # segments, placements and the catalogue, candidate lists, product cards) is reused by a
    # process for at most this long; 0 reads the shared cache every time.
    "LOCAL_CACHE_SECONDS": 5,
    # How long a process keeps a value whose key names its version (a model version's
    # "similar" list, a catalogue generation's cards and rendered lists): the value never
    # changes under its key, and the version itself is re-read within LOCAL_CACHE_SECONDS.
    "LOCAL_VERSIONED_SECONDS": 120,
    # Longest life of a cached product card (title, URL, price, image, stock) when the product
    # changes behind the ORM's signals; saving a product through the ORM rebuilds them at once.
    "CATALOGUE_CACHE_SECONDS": 300,
    # The recommender holdout shoppers (and the backfill) get: the same list for everyone.
    "NEUTRAL_RECOMMENDER": "popular",
    # Query parameter carrying the signed (placement, model version, variant) of a clicked item.
    "REC_CLICK_PARAM": "pzrec",
    "REC_CLICK_SALT": "personalize.rec_click",
    # Seconds a signed click link stays valid (an old shared link records nothing).
    "REC_CLICK_MAX_AGE_SECONDS": 60 * 60 * 24 * 7,
    # --- search suggestions ---------------------------------------------------------------
    # A query is suggested only when at least this many distinct shoppers typed it (privacy).
    "SEARCH_SUGGESTIONS_MIN_SHOPPERS": 3,
    # Searches from the last N days are considered.
    "SEARCH_SUGGESTIONS_DAYS": 30,
    # A purchase within this many hours after a search counts as that search converting.
    "SEARCH_CONVERSION_HOURS": 24,
    "SEARCH_SUGGESTIONS_CACHE_SECONDS": 900,
    # The store's search page and its query parameter (suggestion links).
    "SEARCH_URL": "/search/",
    "SEARCH_PARAM": "q",
    # --- lifecycle emails (docs/emails.md) -----------------------------------------------
    # Absolute base of links and images in emails ("https://shop.example"); when empty: the
    # request's scheme and host where there is a request, else SITE_SCHEME + the current
    # django.contrib.sites domain.
    "SITE_URL": "",
    # Scheme of links built from the Site's domain when SITE_URL is empty ("http" for a store
    # served without TLS; with personalize.contrib.oscar, Oscar's OSCAR_URL_SCHEMA).
    "SITE_SCHEME": "https",
    # The store's cart page: where a restore link lands.
    "CART_URL": "/cart/",
    # Where a win-back email's link lands (no cart to rebuild).
    "EMAIL_SHOP_URL": "/",
    # Days a restore link stays valid.
    "EMAIL_LINK_MAX_AGE_DAYS": 14,
    # Win-back: a customer whose last purchase is this many days old gets the win-back flow;
    # customers lapsed for longer than WINBACK_DAYS + WINBACK_WINDOW_DAYS are left alone
    # (so turning the flow on does not mail every customer who ever bought once).
    "WINBACK_DAYS": 90,
    "WINBACK_WINDOW_DAYS": 30,
    # Browse abandonment: a product viewed at least BROWSE_MIN_VIEWS times within
    # BROWSE_WINDOW_DAYS, never added to the cart, gets the flow (once per shopper and product).
    "BROWSE_MIN_VIEWS": 3,
    "BROWSE_WINDOW_DAYS": 7,
    # Global cap: at most this many lifecycle emails per shopper per EMAIL_CAP_HOURS.
    "EMAIL_CAP_COUNT": 1,
    "EMAIL_CAP_HOURS": 24,
    # Quiet hours ("21:00", "08:00") in the shopper's (adapter.user_timezone) or store's time
    # zone: due emails wait until they end. None sends around the clock.
    "EMAIL_QUIET_HOURS": ("21:00", "08:00"),
    # The time zone of quiet hours for shoppers without one; None uses STORE_TIME_ZONE, then settings.TIME_ZONE.
    "EMAIL_TIME_ZONE": None,
    # Carts read per query while scanning (memory stays flat in the number of carts).
    "EMAIL_BATCH_SIZE": 500,
    # At most this many emails per run (None: no limit); the rest go in the next run.
    "EMAIL_MAX_PER_RUN": None,
    # A failed send is retried this many times in all, EMAIL_RETRY_BACKOFF_MINUTES * 2**n apart.
    "EMAIL_MAX_ATTEMPTS": 4,
    "EMAIL_RETRY_BACKOFF_MINUTES": 5,
    # A send still "claimed" after this long was interrupted (worker killed): it is marked
    # failed, never resent (at-most-once: better a missed email than a duplicate).
    "EMAIL_CLAIM_TIMEOUT_MINUTES": 30,
    # How many "you may also like" products an email shows (0: none).
    "EMAIL_RECOMMENDATIONS": 3,
    # Dotted path of a callable(request, lines) -> None that rebuilds the store's own cart
    # from a restore link (used by DefaultAdapter.restore_cart).
    "EMAIL_RESTORE_CART_HOOK": None,
    # Session key where a restore link leaves the email's offer code for the checkout.
    "EMAIL_OFFER_SESSION_KEY": "personalize_offer_code",
    # Sender of lifecycle emails; None uses settings.DEFAULT_FROM_EMAIL.
    "EMAIL_FROM": None,
    # --- attribution (personalize/attribution.py, docs/campaigns.md) ----------------------
    # The one window: a purchase without a redeemed code is credited to the last click
    # (recommendation, campaign, email) this many hours before it; also how long a seen
    # campaign's shared code applies by itself, and the span of a campaign arm's purchases.
    "ATTRIBUTION_WINDOW_HOURS": 7 * 24,
    # --- background jobs (personalize/jobs.py) ---------------------------------------------
    # "auto": a Celery worker when a broker is configured (and tasks are not eager), else a
    # thread in the web process; or "celery", "thread", "inline" (run before returning).
    "JOBS_BACKEND": "auto",
    # --- campaigns and offers ------------------------------------------------------------
    # Seconds the active campaigns of a placement are cached (edits invalidate at once).
    "CAMPAIGN_CACHE_SECONDS": 300,
    # Seconds a shopper's campaign assignments (arms, caps) are kept in the session; every
    # impression updates them, so this bounds staleness across devices only.
    "CAMPAIGN_STATE_SECONDS": 300,
    # Campaign exposures (assignments, impressions) and offer contacts are counted in the
    # process and written in one statement (personalize/exposures.py): when the oldest is this
    # many seconds old (at the end of a request), at process exit, and before checkout, clicks
    # and results read them. 0: written at once. Bounds what a killed worker loses.
    "CAMPAIGN_EXPOSURE_FLUSH_SECONDS": 10,
    # ...or as soon as the buffer holds this many entries.
    "CAMPAIGN_EXPOSURE_BUFFER_MAX": 1000,
    # Seconds the fatigue check (any offer, any channel, in the window) is kept in the session.
    "CAMPAIGN_CONTACT_CHECK_SECONDS": 60,
    # Results say "not enough data yet" until every arm has this many shoppers...
    "CAMPAIGN_MIN_SAMPLE": 100,
    # ...and the arms together have this many conversions.
    "CAMPAIGN_MIN_CONVERSIONS": 10,
    # Confidence level of the lift intervals shown in the admin.
    "CAMPAIGN_CONFIDENCE": 0.95,
    # Revenue in campaign and holdout results is winsorised: a buyer's revenue counts up to this
    # percentile of all buyers' revenue in the comparison (one huge order cannot decide a test).
    # 100 or None: no cap.
    "RESULTS_REVENUE_CAP_PERCENTILE": 99,
    # Days a signed click link (campaign banner -> its link) stays valid.
    "CAMPAIGN_CLICK_MAX_AGE_DAYS": 60,
    # Cart value from which the store ships for free (None: unknown); fills {free_shipping_gap}.
    "FREE_SHIPPING_THRESHOLD": None,
    # --- privacy: consent, retention, erasure (docs/privacy.md) --------------------------
    # Nothing personal is stored or set until the person consents (banner or set_consent).
    "CONSENT_REQUIRED": True,
    # "DNT: 1" / "Sec-GPC: 1" count as "no" (unless the person explicitly accepted).
    "CONSENT_HONOR_DNT": True,
    "CONSENT_HONOR_GPC": True,
    # The cookie remembering the choice ("granted"/"denied") and how long before asking again.
    "CONSENT_COOKIE_NAME": "personalize_consent",
    "CONSENT_COOKIE_AGE_DAYS": 180,
    # The store's privacy notice, linked from the banner ("" : no link).
    "CONSENT_POLICY_URL": "",
    # Account holders may get lifecycle emails on the strength of the store's own sign-up
    # consent (adapter.user_email_consent); off: they need the same opt-in as guests.
    "EMAIL_SIGNUP_CONSENT_COUNTS": False,
    # Events (and contact records) older than this are deleted by the daily purge (None: kept).
    "EVENT_RETENTION_DAYS": 365,
    # Profiles without an account not seen for this long are deleted with their data (None: kept).
    "ANONYMOUS_PROFILE_RETENTION_DAYS": 180,
    # Rows per delete statement of the purge, and the pause between statements.
    "RETENTION_BATCH_SIZE": 1000,
    "RETENTION_PAUSE_SECONDS": 0.05,
    # Deleting a User erases its shopper profiles (False: they are only detached, anonymous).
    "ERASE_ON_USER_DELETE": True,
    # Model artefacts: an alias of settings.STORAGES, or None for the private ARTEFACT_DIR.
    "ARTEFACT_STORAGE": None,
    "ARTEFACT_DIR": None,
    # --- resilience and abuse resistance (docs/resilience.md) ----------------------------
    # The CACHES alias personalize uses; its calls get these timeouts when the entry sets none,
    # and a circuit breaker: after CACHE_BREAKER_FAILURES failures in a row the cache is skipped
    # for CACHE_BREAKER_RESET_SECONDS (pages render from the database meanwhile).
    "CACHE_ALIAS": "default",
    "CACHE_CONNECT_TIMEOUT_SECONDS": 0.25,
    "CACHE_SOCKET_TIMEOUT_SECONDS": 0.25,
    "CACHE_BREAKER_FAILURES": 1,
    "CACHE_BREAKER_RESET_SECONDS": 15,
    # Reverse proxies in front of the site that append to X-Forwarded-For (None: not behind
    # one; the client address is REMOTE_ADDR). Throttles and per-address caps use it.
    "NUM_PROXIES": None,
    # A beacon event's client time ("ts", ms since the epoch) may lie this far in the future
    # (clock skew) and this far in the past (kept in the browser while offline), else refused.
    "API_CLOCK_SKEW_SECONDS": 300,
    "API_EVENT_MAX_AGE_SECONDS": 7 * 24 * 3600,
    # What one shopper adds to trending, popularity and co-occurrence: each (product, kind)
    # counts once per shopper per this many hours, however often it is sent.
    "CONTRIBUTION_WINDOW_HOURS": 24,
    # ...and a shopper's searches count towards suggestions for at most this many distinct
    # queries per window (None or 0: no cap).
    "CONTRIBUTION_MAX_QUERIES": 20,
    # A searcher counts towards suggestions only with an account, a purchase, or a profile at
    # least this old with at least this many visits (a script's fresh cookies do not count).
    "SEARCH_SHOPPER_MIN_AGE_HOURS": 24,
    "SEARCH_SHOPPER_MIN_VISITS": 2,
    # Profiles the beacon may create per client network (IPv4 /24, IPv6 /64) per hour; beyond
    # it a new browser is told to retry later (429): fresh cookies cannot mint profiles.
    "NEW_PROFILES_PER_NETWORK_PER_HOUR": 100,
    # Discount-code attempts per shopper and per client address per hour; then a form error.
    "CODE_ATTEMPTS_PER_HOUR": 10,
    # Extra User-Agent substrings (lower case) treated as bots, on top of crawlerdetect's list.
    "BOT_PATTERNS": [],
}

# Keys whose value is a dotted path to import on access.
IMPORT_STRINGS = {"ADAPTER"}

# Dict-valued keys merged one level deep over their default: a store sets only the keys it
# changes ({"DIVERSITY": {"brand": 2}} keeps the default category cap; a RECOMMENDERS entry
# for "default" keeps the other aliases). Every other key is replaced whole.
MERGED = {"DIVERSITY", "SEGMENT_RFM", "RECOMMENDERS"}

# Old names still accepted (a DeprecationWarning says the new one): every duration key carries
# its unit (_SECONDS, _MINUTES, _HOURS, _DAYS).
RENAMED = {
    "COOKIE_AGE": "COOKIE_AGE_SECONDS",
    "REC_CLICK_MAX_AGE": "REC_CLICK_MAX_AGE_SECONDS",
}
# Old names whose value is converted to the new key's unit: (new name, factor). The three
# per-channel attribution windows became one (docs/campaigns.md, "Attribution").
RESCALED = {
    "CAMPAIGN_ATTRIBUTION_DAYS": ("ATTRIBUTION_WINDOW_HOURS", 24),
    "EMAIL_ATTRIBUTION_DAYS": ("ATTRIBUTION_WINDOW_HOURS", 24),
    "REC_ATTRIBUTION_HOURS": ("ATTRIBUTION_WINDOW_HOURS", 1),
}


class SettingImportError(ImproperlyConfigured, ImportError):
    """A dotted path in ``PERSONALIZE`` that cannot be imported (names the setting)."""


def import_path(value: Any, setting: str) -> Any:
    """``value`` imported when it is a dotted path (callables and classes pass through).

    The one place personalize resolves dotted paths from settings; a bad path raises
    :class:`SettingImportError` naming the setting, which the system checks report.
    """
    if not isinstance(value, str):
        return value
    try:
        return import_string(value)
    except ImportError as exc:
        raise SettingImportError(f"PERSONALIZE[{setting!r}]: cannot import {value!r}: {exc}") from exc


class PersonalizeSettings:
    """Attribute access to personalize's settings, cached until ``PERSONALIZE`` changes."""

    def __init__(self, defaults: dict[str, Any] | None = None) -> None:
        self.defaults = defaults if defaults is not None else DEFAULTS
        self._cached: set[str] = set()

    @property
    def user_settings(self) -> dict[str, Any]:
        if not hasattr(self, "_user_settings"):
            self._user_settings = renamed(dict(getattr(settings, "PERSONALIZE", {}) or {}))
        return self._user_settings

    def __getattr__(self, name: str) -> Any:
        if name in RENAMED:
            return getattr(self, RENAMED[name])
        if name in RESCALED:
            new, factor = RESCALED[name]
            return getattr(self, new) / factor
        if name.startswith("_") or name not in self.defaults:
            raise AttributeError(f"Invalid personalize setting: {name!r}")
        app_defaults = self.app_defaults()
        default = (app_defaults or {}).get(name, self.defaults[name])
        value = self.user_settings.get(name, default)
        if name in MERGED and isinstance(default, dict) and isinstance(value, dict):
            value = {**default, **value}
        if name in IMPORT_STRINGS:
            value = import_path(value, name)
        if app_defaults is not None:  # before the app registry is ready nothing is cached
            self._cached.add(name)
            setattr(self, name, value)
        return value

    def app_defaults(self) -> dict[str, Any] | None:
        """Defaults given by installed apps (``personalize_defaults`` on an AppConfig);
        ``None`` until the app registry is ready."""
        if not hasattr(self, "_app_defaults"):
            if not apps.apps_ready:
                return None
            merged: dict[str, Any] = {}
            for config in apps.get_app_configs():
                merged.update(getattr(config, "personalize_defaults", None) or {})
            self._app_defaults = merged
        return self._app_defaults

    def reload(self) -> None:
        for name in self._cached:
            delattr(self, name)
        self._cached.clear()
        if hasattr(self, "_user_settings"):
            del self._user_settings
        if hasattr(self, "_app_defaults"):
            del self._app_defaults


def renamed(user: dict[str, Any]) -> dict[str, Any]:
    """``user`` with deprecated key names moved to their new names (with a warning)."""
    for old, new in RENAMED.items():
        if old in user:
            warnings.warn(f'PERSONALIZE["{old}"] is deprecated; use "{new}".', DeprecationWarning, stacklevel=4)
            user.setdefault(new, user.pop(old))
    for old, (new, factor) in RESCALED.items():
        if old in user:
            warnings.warn(f'PERSONALIZE["{old}"] is deprecated; use "{new}".', DeprecationWarning, stacklevel=4)
            value = user.pop(old)
            user.setdefault(new, value * factor if isinstance(value, (int, float)) else value)
    return user


personalize_settings = PersonalizeSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting in ("PERSONALIZE", "INSTALLED_APPS"):
        personalize_settings.reload()


setting_changed.connect(_reload)
