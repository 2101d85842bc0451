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
    [archive]    location, retention_years = {invoices = 8, notices = 10}
    [limits]     file_bytes (largest dropped file), batch_attempts (tries before a batch is set aside),
                 and what a file may hold: max_rows, max_columns, max_cells, ... (intake/limits.py, the table)
    [departments.<id>]                   # name, drop_zone, format, encoding, delimiter, mapping,
                                         # bank_account, number_range = {prefix, width}, contact
"""
from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from ..delivery.settings import DeliverySection
from ..artifacts import code_list
from ..errors import ErechnungError
from . import values
from .formats import FORMATS, MAX_BYTES
from .limits import IntakeLimits
from .records import RecordError

if TYPE_CHECKING:
    from ..documents.design import Design

DEFAULT_DATABASE_URL = "sqlite:///var/erechnung.sqlite3"
DEFAULT_ARCHIVE = "var/archive"
#: § 147 Abs. 3 AO (since 2025: 8 years for Buchungsbelege, GoBD); a shorter period is a mistake.
MIN_INVOICE_RETENTION_YEARS = 8


# ============================================================================================== problems


@dataclass(frozen=True)
class ConfigProblem:
    """One mistake in a configuration or mapping file."""

    file: str
    key: str
    value: str | None
    problem: str
    fix: str

    def __str__(self) -> str:
        value = f" = {self.value}" if self.value is not None else ""
        return f"{self.file}: {self.key or '(Datei)'}{value}: {self.problem} - {self.fix}"


class ConfigError(ErechnungError, ValueError):
    """A configuration (or mapping profile) with mistakes; ``problems`` lists every one."""

    def __init__(self, problems: list[ConfigProblem] | tuple[ConfigProblem, ...]) -> None:
        self.problems = tuple(problems)
        count = f"{len(self.problems)} Fehler" if len(self.problems) != 1 else "1 Fehler"
        super().__init__(f"{count} in der Konfiguration:\n" + "\n".join(f"  {p}" for p in self.problems))


def _custom(problem: str, fix: str) -> PydanticCustomError:
    return PydanticCustomError("config", "{problem}", {"problem": problem, "fix": fix})


def _checked(parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    """A field validator from a ``values`` parser: its German problem and fix become the config problem."""
    def check(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise _custom("ist kein Text", "schreiben Sie den Wert in Anführungszeichen")
        try:
            return parse(value)
        except RecordError as exc:
            raise _custom(exc.problem, exc.fix) from None
    return check


def problems_from(exc: ValidationError, file: str, data: Any, prefix: str = "", *,
                  model: type[BaseModel] | None = None) -> list[ConfigProblem]:
    """One ConfigProblem per pydantic error, with the key path, the value as written and a fix. ``model``: the
    model ``data`` was validated as (default: ``Config``); an unknown key's hint lists the keys allowed there."""
    out = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "str", "list[", "tuple["))]
        key = prefix + _key_path(err["loc"])
        kind = err["type"]
        value = None if kind == "missing" else _show(err.get("input"))
        ctx = err.get("ctx") or {}
        if kind == "config":
            problem, fix = ctx["problem"], ctx["fix"]
        elif kind == "missing":
            problem, fix = "fehlt", f"ergänzen Sie {loc[-1] if loc else 'den Schlüssel'} = ..."
        elif kind == "extra_forbidden":
            problem, fix = "ist kein bekannter Schlüssel", _known_keys(model or Config, data, err["loc"])
        elif kind in ("literal_error", "enum"):
            problem, fix = "ist kein erlaubter Wert", f"erlaubt: {str(ctx.get('expected', '')).replace(' or ', ' oder ')}"
        elif kind in ("string_type",):
            problem, fix = "ist kein Text", "schreiben Sie den Wert in Anführungszeichen"
        elif kind in ("int_type", "int_parsing", "int_from_float"):
            problem, fix = "ist keine ganze Zahl", "schreiben Sie eine ganze Zahl ohne Anführungszeichen"
        elif kind in ("bool_type", "bool_parsing"):
            problem, fix = "ist kein Wahrheitswert", "schreiben Sie true oder false"
        elif kind in ("dict_type", "model_type", "model_attributes_type"):
            problem, fix = "ist keine Tabelle", f"schreiben Sie [{key}] mit den Schlüsseln darunter"
        elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            problem, fix = err["msg"].replace("Input should be", "muss").replace("greater than or equal to",
                                                                                 "mindestens").replace(
                "less than or equal to", "höchstens"), "korrigieren Sie den Wert"
        elif kind in ("too_short", "too_long"):
            problem, fix = "hat zu wenige oder zu viele Einträge", err["msg"]
        else:
            problem, fix = err["msg"], "korrigieren Sie den Wert"
        out.append(ConfigProblem(file=file, key=key, value=value, problem=problem, fix=fix))
    return out


def _key_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        elif str(p).startswith(("function-", "str", "list[", "tuple[", "literal[")):
            continue
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts)


