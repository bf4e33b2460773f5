"""Fixtures of the end-to-end tests beyond the shared ones."""

from tests.e2e.moderators import moderation

__all__ = ["moderation"]
