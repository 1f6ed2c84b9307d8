from django.urls import path

from personalize.api import recommendations, schema, views

urlpatterns = [
    path("events/", views.EventBatchView.as_view(), name="api-events"),
    path("recommendations/", recommendations.RecommendationsView.as_view(), name="api-recommendations"),
    # The OpenAPI 3.1 document of personalize's endpoints (docs/api.md).
    path("schema/", schema.SchemaView.as_view(), name="api-schema"),
    path("search-suggestions/", recommendations.SearchSuggestionsView.as_view(), name="api-search-suggestions"),
]
