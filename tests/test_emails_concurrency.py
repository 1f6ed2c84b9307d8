"""The no-duplicate guarantee of lifecycle emails under real concurrency (PostgreSQL, Celery).

(a) two threads run the send function at the same moment against PostgreSQL: each (cart, step)
    is claimed by exactly one of them; (b) the beat task is enqueued twice at once on a real
    Celery worker (two pool processes): one email per due step.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.db import connection

from personalize.emails.defaults import WINBACK_SLUG
from personalize.models import EmailSend, Flow
from personalize.emails import sending as lifecycle
from tests import factories

NOON = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
CARTS = 40


def _setup(settings) -> list:
    settings.PERSONALIZE = {
        **settings.PERSONALIZE,
        "SITE_URL": "https://shop.example",
        "EMAIL_QUIET_HOURS": None,
        "EMAIL_RECOMMENDATIONS": 0,
        "EMAIL_BATCH_SIZE": 7,
    }
    Flow.objects.filter(slug=WINBACK_SLUG).update(active=False)
    product = factories.product()
    return [factories.cart_shopper([product], updated_at=NOON) for _ in range(CARTS)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cap", [1, 100], ids=["daily-cap", "no-cap"])
def test_two_threads_sending_at_once_send_each_step_once(settings, cap):
    """With the cap the shopper lock + cap re-check stops the second claim; without it (cap 100)
    the unique constraint does: either way one email per (cart, step)."""
    assert connection.vendor == "postgresql"
    shoppers = _setup(settings)
    settings.PERSONALIZE = {**settings.PERSONALIZE, "EMAIL_CAP_COUNT": cap}
    mail.outbox = []
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(lifecycle.send_due(NOON + timedelta(hours=1)))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert sum(r.sent for r in results) == CARTS
    per_recipient = Counter(m.to[0] for m in mail.outbox)
    assert sorted(per_recipient) == sorted(s.get_email() for s in shoppers)
    assert set(per_recipient.values()) == {1}
    assert EmailSend.objects.filter(status="sent").count() == CARTS


def _worker_mail_dir() -> Path:
    from tests.celery_app import QUEUE

    return Path(tempfile.gettempdir()) / f"{QUEUE}-mail"


def _messages_in(folder: Path) -> list[str]:
    """Recipients of the messages Django's file backend wrote (one "To:" header per message)."""
    recipients = []
    for path in folder.glob("*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("To: "):
                recipients.append(line[4:].strip())
    return recipients


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_task_enqueued_twice_on_a_real_worker_sends_one_email_per_step(settings):
    from celery import group

    from personalize.emails.tasks import send_due

    shoppers = _setup(settings)
    folder = _worker_mail_dir()
    shutil.rmtree(folder, ignore_errors=True)
    now = (NOON + timedelta(hours=1)).isoformat()
    results = group(send_due.s(now=now), send_due.s(now=now)).apply_async().get(timeout=120)
    assert sum(r["sent"] for r in results) == CARTS
    recipients = Counter(_messages_in(folder))
    assert sorted(recipients) == sorted(s.get_email() for s in shoppers)
    assert set(recipients.values()) == {1}
    # A third run (Celery redelivering the task after a broker hiccup) sends nothing more.
    again = send_due.delay(now=now).get(timeout=60)
    assert again["sent"] == 0
    assert len(_messages_in(folder)) == CARTS
    assert EmailSend.objects.filter(status="sent").count() == CARTS
    shutil.rmtree(folder, ignore_errors=True)
