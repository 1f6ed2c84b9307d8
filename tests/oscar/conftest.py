"""The Oscar suite: run with tests.oscar_project.settings in the venv that has django-oscar
(``make test-oscar``). Under the main suite's settings these tests are not collected."""

from __future__ import annotations

import os

import pytest
from django.test import Client

if "oscar_project" not in os.environ.get("DJANGO_SETTINGS_MODULE", ""):
    # The main suite (tests.settings) has no Oscar: leave this folder alone.
    collect_ignore_glob = ["test_*.py"]
else:
    from tests.oscar.shop import BROWSER_UA, Shop, build_shop

    @pytest.fixture
    def shop(db) -> Shop:
        """A small Oscar catalogue: a category tree, products with stock, prices and images,
        one out of stock, one parent with two variants; a customer; a shipping country."""
        return build_shop()

    def consenting(client: Client) -> Client:
        """A browser whose person accepted personalize's consent banner."""
        client.defaults["HTTP_USER_AGENT"] = BROWSER_UA
        response = client.post("/personalize/consent/", {"choice": "accept"})
        assert response.status_code == 302, response.content[:300]
        return client

    @pytest.fixture
    def shopper_client(client):
        return consenting(client)

    @pytest.fixture
    def other_device():
        """A second browser: its own cookies, session and Oscar basket."""
        return consenting(Client())
