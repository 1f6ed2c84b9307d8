from __future__ import annotations

from datetime import timedelta

import personalize
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from personalize.caching import cache  # timeouts and a circuit breaker: a dead Redis costs nothing
from personalize.events.schema import bad_string

from demo_shop.catalog.models import Category, Product

PAGE_SIZE = 24
HOME_BESTSELLERS = 10
SORTS = {
    "popular": ("-sold", _("Most popular")),
    "price": ("price", _("Price: low to high")),
    "-price": ("-price", _("Price: high to low")),
    "title": ("title", _("Name")),
}


def _listing(qs, sort: str):
    order, _label = SORTS.get(sort, SORTS["popular"])
    if order == "-sold":
        return _by_popularity(qs)
    return qs.order_by(order, "pk")


def _by_popularity(qs) -> list:
    """Bestsellers first, then the rest by name (a category holds a few dozen products)."""
    ranks = bestseller_ids()
    position = {pk: i for i, pk in enumerate(ranks)}
    products = list(qs)
    products.sort(key=lambda p: (position.get(p.pk, len(position)), p.title))
    return products


def bestseller_ids(days: int = 30, limit: int = 500) -> list[int]:
    """Product ids by units sold in the last ``days`` (the shop's own data), cached."""
    from demo_shop.orders.models import OrderLine

    key = f"demo:bestsellers:{days}:{limit}"
    ids = cache().get(key)
    if ids is None:
        since = timezone.now() - timedelta(days=days)
        rows = (
            OrderLine.objects.filter(order__created_at__gte=since, product__isnull=False)
            .values("product")
            .annotate(units=Sum("quantity"))
            .order_by("-units")[:limit]
        )
        ids = [row["product"] for row in rows]
        cache().set(key, ids, 120)
    return ids


def _page(request: HttpRequest, items):
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


def home(request: HttpRequest) -> HttpResponse:
    categories = list(Category.objects.annotate(n=Count("products")).filter(n__gt=0))
    return render(request, "catalog/home.html", {"categories": categories, "bestsellers": bestsellers(HOME_BESTSELLERS)})


def bestsellers(limit: int) -> list[Product]:
    """In-stock bestsellers of the month, topped up with other products in a young shop."""
    top = bestseller_ids(limit=limit * 3)
    available = Product.objects.active().filter(stock__gt=0).select_related("category", "brand")
    found = {p.pk: p for p in available.filter(pk__in=top)}
    products = [found[pk] for pk in top if pk in found][:limit]
    if len(products) < limit:
        products += list(available.exclude(pk__in=[p.pk for p in products]).order_by("-created_at", "pk")[: limit - len(products)])
    return products


def category(request: HttpRequest, slug: str) -> HttpResponse:
    cat = get_object_or_404(Category, slug=slug)
    sort = request.GET.get("sort", "popular")
    qs = Product.objects.active().filter(category=cat).select_related("category", "brand")
    page = _page(request, _listing(qs, sort))
    if page.number == 1:
        personalize.track(request, "category_view", context={"category": str(cat.pk)})
    return render(
        request,
        "catalog/category.html",
        {"category": cat, "page": page, "sort": sort if sort in SORTS else "popular", "sorts": SORTS},
    )


def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    product = get_object_or_404(Product.objects.active().select_related("category", "brand"), slug=slug)
    personalize.track(request, "view", product=product)
    return render(request, "catalog/product_detail.html", {"product": product})


def search(request: HttpRequest) -> HttpResponse:
    query = " ".join(request.GET.get("q", "").split())[:100]
    if bad_string(query):  # NUL or a lone surrogate: PostgreSQL cannot even compare them
        query = ""
    results = Product.objects.none()
    if query:
        results = Product.objects.active().search(query).select_related("category", "brand").order_by("-stock", "title")
    page = _page(request, results)
    if query and page.number == 1:
        personalize.track(request, "search", query=query, context={"results": page.paginator.count})
    return render(request, "catalog/search.html", {"query": query, "search_query": query, "page": page})
