from django.contrib import admin

from demo_shop.orders.models import Order, OrderLine


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ("product",)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "email", "total", "discount", "status", "created_at")
    list_filter = ("status", "created_at")
    search_fields = ("number", "email", "name")
    date_hierarchy = "created_at"
    raw_id_fields = ("user",)
    inlines = [OrderLineInline]
