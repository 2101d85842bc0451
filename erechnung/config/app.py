"""The one configuration file of a municipality: its own data, where things are kept, and its departments.

``load_config(path)`` / ``parse_config(text, name)`` read TOML into a validated, frozen ``Config``. Every mistake is
reported, not just the first: a ``ConfigError`` holds one ``ConfigProblem`` per mistake with the file, the key
path (``departments.standesamt.encoding``), the value, what is wrong and what to write instead. Messages are in
German like everything a municipality's staff reads from intake. TOML only: YAML's implicit typing would turn the
Gemeindeschlüssel ``05999001`` into a number and ``no`` into false, and one format is one thing to document.

Layout (``examples/config.toml`` is a complete example)::

    [municipality]                       # the seller / issuing authority, stated once
    name, head, municipality_key (AGS, BT-30), vat_id, tax_number, electronic_address, leitweg_id, creditor_id,
    due_days, website, opening_hours
    [municipality.address]               # street, post_code, city, country_code
    [municipality.postal_address]        # optional (Postfach)
    [municipality.contact]               # name, phone, email (BT-41..43; departments may override)
    [municipality.bank_accounts.<id>]    # iban, bic, bank_name, account_holder; the first is the default
    [municipality.court]                 # name, address: the competent Verwaltungsgericht (Rechtsbehelfsbelehrung)
    design = "design"                    # the design folder (relative to this file); default: the package's
                                         # neutral one, its {placeholders} filled from [municipality]
    [database]   url                     # default sqlite:///var/erechnung.sqlite3
                 schema                  # PostgreSQL: the municipality's own schema (several in one database)
    [archive]    location, retention_years = {invoices = 8, notices = 10}
    [limits]     file_bytes (largest dropped file), batch_attempts (tries before a batch is set aside),
                 and what a file may hold: max_rows, max_columns, max_cells, ... (config/limits.py, the table)
    [payments]   patterns, scan_text, missing_check_digit, return_fee, ... (config/payments.py: matching rules)
    [departments.<id>]                   # name, drop_zone, format, encoding, delimiter, mapping,
                                         # bank_account, number_range = {prefix, width}, contact
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, ValidationError, field_validator

from ..artifacts import code_list
from ..model import identifiers
from .channels import DeliverySection
from .console import ConsoleSection
from .s3 import S3Section
from .stadtkasse import StadtkasseSection
from .cluster import ClusterSection
from .design import DEFAULT_DIR, Design, DesignError, load_design
from .limits import Limits
from .payments import PaymentsSection
from .locations import DEFAULT_DATABASE_URL, Archive, Database, Location, parse_location
from .problems import ConfigError, ConfigProblem, Strict, checked, custom, problems_from, shown, toml_table


# ============================================================================================== models


class Address(Strict):
    street: str
    supplement: str | None = None
    post_code: str
    city: str
    country_code: str = "DE"

    _post_code = field_validator("post_code")(checked(identifiers.parse_post_code))

    @field_validator("country_code")
    @classmethod
    def _country(cls, v: str) -> str:
        """BR-CL-14: a country code of ISO 3166-1 alpha-2, as the installed bundle's EN 16931 rules list them
        (a code outside the list would get every document of the municipality rejected)."""
        if not re.fullmatch(r"[A-Z0-9]{2}", v):
            raise custom("kein Ländercode", "ISO 3166-1 Alpha-2 in Großbuchstaben, z. B. DE")
        known = code_list("BR-CL-14")
        if known is not None and v not in known:
            raise custom(f"kein Ländercode der ISO 3166-1 (BR-CL-14): {v}",
                         "geben Sie den Ländercode aus zwei Großbuchstaben an, z. B. DE, AT, NL")
        return v


class Contact(Strict):
    """BG-6 seller contact: name (Stelle), phone and e-mail (BR-DE-2, -5, -6, -7)."""

    name: str
    phone: str
    email: str

    _email = field_validator("email")(checked(identifiers.parse_email))


class BankAccount(Strict):
    iban: str
    bic: str | None = None
    bank_name: str | None = None
    account_holder: str | None = None

    _iban = field_validator("iban")(checked(identifiers.parse_iban))
    _bic = field_validator("bic")(checked(identifiers.parse_bic))


class NumberRange(Strict):
    """Numbers for documents whose specialist system supplies none: ``prefix`` + the counter, zero-padded to
    ``width`` (``RE-2026-`` and 6 give ``RE-2026-000117``). The counter itself is kept by the state store."""

    prefix: str = Field(min_length=1)
    width: int = Field(default=6, ge=1, le=12)
    start: int = Field(default=1, ge=0)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9./_-]+", v):
            raise custom("enthält Zeichen, die in Rechnungsnummern stören",
                         "nur Buchstaben, Ziffern und . / _ - verwenden, z. B. RE-2026-")
        return v

    def format(self, counter: int) -> str:
        return f"{self.prefix}{counter:0{self.width}d}"


class Court(Strict):
    """The administrative court competent for the municipality's district (§ 52 VwGO): its name and address as
    the Rechtsbehelfsbelehrung names them (§ 58 Abs. 1 VwGO)."""

    name: str = Field(min_length=1)
    address: str = Field(min_length=1)


class Municipality(Strict):
    name: str = Field(min_length=1)
    head: str | None = None  # "Der Bürgermeister": the authority under whose head notices are issued
    address: Address
    postal_address: Address | None = None
    municipality_key: str  # Amtlicher Gemeindeschlüssel: BT-30 on invoices, identifies the authority
    vat_id: str | None = None
    tax_number: str | None = None
    electronic_address: str  # BT-34: where buyers reach the municipality electronically
    electronic_address_scheme: str = "EM"
    leitweg_id: str | None = None  # the municipality's own Leitweg-ID, where it receives invoices
    contact: Contact
    bank_accounts: dict[str, BankAccount] = Field(min_length=1)
    creditor_id: str | None = None  # SEPA Gläubiger-ID, for direct debits (BT-90)
    due_days: int = Field(default=30, ge=0, le=365)
    website: str | None = None
    opening_hours: str | None = None
    court: Court | None = None  # the Verwaltungsgericht of notices' Rechtsbehelfsbelehrung
    design: str | None = None  # design folder, relative to config.toml; default: the package's neutral design

    _ags = field_validator("municipality_key")(checked(identifiers.parse_municipality_key))
    _vat = field_validator("vat_id")(checked(identifiers.parse_vat_id))
    _leitweg = field_validator("leitweg_id")(checked(identifiers.parse_leitweg_id))
    _creditor = field_validator("creditor_id")(checked(identifiers.parse_creditor_id))

    @field_validator("tax_number")
    @classmethod
    def _tax_number(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[0-9/ ]{10,16}", v):
            raise custom("keine Steuernummer", "z. B. 123/456/78901 (wie vom Finanzamt vergeben)")
        return v

    @field_validator("electronic_address")
    @classmethod
    def _electronic_address(cls, v: str) -> str:
        if "@" in v:
            return checked(identifiers.parse_email)(v)
        return checked(identifiers.parse_leitweg_id)(v)

    @property
    def default_account(self) -> BankAccount:
        return next(iter(self.bank_accounts.values()))

    def design_values(self) -> dict[str, str]:
        """What the design's ``{placeholders}`` stand for (``design.PLACEHOLDERS``): everything a
        letter shows about the sender comes from here."""
        a, post, bank = self.address, self.postal_address or self.address, self.default_account
        return {
            "name": self.name, "head": self.head or "", "street": a.street, "post_code": a.post_code,
            "city": a.city, "address": f"{a.street}, {a.post_code} {a.city}",
            "postal_address": f"{post.street} · {post.post_code} {post.city}", "contact_name": self.contact.name,
            "phone": self.contact.phone, "email": self.contact.email, "website": self.website or "",
            "opening_hours": self.opening_hours or "", "account_holder": bank.account_holder or self.name,
            "bank_name": bank.bank_name or "", "iban": bank.iban, "bic": bank.bic or "",
            "court": self.court.name if self.court else "", "court_address": self.court.address if self.court else "",
        }


Encoding = Literal["utf-8", "windows-1252", "iso-8859-15", "auto"]
#: The department settings that only text exports read, and the formats that read them (fixed-width text is
#: decoded like CSV; an older specialist system often writes it in Windows-1252).
TEXT_SETTINGS: dict[str, tuple[str, ...]] = {"encoding": ("csv", "fixed"), "delimiter": ("csv",)}
Delimiter = Literal[";", ",", "\t", "auto"]
FormatName = Literal["csv", "json", "jsonl", "xlsx", "xml", "pdf", "fixed", "xml-records"]
#: The formats a department may deliver (``format``), as ``intake.read_batch`` reads them.
FORMATS: tuple[str, ...] = get_args(FormatName)
#: Formats whose records go through a mapping profile; xml and pdf are finished documents; fixed is
#: fixed-width text, xml-records XML in a specialist system's own schema (positions and paths in the
#: profile's [reader]).
MAPPED_FORMATS = frozenset({"csv", "json", "jsonl", "xlsx", "fixed", "xml-records"})


class Department(Strict):
    id: str
    name: str = Field(min_length=1)
    drop_zone: Location
    format: tuple[FormatName, ...]
    encoding: Encoding = "auto"
    delimiter: Delimiter = "auto"
    mapping: str | None = None  # path of the mapping profile, relative to the configuration file
    number_range: NumberRange | None = None
    bank_account: str | None = None  # key of municipality.bank_accounts; default: the first
    contact: Contact | None = None  # overrides municipality.contact on this department's documents

    _drop_zone = field_validator("drop_zone", mode="before")(
        lambda v: parse_location(v) if isinstance(v, str) else v)

    @field_validator("format", mode="before")
    @classmethod
    def _one_or_more(cls, v: Any) -> Any:
        return (v,) if isinstance(v, str) else v

    @field_validator("format")
    @classmethod
    def _not_empty(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise custom("keine Formate angegeben", "format = \"csv\" oder eine Liste wie [\"xlsx\", \"csv\"]")
        return v

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", v):
            raise custom("keine gültige Abteilungskennung",
                         "nur Kleinbuchstaben, Ziffern, - und _ verwenden, z. B. [departments.standesamt]")
        return v


class Config(Strict):
    municipality: Municipality
    database: Database = Field(default_factory=Database)
    archive: Archive = Field(default_factory=Archive)
    limits: Limits = Field(default_factory=Limits)
    departments: dict[str, Department] = Field(min_length=1)
    recipients: str | None = None  # a recipient register CSV to import (relative to this file)
    delivery: DeliverySection = Field(default_factory=DeliverySection)  # channels, retries, legal dates
    console: ConsoleSection = Field(default_factory=ConsoleSection)  # the web console's access (issue 14)
    payments: PaymentsSection = Field(default_factory=PaymentsSection)  # matching bank entries (issue 15)
    stadtkasse: StadtkasseSection = Field(default_factory=StadtkasseSection)  # the booking export (issue 15)
    cluster: ClusterSection = Field(default_factory=ClusterSection)  # runs over several machines (issue 16)
    s3: S3Section | None = None  # the S3 server of s3:// locations (else the include's, else boto3's own)
    source: str = "config.toml"
    base_dir: str = "."

    def department(self, department_id: str) -> Department:
        try:
            return self.departments[department_id]
        except KeyError:
            raise KeyError(f"no department {department_id!r} in {self.source}; "
                           f"known: {', '.join(self.departments)}") from None

    def account_of(self, department: Department) -> BankAccount:
        return self.municipality.bank_accounts[department.bank_account] if department.bank_account \
            else self.municipality.default_account

    def contact_of(self, department: Department) -> Contact:
        return department.contact or self.municipality.contact

    def path(self, relative: str) -> Path:
        """A path of this configuration (mapping profile, recipients file) resolved against its folder."""
        p = Path(relative)
        return p if p.is_absolute() else Path(self.base_dir) / p

    def design(self) -> Design:
        """The municipality's design (``[municipality] design``, else the package's neutral one), every
        placeholder filled from ``[municipality]``; checked when the configuration is loaded."""
        folder = self.path(self.municipality.design) if self.municipality.design else DEFAULT_DIR
        return load_design(folder, self.municipality.design_values())


# ============================================================================================== parsing


def _cross_checks(data: Mapping[str, Any], file: str) -> list[ConfigProblem]:
    """What one key alone cannot tell: references between keys. Runs on the raw data, so that these mistakes
    are reported together with the others."""
    out: list[ConfigProblem] = []
    muni = data.get("municipality") if isinstance(data.get("municipality"), dict) else {}
    accounts = muni.get("bank_accounts") if isinstance(muni.get("bank_accounts"), dict) else {}
    departments = data.get("departments") if isinstance(data.get("departments"), dict) else {}
    if isinstance(muni, dict) and not muni.get("vat_id") and not muni.get("tax_number"):
        out.append(ConfigProblem(file, "municipality.vat_id", None, "weder USt-IdNr. noch Steuernummer angegeben",
                                 "geben Sie vat_id oder tax_number an (BR-DE-16, für steuerbare Leistungen)"))
    zones: dict[str, str] = {}
    for dep_id, dep in departments.items():
        if not isinstance(dep, dict):
            continue
        where = f"departments.{dep_id}"
        account = dep.get("bank_account")
        if isinstance(account, str) and accounts and account not in accounts:
            out.append(ConfigProblem(file, f"{where}.bank_account", repr(account), "kein Konto dieses Namens",
                                     f"verwenden Sie eines von municipality.bank_accounts: {', '.join(accounts)}"))
        formats = (dep.get("format"),) if isinstance(dep.get("format"), str) else tuple(dep.get("format") or ())
        mapped = [f for f in formats if f in MAPPED_FORMATS]
        if mapped and not dep.get("mapping"):
            out.append(ConfigProblem(file, f"{where}.mapping", None, f"das Format {mapped[0]} braucht ein "
                                     "Mapping-Profil", f"mapping = \"mappings/{dep_id}.toml\""))
        if not mapped and formats and dep.get("mapping"):
            out.append(ConfigProblem(file, f"{where}.mapping", repr(dep.get("mapping")), "fertige Dokumente "
                                     "(xml, pdf) werden nicht gemappt", "entfernen Sie mapping"))
        for key, applies in TEXT_SETTINGS.items():
            if key in dep and not set(formats) & set(applies):
                names = " und ".join(a.upper() if a == "csv" else f"{a}" for a in applies)
                out.append(ConfigProblem(file, f"{where}.{key}", shown(dep[key]), f"gilt nur für {names}",
                                         f"entfernen Sie {key} oder nehmen Sie {applies[0]} in format auf"))
        zone = dep.get("drop_zone")
        if isinstance(zone, str):
            norm = zone.strip().rstrip("/")
            if norm in zones:
                out.append(ConfigProblem(file, f"{where}.drop_zone", repr(zone),
                                         f"dieselbe Ablage wie departments.{zones[norm]}",
                                         "jede Abteilung braucht ihre eigene Ablage"))
            zones.setdefault(norm, dep_id)
    database = data.get("database") if isinstance(data.get("database"), dict) else {}
    if database.get("schema") is not None and not str(database.get("url", DEFAULT_DATABASE_URL)).startswith(
            "postgresql"):
        out.append(ConfigProblem(file, "database.schema", shown(database["schema"]), "gilt nur für PostgreSQL",
                                 "entfernen Sie schema (SQLite: eine eigene Datei je Kommune) oder geben Sie "
                                 "eine postgresql://-URL an"))
    console = data.get("console") if isinstance(data.get("console"), dict) else {}
    for i, user in enumerate(console.get("users") or ()):
        for dep_id in (user.get("departments") or ()) if isinstance(user, dict) else ():
            if isinstance(dep_id, str) and dep_id not in departments:
                out.append(ConfigProblem(file, f"console.users[{i}].departments", repr(dep_id),
                                         "keine Abteilung dieses Namens",
                                         f"verwenden Sie eine von departments: {', '.join(departments)}"))
    return out


def parse_config(text: str | bytes, name: str = "config.toml", *, base_dir: str | Path = ".") -> Config:
    """The configuration in ``text``; ``ConfigError`` lists every mistake."""
    data = toml_table(text, name)
    problems: list[ConfigProblem] = []
    for reserved in ("source", "base_dir"):
        if reserved in data:
            problems.append(ConfigProblem(name, reserved, shown(data[reserved]), "ist kein bekannter Schlüssel",
                                          "entfernen Sie ihn"))
            data.pop(reserved)
    departments = data.get("departments")
    if isinstance(departments, dict):
        data["departments"] = {k: ({**v, "id": k} if isinstance(v, dict) else v) for k, v in departments.items()}
    problems += _cross_checks(data, name)
    config = None
    try:
        config = Config.model_validate({**data, "source": name, "base_dir": str(base_dir)})
    except ValidationError as exc:
        problems = problems_from(exc, name, data, model=Config) + problems
    if problems:
        raise ConfigError(problems)
    assert config is not None
    return config


def _design_problems(config: Config, file: str) -> list[ConfigProblem]:
    """The design folder ``[municipality] design`` names, loaded with the municipality's values: a placeholder
    that names no key of the configuration, or a design that cannot be used, is refused here and not in the
    first letter."""
    try:
        config.design()
    except DesignError as exc:
        return [ConfigProblem(file, "municipality.design", shown(config.municipality.design),
                              f"Design {exc.source}: {problem}",
                              "korrigieren Sie den Design-Ordner oder ergänzen Sie die Angabe unter [municipality]")
                for problem in exc.problems]
    return []


def load_config(path: str | Path) -> Config:
    """The configuration file at ``path``; relative paths in it are relative to its folder."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(file), "", None, f"kann nicht gelesen werden: "
                                         f"{exc.strerror or exc}", "prüfen Sie Pfad und Rechte")]) from None
    config = parse_config(data, str(file), base_dir=file.resolve().parent)
    problems = _design_problems(config, str(file))  # the design folder is relative to the file: checked here
    if problems:
        raise ConfigError(problems)
    return config


__all__ = ["Address", "BankAccount", "Config", "Contact", "Court", "Department", "FORMATS", "MAPPED_FORMATS",
           "Municipality", "NumberRange", "TEXT_SETTINGS", "load_config", "parse_config"]
