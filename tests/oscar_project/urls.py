"""Oscar's URLs plus personalize's one include (docs/oscar.md)."""

from django.apps import apps
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("personalize/", include("personalize.urls")),  # personalize
    path("", include(apps.get_app_config("oscar").urls[0])),
]
