from django.urls import path

from personalize.api import views

urlpatterns = [
    path("events/", views.EventBatchView.as_view(), name="api-events"),
]
