"""``path("personalize/", include("personalize.urls"))``."""

from django.urls import include, path

from personalize.campaigns.views import campaign_click

app_name = "personalize"

urlpatterns = [
    path("api/", include("personalize.api.urls")),
    path("c/<str:token>/", campaign_click, name="campaign_click"),
    path("emails/", include("personalize.emails.urls")),
]
