from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("demo_shop.catalog.urls")),
    path("", include("demo_shop.orders.urls")),
    path("account/", include("demo_shop.accounts.urls")),
    path("outbox/", include("demo_shop.outbox.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("personalize/", include("personalize.urls")),
    path("admin/", admin.site.urls),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
