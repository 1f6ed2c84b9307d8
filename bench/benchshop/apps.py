from django.apps import AppConfig


class BenchshopConfig(AppConfig):
    name = "bench.benchshop"
    label = "benchshop"
    default_auto_field = "django.db.models.BigAutoField"
