"""``path("personalize/", include("personalize.urls"))``."""

from django.urls import include, path

from personalize.campaigns.views import campaign_click, campaign_seen

app_name = "personalize"

urlpatterns = [
    path("api/", include("personalize.api.urls")),
    path("c/seen/<str:token>/", campaign_seen, name="campaign_seen"),
    path("c/<str:token>/", campaign_click, name="campaign_click"),
    path("emails/", include("personalize.emails.urls")),
]
