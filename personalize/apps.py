from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PersonalizeConfig(AppConfig):
    name = "personalize"
    verbose_name = _("Personalisation")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from personalize import checks, receivers  # noqa: F401 - connect checks and receivers
