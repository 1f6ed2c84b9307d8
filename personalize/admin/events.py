"""Read-only admin for shoppers, events and cart snapshots.

Nothing here can be added or edited: events are facts and carts mirror the store's cart.
Shoppers can be deleted (with their events and cart, by cascade) by staff holding the
shopper delete permission, so an erasure request can be honoured from the admin.
Product titles are resolved through the adapter, one query per page, never one per row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from personalize.adapters import get_adapter
from personalize.admin.privacy import erase_personal_data, erase_shoppers, export_personal_data
from personalize.admin.readonly import ReadOnlyMixin
from personalize.admin.timeline import timeline
from personalize.admin.widgets import money
from personalize.events import event_kinds
from personalize.models import Cart, Event, EventKind, Shopper

RECENT_EVENTS = 50


def products_by_key(keys: Iterable[str]) -> dict[str, Any]:
    """The store's products for ``keys`` (hidden ones too), in one query."""
    keys = {str(key) for key in keys if key}
    if not keys:
        return {}
    adapter = get_adapter()
    queryset = adapter.get_product_model()._default_manager.all()
    return {adapter.product_key(p): p for p in adapter.get_products(keys, queryset=queryset)}


def product_label(key: str, products: dict[str, Any]) -> str:
    """``Title`` linked to the product page, or the bare key for a deleted product."""
    product = products.get(key)
    if product is None:
        return format_html('<code title="{}">{}</code>', _("not in the catalogue"), key) if key else "-"
    adapter = get_adapter()
    url = adapter.url(product)
    if url:
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a> <code>{}</code>', url, adapter.title(product), key)
    return format_html("{} <code>{}</code>", adapter.title(product), key)


def cart_lines_table(lines: list[dict[str, Any]], products: dict[str, Any] | None = None) -> str:
    if not lines:
        return _("empty")
    products = products if products is not None else products_by_key(line["product"] for line in lines)
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                product_label(str(line.get("product", "")), products),
                line.get("quantity", ""),
                money(line.get("price")) or "-",
                _line_total(line),
            )
            for line in lines
        ),
    )
    return format_html(
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        _("Product"), _("Quantity"), _("Unit price"), _("Total"), rows,
    )


def _line_total(line: dict[str, Any]) -> str:
    try:
        return money(Decimal(str(line["price"])) * int(line["quantity"]))
    except Exception:  # noqa: BLE001 - a line without a price shows no total
        return "-"


def _context_summary(context: dict[str, Any]) -> str:
    parts = [f"{key}={value}" for key, value in sorted(context.items()) if key != "lines"]
    if context.get("lines"):
        parts.append(f"lines={len(context['lines'])}")
    return ", ".join(parts)


def kind_label(kind: str) -> str:
    try:
        return str(EventKind(kind).label)
    except ValueError:  # one of the store's EXTRA_EVENT_KINDS
        return kind


class KindFilter(admin.SimpleListFilter):
    """The known kinds, without a DISTINCT over every event row."""

    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(kind, kind_label(kind)) for kind in sorted(event_kinds())]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(kind=self.value()) if self.value() else queryset


def known_filter(user_path: str) -> type[admin.SimpleListFilter]:
    """A filter "anonymous / known" on whether ``user_path`` is set."""

    class KnownFilter(admin.SimpleListFilter):
        title = _("account")
        parameter_name = "known"

        def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
            return [("yes", _("Known (logged in)")), ("no", _("Anonymous"))]

        def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
            if self.value() == "yes":
                return queryset.filter(**{f"{user_path}__isnull": False})
            if self.value() == "no":
                return queryset.filter(**{f"{user_path}__isnull": True})
            return queryset

    return KnownFilter


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """View permission only (the admin shows a read-only form)."""

    # Path from this model to the user, for searching by the user's email and username.
    user_path = "shopper__user"

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        # Any user model: search its EMAIL_FIELD and USERNAME_FIELD, whatever they are called.
        user_model = get_user_model()
        names = {getattr(user_model, "EMAIL_FIELD", None), getattr(user_model, "USERNAME_FIELD", None)}
        concrete = {f.name for f in user_model._meta.concrete_fields}
        extra = [f"{self.user_path}__{name}" for name in sorted(n for n in names if n in concrete)]
        return [*super().get_search_fields(request), *extra]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # No bulk deletes of facts from the list. A single row may go with its shopper: the
        # admin asks this for every cascaded row when someone erases a shopper.
        if obj is None:
            return False
        return request.user.has_perm(f"{Shopper._meta.app_label}.delete_shopper")


