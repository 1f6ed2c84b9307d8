"""``path("personalize/", include("personalize.urls"))``."""

from django.urls import include, path

app_name = "personalize"

urlpatterns = [
    path("api/", include("personalize.api.urls")),
]
