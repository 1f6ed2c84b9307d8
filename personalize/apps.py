from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PersonalizeConfig(AppConfig):
    name = "personalize"
    verbose_name = _("Personalisation")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from personalize import checks, receivers  # noqa: F401 - connect checks and receivers
        from personalize.schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="personalize.schedules")

        from personalize.emails import checks as _email_checks  # noqa: F401 - system checks E040-W049
        from personalize.placements import checks as _placement_checks  # noqa: F401 - system checks E017-E019
        from personalize.emails import receivers as _email_receivers  # noqa: F401 - purchase attribution
        from personalize.emails.defaults import ensure_default_flows

        post_migrate.connect(ensure_default_flows, sender=self, dispatch_uid="personalize.emails.defaults")
