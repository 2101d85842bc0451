"""The pipeline's state: SQLAlchemy tables (``schema``, ``delivery_schema``), Alembic migrations (``migrate``) and
the operations the flows need (``repository``; the delivery service's in ``deliveries``). SQLite by default,
PostgreSQL by URL; no Prefect here."""
from __future__ import annotations

from .db import DEFAULT_URL, current_revision, database_url, make_engine, migrate, session_factory, transaction

__all__ = ["DEFAULT_URL", "current_revision", "database_url", "make_engine", "migrate", "session_factory",
           "transaction"]