class ProductChangeList(ChangeList):
    """Resolves the page's product keys in one query for the product column."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        products = products_by_key(event.product_key for event in self.result_list)
        for event in self.result_list:
            event._admin_products = products


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind_display", "product", "quantity", "value_text", "query", "shopper_link", "placement")
    list_filter = (
        KindFilter,
        ("created_at", admin.DateFieldListFilter),
        known_filter("shopper__user"),
        "shopper__device",
        "shopper__country",
    )
    search_fields = ("=product_key", "query", "order_ref", "shopper__email", "^shopper__key")
    search_help_text = _("Product id, search query, order reference, email or shopper key.")
    date_hierarchy = "created_at"
    list_select_related = ("shopper", "shopper__user")
    # Counting every event of a busy store on each page load is slow; the admin shows "more".
    show_full_result_count = False
    fields = ("created_at", "kind_display", "shopper_link", "product", "quantity", "value_text", "query", "order_ref", "context_pretty")
    readonly_fields = fields

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ProductChangeList

    @admin.display(description=_("kind"), ordering="kind")
    def kind_display(self, obj: Event) -> str:
        return kind_label(obj.kind)

    @admin.display(description=_("value"), ordering="value")
    def value_text(self, obj: Event) -> str:
        return money(obj.value) or "-"

    @admin.display(description=_("product"), ordering="product_key")
    def product(self, obj: Event) -> str:
        products = getattr(obj, "_admin_products", None)
        if products is None:
            products = products_by_key([obj.product_key])
        return product_label(obj.product_key, products) if obj.product_key else "-"

    @admin.display(description=_("shopper"), ordering="shopper")
    def shopper_link(self, obj: Event) -> str:
        url = reverse("admin:personalize_shopper_change", args=[obj.shopper_id])
        return format_html('<a href="{}">{}</a>', url, obj.shopper)

    @admin.display(description=_("placement"))
    def placement(self, obj: Event) -> str:
        return obj.context.get("placement", "") if isinstance(obj.context, dict) else ""

    @admin.display(description=_("context"))
    def context_pretty(self, obj: Event) -> str:
        context = dict(obj.context or {})
        lines = context.pop("lines", None)
        text = format_html("<pre>{}</pre>", json.dumps(context, indent=2, sort_keys=True, ensure_ascii=False))
        if lines:
            return format_html("{}{}", text, cart_lines_table(lines))
        return text


@admin.register(Cart)
class CartAdmin(ReadOnlyAdmin):
    list_display = ("shopper", "item_count", "value_text", "summary", "language", "revision", "updated_at")
    list_filter = (("updated_at", admin.DateFieldListFilter), known_filter("shopper__user"), "shopper__device", "shopper__country")
    search_fields = ("shopper__email", "^shopper__key")
    search_help_text = _("Email or shopper key.")
    list_select_related = ("shopper", "shopper__user")
    date_hierarchy = "updated_at"
    fields = ("shopper", "lines_table", "item_count", "value_text", "language", "revision", "updated_at")
    readonly_fields = fields

    @admin.display(description=_("products"))
    def summary(self, obj: Cart) -> str:
        return ", ".join(f"{line.get('quantity')}× {line.get('product')}" for line in obj.lines[:3]) + (
            " …" if len(obj.lines) > 3 else ""
        )

    @admin.display(description=_("lines"))
    def lines_table(self, obj: Cart) -> str:
        return cart_lines_table(obj.lines)

    @admin.display(description=_("value"), ordering="value")
    def value_text(self, obj: Cart) -> str:
        return money(obj.value)


@admin.register(Shopper)
class ShopperAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "short_key", "email_display", "known", "device", "country", "language", "visits", "first_seen", "last_seen")
    list_filter = (
        known_filter("user"),
        "device",
        "country",
        "email_consent",
        ("last_seen", admin.DateFieldListFilter),
    )
    search_fields = ("^key", "email")
    search_help_text = _("Shopper key, email or username.")
    user_path = "user"
    list_select_related = ("user",)
    date_hierarchy = "last_seen"
    show_full_result_count = False
    fields = (
        "key", "user", "email", "email_consent", "language", "country", "device", "visits",
        "first_seen", "last_seen", "merged_into", "event_counts", "cart_table", "decision_timeline", "recent_events",
    )
    readonly_fields = fields

    actions = (export_personal_data, erase_personal_data)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Erasure requests: deleting a shopper erases the person (docs/privacy.md).
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # "Erase personal data" does it, with a record
        return actions

    def delete_model(self, request: HttpRequest, obj: Shopper) -> None:
        erase_shoppers(request, [obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        erase_shoppers(request, queryset)

    @admin.display(description=_("key"))
    def short_key(self, obj: Shopper) -> str:
        return str(obj.key)[:8]

    @admin.display(description=_("email"))
    def email_display(self, obj: Shopper) -> str:
        return (get_adapter().user_email(obj.user) if obj.user_id else "") or obj.email

    @admin.display(description=_("known"), boolean=True)
    def known(self, obj: Shopper) -> bool:
        return obj.user_id is not None

    @admin.display(description=_("events by kind"))
    def event_counts(self, obj: Shopper) -> str:
        counts = obj.events.order_by().values_list("kind").annotate(n=Count("id")).order_by("kind")
        url = reverse("admin:personalize_event_changelist") + f"?shopper__id__exact={obj.pk}"
        summary = ", ".join(f"{kind}: {n}" for kind, n in counts) or "-"
        return format_html('{} (<a href="{}">{}</a>)', summary, url, _("all events"))

    @admin.display(description=_("cart"))
    def cart_table(self, obj: Shopper) -> str:
        cart = Cart.objects.filter(shopper=obj).first()
        if cart is None:
            return "-"
        return format_html("{}<p>{}: {} · {}: {}</p>", cart_lines_table(cart.lines), _("Value"), money(cart.value), _("updated"), cart.updated_at)

    @admin.display(description=_("why did this shopper see that?"))
    def decision_timeline(self, obj: Shopper) -> str:
        return render_to_string("admin/personalize/shopper/_timeline.html", {"entries": timeline(obj)})

    @admin.display(description=_("recent events"))
    def recent_events(self, obj: Shopper) -> str:
        events = list(obj.events.order_by("-created_at")[:RECENT_EVENTS])
        if not events:
            return "-"
        products = products_by_key(e.product_key for e in events)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    kind_label(e.kind),
                    product_label(e.product_key, products) if e.product_key else "-",
                    e.quantity,
                    money(e.value) if e.value is not None else (e.query or "-"),
                    _context_summary(e.context or {}),
                )
                for e in events
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _("time"), _("kind"), _("product"), _("quantity"), _("value / query"), _("context"), rows,
        )
