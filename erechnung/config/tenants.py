"""Many municipalities in one installation (issue 16): a municipal IT service provider runs erechnung once for
hundreds of municipalities, the *tenants*. Each keeps its own complete configuration (``config.toml``: its data,
departments, drop zones, database, archive); the installation file only names them::

    # installation.toml (path: --installation, else ERECHNUNG_INSTALLATION)
    [installation]
    name = "Kommunales Rechenzentrum"          # optional
    [tenants.musterstadt]
    name = "Stadt Musterstadt"
    config = "musterstadt/config.toml"         # relative to the installation file
    # work_dir = "..."  report_dir = "..."     # optional; default var/work, var/reports next to config.toml

``load_installation(path)`` reads it; it never fails because one municipality's configuration is broken:
``Installation.check()`` loads each configuration on its own (the ``Config`` or its ``ConfigError``) and checks
that no two municipalities share a place where data is kept (``conflicts``): the database (the same URL and
the same PostgreSQL schema; the layout for many is one database with a schema per municipality, ``[database]
schema``), the archive, a drop zone, the work and report folders, the delivery journals, the print outbox, the
Stadtkasse's folders (one the same as or inside the other) and the delivery key prefix (``[delivery] key_prefix``:
Message-IDs and channel references). Equal number-range prefixes are only a hint (``hints_of``): an invoice number
is unique per seller (BT-1 with BT-27), so two municipalities may both number ``RE-2026-000001``; people reading
the provider's lists may still want a municipality's short name in it.

The database holds no column for the municipality: isolation is by storage, one database (schema) per tenant.
For Prefect runs: ``run_label(tenant)`` and ``run_tags(tenant)``.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from pydantic import Field, ValidationError
from sqlalchemy.engine import make_url

from ..errors import ErechnungError
from .app import Config, load_config
from .locations import Location, database_url, location_url
from .problems import ConfigError, ConfigProblem, Strict, problems_from, toml_table

#: Where the installation file is when ``--installation`` is not given.
INSTALLATION_ENV = "ERECHNUNG_INSTALLATION"
#: A tenant's work and report folders unless the installation names others: next to its configuration, the
#: folders ``pipeline.Pipeline.open`` uses by default (so that two tenants' folders differ when their
#: configurations lie in different folders; ``Installation.check`` refuses them when not).
DEFAULT_WORK = "var/work"
DEFAULT_REPORTS = "var/reports"
TENANT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


class UnknownTenant(ErechnungError, KeyError):
    """``--tenant`` names no municipality of the installation."""

    def __init__(self, tenant_id: str, installation: str, known: tuple[str, ...]) -> None:
        self.tenant_id, self.installation, self.known = tenant_id, installation, known
        super().__init__(f"keine Kommune {tenant_id!r} in der Installation {installation}; bekannt: "
                         f"{', '.join(known) or '(keine)'} - verwenden Sie eine davon oder ergänzen Sie "
                         f"[tenants.{tenant_id}] in der Installationsdatei")

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0])


class TenantEntry(Strict):
    """``[tenants.<id>]`` of the installation file."""

    name: str = Field(min_length=1)
    config: str = Field(min_length=1)  # the municipality's configuration, relative to the installation file
    work_dir: str | None = None
    report_dir: str | None = None


class InstallationSection(Strict):
    name: str | None = None


class InstallationFile(Strict):
    installation: InstallationSection = Field(default_factory=InstallationSection)
    tenants: dict[str, TenantEntry] = Field(min_length=1)


@dataclass(frozen=True)
class Tenant:
    """One municipality of the installation: its id (``--tenant``), name, configuration file and the folders of
    its runs (work area, reports)."""

    id: str
    name: str
    config_path: Path
    work_dir: Path
    report_dir: Path

    def load_config(self) -> Config:
        """The municipality's configuration (``ConfigError`` when it is broken: only this tenant's problem)."""
        return load_config(self.config_path)


def run_label(tenant: Tenant) -> str:
    """A run's name for people (Prefect flow run name, reports): ``musterstadt (Stadt Musterstadt)``."""
    return f"{tenant.id} ({tenant.name})"


def run_tags(tenant: Tenant) -> list[str]:
    """The Prefect tags of a tenant's runs (filter the UI, concurrency limits per municipality)."""
    return [f"tenant:{tenant.id}"]


@dataclass(frozen=True)
class Conflict:
    """Two municipalities share a place where data is kept (or a key that must name one of them)."""

    tenants: tuple[str, str]
    keys: tuple[str, str]
    value: str
    problem: str
    fix: str
    blocking: bool = True  # False: a hint (both may run; people may confuse what the two send)

    def __str__(self) -> str:
        (a, b), (ka, kb) = self.tenants, self.keys
        return f"{a} und {b}: {a}.{ka} und {b}.{kb} = {self.value}: {self.problem} - {self.fix}"


