"""``path("personalize/", include("personalize.urls"))``."""

from django.urls import include, path

from personalize.campaigns.views import campaign_click, campaign_code, campaign_seen
from personalize.identity.views import consent
from personalize.privacy import views as privacy
from personalize.widgets.fragments import fragments_view

app_name = "personalize"

urlpatterns = [
    path("api/", include("personalize.api.urls")),
    path("c/seen/<str:token>/", campaign_seen, name="campaign_seen"),
    path("c/code/<str:token>/", campaign_code, name="campaign_code"),
    path("c/<str:token>/", campaign_click, name="campaign_click"),
    path("emails/", include("personalize.emails.urls")),
    # {% personalize_fragment %} placeholders of a page, filled in one request (beacon.js).
    path("fragments/", fragments_view, name="fragments"),
    # Consent banner and the shopper's own privacy page (docs/privacy.md).
    path("consent/", consent, name="consent"),
    path("privacy/", privacy.page, name="privacy"),
    path("privacy/download/", privacy.download, name="privacy_download"),
    path("privacy/erase/", privacy.erase, name="privacy_erase"),
    path("privacy/email/", privacy.email_choice, name="privacy_email"),
]
