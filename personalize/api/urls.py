from django.urls import path

from personalize.api import recommendations, views

urlpatterns = [
    path("events/", views.EventBatchView.as_view(), name="api-events"),
    path("recommendations/", recommendations.RecommendationsView.as_view(), name="api-recommendations"),
    path("search-suggestions/", recommendations.SearchSuggestionsView.as_view(), name="api-search-suggestions"),
]