@dataclass(frozen=True)
class InstallationCheck:
    """``Installation.check()``: per tenant its loaded configuration or its ``ConfigError``, and the conflicts
    between tenants whose configurations loaded."""

    configs: dict[str, Config | ConfigError]
    conflicts: tuple[Conflict, ...] = ()

    def problems_of(self, tenant_id: str) -> list[str]:
        """What is wrong with this tenant, for people (empty: it may run)."""
        result = self.configs[tenant_id]
        out = [str(p) for p in result.problems] if isinstance(result, ConfigError) else []
        return out + [str(c) for c in self.conflicts if tenant_id in c.tenants and c.blocking]

    def hints_of(self, tenant_id: str) -> list[str]:
        """What may confuse people but keeps no tenant from running (equal number-range prefixes)."""
        return [str(c) for c in self.conflicts if tenant_id in c.tenants and not c.blocking]

    @property
    def broken(self) -> list[str]:
        return [t for t in self.configs if self.problems_of(t)]

    @property
    def ok(self) -> bool:
        return not self.broken

    def runnable(self) -> dict[str, Config]:
        """The tenants that may run now, with their configurations (neither broken nor in a conflict)."""
        return {t: c for t, c in self.configs.items() if isinstance(c, Config) and not self.problems_of(t)}


@dataclass(frozen=True)
class Installation:
    """The installation file, read (``load_installation``)."""

    path: Path
    name: str | None
    tenants: dict[str, Tenant] = field(default_factory=dict)

    def tenant(self, tenant_id: str) -> Tenant:
        try:
            return self.tenants[tenant_id]
        except KeyError:
            raise UnknownTenant(tenant_id, str(self.path), tuple(self.tenants)) from None

    def check(self) -> InstallationCheck:
        """Load every tenant's configuration on its own and check that no two share storage (module docstring)."""
        configs: dict[str, Config | ConfigError] = {}
        for tenant_id, tenant in self.tenants.items():
            try:
                configs[tenant_id] = tenant.load_config()
            except ConfigError as exc:
                configs[tenant_id] = exc
        loaded = [(self.tenants[t], c) for t, c in configs.items() if isinstance(c, Config)]
        return InstallationCheck(configs, tuple(conflicts(loaded)))


def load_installation(path: str | Path | None = None) -> Installation:
    """The installation file at ``path`` (else ``ERECHNUNG_INSTALLATION``); ``ConfigError`` when it is missing
    or wrong itself. The tenants' configurations are not read here (``Installation.check``, ``Tenant.load_config``)."""
    if path is None:
        path = os.environ.get(INSTALLATION_ENV)
        if not path:
            raise ConfigError([ConfigProblem("(Installation)", "", None, "keine Installationsdatei angegeben",
                                             f"geben Sie --installation DATEI an oder setzen Sie {INSTALLATION_ENV}")])
    file = Path(path)
    try:
        data = toml_table(file.read_bytes(), str(file))
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(file), "", None, f"kann nicht gelesen werden: {exc.strerror or exc}",
                                         "prüfen Sie Pfad und Rechte")]) from None
    tenants = data.get("tenants") if isinstance(data.get("tenants"), dict) else {}
    problems = [ConfigProblem(str(file), f"tenants.{t}", None, f"keine gültige Kennung einer Kommune: {t!r}",
                              "nur Kleinbuchstaben, Ziffern, - und _ verwenden, z. B. [tenants.musterstadt]")
                for t in tenants if not TENANT_ID.fullmatch(t)]
    parsed = None
    try:
        parsed = InstallationFile.model_validate(data)
    except ValidationError as exc:
        problems += problems_from(exc, str(file), data, model=InstallationFile)
    if problems:
        raise ConfigError(problems)
    assert parsed is not None
    base = file.resolve().parent
    tenants = {}
    for tenant_id, entry in parsed.tenants.items():
        config_path = _under(base, entry.config)
        here = config_path.parent
        tenants[tenant_id] = Tenant(tenant_id, entry.name, config_path,
                                    _under(base, entry.work_dir) if entry.work_dir else here / DEFAULT_WORK,
                                    _under(base, entry.report_dir) if entry.report_dir else here / DEFAULT_REPORTS)
    return Installation(file, parsed.installation.name, tenants)


def _under(base: Path, relative: str) -> Path:
    p = Path(relative)
    return (p if p.is_absolute() else base / p).resolve()


# ============================================================================================ isolation

Getter = Callable[[Config], "Location | str | None"]

#: Where a municipality keeps data (key in its configuration, how to get it): no two municipalities may share
#: one, nor may one lie inside another's. The drop zones, work and report folders are added per tenant.
PLACES: tuple[tuple[str, Getter], ...] = (
    ("archive.location", lambda c: c.archive.location),
    ("delivery.journal_dir", lambda c: c.delivery.journal_dir),
    ("delivery.print.outbox", lambda c: c.delivery.print.outbox),
    ("delivery.email.bounce_maildir", lambda c: c.delivery.email and c.delivery.email.bounce_maildir),
    ("delivery.bundid.confirmations_maildir", lambda c: c.delivery.bundid and c.delivery.bundid.confirmations_maildir),
    ("delivery.peppol.mls_inbox", lambda c: c.delivery.peppol and c.delivery.peppol.mls_inbox),
    ("stadtkasse.export_location", lambda c: c.stadtkasse.export_location),
    ("stadtkasse.statements", lambda c: c.stadtkasse.statements),
)


