from django.urls import path

from demo_shop.catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("c/<slug:slug>/", views.category, name="category"),
    path("products/<slug:slug>/", views.product_detail, name="product"),
]
