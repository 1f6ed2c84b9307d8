"""System checks of the Oscar integration (ids in docs/checks.md, range W090-W099)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register

BASKET_MIDDLEWARE = "oscar.apps.basket.middleware.BasketMiddleware"


@register()
def check_oscar(app_configs: Any = None, **kwargs: Any) -> list:
    """W090: templates shadowed by the core app's; W091: no Oscar basket middleware."""
    warnings: list = []
    installed = list(settings.INSTALLED_APPS)
    names = [name.removesuffix(".apps.OscarConfig") for name in installed]
    if "personalize" in names and "personalize.contrib.oscar" in names:
        if names.index("personalize.contrib.oscar") > names.index("personalize"):
            warnings.append(
                Warning(
                    '"personalize.contrib.oscar" comes after "personalize" in INSTALLED_APPS: widgets '
                    "render with personalize's plain templates instead of Oscar's product cards.",
                    hint='List "personalize.contrib.oscar" before "personalize".',
                    id="personalize.W090",
                )
            )
    if BASKET_MIDDLEWARE not in list(getattr(settings, "MIDDLEWARE", [])):
        warnings.append(
            Warning(
                f"{BASKET_MIDDLEWARE} is not in MIDDLEWARE: prices are not the request's strategy and "
                "restore-cart links cannot rebuild the basket.",
                hint="Add Oscar's BasketMiddleware as Oscar's install guide says.",
                id="personalize.W091",
            )
        )
    return warnings
