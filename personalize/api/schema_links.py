"""The OpenAPI description of personalize's plain Django views: signed campaign and email links,
the consent form and the fragments endpoint (the DRF views describe themselves, api/schema.py).
"""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse

from personalize.widgets.fragments import MAX_FRAGMENTS

TOKEN_PATTERN = r"^[A-Za-z0-9_.:-]+$"  # what django.core.signing.dumps produces

# --- the plain Django views (signed links, consent) --------------------------------------------------


# Not personalize's answer but the web server's, possible on every operation.
URI_TOO_LONG = "The URL is longer than the web server accepts (gunicorn: a 4094-byte request line)."


def _token_param() -> dict[str, Any]:
    return {
        "name": "token",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": TOKEN_PATTERN, "maxLength": 2000},
        "description": "A signed token from an email or a campaign (django.core.signing).",
    }


def html_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def text_response(description: str) -> dict[str, Any]:
    return {"description": description}


def _code_response(description: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def link_operations() -> dict[str, dict[str, Any]]:
    """``{url name: {method: operation}}`` of personalize's plain views a client may call."""
    bad_link = html_response("The token is malformed, tampered with, expired or of another kind.")
    not_found = text_response("Not a route (for example a token with a slash).")
    return {
        "campaign_click": {
            "get": {
                "operationId": "campaign_click",
                "summary": "Count a campaign click, then redirect to the campaign's link",
                "tags": ["links"],
                "parameters": [_token_param()],
                "responses": {"302": text_response("To the campaign's link."), "400": bad_link, "404": not_found},
            }
        },
        "campaign_seen": {
            "post": {
                "operationId": "campaign_seen",
                "summary": "The browser showed a deferred campaign (navigator.sendBeacon; no CSRF token)",
                "tags": ["links"],
                "parameters": [_token_param()],
                "responses": {"204": text_response("Counted (or nothing to count)."), "400": bad_link, "404": not_found},
            }
        },
        "campaign_code": {
            "get": {
                "operationId": "campaign_code_page",
                "summary": "Get your code, without script: issue the shopper's unique code, then back to the page",
                "tags": ["links"],
                "parameters": [_token_param()],
                "responses": {"302": text_response("Back to the page (same host) or the shop, whose banner shows the code."),
                              "400": bad_link, "404": not_found},
            },
            "post": {
                "operationId": "campaign_code",
                "summary": "Get your code: the banner's fetch() (no CSRF token); issues the shopper's unique code",
                "tags": ["links"],
                "parameters": [_token_param()],
                "responses": {
                    "200": _code_response("The shopper's code."),
                    "400": bad_link,
                    "404": _code_response("No code for this shopper: the control group, a bot, an ended campaign (or not a route)."),
                },
            },
        },
        "email_restore": {
            "get": {
                "operationId": "email_restore",
                "summary": "Rebuild the cart an email showed, then redirect to the cart",
                "tags": ["links"],
                "parameters": [_token_param()],
                "responses": {
                    "302": text_response("To the cart, the product or the shop."),
                    "400": html_response("The link is not valid or has expired (a page that says so)."),
                    "404": not_found,
                },
            }
        },
        "email_unsubscribe": {
            "get": {
                "operationId": "email_unsubscribe_page",
                "summary": "The unsubscribe confirmation page",
                "tags": ["links"],
                "parameters": [_token_param()],
                "responses": {"200": html_response("The page with its button."), "400": bad_link, "404": not_found},
            },
            "post": {
                "operationId": "email_unsubscribe",
                "summary": "Unsubscribe (the page's button, or RFC 8058 one-click: no CSRF token)",
                "tags": ["links"],
                "parameters": [_token_param()],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {"type": "object", "properties": {"List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}}}
                        }
                    },
                },
                "responses": {"200": html_response("Unsubscribed."), "400": bad_link, "404": not_found},
            },
        },
        "fragments": {
            "get": {
                "operationId": "fragments",
                "summary": "The personal HTML of a page's fragments, for the request's shopper",
                "tags": ["fragments"],
                "parameters": [
                    {
                        "name": "f",
                        "in": "query",
                        "required": True,
                        "style": "form",
                        "explode": True,
                        "schema": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": MAX_FRAGMENTS,
                            "items": {"type": "string", "pattern": TOKEN_PATTERN, "maxLength": 1000},
                        },
                        "description": "The signed token of each fragment on the page, in page order.",
                    }
                ],
                "responses": {
                    "200": {
                        "description": "One entry per token: its HTML, or null (keep the neutral list).",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"fragments": {"type": "array", "items": {"type": ["string", "null"]}}},
                                    "required": ["fragments"],
                                }
                            }
                        },
                    },
                    "400": {
                        "description": "No token, too many, or one not valid.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"detail": {"type": "string"}, "fragments": {"type": "array"}},
                                    "required": ["detail"],
                                }
                            }
                        },
                    },
                    "414": text_response(
                        "The URL is longer than the web server accepts (gunicorn: a 4094-byte request line): "
                        "many fragments with long tokens; split them over two requests."
                    ),
                },
            }
        },
        "consent": {
            "post": {
                "operationId": "consent",
                "summary": "The consent banner's form (Django's CSRF token required)",
                "tags": ["links"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "choice": {"type": "string", "enum": ["accept", "decline"]},
                                    "next": {"type": "string", "description": "Where to go back to (same host only)."},
                                },
                                "required": ["choice"],
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "With ``Accept: application/json``: the choice.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"granted": {"type": "boolean"}, "message": {"type": "string"}},
                                    "required": ["granted", "message"],
                                }
                            }
                        },
                    },
                    "302": text_response("Back to ``next`` (a plain form post)."),
                    "400": text_response("``choice`` is neither accept nor decline (JSON ``{detail}`` with Accept: application/json)."),
                    "403": text_response("No or a wrong CSRF token (Django's CSRF failure page)."),
                },
            }
        },
    }


def link_paths() -> dict[str, dict[str, Any]]:
    """The link operations under the paths the store's URLs give them (skipped when not routed)."""
    paths: dict[str, dict[str, Any]] = {}
    for name, operations in link_operations().items():
        needs_token = any(p["name"] == "token" for op in operations.values() for p in op.get("parameters", []))
        try:
            path = reverse(f"personalize:{name}", kwargs={"token": "TOKEN"} if needs_token else None)
        except NoReverseMatch:
            continue
        paths[path.replace("TOKEN", "{token}")] = operations
    return paths
