from django.http import HttpResponse
from django.template import engines
from django.urls import path

app_name = "testshop"

PAGE = engines["django"].from_string(
    "{% load personalize %}<html><body>{% recently_viewed limit=limit %}</body></html>"
)


def product(request, pk):
    from tests.testshop.models import Product
    import personalize

    obj = Product.objects.get(pk=pk)
    personalize.track(request, "view", product=obj)
    return HttpResponse(PAGE.render({"product": obj, "limit": 8}, request))


def home(request):
    return HttpResponse(PAGE.render({"limit": int(request.GET.get("limit", 8))}, request))


urlpatterns = [
    path("p/<uuid:pk>/", product, name="product"),
    path("", home, name="home"),
]
