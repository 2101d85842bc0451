"""Connecting to the state database and bringing its schema up to date.

``make_engine(url)`` for SQLite (the default, ``sqlite:///var/erechnung.db``, or ``ERECHNUNG_DB``) or
PostgreSQL (``postgresql+psycopg://user@host/db``; a plain ``postgresql://`` URL uses psycopg 3).

SQLite is opened in WAL mode with foreign keys on, and every transaction begins with ``BEGIN IMMEDIATE``: it
takes the database's write lock at its start, so transactions that read and then write (number allocation,
claims) are serialized instead of failing with "database is locked" at their first write. Waiting for the
lock is bounded by ``busy_timeout`` (30 s).

The SQLite file holds personal data (recipients' names, addresses, bank accounts), so a new database file is
created readable by its owner only (``0600``) and a folder created for it ``0700`` (issue 10). SQLite gives its
``-wal``, ``-shm`` and ``-journal`` files the database file's permissions, so they are private as well. An
existing file or folder keeps the mode its operator gave it.

One PostgreSQL database can hold several municipalities, each in its own schema (``[database] schema``, in the
URL as ``?schema=musterstadt``): every connection's ``search_path`` is that schema alone (set at connect, so no
statement can reach another municipality's tables by an unqualified name), ``migrate`` creates the schema when it
is missing and keeps Alembic's version table in it.

``migrate(url_or_engine)`` runs the Alembic migrations in ``migrations/`` up to the newest, under a lock
(PostgreSQL advisory lock; SQLite's write lock), so several processes starting at once migrate once.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_URL = "sqlite:///var/erechnung.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 0x65526563  # 'eRec': the PostgreSQL advisory lock key taken while migrating
BUSY_TIMEOUT_S = 30
#: Permissions of a new SQLite database file and of a folder created for it: the owner's only.
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
#: Alembic's version table, named for this project so a database shared with other tools cannot collide.
VERSION_TABLE = "erechnung_schema_version"
#: The engine's execution option holding the PostgreSQL schema of a ``?schema=`` URL (``schema_of``).
SCHEMA_OPTION = "erechnung_schema"


def database_url(url: str | None = None) -> str:
    """``url``, else ``ERECHNUNG_DB``, else the SQLite default."""
    return url or os.environ.get("ERECHNUNG_DB") or DEFAULT_URL


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """An engine for the state database (see the module docstring for what is set up per dialect)."""
    u = make_url(database_url(url))
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
            _create_private(Path(u.database))
        connect_args = {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False, **kwargs.pop("connect_args", {})}
        engine = create_engine(u, connect_args=connect_args, **kwargs)
        _sqlite_setup(engine, in_memory=not u.database or u.database == ":memory:")
        return engine
    if u.get_backend_name() == "postgresql" and u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    schema = u.query.get("schema") if u.get_backend_name() == "postgresql" else None
    if schema is not None:
        u, schema = u.difference_update_query(["schema"]), _checked_schema(schema)
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args["options"] = f"{connect_args.get('options', '')} -c search_path={schema}".strip()
        kwargs["connect_args"] = connect_args
        kwargs["execution_options"] = {**kwargs.get("execution_options", {}), SCHEMA_OPTION: schema}
    return create_engine(u, pool_pre_ping=True, **kwargs)


def _checked_schema(schema: str | tuple[str, ...]) -> str:
    """The ``?schema=`` of a PostgreSQL URL, refused unless it is a plain schema name (it becomes part of the
    connection's options and of ``CREATE SCHEMA``)."""
    from ..config.locations import SCHEMA_NAME

    if isinstance(schema, tuple) or not SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"kein gültiger Schemaname in der Datenbank-URL: {schema!r} - nur Kleinbuchstaben, "
                         "Ziffern und _ (nicht mit pg_ beginnend)")
    return schema


def schema_of(engine: Engine) -> str | None:
    """The PostgreSQL schema the engine's connections work in (``?schema=`` of its URL), None: the default
    (``public``)."""
    return engine.get_execution_options().get(SCHEMA_OPTION)


def _create_private(path: Path) -> None:
    """Create the database's folder (``0700``) and an empty database file (``0600``) unless they exist.

    SQLite would create the file with ``0644`` less the umask; an empty file is a valid empty database, and the
    journal files SQLite creates later copy its mode.
    """
    if not path.parent.is_dir():
        path.parent.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.parent.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:  # another process created it in the meantime
            pass
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                         PRIVATE_FILE_MODE))
    except FileExistsError:
        pass


def _sqlite_setup(engine: Engine, *, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN by sqlite3: we issue our own
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL" if not in_memory else "PRAGMA synchronous=OFF")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (``expire_on_commit=False``)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """``with transaction(engine) as s: ...``: one transaction, committed at the end, rolled back on error."""
    with session_factory(engine)() as session, session.begin():
        yield session


def _alembic_config(connection, schema: str | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    cfg.attributes["schema"] = schema  # the version table lives in the municipality's schema too
    return cfg


def migrate(url_or_engine: str | Engine | None = None, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest). Safe to call at every start."""
    from alembic import command

    engine = url_or_engine if isinstance(url_or_engine, Engine) else make_engine(url_or_engine)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
                if schema_of(engine) is not None:  # a checked name (make_engine): safe to quote as is
                    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema_of(engine)}"'))
            command.upgrade(_alembic_config(connection, schema_of(engine)), revision)
    finally:
        if engine is not url_or_engine:
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The schema's revision as recorded in the database (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE,
                                                            "version_table_schema": schema_of(engine)}
                                          ).get_current_revision()
