from django.contrib import admin

from demo_shop.catalog.models import Brand, Category, Product


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "position")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("title", "category", "brand", "price", "stock", "margin", "is_active")
    list_filter = ("category", "is_active", "brand")
    search_fields = ("title", "tags", "description")
    list_select_related = ("category", "brand")
    prepopulated_fields = {"slug": ("title",)}
    list_editable = ("price", "stock", "is_active")
