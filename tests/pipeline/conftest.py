"""Pipeline fixtures (a package, so this conftest does not replace the top-level ``conftest`` module).

* ``db_url``: a migrated, empty database, SQLite (a file per test) or PostgreSQL (one private database per test
  process on ``ERECHNUNG_TEST_POSTGRES``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``, trust
  auth; emptied between tests, dropped at the end).
* ``s3``: moto's S3 server on loopback (``ThreadedMotoServer``, a real HTTP S3 endpoint for boto3), started once
  per test process, with the environment the storage adapter reads (endpoint, test credentials).
* ``make_site(root, db_url, s3_zones=None)``: Stadt Musterstadt's configuration with every location under
  ``root`` (drop zones, archive) and the sample deliveries dropped into the zones; returns a :class:`Site`.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BATCHES = EXAMPLES / "batches"
PG_ADMIN_URL = os.environ.get("ERECHNUNG_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "eu-central-1"}


@pytest.fixture(scope="session")
def pg_database():
    """A private PostgreSQL database for this test process (created empty, dropped at the end)."""
    from sqlalchemy import create_engine

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"erechnung_pipeline_{uuid.uuid4().hex[:12]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty(url: str) -> None:
    from erechnung.state import make_engine, migrate
    from erechnung.state.schema import metadata

    migrate(url)
    engine = make_engine(url)
    with engine.begin() as c:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        c.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite3'}"
    url = request.getfixturevalue("pg_database")
    _empty(url)
    return url


@pytest.fixture(scope="session")
def s3_endpoint():
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    """``s3.bucket()``: a new bucket's name; the environment points ``s3://`` locations at the moto server."""
    import boto3

    monkeypatch.setenv("ERECHNUNG_S3_ENDPOINT_URL", s3_endpoint)
    for k, v in CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
                          aws_access_key_id="testing", aws_secret_access_key="testing")

    class S3:
        endpoint = s3_endpoint

        @staticmethod
        def bucket() -> str:
            name = f"p-{uuid.uuid4().hex[:20]}"
            client.create_bucket(Bucket=name, CreateBucketConfiguration={
                "LocationConstraint": CREDENTIALS["AWS_DEFAULT_REGION"]})
            return name

        @staticmethod
        def keys(bucket: str, prefix: str = "") -> list[str]:
            out = []
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                out += [o["Key"] for o in page.get("Contents", [])]
            return sorted(out)

        @staticmethod
        def put(bucket: str, key: str, data: bytes) -> None:
            client.put_object(Bucket=bucket, Key=key, Body=data)

        @staticmethod
        def get(bucket: str, key: str) -> bytes:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()

    return S3


@dataclass
class Site:
    """A municipality on disk: its configuration, drop zones, archive and work area under ``root``."""

    root: Path
    config_path: Path
    db_url: str
    s3_zones: dict[str, str]

    @property
    def config(self):
        from erechnung.config import load_config

        return load_config(self.config_path)

    def zone(self, department: str) -> Path:
        return self.root / "dropzones" / department

    def drop(self, department: str, name: str | None = None, data: bytes | None = None, s3=None) -> None:
        """Drop a sample delivery (or ``data`` as ``name``) into the department's zone."""
        files = [(name, data)] if data is not None else [
            (name or f.name, f.read_bytes()) for f in sorted((BATCHES / department).iterdir()) if f.is_file()]
        for fname, content in files:
            if department in self.s3_zones:
                bucket, _, prefix = self.s3_zones[department].removeprefix("s3://").partition("/")
                s3.put(bucket, f"{prefix}/{fname}" if prefix else fname, content)
            else:
                self.zone(department).mkdir(parents=True, exist_ok=True)
                (self.zone(department) / fname).write_bytes(content)

    def drop_all(self, s3=None) -> None:
        for folder in sorted(BATCHES.iterdir()):
            if folder.is_dir():
                self.drop(folder.name, s3=s3)

    def run(self, **options):
        from erechnung.pipeline import Options, run

        opts = {"workers": 1, **options}
        return run(self.config_path, db_url=self.db_url, options=Options(**opts), work_dir=self.root / "work",
                   report_dir=self.root / "reports")


@pytest.fixture
def make_site():
    def make(root: Path, db_url: str, s3_zones: dict[str, str] | None = None, archive: str | None = None,
             drop: bool = True, s3=None) -> Site:
        from erechnung.entrypoints.demo.pipeline import config_text

        root.mkdir(parents=True, exist_ok=True)
        path = root / "config.toml"
        path.write_text(config_text(root, s3_zones=s3_zones, database_url=db_url, archive=archive), encoding="utf-8")
        site = Site(root, path, db_url, dict(s3_zones or {}))
        if drop:
            site.drop_all(s3=s3)
        return site

    return make


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def copy_batches(target: Path) -> None:
    shutil.copytree(BATCHES, target, dirs_exist_ok=True)
