"""Lifecycle emails: abandoned-cart and win-back flows sent by Celery (docs/emails.md)."""
