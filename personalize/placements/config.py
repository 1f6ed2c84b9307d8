"""Placement configuration: built-in placements merged with ``PERSONALIZE["PLACEMENTS"]``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from personalize.conf import import_path
from personalize.conf import personalize_settings as ps
from personalize.experiments import assign
from personalize.models import Shopper

METHODS = ("recommend", "similar")

# The placements every store gets; PERSONALIZE["PLACEMENTS"] is merged over them key by key.
BUILTIN_PLACEMENTS: dict[str, dict[str, Any]] = {
    "for_you": {"recommender": "default", "method": "recommend"},
    # Similar items are naturally from one category: only the brand is capped.
    "similar": {"recommender": "default", "method": "similar", "diversity": {"category": None}},
    "bought_together": {
        "recommender": "bought_together",
        "method": "similar",
        "diversity": {"category": None},
        # Bought together with the product on the page: a matching accessory is still wanted
        # even if the shopper bought one of those before.
        "exclude_purchased": False,
        # Only real co-purchases: popular items here would claim a bond that does not exist.
        "backfill": False,
    },
    "trending": {"recommender": "popular", "method": "recommend", "backfill": False},
    "also_viewed": {"recommender": "also_viewed", "method": "similar", "diversity": {"category": None}},
}


class UnknownPlacement(ValueError):
    """No placement of that name is configured."""


@dataclass(frozen=True)
class Variant:
    name: str
    recommender: str
    weight: float
    method: str


@dataclass(frozen=True)
class Placement:
    name: str
    recommender: str
    method: str = "recommend"
    exclude_purchased: bool = True
    exclude_cart: bool = True
    backfill: bool = True
    diversity: dict[str, int | None] = field(default_factory=dict)
    # facets whose cap the store set (PERSONALIZE["DIVERSITY"] or the placement's own): never
    # relaxed by a model version's DIVERSITY_OFF
    fixed_diversity: frozenset[str] = frozenset()
    rules: str | None = None
    variants: tuple[Variant, ...] = ()
    salt: str = ""

    @property
    def needs_product(self) -> bool:
        return self.method == "similar"

    def choose_variant(self, shopper: Shopper | None) -> Variant | None:
        """The shopper's variant of an A/B test: sticky, by the shopper's key."""
        if not self.variants:
            return None
        if shopper is None:
            return self.variants[0]
        arms = [(str(i), v.weight) for i, v in enumerate(self.variants)]
        return self.variants[int(assign(shopper.key, f"personalize.placement.{self.name}.{self.salt}", arms))]

    def rules_hook(self) -> Any:
        return import_path(self.rules, "PLACEMENTS") if self.rules else None


def placement_configs() -> dict[str, dict[str, Any]]:
    """Every placement's raw config: the built-ins with the store's settings merged in."""
    configs = {name: dict(conf) for name, conf in BUILTIN_PLACEMENTS.items()}
    for name, conf in (ps.PLACEMENTS or {}).items():
        if conf is None:  # a store may switch a built-in placement off
            configs.pop(name, None)
            continue
        configs[name] = {**configs.get(name, {}), **conf}
    return configs


def placement_names() -> list[str]:
    return list(placement_configs())


def placement_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in placement_names()]


def get_placement(name: str) -> Placement:
    """The placement called ``name``; :class:`UnknownPlacement` if there is none."""
    configs = placement_configs()
    if name not in configs:
        raise UnknownPlacement(
            _("Unknown placement “%(name)s”; choose one of: %(names)s.")
            % {"name": str(name)[:40], "names": ", ".join(configs)}
        )
    return build_placement(name, configs[name])


def placement_problems(name: str, conf: Any) -> list[str]:
    """What is wrong with one placement config: the one validator, read by the E017 check and by
    :func:`build_placement` (which refuses a broken config)."""
    if not isinstance(conf, dict):
        return ["must be a dict (or None to switch a built-in placement off)"]
    problems = []
    if conf.get("method", "recommend") not in METHODS:
        problems.append(f'"method" must be one of {", ".join(METHODS)}')
    diversity = conf.get("diversity")
    if diversity is not None and not (
        isinstance(diversity, dict) and all(v is None or (isinstance(v, int) and v > 0) for v in diversity.values())
    ):
        problems.append('"diversity" must map facets to positive whole numbers or None')
    variants = conf.get("variants") or []
    if not isinstance(variants, (list, tuple)):
        problems.append('"variants" must be a list')
        variants = []
    names = []
    for variant in variants:
        if not isinstance(variant, dict) or not variant.get("name"):
            problems.append('every variant needs a "name"')
            continue
        names.append(variant["name"])
        weight = variant.get("weight", 1)
        if not isinstance(weight, (int, float)) or weight < 0:
            problems.append(f'variant {variant["name"]!r}: "weight" must be a number >= 0')
    if len(names) != len(set(names)):
        problems.append("variant names must be unique")
    return problems


def build_placement(name: str, conf: dict[str, Any]) -> Placement:
    problems = placement_problems(name, conf)
    if problems:
        raise ValueError(f'PERSONALIZE["PLACEMENTS"][{name!r}]: ' + "; ".join(problems))
    method = conf.get("method", "recommend")
    diversity = {**(ps.DIVERSITY or {}), **(conf.get("diversity") or {})}
    variants = tuple(
        Variant(
            name=str(v["name"]),
            recommender=v.get("recommender", conf.get("recommender", "default")),
            weight=float(v.get("weight", 1)),
            method=v.get("method", method),
        )
        for v in conf.get("variants") or ()
    )
    return Placement(
        name=name,
        recommender=conf.get("recommender", "default"),
        method=method,
        exclude_purchased=bool(conf.get("exclude_purchased", True)),
        exclude_cart=bool(conf.get("exclude_cart", True)),
        backfill=bool(conf.get("backfill", True)),
        diversity={k: v for k, v in diversity.items() if v},
        fixed_diversity=frozenset(conf.get("diversity") or ()) | frozenset(ps.user_settings.get("DIVERSITY") or ()),
        rules=conf.get("rules"),
        variants=variants,
        salt=str(conf.get("salt", "")),
    )


def served_diversity(config: Placement, recommender: Any) -> dict[str, int]:
    """The placement's caps, less those the serving model version's validation split found
    harmful (its ``DIVERSITY_OFF`` option) unless the store set them itself."""
    option = getattr(recommender, "option", None)  # a store's own backend may not subclass BaseRecommender
    relaxed = set((option("DIVERSITY_OFF") if option else None) or ()) - config.fixed_diversity
    return {facet: cap for facet, cap in config.diversity.items() if facet not in relaxed}
