"""System checks (ids documented in docs/checks.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from personalize import jobs
from personalize.adapters import DefaultAdapter, get_adapter
from personalize.conf import RENAMED, RESCALED
from personalize.conf import personalize_settings as ps


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list:
    errors: list = []
    adapter_ok = False
    try:
        adapter_cls = ps.ADAPTER
    except ImportError as exc:
        errors.append(Error(f'PERSONALIZE["ADAPTER"] cannot be imported: {exc}', id="personalize.E003"))
    else:
        adapter_ok = isinstance(adapter_cls, type) and issubclass(adapter_cls, DefaultAdapter)
        if not adapter_ok:
            errors.append(Error('PERSONALIZE["ADAPTER"] must be a subclass of personalize.adapters.DefaultAdapter.', id="personalize.E004"))
    if not ps.PRODUCT_MODEL:
        errors.append(Error('PERSONALIZE["PRODUCT_MODEL"] is not set.', hint='Set it to "app_label.ModelName".', id="personalize.E001"))
    else:
        # A broken adapter is reported above; still check the model name with the default one.
        adapter = get_adapter() if adapter_ok else DefaultAdapter()
        try:
            adapter.get_product_model()
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), id="personalize.E002"))
    # Deprecated names are still read (conf warns and maps them), so they are not "unknown".
    unknown = set(getattr(settings, "PERSONALIZE", {}) or {}) - set(ps.defaults) - set(RENAMED) - set(RESCALED)
    for key in sorted(unknown):
        errors.append(Warning(f'Unknown key PERSONALIZE["{key}"].', hint="Check the spelling against docs/settings.md.", id="personalize.W001"))
    middleware = list(getattr(settings, "MIDDLEWARE", []))
    name = "personalize.middleware.PersonalizeMiddleware"
    auth = "django.contrib.auth.middleware.AuthenticationMiddleware"
    if name not in middleware:
        errors.append(Warning(f"{name} is not in MIDDLEWARE: request.shopper and widgets will not work.", id="personalize.W002"))
    elif auth in middleware and middleware.index(name) < middleware.index(auth):
        errors.append(Error(f"{name} must come after {auth}.", id="personalize.E005"))
    errors.extend(_check_cache())
    return errors


def _check_cache() -> list:
    """A per-process cache hides model switches and campaign edits made by other processes."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend.endswith(("locmem.LocMemCache", "dummy.DummyCache")) and not settings.DEBUG:
        return [
            Warning(
                "CACHES['default'] is per process: a model trained by the Celery worker or "
                "personalize_train, and campaign edits, reach the web processes only after a restart.",
                hint="Use Redis (django.core.cache.backends.redis.RedisCache) or another shared cache.",
                id="personalize.W003",
            )
        ]
    return []


@register()
def check_jobs(app_configs: Any = None, **kwargs: Any) -> list:
    """Background jobs: E006 unknown JOBS_BACKEND; W005 jobs run in a thread (no worker configured)."""
    chosen = ps.JOBS_BACKEND
    if chosen not in jobs.RUNNERS:
        return [
            Error(
                f'PERSONALIZE["JOBS_BACKEND"] is {chosen!r}.',
                hint='Use "auto", "celery", "thread" or "inline".',
                id="personalize.E006",
            )
        ]
    if chosen == "auto" and not jobs.celery_configured():
        return [
            Warning(
                "Background jobs (training, segment refresh, lifecycle emails started from the admin) run in a "
                "thread of the web process: no Celery broker is configured, or tasks run eagerly.",
                hint=(
                    "For a worker: set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0), keep "
                    "CELERY_TASK_ALWAYS_EAGER off, and run `celery -A <your_project> worker -B` "
                    "(docs/development.md). To keep the thread and silence this, set "
                    'PERSONALIZE["JOBS_BACKEND"] = "thread".'
                ),
                id="personalize.W005",
            )
        ]
    return []


@register()
def check_adapter_output(app_configs: Any = None, **kwargs: Any) -> list:
    """W006: one real product through the adapter; names each field that came out empty or is
    not a URL (a store's field names differ from the defaults' guesses)."""
    try:
        adapter = get_adapter()
        product = adapter.optimize_queryset(adapter.get_queryset()).order_by("pk").first()
    except Exception:  # no table yet (before migrate) or a broken adapter (E001-E004 say so)
        return []
    if product is None:
        return []
    key = getattr(product, "pk", "?")
    try:
        adapter.prepare_products([product])
        data = adapter.serialize(product)
    except Exception as exc:  # noqa: BLE001 - reported, never raised, by a check
        return [Warning(f"The adapter cannot serialise product {key}: {exc!r}.", hint=ADAPTER_HINT, id="personalize.W006")]
    problems = [f"{name} is empty" for name in ("title", "url", "price", "image") if data.get(name) in (None, "")]
    for name in ("url", "image"):
        value = str(data.get(name) or "")
        if value and not _looks_like_url(value):
            problems.append(f"{name} {value[:60]!r} is not a URL")
    if not problems:
        return []
    return [
        Warning(
            f"Product {key} through {type(adapter).__name__}: {'; '.join(problems)}.",
            hint=ADAPTER_HINT,
            id="personalize.W006",
        )
    ]


ADAPTER_HINT = "Override the adapter method for that field (docs/adapter.md), or silence personalize.W006 if it is right."


def _looks_like_url(value: str) -> bool:
    """A path or an absolute http(s) URL, without spaces (``"Image of 'Zip Hoodie'"`` is not)."""
    return " " not in value.strip() and value.startswith(("/", "http://", "https://", "//"))
