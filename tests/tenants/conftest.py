"""Tenant fixtures (a package, so this conftest does not shadow tests/conftest.py).

``make_installation(root, backend)``: Stadt Musterstadt (``examples/config.toml``) and Markt Beispielheim
(``examples/beispielheim/config.toml``) copied into ``root/<id>/`` with their relative locations (drop zones,
archive, work, reports under ``var/`` there) and an ``installation.toml`` naming both. ``backend``: ``sqlite`` (a
file per municipality, as the examples have it) or ``postgresql`` (one database, ``ERECHNUNG_TEST_POSTGRES``,
default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``, a schema per municipality with a name unique to
the test, dropped at the end).
"""
from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PG_URL = os.environ.get("ERECHNUNG_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TOWNS = {"musterstadt": "Stadt Musterstadt", "beispielheim": "Markt Beispielheim"}


def _copy_town(tenant_id: str, target: Path, database: str) -> None:
    """The example municipality's configuration folder in ``target`` (no var/, no sample batches), every drop
    zone a local folder under var/dropzones, no sandbox include, the database ``database`` (TOML lines)."""
    if tenant_id == "musterstadt":
        target.mkdir(parents=True)
        for part in ("mappings", "design"):
            shutil.copytree(EXAMPLES / part, target / part)
        shutil.copy(EXAMPLES / "recipients.csv", target)
        text_ = (EXAMPLES / "config.toml").read_text(encoding="utf-8")
    else:
        shutil.copytree(EXAMPLES / "beispielheim", target, ignore=shutil.ignore_patterns("var", "batches"))
        text_ = (target / "config.toml").read_text(encoding="utf-8")
    text_ = re.sub(r'(?m)^drop_zone = "s3://[^"]*/(\w+)"', r'drop_zone = "var/dropzones/\1"', text_)
    text_ = re.sub(r'(?m)^include = .*$', "", text_)
    text_ = re.sub(r'(?m)^\[database\]\nurl = .*$', "[database]\n" + database, text_)
    assert database in text_
    (target / "config.toml").write_text(text_, encoding="utf-8")


@pytest.fixture
def pg_schemas():
    """Schema names unique to this test (``pg_schemas.new(tenant)``); every one is dropped at the end."""
    made: list[str] = []

    class Schemas:
        url = PG_URL

        @staticmethod
        def new(tenant_id: str) -> str:
            made.append(f"t{uuid.uuid4().hex[:10]}_{tenant_id}")
            return made[-1]

    yield Schemas
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        for name in made:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()


@pytest.fixture
def make_installation(pg_schemas):
    def make(root: Path, backend: str = "sqlite") -> Path:
        lines = ['[installation]\nname = "Testrechenzentrum"\n']
        for tenant_id, name in TOWNS.items():
            database = ('url = "sqlite:///var/erechnung.sqlite3"' if backend == "sqlite" else
                        f'url = "{PG_URL}"\nschema = "{pg_schemas.new(tenant_id)}"')
            _copy_town(tenant_id, root / tenant_id, database)
            lines.append(f'[tenants.{tenant_id}]\nname = "{name}"\nconfig = "{tenant_id}/config.toml"\n')
        path = root / "installation.toml"
        path.write_text("\n".join(lines), encoding="utf-8")
        return path

    return make
