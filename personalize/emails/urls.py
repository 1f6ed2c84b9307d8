"""Routes of the email links (included by ``personalize.urls`` under ``emails/``)."""

from django.urls import path

from personalize.emails import views

urlpatterns = [
    path("restore/<str:token>/", views.restore, name="email_restore"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="email_unsubscribe"),
]
