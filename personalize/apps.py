from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# Each capability connects its own signal receivers and registers its own system checks.
CAPABILITY_MODULES = (
    "personalize.identity.merge",
    "personalize.identity.remembered",
    "personalize.identity.checks",
    "personalize.checks",
    "personalize.caching.checks",
    "personalize.caching.receivers",
    "personalize.identity.deploy_checks",
    "personalize.recommenders.checks",
    "personalize.segments.receivers",
    "personalize.segments.checks",
    "personalize.campaigns.receivers",
    "personalize.campaigns.checks",
    "personalize.placements.receivers",
    "personalize.placements.checks",
    "personalize.emails.receivers",
    "personalize.emails.checks",
    "personalize.privacy.receivers",
    "personalize.privacy.checks",
)


class PersonalizeConfig(AppConfig):
    name = "personalize"
    verbose_name = _("Personalisation")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from personalize.emails.defaults import ensure_default_flows
        from personalize.schedules import ensure_schedules

        for module in CAPABILITY_MODULES:
            import_module(module)
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="personalize.schedules")
        post_migrate.connect(ensure_default_flows, sender=self, dispatch_uid="personalize.emails.defaults")
