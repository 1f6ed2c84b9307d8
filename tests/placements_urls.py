"""A shop page rendering the recommendation widgets (for the end-to-end placement tests)."""

from django.http import HttpResponse
from django.template import engines
from django.urls import path

from tests.urls import urlpatterns as base_patterns

PAGE = engines["django"].from_string(
    "{% load personalize %}<html><body>"
    "<div id=for-you>{% recommended_for_you limit=4 %}</div>"
    "<div id=similar>{% if product %}{% similar_products product limit=4 %}{% endif %}</div>"
    "<div id=trending>{% trending limit=4 %}</div>"
    "</body></html>"
)


def product_page(request, pk):
    from tests.testshop.models import Product

    import personalize

    obj = Product.objects.get(pk=pk)
    personalize.track(request, "view", product=obj)
    return HttpResponse(PAGE.render({"product": obj}, request))


def home(request):
    return HttpResponse(PAGE.render({}, request))


urlpatterns = [
    path("widgets/p/<uuid:pk>/", product_page, name="widgets-product"),
    path("widgets/", home, name="widgets-home"),
    *base_patterns,
]
