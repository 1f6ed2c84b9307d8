"""Links to personalize's admin pages from Oscar's dashboard menu (``/dashboard/``).

``OscarConfig.ready`` appends :data:`NAVIGATION` to ``OSCAR_DASHBOARD_NAVIGATION`` unless the
store's settings already name it (or ``PERSONALIZE["OSCAR_DASHBOARD_LINKS"]`` is False). Each
link shows only to staff who may view that admin page.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

#: (label, admin URL name, "app_label.view_model" permission).
LINKS = (
    (_("Campaigns"), "admin:personalize_campaign_changelist", "personalize.view_campaign"),
    (_("Campaign impact"), "admin:personalize_campaign_impact", "personalize.view_campaign"),
    (_("Offers"), "admin:personalize_offer_changelist", "personalize.view_offer"),
    (_("Segments"), "admin:personalize_segment_changelist", "personalize.view_segment"),
    (_("Lifecycle emails"), "admin:personalize_flow_changelist", "personalize.view_flow"),
    (_("Recommendation models"), "admin:personalize_modelversion_changelist", "personalize.view_modelversion"),
    (_("Events"), "admin:personalize_event_changelist", "personalize.view_event"),
)
PERMISSIONS = {url_name: permission for _label, url_name, permission in LINKS}
LABEL = _("Personalisation")


def can_view(user: Any, url_name: str, url_args: Any = None, url_kwargs: Any = None) -> bool:
    """Oscar's ``access_fn``: staff with the admin page's view permission."""
    if not (user.is_active and user.is_staff):
        return False
    permission = PERMISSIONS.get(url_name)
    return permission is None or user.has_perm(permission)


NAVIGATION: dict[str, Any] = {
    "label": LABEL,
    "icon": "fas fa-magic",
    "access_fn": can_view,
    "children": [{"label": label, "url_name": url_name, "access_fn": can_view} for label, url_name, _p in LINKS],
}


def add_navigation(navigation: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``navigation`` with personalize's section appended once."""
    if any(item.get("label") == LABEL or item is NAVIGATION for item in navigation):
        return navigation
    return [*navigation, NAVIGATION]
