"""``python manage.py load_demo_campaigns``: the segments, offers and campaigns the demo shows.

Idempotent: segments, offers and campaigns are looked up by slug/name and updated in place, so
running it again (``load_demo_data`` does) never duplicates anything.

* first visit: 10% off with a unique single-use code, applied at checkout by itself;
* returning shopper with an account: "Welcome back, <first name>";
* cart just under the free-shipping threshold: "add X more for free shipping";
* a product viewed three times: 15% off with a 30-minute countdown;
* leaving with a cart (exit intent): 5 off orders over 30.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from personalize.models import Campaign, CampaignContent, CampaignVariant, Offer
from personalize.models import Segment, SegmentRule


def free_shipping_over() -> Decimal:
    return Decimal(str(getattr(settings, "SHOP_FREE_SHIPPING_OVER", "50.00")))


SEGMENTS: list[dict[str, Any]] = [
    {"slug": "first-visit", "name": "First visit", "rules": [("visit_state", {"state": "first"})]},
    {
        "slug": "returning-customer",
        "name": "Returning shopper with an account",
        "rules": [("visit_state", {"state": "returning"}), ("logged_in", {"state": "logged_in"})],
    },
    {"slug": "has-cart", "name": "Has something in the cart", "rules": [("cart_value", {"op": "above", "amount": "0"})]},
]


def near_free_shipping_segment() -> dict[str, Any]:
    threshold = free_shipping_over()
    return {
        "slug": "near-free-shipping",
        "name": "Cart just under the free-shipping threshold",
        "rules": [
            ("cart_value", {"op": "above", "amount": str((threshold * Decimal("0.7")).quantize(Decimal("0.01")))}),
            ("cart_value", {"op": "below", "amount": str(threshold)}),
        ],
    }


OFFERS: dict[str, dict[str, Any]] = {
    "Welcome 10%": {
        "discount_type": "percent",
        "value": Decimal("10"),
        "code_mode": "unique",
        "code": "",
        "code_prefix": "WELCOME",
        "code_valid_days": 14,
        "first_order_only": True,
    },
    "Second look 15%": {
        "discount_type": "percent",
        "value": Decimal("15"),
        "code_mode": "unique",
        "code": "",
        "code_prefix": "LOOK",
        "code_valid_days": 1,
    },
    "Stay 5 off": {
        "discount_type": "amount",
        "value": Decimal("5"),
        "min_cart_value": Decimal("30"),
        "code_mode": "unique",
        "code": "",
        "code_prefix": "STAY",
        "code_valid_days": 7,
    },
}


def campaigns() -> list[dict[str, Any]]:
    return [
        {
            "name": "First visit: 10% off",
            "placement": "home_banner",
            "segments": ["first-visit"],
            "offer": "Welcome 10%",
            "priority": 20,
            "frequency_cap": 0,
            "control_percent": 20,
            "contents": {
                "A": {
                    "en": ("New here? 10% off your first order", "Your code {code} is applied at checkout by itself.", "Start shopping"),
                    "pt": ("Primeira visita? 10% na sua primeira encomenda", "O seu código {code} é aplicado automaticamente no checkout.", "Começar a comprar"),
                    "id": ("Baru di sini? Diskon 10% untuk pesanan pertama", "Kode Anda {code} otomatis dipakai saat checkout.", "Mulai belanja"),
                    "sr": ("Први пут овде? 10% попуста на прву поруџбину", "Ваш код {code} примењује се сам при плаћању.", "Почните куповину"),
                    "sr-latn": ("Prvi put ovde? 10% popusta na prvu porudžbinu", "Vaš kod {code} primenjuje se sam pri plaćanju.", "Počnite kupovinu"),
                    "pl": ("Jesteś tu pierwszy raz? 10% zniżki na pierwsze zamówienie", "Twój kod {code} zostanie naliczony automatycznie przy kasie.", "Zacznij zakupy"),
                    "tr": ("Yeni misiniz? İlk siparişinize %10 indirim", "{code} kodunuz ödemede otomatik uygulanır.", "Alışverişe başla"),
                    "nl": ("Nieuw hier? 10% korting op je eerste bestelling", "Je code {code} wordt bij het afrekenen vanzelf toegepast.", "Begin met winkelen"),
                },
                "B": {
                    "en": ("Welcome! Take 10% off today", "Use {code} or just check out: it applies itself.", "See bestsellers"),
                    "pt": ("Bem-vindo! 10% de desconto hoje", "Use {code} ou vá direto ao checkout: aplica-se sozinho.", "Ver os mais vendidos"),
                    "id": ("Selamat datang! Diskon 10% hari ini", "Pakai {code} atau langsung checkout: otomatis berlaku.", "Lihat terlaris"),
                    "sr": ("Добро дошли! 10% попуста данас", "Унесите {code} или само платите: примењује се сам.", "Најпродаваније"),
                    "sr-latn": ("Dobro došli! 10% popusta danas", "Unesite {code} ili samo platite: primenjuje se sam.", "Najprodavanije"),
                    "pl": ("Witaj! Dziś 10% zniżki", "Użyj {code} albo po prostu przejdź do kasy: naliczy się sam.", "Zobacz bestsellery"),
                    "tr": ("Hoş geldiniz! Bugün %10 indirim", "{code} kodunu kullanın ya da doğrudan ödeyin: kendiliğinden uygulanır.", "Çok satanlar"),
                    "nl": ("Welkom! Vandaag 10% korting", "Gebruik {code} of reken gewoon af: het gaat vanzelf.", "Bekijk bestsellers"),
                },
            },
            "link": "/#categories",
        },
        {
            "name": "Welcome back, by name",
            "placement": "home_banner",
            "segments": ["returning-customer"],
            "priority": 10,
            "contents": {
                "A": {
                    "en": ("{first_name}, here is what is new", "Good to see you again: these arrived since your last visit.", "What's new"),
                    "pt": ("{first_name}, veja as novidades", "Que bom vê-lo outra vez: chegaram desde a sua última visita.", "Novidades"),
                    "id": ("{first_name}, ini yang baru", "Senang melihat Anda lagi: ini datang sejak kunjungan terakhir Anda.", "Yang baru"),
                    "sr": ("{first_name}, ево шта је ново", "Драго нам је што сте опет ту: ово је стигло од ваше последње посете.", "Новитети"),
                    "sr-latn": ("{first_name}, evo šta je novo", "Drago nam je što ste opet tu: ovo je stiglo od vaše poslednje posete.", "Noviteti"),
                    "pl": ("{first_name}, zobacz nowości", "Miło Cię znów widzieć: to dotarło od Twojej ostatniej wizyty.", "Nowości"),
                    "tr": ("{first_name}, işte yenilikler", "Sizi yeniden görmek güzel: son ziyaretinizden beri gelenler.", "Yenilikler"),
                    "nl": ("{first_name}, dit is nieuw", "Fijn je weer te zien: dit kwam binnen sinds je laatste bezoek.", "Nieuw"),
                },
            },
            "link": "/search/?q=new",
        },
        {
            "name": "Free-shipping nudge",
            "placement": "cart",
            "segments": ["near-free-shipping"],
            "priority": 10,
            "contents": {
                "A": {
                    "en": ("Only {free_shipping_gap} away from free shipping", "Add a little more to your cart and we ship it for free.", "Find something small"),
                    "pt": ("Faltam só {free_shipping_gap} para portes grátis", "Junte mais qualquer coisa ao carrinho e enviamos grátis.", "Encontrar algo pequeno"),
                    "id": ("Tinggal {free_shipping_gap} lagi untuk gratis ongkir", "Tambah sedikit lagi ke keranjang dan kami kirim gratis.", "Cari barang kecil"),
                    "sr": ("Још само {free_shipping_gap} до бесплатне доставе", "Додајте још нешто у корпу и шаљемо бесплатно.", "Нађите нешто мало"),
                    "sr-latn": ("Još samo {free_shipping_gap} do besplatne dostave", "Dodajte još nešto u korpu i šaljemo besplatno.", "Nađite nešto malo"),
                    "pl": ("Tylko {free_shipping_gap} do darmowej dostawy", "Dodaj coś jeszcze do koszyka, a wyślemy za darmo.", "Znajdź coś małego"),
                    "tr": ("Ücretsiz kargoya yalnızca {free_shipping_gap} kaldı", "Sepetinize biraz daha ekleyin, ücretsiz gönderelim.", "Küçük bir şey bul"),
                    "nl": ("Nog maar {free_shipping_gap} tot gratis verzending", "Voeg nog iets toe en we versturen het gratis.", "Vind iets kleins"),
                },
            },
            "link": "/search/?q=accessories",
        },
        {
            "name": "Viewed three times: 15% for 30 minutes",
            "placement": "product_page",
            "segments": [],
            "min_product_views": 3,
            "offer": "Second look 15%",
            "personal_minutes": 30,
            "show_countdown": True,
            "priority": 10,
            "frequency_cap": 0,
            "control_percent": 10,
            "contents": {
                "A": {
                    "en": ("Still thinking about it? 15% off for the next 30 minutes", "Your code {code} applies at checkout until the timer runs out.", ""),
                    "pt": ("Ainda a pensar? 15% de desconto nos próximos 30 minutos", "O seu código {code} vale no checkout até o tempo acabar.", ""),
                    "id": ("Masih menimbang? Diskon 15% selama 30 menit", "Kode Anda {code} berlaku saat checkout sampai waktunya habis.", ""),
                    "sr": ("Још размишљате? 15% попуста наредних 30 минута", "Ваш код {code} важи при плаћању док време не истекне.", ""),
                    "sr-latn": ("Još razmišljate? 15% popusta narednih 30 minuta", "Vaš kod {code} važi pri plaćanju dok vreme ne istekne.", ""),
                    "pl": ("Wciąż się zastanawiasz? 15% zniżki przez 30 minut", "Twój kod {code} działa przy kasie, dopóki nie minie czas.", ""),
                    "tr": ("Hâlâ düşünüyor musunuz? 30 dakika boyunca %15 indirim", "{code} kodunuz süre dolana kadar ödemede geçerli.", ""),
                    "nl": ("Twijfel je nog? 15% korting, de komende 30 minuten", "Je code {code} geldt bij het afrekenen tot de tijd om is.", ""),
                },
            },
            "link": "",
        },
        {
            "name": "Exit intent: 5 off your cart",
            "placement": "exit_intent",
            "segments": ["has-cart"],
            "offer": "Stay 5 off",
            "priority": 10,
            "frequency_cap": 1,
            "frequency_hours": 24,
            "control_percent": 10,
            "contents": {
                "A": {
                    "en": ("Wait! €5 off if you order now", "Orders over €30 get €5 off with {code}. It is applied at checkout by itself.", "Go to checkout"),
                    "pt": ("Espere! 5 € de desconto se encomendar agora", "Encomendas acima de 30 € têm 5 € de desconto com {code}, aplicado automaticamente.", "Ir para o checkout"),
                    "id": ("Tunggu! Potongan €5 jika pesan sekarang", "Pesanan di atas €30 dapat potongan €5 dengan {code}, otomatis saat checkout.", "Ke checkout"),
                    "sr": ("Чекајте! 5 € попуста ако поручите сада", "Поруџбине преко 30 € добијају 5 € попуста уз {code}, аутоматски при плаћању.", "На плаћање"),
                    "sr-latn": ("Čekajte! 5 € popusta ako poručite sada", "Porudžbine preko 30 € dobijaju 5 € popusta uz {code}, automatski pri plaćanju.", "Na plaćanje"),
                    "pl": ("Zaczekaj! 5 € zniżki, jeśli zamówisz teraz", "Zamówienia powyżej 30 € mają 5 € zniżki z kodem {code}, naliczanym automatycznie.", "Przejdź do kasy"),
                    "tr": ("Bekleyin! Şimdi sipariş verirseniz 5 € indirim", "30 € üzeri siparişlerde {code} ile 5 € indirim, ödemede otomatik uygulanır.", "Ödemeye geç"),
                    "nl": ("Wacht! € 5 korting als je nu bestelt", "Bestellingen boven € 30 krijgen € 5 korting met {code}, vanzelf bij het afrekenen.", "Naar afrekenen"),
                },
            },
            "link": "/checkout/",
        },
    ]


class Command(BaseCommand):
    help = "Create or update the demo's segments, offers and campaigns (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        languages = {code for code, _name in settings.LANGUAGES}
        segments = {spec["slug"]: self.segment(spec) for spec in [*SEGMENTS, near_free_shipping_segment()]}
        offers = {name: self.offer(name, fields) for name, fields in OFFERS.items()}
        for spec in campaigns():
            self.campaign(spec, segments, offers, languages)
        self.stdout.write(self.style.SUCCESS(f"Demo campaigns ready: {len(campaigns())} campaigns, {len(segments)} segments."))

    def segment(self, spec: dict[str, Any]) -> Segment:
        segment, _created = Segment.objects.update_or_create(
            slug=spec["slug"], defaults={"name": spec["name"], "match": "all", "mode": "live", "is_active": True}
        )
        segment.rules.all().delete()
        for position, (kind, params) in enumerate(spec["rules"]):
            SegmentRule.objects.create(segment=segment, kind=kind, params=params, position=position)
        segment.save()  # bump the segments' cache after the rules changed
        return segment

    def offer(self, name: str, fields: dict[str, Any]) -> Offer:
        offer, _created = Offer.objects.update_or_create(name=name, defaults={"is_active": True, **fields})
        return offer

    def campaign(self, spec: dict[str, Any], segments: dict[str, Segment], offers: dict[str, Offer], languages: set[str]) -> Campaign:
        fields = {
            "placement": spec["placement"],
            "is_active": True,
            "priority": spec.get("priority", 0),
            "offer": offers.get(spec.get("offer", "")),
            "frequency_cap": spec.get("frequency_cap", 0),
            "frequency_hours": spec.get("frequency_hours", 24),
            "control_percent": spec.get("control_percent", 0),
            "personal_minutes": spec.get("personal_minutes", 0),
            "show_countdown": spec.get("show_countdown", False),
            "min_product_views": spec.get("min_product_views", 0),
            "default_language": "en",
        }
        campaign = Campaign.objects.filter(name=spec["name"]).first()
        if campaign is None:
            campaign = Campaign.objects.create(name=spec["name"], starts_at=timezone.now() - timedelta(days=1), **fields)
        else:
            for key, value in fields.items():
                setattr(campaign, key, value)
            campaign.save()
        campaign.segments.set([segments[slug] for slug in spec["segments"]])
        campaign.contents.all().delete()
        for variant, by_language in spec["contents"].items():
            CampaignVariant.objects.update_or_create(campaign=campaign, key=variant, defaults={"weight": 1})
            for language, (headline, text, cta) in by_language.items():
                if language != "en" and language not in languages:
                    continue
                CampaignContent.objects.create(
                    campaign=campaign,
                    variant=variant,
                    language=language,
                    headline=headline,
                    text=text,
                    cta_label=cta,
                    link=spec["link"],
                )
        return campaign
