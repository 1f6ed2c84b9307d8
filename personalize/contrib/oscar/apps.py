"""``"personalize.contrib.oscar"`` in ``INSTALLED_APPS`` (before ``"personalize"``): the Oscar
adapter becomes the default, Oscar's signals and basket feed personalize, personalize codes
become Oscar vouchers, and the dashboard links to personalize's admin pages."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _


class OscarConfig(AppConfig):
    name = "personalize.contrib.oscar"
    label = "personalize_oscar"
    verbose_name = _("Personalisation for Oscar")
    default_auto_field = "django.db.models.BigAutoField"

    @property
    def personalize_defaults(self) -> dict[str, Any]:
        """Defaults this app gives personalize's settings (the store's PERSONALIZE still wins).
        Read while models load (a storage setting): nothing here may import a model module."""
        return {
            "ADAPTER": "personalize.contrib.oscar.adapter.OscarAdapter",
            "PRODUCT_MODEL": "catalogue.Product",
            "CART_URL": reverse_lazy("basket:summary"),
            "EMAIL_FROM": getattr(settings, "OSCAR_FROM_EMAIL", None),
            "SITE_SCHEME": getattr(settings, "OSCAR_URL_SCHEMA", "https"),
        }

    def ready(self) -> None:
        from personalize.conf import personalize_settings as ps
        from personalize.contrib.oscar import checks, dashboard, receivers  # noqa: F401 - checks register

        receivers.connect()
        if ps.OSCAR_DASHBOARD_LINKS and hasattr(settings, "OSCAR_DASHBOARD_NAVIGATION"):
            settings.OSCAR_DASHBOARD_NAVIGATION = dashboard.add_navigation(list(settings.OSCAR_DASHBOARD_NAVIGATION))
