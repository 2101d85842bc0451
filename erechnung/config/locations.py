"""Where things are kept: the locations of drop zones and the archive (a local folder or ``s3://bucket/prefix``),
the state database, how long the archive keeps what; and how a configured location or database becomes the URL
the storage and database adapters open (``location_url``, ``database_url``).

Relative paths (drop zones, the archive folder, a SQLite database file) are relative to the configuration file's
folder, like the mapping profiles and the recipient register; ``s3://bucket/prefix`` locations get their endpoint
and credentials from the environment (``ERECHNUNG_S3_ENDPOINT_URL``, boto3's own ``AWS_*`` settings), so that no
secret is ever written into the configuration.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator
from sqlalchemy.engine import make_url

from .problems import Strict, custom

if TYPE_CHECKING:
    from .app import Config

DEFAULT_DATABASE_URL = "sqlite:///var/erechnung.sqlite3"
DEFAULT_ARCHIVE = "var/archive"
#: § 147 Abs. 3 AO (since 2025: 8 years for Buchungsbelege, GoBD); a shorter period is a mistake.
MIN_INVOICE_RETENTION_YEARS = 8


class Location(Strict):
    """Where files are: a local folder, or ``s3://bucket/prefix`` (the storage adapter is chosen at the edge)."""

    kind: Literal["local", "s3"]
    path: str = ""  # local folder
    bucket: str = ""
    prefix: str = ""

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.kind == "s3" else self.path


def parse_location(text: str) -> Location:
    """A location as written in the configuration: ``s3://bucket/prefix``, else a local folder."""
    s = text.strip()
    if s.startswith("s3://"):
        m = re.fullmatch(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(.*))?", s)
        if not m:
            raise custom("kein gültiger S3-Ort", "schreiben Sie s3://bucket/prefix (Bucket klein, 3-63 Zeichen)")
        return Location(kind="s3", bucket=m[1], prefix=(m[2] or "").strip("/"))
    if re.match(r"^[a-z][a-z0-9+.-]*://", s, re.IGNORECASE):
        raise custom("dieses Speicherschema wird nicht unterstützt",
                     "geben Sie einen lokalen Ordner oder s3://bucket/prefix an")
    if not s:
        raise custom("ist leer", "geben Sie einen lokalen Ordner oder s3://bucket/prefix an")
    return Location(kind="local", path=s)


class Retention(Strict):
    invoices: int = Field(default=MIN_INVOICE_RETENTION_YEARS, ge=1, le=100)
    notices: int = Field(default=10, ge=1, le=100)  # per the municipality's records schedule (Aktenplan)

    @field_validator("invoices")
    @classmethod
    def _gobd(cls, v: int) -> int:
        if v < MIN_INVOICE_RETENTION_YEARS:
            raise custom(f"Rechnungen sind mindestens {MIN_INVOICE_RETENTION_YEARS} Jahre aufzubewahren",
                         f"invoices = {MIN_INVOICE_RETENTION_YEARS} oder mehr (§ 147 Abs. 3 AO, GoBD)")
        return v


#: A PostgreSQL schema name as erechnung accepts it: lower case, digits and ``_``, not PostgreSQL's own ``pg_``.
SCHEMA_NAME = re.compile(r"(?!pg_)[a-z_][a-z0-9_]{0,62}")


class Database(Strict):
    """The state database: ``url``, and for PostgreSQL optionally the ``schema`` that holds this municipality's
    tables (one schema per municipality in one database is the layout for an installation with several
    municipalities: ``config/tenants.py``). ``database_url`` carries the schema in the URL (``?schema=``), where
    ``state.make_engine`` sets the connections' ``search_path`` to it."""

    url: str = DEFAULT_DATABASE_URL
    schema_name: str | None = Field(default=None, alias="schema")  # ``schema`` would shadow BaseModel.schema

    @field_validator("schema_name")
    @classmethod
    def _schema(cls, v: str | None) -> str | None:
        if v is not None and not SCHEMA_NAME.fullmatch(v):
            raise custom("kein gültiger Schemaname",
                         "nur Kleinbuchstaben, Ziffern und _ (nicht mit pg_ beginnend), z. B. schema = \"musterstadt\"")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^[a-z][a-z0-9+]*://", v):
            raise custom("keine Datenbank-URL", f"z. B. {DEFAULT_DATABASE_URL} oder postgresql://host/db")
        return v


class Archive(Strict):
    location: Location = Field(default_factory=lambda: Location(kind="local", path=DEFAULT_ARCHIVE))
    retention_years: Retention = Field(default_factory=Retention)

    _location = field_validator("location", mode="before")(
        lambda v: parse_location(v) if isinstance(v, str) else v)


def location_url(config: Config, location: Location) -> str:
    """A storage URL for a configured location (relative folders against the configuration's folder)."""
    if location.kind == "s3":
        return f"s3://{location.bucket}/{location.prefix}".rstrip("/")
    return str(config.path(location.path))


def database_url(config: Config) -> str:
    """The configured database URL; a relative SQLite file is relative to the configuration's folder, a
    PostgreSQL ``[database] schema`` is in the URL's query (``?schema=musterstadt``, read by ``make_engine``)."""
    url = make_url(config.database.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not url.database.startswith("file:") and not Path(url.database).is_absolute():
        url = url.set(database=str(config.path(url.database)))
    if config.database.schema_name is not None:
        url = url.update_query_dict({"schema": config.database.schema_name})
    return url.render_as_string(hide_password=False)
