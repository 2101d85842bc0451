"""State fixtures: every repository test runs on SQLite and on PostgreSQL (this folder is a package, so this
conftest does not shadow tests/conftest.py, which other tests import as ``conftest``).

Each test process (xdist worker) migrates its own databases once: a SQLite file in a temporary folder and a
PostgreSQL database ``erechnung_test_<random>`` created on the server at ``ERECHNUNG_TEST_POSTGRES`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``, trust auth) and dropped at the end, so parallel runs
never share tables. Between tests the tables are emptied. Without a reachable PostgreSQL server the
PostgreSQL cases fail when no server is reachable: a missing database is a broken set-up, not a skip.
"""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from erechnung.state import make_engine, migrate
from erechnung.state.schema import metadata

PG_ADMIN_URL = os.environ.get("ERECHNUNG_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_admin_engine():
    from sqlalchemy import create_engine

    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


@pytest.fixture(scope="session")
def pg_url():
    """The URL of a fresh, migrated PostgreSQL database for this test process (dropped afterwards)."""
    try:
        admin = _pg_admin_engine()
        with admin.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as exc:  # no driver, no server
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is needed by these tests (set ERECHNUNG_TEST_POSTGRES to "
                    f"another server): {exc}")
    name = f"erechnung_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('state') / 'erechnung.db'}"
    migrate(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """A migrated database URL (SQLite or PostgreSQL) whose tables are empty at the start of the test."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    engine = make_engine(url)
    with engine.begin() as c:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in metadata.sorted_tables)
            c.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                c.execute(table.delete())
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()
