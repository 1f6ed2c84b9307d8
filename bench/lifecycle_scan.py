"""One run of the lifecycle-email task over N carts, D of them due: time and peak memory.

Creates (drops first) a PostgreSQL database whose name starts with ``bench``, migrates it, and
for each cart count builds the carts of the abandoned-cart flow:

* ``D`` due: idle for 2 hours, nothing sent yet (step 1 goes out);
* half the rest idle for 3 hours but already sent step 1 (scanned in Python, nothing due);
* the other half changed 10 minutes ago (left out by the SQL filter).

Every shopper is a guest with an address and consent, so every idle cart reaches the Python
checks. The task then runs once with the locmem email backend (timed: wall time and this
process's CPU time, no tracing), and once more on the same data reset under ``tracemalloc``
(peak Python memory; the locmem outbox holding every sent message is part of it). ``ru_maxrss``
of the process and the 1-minute load average are printed too. Run it for 25k/50k/100k carts
with the same number due to see memory stay flat.

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_lifecycle \\
        .venv/bin/python bench/lifecycle_scan.py --carts 25000 50000 100000 --due 10000
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from datetime import timedelta
from decimal import Decimal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.databases import recreate_database  # noqa: E402

CHUNK = 5000


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django
    from django.conf import settings

    django.setup()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PERSONALIZE = {
        **settings.PERSONALIZE,
        "SITE_URL": "https://shop.example",
        "EMAIL_QUIET_HOURS": None,
        "EMAIL_BATCH_SIZE": 500,
    }
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def populate(carts: int, due: int, now) -> None:
    """Delete the previous carts and build ``carts`` of them, ``due`` of which are due."""
    from django.db import connection

    from personalize.models import EmailSend, Flow
    from personalize.models import Cart, Contact, Shopper
    from tests.testshop.models import Category, Product

    with connection.cursor() as cursor:  # TRUNCATE: fast and leaves no dead rows behind
        cursor.execute(
            "TRUNCATE personalize_emailsend, personalize_contact, personalize_cart, personalize_shopper RESTART IDENTITY CASCADE"
        )
    category = Category.objects.first() or Category.objects.create(name="Lamps")
    products = list(Product.objects.all()[:50]) or Product.objects.bulk_create(
        [Product(name=f"Lamp {i}", category=category, price=Decimal("10.00") + i) for i in range(50)]
    )
    flow = Flow.objects.get(slug="abandoned-cart")
    Flow.objects.exclude(pk=flow.pk).update(active=False)
    first = flow.steps.get(position=1)
    rest = carts - due
    sent_before = rest // 2
    made = 0
    while made < carts:
        size = min(CHUNK, carts - made)
        shoppers = Shopper.objects.bulk_create(
            [Shopper(email=f"s{made + i}@example.com", email_consent=True, language="en") for i in range(size)]
        )
        cart_rows, send_rows = [], []
        for i, shopper in enumerate(shoppers):
            n = made + i
            if n < due:
                updated = now - timedelta(hours=2)
            elif n < due + sent_before:
                updated = now - timedelta(hours=3)
                send_rows.append(
                    EmailSend(flow=flow, step=first, shopper=shopper, cycle="cart:1", cart_revision=1, status="sent",
                              email=shopper.email, created_at=now - timedelta(hours=2), sent_at=now - timedelta(hours=2))
                )
            else:
                updated = now - timedelta(minutes=10)
            picks = [products[(n + k) % len(products)] for k in range(3)]
            cart_rows.append(
                Cart(shopper=shopper, lines=[{"product": str(p.pk), "quantity": 1, "price": str(p.price)} for p in picks],
                     value=sum((p.price for p in picks), Decimal("0")), item_count=3, language="en", revision=1, updated_at=updated)
            )
        Cart.objects.bulk_create(cart_rows)
        EmailSend.objects.bulk_create(send_rows)
        made += size
    Contact.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def reset_sends(now) -> None:
    """Undo a run: remove the sends and contacts it made (the pre-existing sends stay)."""
    from personalize.models import EmailSend
    from personalize.models import Contact

    EmailSend.objects.filter(created_at__gte=now - timedelta(minutes=1)).delete()
    Contact.objects.all().delete()


def run_once(now, *, trace: bool) -> tuple[float, float | None, object]:
    from django.core import mail

    from personalize.emails.sending import send_due

    mail.outbox = []
    if trace:
        tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    stats = send_due(now)
    elapsed = time.perf_counter() - started
    run_once.cpu = time.process_time() - cpu
    peak = None
    if trace:
        _current, peak_bytes = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak = peak_bytes / 2**20
    assert len(mail.outbox) == stats.sent, "every send reached the backend"
    mail.outbox = []
    return elapsed, peak, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--carts", type=int, nargs="+", default=[100_000])
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--recommendations", type=int, default=3, help="EMAIL_RECOMMENDATIONS (0: none)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_lifecycle")
    if url.startswith("postgres"):
        recreate_database(url)
    setup_django(url)
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    settings.PERSONALIZE = {**settings.PERSONALIZE, "EMAIL_RECOMMENDATIONS": args.recommendations}
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; batch {settings.PERSONALIZE['EMAIL_BATCH_SIZE']}; "
          f"recommendations per email: {args.recommendations}; cpus: {os.cpu_count()}")
    print(f"{'carts':>8} {'due':>6} {'scanned':>8} {'sent':>6} {'time s':>7} {'cpu s':>6} {'emails/s':>9} {'peak MiB (tracemalloc)':>23} {'maxrss MiB':>10} {'load':>5}")
    for carts in args.carts:
        now = timezone.now()
        populate(carts, min(args.due, carts), now)
        elapsed, _peak, stats = run_once(now, trace=False)
        cpu, load = run_once.cpu, os.getloadavg()[0]
        reset_sends(now)
        _elapsed, peak, traced = run_once(now, trace=True)
        assert traced.sent == stats.sent
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{carts:>8} {min(args.due, carts):>6} {stats.scanned:>8} {stats.sent:>6} {elapsed:>7.1f} {cpu:>6.1f} "
              f"{stats.sent / elapsed:>9.0f} {peak:>23.1f} {maxrss:>10.0f} {load:>5.1f}")


if __name__ == "__main__":
    main()
