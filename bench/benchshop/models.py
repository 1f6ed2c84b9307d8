"""A tiny catalogue for the recommender benchmarks: MovieLens films as products.

Integer keys (the dataset's item ids), the first genre as the category (the diversity cap
and per-category lists use it) and every genre plus the release decade and year as tags,
so the adapter's ``features()`` hands them to the hybrid model unchanged.
"""

from django.db import models


class Movie(models.Model):
    id = models.IntegerField(primary_key=True)
    title = models.CharField(max_length=200)
    category = models.CharField(max_length=40, blank=True)
    tags = models.CharField(max_length=300, blank=True)
    price = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    stock = models.IntegerField(default=10)
    is_active = models.BooleanField(default=True)

    class Meta:
        app_label = "benchshop"

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return f"/movies/{self.pk}/"
