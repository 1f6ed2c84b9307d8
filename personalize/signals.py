"""Signals personalize sends, for stores and other capabilities to listen to."""

from django.dispatch import Signal

# Sent after an event is stored: sender=Event, event=<Event>, request=<HttpRequest | None>.
# Like every signal here that follows a write, it is sent after the commit (send_robust: a
# failing receiver is logged and never undoes the write).
event_tracked = Signal()
# Sent once per stored batch (a beacon post, an import chunk), after event_tracked:
# sender=Event, events=[<Event>...], request=<HttpRequest | None>. Listen here for work that
# needs doing once per batch (cache invalidation), not once per event.
events_tracked = Signal()
# Sent after an anonymous shopper's history moved into an account: source, target.
shopper_merged = Signal()
# Sent after a cart snapshot changed: cart=<Cart>, request=<HttpRequest | None>.
cart_updated = Signal()
# Sent when a person's consent to personalisation changes: request, granted=<bool>
# (personalize.identity.consent.set_consent; the privacy receivers erase on withdrawal).
consent_changed = Signal()
