from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("Demo shop administration")
admin.site.site_title = _("Demo shop")
admin.site.index_title = _("Shop and personalisation")

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
