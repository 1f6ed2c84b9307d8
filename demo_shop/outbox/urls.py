from django.urls import path

from demo_shop.outbox import views

app_name = "outbox"

urlpatterns = [
    path("", views.message_list, name="list"),
    path("<int:pk>/", views.message_detail, name="detail"),
    path("<int:pk>/html/", views.message_html, name="html"),
]
