"""``manage.py personalize_oscar_sync_vouchers``: mirror every personalize offer and open code as
Oscar vouchers (new ones are mirrored as they are saved; this catches codes made before the
contrib app was installed)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from personalize.contrib.oscar.vouchers import sync_all


class Command(BaseCommand):
    help = "Mirror personalize offers and codes as django-oscar vouchers."

    def handle(self, *args: Any, **options: Any) -> None:
        count = sync_all()
        self.stdout.write(f"{count} offer(s) mirrored as Oscar vouchers.")
