"""Alembic environment for erechnung's state database, run programmatically by ``erechnung.state.migrate``.

The caller passes an open connection in ``config.attributes["connection"]``; there is no alembic.ini.
"""
from __future__ import annotations

from alembic import context

from erechnung.state.db import VERSION_TABLE
from erechnung.state.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the programmatic path is supported
    raise RuntimeError("run migrations with erechnung.state.migrate(url), which passes a connection")

context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                  version_table_schema=config.attributes.get("schema"),
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
with context.begin_transaction():
    context.run_migrations()
