"""Generates the demo shop's catalogue and a realistic history of synthetic shoppers.

Shoppers have consistent tastes (one or two favourite categories and a price preference), so
recommendations, segments and campaigns have something real-looking to learn from: sessions of
views mostly in the favourite categories, searches with realistic queries, add-to-carts, purchases
of items that go together (camera + memory card, espresso machine + beans), abandoned carts, and
timestamps spread over the last ~90 days. Everything is written in bulk and is deterministic for
a given seed.
"""

from __future__ import annotations

import math
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from demo_shop.catalog import catalogue_spec as spec
from demo_shop.catalog.models import Brand, Category, Product
from demo_shop.catalog.demo_personalisation import PersonalisationSim
from demo_shop.catalog.placeholders import product_tile
from demo_shop.orders.models import Order, OrderLine
from personalize.models import Cart, Event, Shopper
from personalize.events import build_event, clean_lines, set_cart_lines

DEMO_PASSWORD = "demo"
EVENT_BATCH = 5000
SHOPPER_CHUNK = 500
# Where visits come from: (landing context, weight).
LANDING_SOURCES = [
    ({}, 45),
    ({"referrer": "www.google.com"}, 25),
    ({"referrer": "duckduckgo.com"}, 4),
    ({"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "weekly"}, 10),
    ({"referrer": "l.instagram.com", "utm_source": "instagram", "utm_medium": "social", "utm_campaign": "autumn"}, 10),
    ({"referrer": "www.facebook.com", "utm_source": "facebook", "utm_medium": "cpc", "utm_campaign": "retargeting"}, 6),
]
# Shoppers browse most in the evening, a little at lunchtime.
HOUR_WEIGHTS = [1 + 4 * math.exp(-((h - 20) ** 2) / 8) + 2 * math.exp(-((h - 12.5) ** 2) / 3) for h in range(24)]


@dataclass
class Item:
    """A product plus what the simulation knows about it."""

    product: Product
    type: spec.TypeSpec
    tier: float  # 0 = cheapest of its type, 1 = dearest
    popularity: float
    partners: list["Item"] = field(default_factory=list)
    words: str = ""


@dataclass
class Stats:
    products: int = 0
    shoppers: int = 0
    users: int = 0
    events: int = 0
    orders: int = 0
    abandoned_carts: int = 0
    images: int = 0


# --- catalogue ------------------------------------------------------------------------------
def _price(rng: random.Random, low: int, high: int) -> tuple[Decimal, float]:
    tier = rng.random() ** 1.3  # more cheap items than dear ones, as in real shops
    raw = low + (high - low) * tier
    value = Decimal(math.floor(raw)) + (Decimal("0.99") if raw < 100 else Decimal("0.00"))
    return value, tier


def _name(rng: random.Random, type_: spec.TypeSpec, brands: tuple[str, ...], used: set[str]) -> tuple[str, str]:
    """A (brand, title) pair not used yet; later editions when the name lists run out."""
    for _attempt in range(30):
        brand = rng.choice(brands)
        if type_.titles:
            title = rng.choice(type_.titles)
        else:
            model = rng.choice(type_.models).format(n=rng.randint(2, 9), s=rng.choice(spec.SERIES))
            title = f"{brand} {model} {type_.label}"
        if title not in used:
            return brand, title
    for edition in ("II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"):
        if f"{title} {edition}" not in used:
            return brand, f"{title} {edition}"
    return brand, f"{title} {len(used)}"


def apportion(weights: list[int], total: int) -> list[int]:
    """Split ``total`` in proportion to ``weights`` exactly (largest remainders)."""
    scale = total / sum(weights)
    quotas = [w * scale for w in weights]
    counts = [math.floor(q) for q in quotas]
    by_remainder = sorted(range(len(weights)), key=lambda i: (quotas[i] - counts[i], weights[i]), reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def build_catalogue(rng: random.Random, n_products: int, *, images: bool = True, stats: Stats) -> list[Item]:
    counts = apportion([t.count for t in spec.TYPES], n_products)
    categories = {}
    brands: dict[str, Brand] = {}
    for position, c in enumerate(spec.CATEGORIES):
        categories[c.slug] = Category.objects.create(
            slug=c.slug, name=c.name, colour=c.colour, description=c.description, position=position
        )
        for name in c.brands:
            brands[name] = Brand.objects.create(slug=slugify(name), name=name)
    cat_specs = {c.slug: c for c in spec.CATEGORIES}
    items: list[Item] = []
    used_titles: set[str] = set()
    used_slugs: set[str] = set()
    for type_, count in zip(spec.TYPES, counts):
        cat = cat_specs[type_.category]
        for _ in range(count):
            brand_name, title = _name(rng, type_, cat.brands, used_titles)
            used_titles.add(title)
            slug = slugify(title)[:190]
            while slug in used_slugs:
                slug = f"{slug[:180]}-{len(used_slugs)}"
            used_slugs.add(slug)
            price, tier = _price(rng, *type_.price)
            model = title.removeprefix(brand_name).removesuffix(type_.label).strip()
            description = type_.blurb.format(adj=rng.choice(spec.ADJECTIVES), model=model, mp=rng.choice((24, 26, 33, 45, 61))).strip()
            description = re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", description[0].upper() + description[1:])
            tags = list(type_.tags[:2]) + rng.sample(type_.tags[2:], k=min(len(type_.tags) - 2, rng.randint(0, 2)))
            # A few items are sold out: the widgets must never show them.
            stock = 0 if rng.random() < 0.07 else rng.choice((2, 3, 4, 8, 12, 20, 35, 60))
            product = Product(
                slug=slug,
                title=title,
                description=description,
                category=categories[type_.category],
                brand=brands[brand_name],
                price=price,
                stock=stock,
                is_active=True,
                tags=", ".join(tags),
                margin=Decimal(str(round(rng.uniform(0.12, 0.55), 2))),
            )
            popularity = 1.0 / (1 + rng.random() * 9) ** 1.1  # a long tail of rarely viewed items
            items.append(Item(product, type_, tier, popularity, words=f"{title} {' '.join(tags)} {cat.name}".lower()))
    Product.objects.bulk_create([item.product for item in items])
    stats.products = len(items)
    if images:
        stats.images = _write_images(items)
    _assign_partners(rng, items)
    return items


def _write_images(items: list[Item]) -> int:
    written = []
    for index, item in enumerate(items):
        p = item.product
        name = f"products/{p.slug}.png"
        if default_storage.exists(name):  # a previous load's image: redraw, the brand may differ
            default_storage.delete(name)
        tile = product_tile(p.title, p.brand.name, p.category.colour, mark=_mark(item), variant=index)
        p.image.name = default_storage.save(name, ContentFile(tile))
        written.append(p)
    Product.objects.bulk_update(written, ["image"], batch_size=500)
    return len(written)


def _mark(item: Item) -> str:
    """What the placeholder's disc shows: the product type ("MC" for a mirrorless camera),
    or the title's initials for books and games, whose titles are their names."""
    from demo_shop.catalog.placeholders import initials

    return initials(item.product.title if item.type.titles else item.type.label)


def _assign_partners(rng: random.Random, items: list[Item]) -> None:
    """Each product gets fixed partners among its complementary types (strong "bought together" pairs)."""
    by_type: dict[str, list[Item]] = {}
    for item in items:
        by_type.setdefault(item.type.key, []).append(item)
    for item in items:
        for comp in item.type.complements:
            candidates = [c for c in by_type.get(comp, []) if c.product.stock > 0]
            if not candidates:
                continue
            # Partners sit in a similar price tier: a premium camera goes with a fast card.
            candidates.sort(key=lambda c: abs(c.tier - item.tier) + rng.random() * 0.3)
            item.partners.append(candidates[0])


# --- shoppers -------------------------------------------------------------------------------
def _weighted(rng: random.Random, pairs) -> object:
    values, weights = zip(*[(v, w) for v, w in pairs])
    return rng.choices(values, weights=weights, k=1)[0]


@dataclass
class Persona:
    favourites: tuple[str, ...]
    price: float
    sessions: int
    window: tuple[datetime, datetime]
    language: str
    country: str
    device: str
    user: object = None
    keep_cart_hours: float | None = None


class HistoryWriter:
    """Collects events in memory; ``flush`` writes them (once their shoppers are saved)."""

    def __init__(self, stats: Stats) -> None:
        self.events: list[Event] = []
        self.stats = stats

    def add(self, event: Event) -> None:
        self.events.append(event)

    def flush(self) -> None:
        if self.events:
            Event.objects.bulk_create(self.events, batch_size=EVENT_BATCH)
            self.stats.events += len(self.events)
            self.events = []


class Simulator:
    def __init__(self, rng: random.Random, items: list[Item], now: datetime, stats: Stats) -> None:
        self.rng = rng
        self.items = items
        self.now = now
        self.stats = stats
        self.by_category: dict[str, list[Item]] = {}
        for item in items:
            self.by_category.setdefault(item.type.category, []).append(item)
        # Only categories that have products (a tiny --products may leave some empty).
        self.categories = {c.slug: c for c in spec.CATEGORIES if c.slug in self.by_category}
        self.orders: list[tuple[Order, list[tuple[Item, int]]]] = []
        self.order_seq = 0
        self.guest_seq = 0
        self.abandoned: list[tuple[Shopper, list[tuple[Item, int]], datetime]] = []
        self.writer = HistoryWriter(stats)
        # What personalisation showed and changed (holdout, lists, the first-visit campaign).
        self.personal = PersonalisationSim(rng, now, items)
        self._search_cache: dict[str, list[Item]] = {}

    # choosing products --------------------------------------------------------------------
    def affinity(self, item: Item, persona: Persona) -> float:
        fit = math.exp(-((item.tier - persona.price) ** 2) / (2 * 0.22**2))
        return item.popularity * (0.15 + fit) * (1.0 if item.product.stock > 0 else 0.4)

    def pick(self, pool: list[Item], persona: Persona) -> Item:
        return self.rng.choices(pool, weights=[self.affinity(i, persona) for i in pool], k=1)[0]

    def search_results(self, query: str) -> list[Item]:
        if query not in self._search_cache:
            words = query.lower().split()
            self._search_cache[query] = [i for i in self.items if all(w in i.words for w in words)]
        return self._search_cache[query]

    def session_times(self, persona: Persona) -> list[datetime]:
        start, end = persona.window
        span = (end - start).total_seconds()
        times = []
        for _ in range(persona.sessions):
            day = start + timedelta(seconds=self.rng.random() * span)
            hour = self.rng.choices(range(24), weights=HOUR_WEIGHTS, k=1)[0]
            moment = day.replace(hour=hour, minute=self.rng.randrange(60), second=self.rng.randrange(60))
            times.append(min(moment, end))
        return sorted(times)

    # one shopper ------------------------------------------------------------------------
    def landing_context(self) -> dict[str, str]:
        """Where a visit came from, as the landing request's referrer and UTM parameters show it."""
        return dict(self.rng.choices(LANDING_SOURCES, weights=[w for _c, w in LANDING_SOURCES], k=1)[0][0])

    def simulate(self, shopper: Shopper, persona: Persona) -> tuple[datetime, datetime]:
        rng = self.rng
        landing: dict[str, str] = {}

        def add(event: Event) -> None:
            # The visit's first event carries its source (segments on referrer and UTM read it).
            if landing:
                event.context = {**landing, **event.context}
                landing.clear()
            self.writer.add(event)

        cart: dict[int, tuple[Item, int]] = {}
        times = self.session_times(persona)
        last = times[0] - timedelta(hours=1)
        for index, start in enumerate(times):
            landing.clear()
            landing.update(self.landing_context())
            t = max(start, last + timedelta(minutes=40))
            if persona.keep_cart_hours is not None and index == len(times) - 1:
                t = self.now - timedelta(hours=persona.keep_cart_hours, minutes=20)
            effect, t = self.personal.session(shopper, self.by_category[persona.favourites[0]], t, index == 0, add)
            step = lambda lo=15, hi=150: t + timedelta(seconds=rng.randint(lo, hi))  # noqa: E731
            fav = rng.random() < 0.85
            category = rng.choice(persona.favourites) if fav else rng.choice(list(self.categories))
            pool = self.by_category[category]
            if rng.random() < 0.28:
                if rng.random() < 0.06:
                    query = rng.choice(spec.NO_RESULT_QUERIES)
                else:
                    query = rng.choice(self.categories[category].queries)
                results = self.search_results(query)
                add(build_event(shopper, "search", query=query, context={"results": len(results)}, created_at=t))
                pool = results or []
                t = step()
            elif rng.random() < 0.5:
                add(build_event(shopper, "category_view", context={"category": str(self.by_category[category][0].product.category_id)}, created_at=t))
                t = step()
            viewed: list[Item] = [effect.clicked] if effect.clicked is not None else []
            for _ in range(rng.randint(1, 7) if pool else 0):
                item = self.pick(pool, persona)
                add(build_event(shopper, "view", product=item.product, created_at=t))
                viewed.append(item)
                t = step(30, 240)
                if item.partners and rng.random() < 0.3:
                    partner = rng.choice(item.partners)
                    add(build_event(shopper, "view", product=partner.product, created_at=t))
                    viewed.append(partner)
                    t = step(30, 200)
            in_stock = [i for i in viewed if i.product.stock > 0]
            if in_stock and rng.random() < min(0.95, 0.42 * effect.cart_boost):
                choice = max(in_stock, key=lambda i: self.affinity(i, persona) * rng.random())
                picks = [choice]
                # Things that go together are bought together (what "bought together" learns).
                if choice.partners and rng.random() < 0.6:
                    picks.append(choice.partners[0] if rng.random() < 0.75 else rng.choice(choice.partners))
                for item in picks:
                    if item.product.stock <= 0:
                        continue
                    quantity = 2 if item.product.price < 20 and rng.random() < 0.25 else 1
                    add(build_event(shopper, "add_to_cart", product=item.product, quantity=quantity, created_at=t))
                    old = cart.get(item.product.pk, (item, 0))[1]
                    cart[item.product.pk] = (item, old + quantity)
                    t = step(20, 90)
            keep = persona.keep_cart_hours is not None and index == len(times) - 1
            buyable = [i for i in self.by_category[persona.favourites[0]] if i.product.stock > 0]
            if keep and not cart and buyable:
                item = self.pick(buyable, persona)
                add(build_event(shopper, "view", product=item.product, created_at=t))
                t = step(30, 120)
                add(build_event(shopper, "add_to_cart", product=item.product, created_at=t))
                cart[item.product.pk] = (item, 1)
                t = step(20, 60)
            if len(cart) >= 2 and not keep and rng.random() < 0.1:
                pk = rng.choice(list(cart))
                item, quantity = cart.pop(pk)
                add(build_event(shopper, "remove_from_cart", product=item.product, quantity=quantity, created_at=t))
                t = step(10, 60)
            final = index == len(times) - 1
            if cart and not keep and rng.random() < min(0.95, (0.55 if not final else 0.45) * effect.buy_boost):
                t = step(60, 400)
                self.purchase(shopper, persona, list(cart.values()), t)
                cart = {}
            last = t
        if cart:
            self.abandoned.append((shopper, list(cart.values()), last))
        return times[0], last

    def purchase(self, shopper: Shopper, persona: Persona, lines: list[tuple[Item, int]], t: datetime) -> None:
        self.order_seq += 1
        number = f"H{self.order_seq:06d}"
        subtotal = sum((i.product.price * q for i, q in lines), Decimal("0"))
        shipping = Decimal("0.00") if subtotal >= 50 else Decimal("4.95")
        discount, label, code = self.personal.discount(shopper, number, subtotal, t)
        total = subtotal - discount + shipping
        email = getattr(persona.user, "email", "") or self.guest_email(shopper)
        order = Order(
            number=number, user=persona.user, email=email, name="", subtotal=subtotal, shipping=shipping, total=total,
            discount=discount, discount_label=label, discount_code=code,
            language=persona.language, created_at=t, status=Order.Status.SHIPPED if t < self.now - timedelta(days=3) else Order.Status.PAID,
        )
        self.orders.append((order, lines))
        event_lines = [{"product": i.product, "quantity": q, "price": i.product.price} for i, q in lines]
        self.writer.add(build_event(shopper, "purchase", lines=event_lines, value=total, order_ref=number, created_at=t))

    def guest_email(self, shopper: Shopper) -> str:
        if not shopper.email:
            self.guest_seq += 1
            shopper.email = f"guest{self.guest_seq}@shoppers.example"
            shopper.email_consent = self.rng.random() < 0.6
        return shopper.email


def _persona(rng: random.Random, now: datetime, available: set[str], *, user=None, favourites=None, price=None,
             language=None, country=None) -> Persona:
    cats = [c.slug for c in spec.CATEGORIES if c.slug in available]
    weights = [c.appeal for c in spec.CATEGORIES if c.slug in available]
    favourites = tuple(f for f in favourites or () if f in available) or None
    if favourites is None:
        first = rng.choices(cats, weights=weights, k=1)[0]
        favourites = (first,)
        if rng.random() < 0.55 and len(cats) > 1:
            rest = [c for c in cats if c != first]
            favourites += (rng.choices(rest, weights=[w for c, w in zip(cats, weights) if c != first], k=1)[0],)
    if price is None:
        price = rng.betavariate(2, 2.2)
    if country is None:
        country, language, _w = _weighted(rng, [((c, l, w), w) for c, l, w in spec.COUNTRIES])
    sessions = min(14, 1 + int(rng.expovariate(1 / 2.2)))
    lapsed = rng.random() < 0.05
    if lapsed:  # customers who have not been back for a while (win-back emails need them)
        window = (now - timedelta(days=150), now - timedelta(days=95))
    else:
        first = now - timedelta(days=rng.uniform(1, 90))
        window = (first, now - timedelta(hours=3))
    device = _weighted(rng, spec.DEVICES)
    return Persona(tuple(favourites), price, sessions, window, language or "en", country, device, user=user)


def generate(*, n_products: int = 300, n_shoppers: int = 3000, seed: int = 7, images: bool = True,
             progress: Callable[[str], None] | None = None) -> Stats:
    """Create the catalogue, shoppers, users, events, orders and carts (in one transaction)."""
    rng = random.Random(seed)
    say = progress or (lambda message: None)
    stats = Stats()
    now = timezone.now()
    with transaction.atomic():
        items = build_catalogue(rng, n_products, images=images, stats=stats)
        say(f"{stats.products} products in {len(spec.CATEGORIES)} categories")
        users = _create_users(rng, n_shoppers, now)
        stats.users = len(users)
        personas: list[Persona] = []
        available = {item.type.category for item in items}
        demo = {u["username"]: u for u in spec.DEMO_USERS}
        for index in range(n_shoppers):
            user = users[index] if index < len(users) else None
            if user is not None and user.username in demo:
                d = demo[user.username]
                persona = _persona(rng, now, available, user=user, favourites=d["favourites"], price=d["price"],
                                   language=d["language"], country=d["country"])
                persona.sessions = 6
                persona.window = (now - timedelta(days=60), now - timedelta(hours=3))
                if user.username == "bob":  # an abandoned cart ready for the lifecycle emails demo
                    persona.keep_cart_hours = 2
            else:
                persona = _persona(rng, now, available, user=user)
            personas.append(persona)
        sim = Simulator(rng, items, now, stats)
        for start in range(0, len(personas), SHOPPER_CHUNK):
            # Simulate a chunk on unsaved shoppers (so their dates are known), then write it:
            # one INSERT per table per chunk, and memory bounded by the chunk size.
            chunk = personas[start : start + SHOPPER_CHUNK]
            shoppers = [
                Shopper(
                    key=uuid.UUID(int=rng.getrandbits(128), version=4),
                    user=p.user,
                    language=p.language,
                    country=p.country,
                    device=p.device,
                    visits=p.sessions,
                    # The named demo accounts ticked "send me offers" at sign-up (lifecycle demo:
                    # account holders need that opt-in, docs/privacy.md).
                    email_consent=p.user is not None and p.user.username in demo,
                )
                for p in chunk
            ]
            for shopper, persona in zip(shoppers, chunk):
                shopper.first_seen, shopper.last_seen = sim.simulate(shopper, persona)
            Shopper.objects.bulk_create(shoppers)
            if any(s.pk is None for s in shoppers):  # backends that do not return ids
                by_key = dict(Shopper.objects.filter(key__in=[s.key for s in shoppers]).values_list("key", "pk"))
                for s in shoppers:
                    s.pk = by_key[s.key]
            sim.writer.flush()
            sim.personal.flush()
            stats.shoppers += len(shoppers)
        say(f"{stats.shoppers} shoppers, {stats.events} events")
        _write_orders(sim, stats)
        _write_carts(sim, stats)
        say(f"{stats.orders} orders, {stats.abandoned_carts} open carts")
    return stats


def _create_users(rng: random.Random, n_shoppers: int, now: datetime) -> list:
    """The demo accounts, then about one shopper in five with an account (password "demo")."""
    User = get_user_model()
    password = make_password(DEMO_PASSWORD)  # hashed once: thousands of hashes would take minutes
    users = []
    for d in spec.DEMO_USERS:
        users.append(User(username=d["username"], first_name=d["first_name"], email=d["email"], password=password,
                          date_joined=now - timedelta(days=60)))
    for n in range(max(0, n_shoppers // 5 - len(users))):
        first = rng.choice(spec.FIRST_NAMES)
        users.append(User(username=f"{slugify(first)}{n + 1}", first_name=first, email=f"{slugify(first)}.{n + 1}@shoppers.example",
                          password=password, date_joined=now - timedelta(days=rng.uniform(1, 150))))
    users = users[:n_shoppers]
    User.objects.bulk_create(users, batch_size=1000)
    if any(u.pk is None for u in users):
        by_name = dict(User.objects.filter(username__in=[u.username for u in users]).values_list("username", "pk"))
        for u in users:
            u.pk = by_name[u.username]
    return users


def _write_orders(sim: Simulator, stats: Stats) -> None:
    orders = [order for order, _lines in sim.orders]
    Order.objects.bulk_create(orders, batch_size=1000)
    if any(o.pk is None for o in orders):
        by_number = dict(Order.objects.filter(number__in=[o.number for o in orders]).values_list("number", "pk"))
        for o in orders:
            o.pk = by_number[o.number]
    lines = [
        OrderLine(order=order, product=item.product, title=item.product.title, unit_price=item.product.price, quantity=quantity)
        for order, order_lines in sim.orders
        for item, quantity in order_lines
    ]
    OrderLine.objects.bulk_create(lines, batch_size=2000)
    stats.orders = len(orders)


def _write_carts(sim: Simulator, stats: Stats) -> None:
    """Cart snapshots for carts left behind, dated when the shopper left."""
    for shopper, lines, left_at in sim.abandoned:
        cleaned = clean_lines([{"product": i.product, "quantity": q, "price": i.product.price} for i, q in lines])
        cart = set_cart_lines(shopper, cleaned)
        Cart.objects.filter(pk=cart.pk).update(updated_at=left_at, language=shopper.language)
    stats.abandoned_carts = len(sim.abandoned)
