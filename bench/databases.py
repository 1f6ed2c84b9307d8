"""Throwaway PostgreSQL databases for the benchmarks (names must start with ``bench``)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def _bench_database(url: str) -> tuple[str, str]:
    """The database name in ``url`` and the maintenance database's URL; refuses a name not
    starting with bench (these helpers drop it)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.startswith("bench"):
        raise SystemExit(f"refusing to drop {name!r}: the bench database name must start with 'bench'")
    return name, urlunsplit(parts._replace(path="/postgres"))


def recreate_database(url: str) -> None:
    """Drop and create the database named in ``url``."""
    import psycopg

    name, admin_url = _bench_database(url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    """Drop the database named in ``url``."""
    import psycopg

    name, admin_url = _bench_database(url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_test_catalogue(products: int) -> list[str]:
    """``products`` products of the test shop in 10 categories (after ``django.setup()`` and
    ``setup_databases``); their keys."""
    from tests.testshop.models import Category, Product

    categories = [Category.objects.create(name=f"C{i}") for i in range(10)]
    Product.objects.bulk_create(
        Product(name=f"P{i}", category=categories[i % 10], price=10 + i % 90) for i in range(products)
    )
    return [str(pk) for pk in Product.objects.values_list("pk", flat=True)]
