import pytest


@pytest.fixture
def client_ua(client):
    """The test client with a browser User-Agent (bots never get a shopper)."""
    from tests.factories import BROWSER_UA

    client.defaults["HTTP_USER_AGENT"] = BROWSER_UA
    return client
