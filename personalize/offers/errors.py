"""The one error of the offers capability."""

from __future__ import annotations


class OfferError(Exception):
    """A code cannot be used; ``message`` is meant for the shopper."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
