"""Signals personalize sends, for stores and other capabilities to listen to."""

from django.dispatch import Signal

# Sent after an event is stored: sender=Event, event=<Event>, request=<HttpRequest | None>.
event_tracked = Signal()
# Sent after an anonymous shopper's history moved into an account: source, target.
shopper_merged = Signal()
# Sent after a cart snapshot changed: cart=<Cart>, request=<HttpRequest | None>.
cart_updated = Signal()
