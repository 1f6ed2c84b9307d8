"""A home-made store with UUID keys and non-default field names: proves the adapter works
on a shop that is not the demo."""

import uuid

from django.db import models
from django.urls import reverse


class Category(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=200)
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="products")
    brand = models.CharField(max_length=100, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, default=10)
    stock = models.IntegerField(default=10)
    is_active = models.BooleanField(default=True)
    margin = models.DecimalField(max_digits=5, decimal_places=2, default=0.3)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("testshop:product", args=[self.pk])
