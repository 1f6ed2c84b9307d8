"""Caching receivers: a request's own touches of shopper state end with it (caching.shoppers)."""

from __future__ import annotations

from django.core.signals import request_finished, request_started

from personalize.caching import shoppers

request_started.connect(shoppers.end_request, dispatch_uid="personalize.caching.shoppers.start")
request_finished.connect(shoppers.end_request, dispatch_uid="personalize.caching.shoppers.finish")