@dataclass(frozen=True)
class _Place:
    key: str
    kind: str  # local | s3
    parts: tuple[str, ...]  # path components (s3: bucket, then the prefix's)
    shown: str

    def overlaps(self, other: "_Place") -> bool:
        n = min(len(self.parts), len(other.parts))
        return self.kind == other.kind and self.parts[:n] == other.parts[:n]


def _place(key: str, config: Config, where: Location | str | Path) -> _Place:
    if isinstance(where, Location) and where.kind == "s3":
        url = location_url(config, where)
        return _Place(key, "s3", tuple(p for p in url.removeprefix("s3://").split("/") if p), url)
    path = Path(location_url(config, where)) if isinstance(where, Location) else config.path(str(where))
    path = path.resolve()
    return _Place(key, "local", path.parts, str(path))


def places(tenant: Tenant, config: Config) -> list[_Place]:
    """Every place the tenant keeps data, resolved (relative folders against its configuration's folder)."""
    out = [_place(key, config, where) for key, get in PLACES if (where := get(config))]
    out += [_place(f"departments.{d.id}.drop_zone", config, d.drop_zone) for d in config.departments.values()]
    out += [_place("work_dir", config, tenant.work_dir), _place("report_dir", config, tenant.report_dir)]
    return out


def database_identity(config: Config) -> tuple[str, ...]:
    """What makes a database (with its schema) the same for two configurations: the SQLite file, or the
    PostgreSQL server, database and schema (no schema: ``public``)."""
    url = make_url(database_url(config))
    if url.get_backend_name() == "sqlite":
        file = url.database or ":memory:"
        return ("sqlite", file if file == ":memory:" or file.startswith("file:") else str(Path(file).resolve()))
    schema = url.query.get("schema") or "public"
    return (url.get_backend_name(), (url.host or "").lower(), str(url.port or ""), url.database or "", str(schema))


def shown_database(config: Config) -> str:
    return make_url(database_url(config)).render_as_string(hide_password=True)


def conflicts(tenants: list[tuple[Tenant, Config]]) -> Iterator[Conflict]:
    """Every pair of tenants sharing a database, a place, the delivery key prefix or a number range's prefix."""
    for i, (a, ca) in enumerate(tenants):
        for b, cb in tenants[i + 1:]:
            yield from _pair(a, ca, b, cb)


def _pair(a: Tenant, ca: Config, b: Tenant, cb: Config) -> Iterator[Conflict]:
    ids = (a.id, b.id)
    if database_identity(ca) == database_identity(cb):
        yield Conflict(ids, ("database", "database"), shown_database(ca),
                       "dieselbe Datenbank (und dasselbe Schema): Belege, Empfänger und Nummernkreise beider Kommunen "
                       "lägen in denselben Tabellen",
                       "geben Sie jeder Kommune ein eigenes Schema ([database] schema = \"<kennung>\", PostgreSQL) "
                       "oder eine eigene SQLite-Datei")
    for pa in places(a, ca):
        for pb in places(b, cb):
            if pa.overlaps(pb):
                same = pa.parts == pb.parts
                yield Conflict(ids, (pa.key, pb.key), pa.shown if len(pa.parts) <= len(pb.parts) else pb.shown,
                               "derselbe Ort" if same else "ein Ort liegt im anderen",
                               "geben Sie jeder Kommune eigene Ordner bzw. S3-Präfixe, die nicht ineinander liegen "
                               "(relative Pfade gelten neben der config.toml: jede Kommune in ihrem eigenen Ordner)")
    if ca.delivery.key_prefix == cb.delivery.key_prefix:
        yield Conflict(ids, ("delivery.key_prefix", "delivery.key_prefix"), repr(ca.delivery.key_prefix),
                       "gleiches Präfix der Zustellschlüssel: Message-IDs und Referenzen bei gemeinsamen Kanälen "
                       "wären nicht eindeutig", "setzen Sie [delivery] key_prefix je Kommune, z. B. auf ihre Kennung")
    prefixes_b = {d.number_range.prefix: d.id for d in cb.departments.values() if d.number_range}
    for d in ca.departments.values():
        if d.number_range and d.number_range.prefix in prefixes_b:
            yield Conflict(ids, (f"departments.{d.id}.number_range.prefix",
                                 f"departments.{prefixes_b[d.number_range.prefix]}.number_range.prefix"),
                           repr(d.number_range.prefix),
                           "gleiches Nummernkreis-Präfix: dieselben Rechnungsnummern bei zwei Kommunen (zulässig: eine "
                           "Nummer ist je Rechnungssteller eindeutig, BT-1 mit BT-27; verwechselbar in Listen des "
                           "Rechenzentrums und der Druckerei)",
                           "wenn gewünscht, geben Sie den Nummernkreisen ein Kürzel der Kommune, z. B. prefix = "
                           "\"MS-RE-2026-\"", blocking=False)


__all__ = ["Conflict", "INSTALLATION_ENV", "Installation", "InstallationCheck", "Tenant", "UnknownTenant",
           "conflicts", "database_identity", "load_installation", "places", "run_label", "shown_database", "run_tags"]