def _show(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def _known_keys(root: type[BaseModel], data: Any, loc: tuple[Any, ...]) -> str:
    """'remove it' with the keys allowed where it stands in ``root`` (and the one probably meant)."""
    model = _model_at(root, loc[:-1], data)
    if model is None:
        return "entfernen Sie den Schlüssel"
    known = [k for k in model.model_fields if k not in ("id", "source", "base_dir")]
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f"meinten Sie {close[0]!r}? " if close else ""
    return f"{hint}entfernen oder korrigieren Sie ihn; erlaubt sind: {', '.join(known)}"


def _model_at(model: Any, loc: tuple[Any, ...], data: Any) -> Any:
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = getattr(model, "model_fields", {}).get(str(part))
        if field is None:  # a dict key (department id, account id)
            continue
        model = _model_of(field.annotation)
    return model


def _model_of(annotation: Any) -> Any:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


# ============================================================================================== models


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(Strict):
    """Where files are: a local folder, or ``s3://bucket/prefix`` (the storage adapter is chosen at the edge)."""

    kind: Literal["local", "s3"]
    path: str = ""  # local folder
    bucket: str = ""
    prefix: str = ""

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.kind == "s3" else self.path


def parse_location(text: str) -> Location:
    s = text.strip()
    if s.startswith("s3://"):
        m = re.fullmatch(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(.*))?", s)
        if not m:
            raise _custom("kein gültiger S3-Ort", "schreiben Sie s3://bucket/prefix (Bucket klein, 3-63 Zeichen)")
        return Location(kind="s3", bucket=m[1], prefix=(m[2] or "").strip("/"))
    if re.match(r"^[a-z][a-z0-9+.-]*://", s, re.IGNORECASE):
        raise _custom("dieses Speicherschema wird nicht unterstützt",
                      "geben Sie einen lokalen Ordner oder s3://bucket/prefix an")
    if not s:
        raise _custom("ist leer", "geben Sie einen lokalen Ordner oder s3://bucket/prefix an")
    return Location(kind="local", path=s)


class Address(Strict):
    street: str
    supplement: str | None = None
    post_code: str
    city: str
    country_code: str = "DE"

    _post_code = field_validator("post_code")(_checked(values.parse_post_code))

    @field_validator("country_code")
    @classmethod
    def _country(cls, v: str) -> str:
        """BR-CL-14: a country code of ISO 3166-1 alpha-2, as the installed bundle's EN 16931 rules list them
        (a code outside the list would get every document of the municipality rejected)."""
        if not re.fullmatch(r"[A-Z0-9]{2}", v):
            raise _custom("kein Ländercode", "ISO 3166-1 Alpha-2 in Großbuchstaben, z. B. DE")
        known = code_list("BR-CL-14")
        if known is not None and v not in known:
            raise _custom(f"kein Ländercode der ISO 3166-1 (BR-CL-14): {v}",
                          "geben Sie den Ländercode aus zwei Großbuchstaben an, z. B. DE, AT, NL")
        return v


class Contact(Strict):
    """BG-6 seller contact: name (Stelle), phone and e-mail (BR-DE-2, -5, -6, -7)."""

    name: str
    phone: str
    email: str

    _email = field_validator("email")(_checked(values.parse_email))


class BankAccount(Strict):
    iban: str
    bic: str | None = None
    bank_name: str | None = None
    account_holder: str | None = None

    _iban = field_validator("iban")(_checked(values.parse_iban))
    _bic = field_validator("bic")(_checked(values.parse_bic))


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
            raise _custom("enthält Zeichen, die in Rechnungsnummern stören",
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

    _ags = field_validator("municipality_key")(_checked(values.parse_municipality_key))
    _vat = field_validator("vat_id")(_checked(values.parse_vat_id))
    _leitweg = field_validator("leitweg_id")(_checked(values.parse_leitweg_id))
    _creditor = field_validator("creditor_id")(_checked(values.parse_creditor_id))

    @field_validator("tax_number")
    @classmethod
    def _tax_number(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[0-9/ ]{10,16}", v):
            raise _custom("keine Steuernummer", "z. B. 123/456/78901 (wie vom Finanzamt vergeben)")
        return v

    @field_validator("electronic_address")
    @classmethod
    def _electronic_address(cls, v: str) -> str:
        if "@" in v:
            return _checked(values.parse_email)(v)
        return _checked(values.parse_leitweg_id)(v)

    @property
    def default_account(self) -> BankAccount:
        return next(iter(self.bank_accounts.values()))

    def design_values(self) -> dict[str, str]:
        """What the design's ``{placeholders}`` stand for (``documents.design.PLACEHOLDERS``): everything a
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


class Retention(Strict):
    invoices: int = Field(default=MIN_INVOICE_RETENTION_YEARS, ge=1, le=100)
    notices: int = Field(default=10, ge=1, le=100)  # per the municipality's records schedule (Aktenplan)

    @field_validator("invoices")
    @classmethod
    def _gobd(cls, v: int) -> int:
        if v < MIN_INVOICE_RETENTION_YEARS:
            raise _custom(f"Rechnungen sind mindestens {MIN_INVOICE_RETENTION_YEARS} Jahre aufzubewahren",
                          f"invoices = {MIN_INVOICE_RETENTION_YEARS} oder mehr (§ 147 Abs. 3 AO, GoBD)")
        return v


class Database(Strict):
    url: str = DEFAULT_DATABASE_URL

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^[a-z][a-z0-9+]*://", v):
            raise _custom("keine Datenbank-URL", f"z. B. {DEFAULT_DATABASE_URL} oder postgresql://host/db")
        return v


class Archive(Strict):
    location: Location = Field(default_factory=lambda: Location(kind="local", path=DEFAULT_ARCHIVE))
    retention_years: Retention = Field(default_factory=Retention)

    _location = field_validator("location", mode="before")(
        lambda v: parse_location(v) if isinstance(v, str) else v)


class Limits(IntakeLimits):
    """Bounds on what a drop zone may hand the pipeline (untrusted input): a file over ``file_bytes`` is refused
    unread and nothing of it archived; a batch whose processing failed ``batch_attempts`` times (its run died,
    or an unexpected error) is set aside as poison so that later runs go on. The readers' bounds on what a file
    may hold (rows, cells, decompression, nesting) are inherited from ``IntakeLimits``, the table of them."""

    file_bytes: int = Field(default=MAX_BYTES, ge=1, le=MAX_BYTES)
    batch_attempts: int = Field(default=3, ge=1, le=100)


Encoding = Literal["utf-8", "windows-1252", "iso-8859-15", "auto"]
#: The department settings that only text exports read, and the formats that read them (fixed-width text is
#: decoded like CSV; an older specialist system often writes it in Windows-1252).
TEXT_SETTINGS: dict[str, tuple[str, ...]] = {"encoding": ("csv", "fixed"), "delimiter": ("csv",)}
Delimiter = Literal[";", ",", "\t", "auto"]
FormatName = Literal["csv", "json", "jsonl", "xlsx", "xml", "pdf", "fixed", "xml-records"]
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
            raise _custom("keine Formate angegeben", "format = \"csv\" oder eine Liste wie [\"xlsx\", \"csv\"]")
        return v

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", v):
            raise _custom("keine gültige Abteilungskennung",
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

    def design(self) -> "Design":
        """The municipality's design (``[municipality] design``, else the package's neutral one), every
        placeholder filled from ``[municipality]``; checked when the configuration is loaded."""
        from ..documents.design import DEFAULT_DIR, load_design

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
                out.append(ConfigProblem(file, f"{where}.{key}", _show(dep[key]), f"gilt nur für {names}",
                                         f"entfernen Sie {key} oder nehmen Sie {applies[0]} in format auf"))
        zone = dep.get("drop_zone")
        if isinstance(zone, str):
            norm = zone.strip().rstrip("/")
            if norm in zones:
                out.append(ConfigProblem(file, f"{where}.drop_zone", repr(zone),
                                         f"dieselbe Ablage wie departments.{zones[norm]}",
                                         "jede Abteilung braucht ihre eigene Ablage"))
            zones.setdefault(norm, dep_id)
    return out


def parse_config(text: str | bytes, name: str = "config.toml", *, base_dir: str | Path = ".") -> Config:
    """The configuration in ``text``; ``ConfigError`` lists every mistake."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ConfigError([ConfigProblem(name, "", None, "die Datei ist nicht UTF-8-kodiert",
                                             "speichern Sie sie als UTF-8")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(name, "", None, f"kein gültiges TOML: {exc}",
                                         "prüfen Sie die genannte Zeile (Anführungszeichen, = , [Abschnitt])")]) \
            from None
    problems: list[ConfigProblem] = []
    for reserved in ("source", "base_dir"):
        if reserved in data:
            problems.append(ConfigProblem(name, reserved, _show(data[reserved]), "ist kein bekannter Schlüssel",
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
        problems = problems_from(exc, name, data) + problems
    if problems:
        raise ConfigError(problems)
    assert config is not None
    return config


def _design_problems(config: Config, file: str) -> list[ConfigProblem]:
    """The design folder ``[municipality] design`` names, loaded with the municipality's values: a placeholder
    that names no key of the configuration, or a design that cannot be used, is refused here and not in the
    first letter."""
    from ..documents.design import DesignError

    try:
        config.design()
    except DesignError as exc:
        return [ConfigProblem(file, "municipality.design", _show(config.municipality.design),
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


__all__ = ["Address", "Archive", "BankAccount", "Config", "ConfigError", "ConfigProblem", "Contact", "Database",
           "Department", "FORMATS", "Location", "MAPPED_FORMATS", "Municipality", "NumberRange", "Retention",
           "load_config", "parse_config", "parse_location", "problems_from"]
