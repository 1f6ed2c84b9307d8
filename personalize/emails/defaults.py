"""The default flows, created once after ``migrate`` (idempotent; edit them in the admin).

Abandoned cart: 1 hour, 24 hours and 72 hours after the cart's last change, 10% off on the last
step when the campaigns' offers are installed. Win-back: one email with an offer and
recommended products ``WINBACK_DAYS`` after a customer's last purchase. Browse abandonment
(inactive until a store turns it on): 2 hours after a product was viewed three times.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_noop

from personalize.models import Flow, Offer, Step

logger = logging.getLogger("personalize")

ABANDONED_SLUG = "abandoned-cart"
WINBACK_SLUG = "win-back"
BROWSE_SLUG = "browse-abandonment"

# (position, delay, subject, {language: subject}, offer?). Subjects without a "%" are translated in the
# message catalogues; these carry theirs (a "%" trips msgfmt's python-format check).
ABANDONED_STEPS = [
    (1, timedelta(hours=1), gettext_noop("You left something in your cart"), {"fr": "Vous avez oublié quelque chose dans votre panier", "de": "Sie haben etwas in Ihrem Warenkorb vergessen", "es": "Has dejado algo en tu carrito"}, False),
    (2, timedelta(hours=24), gettext_noop("Your cart is still waiting for you"), {"fr": "Votre panier vous attend toujours", "de": "Ihr Warenkorb wartet noch auf Sie", "es": "Tu carrito todavía te espera"}, False),
    # xgettext:no-python-format
    (3, timedelta(hours=72), gettext_noop("10% off the cart you left behind"), {"fr": "10 % de réduction sur votre panier", "de": "10 % Rabatt auf Ihren Warenkorb", "es": "10 % de descuento en tu carrito", "id": "Diskon 10% untuk keranjang yang Anda tinggalkan", "nl": "10% korting op de winkelwagen die je achterliet", "pl": "10% zniżki na porzucony koszyk", "pt": "10% de desconto no carrinho que deixou", "sr": "10% попуста на корпу коју сте оставили", "tr": "Bıraktığınız sepette %10 indirim"}, True),
]


def for_store(translations: dict[str, str]) -> dict[str, str]:
    """The shipped subjects in the languages the store offers (``pt`` also serves ``pt-br``);
    the admin shows a box per store language, never French to a store without French."""
    offered = {str(code).lower() for code, _name in settings.LANGUAGES}
    offered |= {code.split("-")[0] for code in offered if len(code.partition("-")[2]) != 4}
    return {code: text for code, text in translations.items() if code in offered}


def _offer(name: str, value: Decimal, prefix: str) -> Any:
    """The default offer of a flow step (created once)."""
    offer = Offer.objects.filter(name=name).first()
    if offer is None:
        offer = Offer.objects.create(
            name=name,
            discount_type=Offer.DiscountType.PERCENT,
            value=value,
            code_mode=Offer.CodeMode.UNIQUE,
            code_prefix=prefix,
            code_valid_days=14,
        )
    return offer


def ensure_default_flows(**kwargs: Any) -> None:
    """Create the default flows that do not exist yet (post_migrate receiver); never overwrites."""
    if not Flow.objects.filter(slug=ABANDONED_SLUG).exists():
        flow = Flow.objects.create(name="Abandoned cart", slug=ABANDONED_SLUG, kind=Flow.Kind.ABANDONED_CART)
        for position, delay, subject, translations, with_offer in ABANDONED_STEPS:
            Step.objects.create(
                flow=flow,
                position=position,
                delay=delay,
                subject=subject,
                subject_translations=for_store(translations),
                template="abandoned_cart",
                offer=_offer("Abandoned cart: 10% off", Decimal("10"), "BACK") if with_offer else None,
            )
    if not Flow.objects.filter(slug=WINBACK_SLUG).exists():
        flow = Flow.objects.create(name="Win-back", slug=WINBACK_SLUG, kind=Flow.Kind.WIN_BACK)
        Step.objects.create(
            flow=flow,
            position=1,
            delay=timedelta(0),
            # xgettext:no-python-format
            subject=gettext_noop("We miss you: 15% off your next order"),
            subject_translations=for_store({"fr": "Vous nous manquez : 15 % sur votre prochaine commande", "de": "Wir vermissen Sie: 15 % auf Ihre nächste Bestellung", "es": "Te echamos de menos: 15 % en tu próximo pedido", "id": "Kami merindukan Anda: diskon 15% untuk pesanan berikutnya", "nl": "We missen je: 15% korting op je volgende bestelling", "pl": "Tęsknimy: 15% zniżki na następne zamówienie", "pt": "Temos saudades: 15% de desconto na próxima encomenda", "sr": "Недостајете нам: 15% попуста на следећу поруџбину", "tr": "Sizi özledik: bir sonraki siparişinizde %15 indirim"}),
            template="win_back",
            offer=_offer("Win-back: 15% off", Decimal("15"), "MISSYOU"),
        )
    if not Flow.objects.filter(slug=BROWSE_SLUG).exists():
        # Off by default: a store opts in to emails about products merely looked at.
        flow = Flow.objects.create(name="Browse abandonment", slug=BROWSE_SLUG, kind=Flow.Kind.BROWSE_ABANDONMENT, active=False)
        Step.objects.create(
            flow=flow,
            position=1,
            delay=timedelta(hours=2),
            subject=gettext_noop("Still thinking about it?"),
            subject_translations=for_store({"fr": "Vous y pensez encore ?", "de": "Denken Sie noch darüber nach?", "es": "¿Todavía lo estás pensando?"}),
            template="browse_abandonment",
        )
