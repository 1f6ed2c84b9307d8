"""The demo's catalogue. Field names are the ones personalize's DefaultAdapter reads
(``title``, ``price``, ``image``, ``category``, ``brand``, ``stock``, ``is_active``, ``tags``),
so the shop needs no adapter class of its own."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class Category(models.Model):
    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    # A hex colour used for the category's placeholder images and tiles.
    colour = models.CharField(_("colour"), max_length=7, default="#4f46e5")
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:category", args=[self.slug])


class Brand(models.Model):
    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("brand")
        verbose_name_plural = _("brands")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProductQuerySet(models.QuerySet):
    def active(self) -> "ProductQuerySet":
        return self.filter(is_active=True)

    def search(self, query: str) -> "ProductQuerySet":
        """Every word must match the title, description, tags, brand or category."""
        qs = self
        for word in query.split()[:8]:
            qs = qs.filter(
                models.Q(title__icontains=word)
                | models.Q(description__icontains=word)
                | models.Q(tags__icontains=word)
                | models.Q(brand__name__icontains=word)
                | models.Q(category__name__icontains=word)
            )
        return qs


class Product(models.Model):
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="products")
    brand = models.ForeignKey(
        Brand, verbose_name=_("brand"), on_delete=models.SET_NULL, null=True, blank=True, related_name="products"
    )
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2)
    stock = models.PositiveIntegerField(_("stock"), default=10)
    is_active = models.BooleanField(_("active"), default=True)
    tags = models.CharField(_("tags"), max_length=255, blank=True, help_text=_("Comma separated."))
    margin = models.DecimalField(
        _("margin"), max_digits=4, decimal_places=2, default=Decimal("0.30"), help_text=_("Share of the price kept as profit.")
    )
    image = models.ImageField(_("image"), upload_to="products/", blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["title"]
        indexes = [models.Index(fields=["category", "is_active"], name="catalog_prod_cat_active")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("catalog:product", args=[self.slug])

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    @property
    def tag_list(self) -> list[str]:
        return [t.strip() for t in self.tags.split(",") if t.strip()]
