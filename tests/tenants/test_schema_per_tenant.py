"""Issue 16, one PostgreSQL database for many municipalities: ``[database] schema`` (in the URL ``?schema=``)
puts a municipality's tables, and Alembic's version table, into its own schema, created by ``migrate`` when
missing; every connection's ``search_path`` is that schema alone, so no unqualified name reaches another
municipality's tables or ``public``. Runs on the real server (``ERECHNUNG_TEST_POSTGRES``), with schema names
unique to the test, dropped at the end."""
from __future__ import annotations

import pytest
from sqlalchemy import text


def _tables(engine, schema: str) -> set[str]:
    with engine.connect() as c:
        return set(c.execute(text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                             {"s": schema}).scalars())


def test_migrate_creates_the_municipality_s_schema_with_its_tables_and_version_table(pg_schemas):
    from sqlalchemy import create_engine

    from erechnung.state import current_revision, make_engine, migrate
    from erechnung.state.db import VERSION_TABLE, schema_of
    from erechnung.state.schema import metadata

    schema = pg_schemas.new("musterstadt")
    plain = create_engine(pg_schemas.url)
    public_before = _tables(plain, "public")
    url = f"{pg_schemas.url}?schema={schema}"
    migrate(url)
    migrate(url)  # again: nothing to do
    engine = make_engine(url)
    try:
        assert schema_of(engine) == schema
        tables = _tables(plain, schema)
        assert {t.name for t in metadata.sorted_tables} | {VERSION_TABLE} <= tables
        assert _tables(plain, "public") == public_before  # nothing of it in public
        assert current_revision(engine) is not None
        with engine.connect() as c:
            assert c.execute(text("SELECT current_schemas(false)")).scalar() == [schema]
    finally:
        engine.dispose()
        plain.dispose()


def test_two_schemas_in_one_database_keep_their_own_documents_and_number_ranges(pg_schemas):
    from erechnung.state import make_engine, migrate, transaction
    from erechnung.state.repository import allocate_number

    urls = {t: f"{pg_schemas.url}?schema={pg_schemas.new(t)}" for t in ("musterstadt", "beispielheim")}
    engines = {}
    for tenant, url in urls.items():
        migrate(url)
        engines[tenant] = make_engine(url)
    try:
        taken = {t: [] for t in urls}
        for tenant, count in (("musterstadt", 3), ("beispielheim", 1), ("musterstadt", 1), ("beispielheim", 2)):
            for _ in range(count):
                with transaction(engines[tenant]) as s:  # the same department and prefix in both
                    taken[tenant].append(allocate_number(s, "steueramt", "RE-2026-", width=4).number)
        assert taken == {"musterstadt": [f"RE-2026-{i:04d}" for i in range(1, 5)],
                         "beispielheim": [f"RE-2026-{i:04d}" for i in range(1, 4)]}
    finally:
        for engine in engines.values():
            engine.dispose()


def test_a_schema_in_the_url_must_be_a_plain_name():
    from erechnung.state import make_engine

    with pytest.raises(ValueError, match="kein gültiger Schemaname"):
        make_engine("postgresql://postgres@127.0.0.1:5432/test?schema=a;drop")
