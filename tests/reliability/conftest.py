"""Fixtures of the reliability tests: the two populated tenants of the security tests (``ours``, ``theirs``)."""

from tests.security.conftest import _fast_password_hashing, ours, theirs

__all__ = ["_fast_password_hashing", "ours", "theirs"]
