"""``python manage.py load_demo_data``: the demo shop's catalogue and synthetic shoppers."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from demo_shop.catalog.demo_data import generate
from demo_shop.catalog.models import Brand, Category, Product


class Command(BaseCommand):
    help = "Load the demo catalogue (~300 products) and ~3000 synthetic shoppers with consistent tastes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--products", type=int, default=300, help="Number of products (default 300).")
        parser.add_argument("--shoppers", type=int, default=3000, help="Number of synthetic shoppers (default 3000).")
        parser.add_argument("--seed", type=int, default=7, help="Random seed: the same seed gives the same shop.")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when products already exist.")
        parser.add_argument("--reset", action="store_true", help="Delete the existing demo data first.")
        parser.add_argument("--no-images", action="store_true", help="Skip drawing the placeholder images.")

    def handle(self, *args, **options) -> None:
        if not 1 <= options["products"] <= 20000:
            raise CommandError("--products must be between 1 and 20000.")
        if not 0 <= options["shoppers"] <= 200000:
            raise CommandError("--shoppers must be between 0 and 200000.")
        if Product.objects.exists():
            if options["if_empty"]:
                self.stdout.write("Products already exist: nothing to do (--if-empty).")
                return
            if not options["reset"]:
                raise CommandError("The shop already has products. Use --reset to replace them or --if-empty to skip.")
            self.reset()
        started = time.monotonic()
        # The campaigns first: the simulated history shows the first-visit campaign (with its
        # control group) and redeems its codes.
        call_command("load_demo_campaigns", stdout=self.stdout)
        stats = generate(
            n_products=options["products"],
            n_shoppers=options["shoppers"],
            seed=options["seed"],
            images=not options["no_images"],
            progress=lambda message: self.stdout.write(f"  {message}"),
        )
        self.ensure_admin()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data loaded in {time.monotonic() - started:.1f}s: {stats.products} products, "
                f"{stats.shoppers} shoppers ({stats.users} with accounts), {stats.events} events, "
                f"{stats.orders} orders, {stats.abandoned_carts} open carts."
            )
        )
        if stats.users >= 3:
            self.stdout.write("Log in as alice, bob or carol (password “demo”).")
        self.stdout.write("Admin: admin / admin at /admin/.")

    def ensure_admin(self) -> None:
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@demo.example", "admin")

    @transaction.atomic
    def reset(self) -> None:
        from personalize.models import Redemption, Shopper

        from demo_shop.orders.models import Order

        self.stdout.write("Deleting the existing demo data…")
        Order.objects.all().delete()
        Redemption.objects.all().delete()  # keyed by order number, which the new history reuses
        Shopper.objects.all().delete()
        Product.objects.all().delete()
        Category.objects.all().delete()
        Brand.objects.all().delete()
        get_user_model().objects.filter(is_staff=False, is_superuser=False).delete()
