"""Admin for shoppers, events and carts: read-only, filters, search, no N+1."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib import admin as django_admin
from django.contrib.auth.models import Permission
from django.utils import timezone

from personalize.models import Cart, Event, Shopper
from tests import factories

pytestmark = pytest.mark.django_db

EVENTS = "/admin/personalize/event/"
SHOPPERS = "/admin/personalize/shopper/"
CARTS = "/admin/personalize/cart/"


@pytest.fixture
def staff(client):
    user = factories.user(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def make_history(n_shoppers=3, per_shopper=4):
    products = [factories.product() for _ in range(4)]
    shoppers = []
    for i in range(n_shoppers):
        user = factories.user(email=f"known{i}@example.com") if i % 2 == 0 else None
        shopper = Shopper.objects.create(user=user, device="mobile" if i % 2 else "desktop", country="RS" if i else "ID")
        for j in range(per_shopper):
            Event.objects.create(shopper=shopper, kind="view", product_key=str(products[j % 4].pk), context={"placement": "home"})
        Cart.objects.create(shopper=shopper, lines=[{"product": str(products[0].pk), "quantity": 2, "price": "3.50"}], item_count=2, value="7.00")
        shoppers.append(shopper)
    return products, shoppers


def test_registered_read_only(staff, rf):
    for model in (Shopper, Event, Cart):
        model_admin = django_admin.site._registry[model]
        request = rf.get("/")
        request.user = factories.user(is_staff=True, is_superuser=True)
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
    assert django_admin.site._registry[Shopper].has_delete_permission(request)  # erasure requests
    assert not django_admin.site._registry[Event].has_delete_permission(request)
    assert staff.get(EVENTS + "add/").status_code == 403


def test_view_permission_alone_is_enough(client):
    user = factories.user(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_event", "view_shopper", "view_cart"]))
    client.force_login(user)
    make_history(1, 1)
    assert client.get(EVENTS).status_code == 200
    assert client.get(SHOPPERS).status_code == 200
    shopper = Shopper.objects.get()
    page = client.get(f"{SHOPPERS}{shopper.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # read-only form


def test_event_changelist_has_no_n_plus_one(staff, django_assert_max_num_queries):
    make_history(2, 2)
    staff.get(EVENTS)  # warm up (content types, session)
    with django_assert_max_num_queries(20) as small:
        assert staff.get(EVENTS).status_code == 200
    make_history(8, 10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = staff.get(EVENTS)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Product view" in body and "Product " in body  # kind label and product titles resolved


def test_event_filters_and_search(staff):
    products, shoppers = make_history(3, 2)
    Event.objects.create(shopper=shoppers[1], kind="search", query="red kettle")
    assert staff.get(EVENTS + "?kind=search").context["cl"].result_count == 1
    assert staff.get(EVENTS + "?known=yes").context["cl"].result_count == 4  # shoppers 0 and 2
    assert staff.get(EVENTS + "?known=no").context["cl"].result_count == 3
    assert staff.get(EVENTS + "?shopper__device=mobile").context["cl"].result_count == 3
    assert staff.get(EVENTS + "?shopper__country=ID").context["cl"].result_count == 2
    assert staff.get(EVENTS + "?q=kettle").context["cl"].result_count == 1
    assert staff.get(EVENTS + "?q=known0@example.com").context["cl"].result_count == 2
    assert staff.get(EVENTS + f"?q={products[1].pk}").context["cl"].result_count == 3
    assert staff.get(EVENTS + f"?q={str(shoppers[2].key)[:8]}").context["cl"].result_count == 2
    today = timezone.now()
    url = EVENTS + f"?created_at__year={today.year}&created_at__month={today.month}&created_at__day={today.day}"
    assert staff.get(url).context["cl"].result_count == 7  # date hierarchy
    old = timezone.now() - timedelta(days=40)
    Event.objects.filter(kind="search").update(created_at=old)
    window = urlencode({"created_at__gte": old - timedelta(days=1), "created_at__lt": old + timedelta(days=1)})
    assert staff.get(f"{EVENTS}?{window}").context["cl"].result_count == 1


def test_shopper_list_filters_and_search(staff):
    _products, shoppers = make_history(3, 1)
    assert staff.get(SHOPPERS + "?known=yes").context["cl"].result_count == 2
    assert staff.get(SHOPPERS + "?known=no").context["cl"].result_count == 1
    assert staff.get(SHOPPERS + "?device=mobile").context["cl"].result_count == 1
    assert staff.get(SHOPPERS + "?q=known2@").context["cl"].result_count == 1
    assert staff.get(SHOPPERS + f"?q={shoppers[1].key}").context["cl"].result_count == 1
    assert staff.get(SHOPPERS + f"?q={str(shoppers[1].key)[:8]}").context["cl"].result_count == 1


def test_shopper_detail_shows_recent_events_and_cart_readably(staff):
    p = factories.product(name="Copper <kettle>", price="3.50")
    shopper = Shopper.objects.create()
    Event.objects.create(shopper=shopper, kind="view", product_key=str(p.pk), context={"placement": "recently_viewed"})
    Event.objects.create(shopper=shopper, kind="search", query="kettle")
    Event.objects.create(shopper=shopper, kind="view", product_key="deleted-product")
    Cart.objects.create(shopper=shopper, lines=[{"product": str(p.pk), "quantity": 2, "price": "3.50"}], item_count=2, value="7.00")
    body = staff.get(f"{SHOPPERS}{shopper.pk}/change/").content.decode()
    assert "Copper &lt;kettle&gt;" in body  # title resolved and escaped
    assert "Copper <kettle>" not in body
    assert "placement=recently_viewed" in body
    assert "kettle" in body and "deleted-product" in body
    assert "7.00" in body  # line total
    assert "search: 1, view: 2" in body
    assert f"?shopper__id__exact={shopper.pk}" in body


def test_cart_admin_lists_and_shows_lines(staff):
    products, shoppers = make_history(2, 1)
    response = staff.get(CARTS)
    assert response.status_code == 200 and response.context["cl"].result_count == 2
    assert staff.get(CARTS + "?known=no").context["cl"].result_count == 1
    cart = Cart.objects.get(shopper=shoppers[0])
    body = staff.get(f"{CARTS}{cart.pk}/change/").content.decode()
    assert products[0].name in body and "7.00" in body


def test_event_detail_shows_purchase_lines(staff):
    p = factories.product(name="Teapot")
    shopper = Shopper.objects.create()
    event = Event.objects.create(
        shopper=shopper, kind="purchase", value="9.00", order_ref="A-1",
        context={"lines": [{"product": str(p.pk), "quantity": 3, "price": "3.00"}], "source": "server"},
    )
    body = staff.get(f"{EVENTS}{event.pk}/change/").content.decode()
    assert "Teapot" in body and "A-1" in body and "&quot;source&quot;: &quot;server&quot;" in body


def test_deleting_a_shopper_removes_its_data(staff):
    _products, shoppers = make_history(1, 3)
    response = staff.post(f"{SHOPPERS}{shoppers[0].pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Shopper.objects.exists() and not Event.objects.exists() and not Cart.objects.exists()


def test_search_uses_the_user_models_own_field_names(rf):
    request = rf.get("/")
    assert django_admin.site._registry[Shopper].get_search_fields(request) == ["^key", "email", "user__email", "user__username"]
    assert "shopper__user__email" in django_admin.site._registry[Event].get_search_fields(request)
