"""Fixtures of the delivery service's tests (a package, so this conftest does not replace the top-level
``conftest`` module; tests/connectors holds the channels' own tests).

The database fixtures are the state tests' (``db_url``: a migrated, empty SQLite or PostgreSQL database;
``engine``), reused as they are; ``fakes`` holds in-memory and file-backed connectors implementing
``mailbox_connectors.base``, ``world`` handed-over documents and their recipients.
"""
from __future__ import annotations

from state.conftest import db_url, engine, pg_url, sqlite_url  # noqa: F401  (the same fixtures, reused)
