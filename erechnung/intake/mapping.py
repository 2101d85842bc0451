"""From a department's records to documents: a declarative mapping profile per department.

A profile (TOML, ``examples/mappings/<department>.toml``) says which column holds which field of the document,
which fields are constant, how numbers and dates are written, which rows belong to one document, where the
recipient comes from and what kind of document each group of rows becomes::

    group_by = "Rechnungsnummer"          # rows with the same value are ONE document, lines in row order
    [kind]
    default = "invoice"                   # invoice | credit_note | notice
    negative_total = "credit_note"        # a negative total becomes a credit note (amounts turned)
    column = "Belegart"                   # optional: a column chooses ...
    values = { RE = "invoice", GS = "credit_note" }   # ... by its value
    [formats]
    decimal_separator = ","               # "," | "." | "auto" (see erechnung.intake.values)
    german = true                         # with "auto": read 1.234 as 1234
    dates = ["DD.MM.YYYY", "DD.MM.YY"]
    [columns]                             # field = "column header"
    number = "Rechnungsnummer"            # omitted: the department's number range gives the number
    buyer.customer_number = "Kundennummer"   # looked up in the recipient register ...
    buyer.name = "Name"                   # ... or the recipient inline, when the customer number is empty
    lines.quantity = "Menge"
    lines.unit_price = "Einzelpreis"
    [constants]                           # field = value, the same for every document
    lines.vat_category = "O"
    vat_exemption_reason = "Nicht steuerbar: hoheitliche Tätigkeit (§ 2b UStG)"

``FIELDS`` lists every field with its level (document, buyer, line) and type. Text constants may name other
fields in braces (``subject = "die Hundesteuer {assessment.year}"``).

``map_batch`` turns a ``Batch`` into ``DocumentDraft``s. Every problem is a ``RecordError`` with file, row,
column, value, problem and fix; a document with any problem in any of its rows is quarantined as a whole (all its
rows, every reason) and the rest of the batch goes on. ``build`` turns a draft into an ``Invoice`` (with
``erechnung.builder``) or a ``Notice`` (with ``erechnung.notices``), numbering it from the department's number
range when the data had no number; ``build_all`` does it for many, quarantining what the builder refuses.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..config import Config, ConfigError, ConfigProblem, Department
from ..config.problems import problems_from, toml_table
from ..errors import RecordError
from ..model import identifiers
from ..model.amounts import de_amount
from ..model.codes import EXEMPTION_REASON_CATEGORIES, VatCategory
from ..model.documents import DocumentKind
from ..model.recipients import Recipient, RecipientRegister
from . import values
from .formats import ReaderOptions
from .identity import IdentityRule
from .records import Batch, RawRecord
from .recipients import RecipientProblems, recipient_from_fields

NOTICE_TYPES = ("gebuehrenbescheid", "abfallgebuehrenbescheid", "hundesteuerbescheid", "grundsteuerbescheid",
                "gewerbesteuerbescheid", "mahnung")
#: Notice types whose facts are the document's assessment.* fields, not positions (lines).
ASSESSED_TYPES = ("grundsteuerbescheid", "gewerbesteuerbescheid")
CENT = Decimal("0.01")


# ============================================================================================== the fields


@dataclass(frozen=True)
class Target:
    """A field a profile can fill: where it belongs and what kind of value it takes."""

    level: Literal["document", "buyer", "line"]
    type: str  # text, decimal, date, int, bool, iban, email, leitweg, code, list, decimals
    meaning: str  # German, for messages: "die Menge"
    choices: tuple[str, ...] = ()


def _t(level: str, type_: str, meaning: str, choices: Sequence[str] = ()) -> Target:
    return Target(level, type_, meaning, tuple(choices))  # type: ignore[arg-type]


FIELDS: Mapping[str, Target] = {
    # ---- document (invoice and notice)
    "number": _t("document", "text", "die Belegnummer"),
    "issue_date": _t("document", "date", "das Belegdatum"),
    "due_date": _t("document", "date", "das Fälligkeitsdatum"),
    "due_days": _t("document", "int", "das Zahlungsziel in Tagen"),
    "kassenzeichen": _t("document", "text", "das Kassenzeichen"),
    "notes": _t("document", "list", "der Hinweistext"),
    "notice_type": _t("document", "code", "die Bescheidart", NOTICE_TYPES),
    # ---- invoice
    "currency": _t("document", "code", "die Währung", ("EUR",)),
    "payment_terms": _t("document", "text", "die Zahlungsbedingungen"),
    "leitweg_id": _t("document", "leitweg", "die Leitweg-ID (Käuferreferenz)"),
    "order_reference": _t("document", "text", "die Bestellnummer"),
    "project_reference": _t("document", "text", "die Projektnummer"),
    "contract_reference": _t("document", "text", "die Vertragsnummer"),
    "period_start": _t("document", "date", "der Beginn des Abrechnungszeitraums"),
    "period_end": _t("document", "date", "das Ende des Abrechnungszeitraums"),
    "delivery_date": _t("document", "date", "das Leistungsdatum"),
    "preceding_number": _t("document", "text", "die Nummer der ursprünglichen Rechnung"),
    "preceding_date": _t("document", "date", "das Datum der ursprünglichen Rechnung"),
    "vat_exemption_reason": _t("document", "text", "der Grund der Steuerbefreiung"),
    "debit.iban": _t("document", "iban", "die IBAN für die Lastschrift"),
    "payment.account_iban": _t("document", "iban", "das Konto der Gemeinde, auf das gezahlt wird (eines aus "
                                                   "[municipality.bank_accounts])"),
    "debit.mandate_reference": _t("document", "text", "die Mandatsreferenz"),
    # ---- notice
    "file_number": _t("document", "text", "das Aktenzeichen"),
    "subject": _t("document", "text", "der Gegenstand des Bescheids"),
    "legal_basis": _t("document", "list", "die Rechtsgrundlage"),
    "reasons": _t("document", "list", "die Begründung"),
    "automated": _t("document", "bool", "der Hinweis auf automatisierten Erlass"),
    "already_paid": _t("document", "decimal", "der bereits gezahlte Betrag"),
    "official.name": _t("document", "text", "der Name der Sachbearbeitung"),
    "official.phone": _t("document", "text", "die Durchwahl der Sachbearbeitung"),
    "official.email": _t("document", "email", "die E-Mail der Sachbearbeitung"),
    "official.room": _t("document", "text", "das Zimmer der Sachbearbeitung"),
    "official.signs_as": _t("document", "text", "der Zeichnungsvermerk"),
    "assessment.year": _t("document", "int", "das Veranlagungsjahr"),
    "assessment.tiers": _t("document", "decimals", "die Steuersätze je Hund"),
    "assessment.dangerous_rate": _t("document", "decimal", "der Steuersatz für gefährliche Hunde"),
    "assessment.tax_type": _t("document", "code", "die Grundsteuerart", ("A", "B", "C")),
    "assessment.property": _t("document", "text", "das Grundstück"),
    "assessment.tax_office_file_number": _t("document", "text", "das Aktenzeichen des Finanzamts"),
    "assessment.messbetrag": _t("document", "decimal", "der Steuermessbetrag"),
    "assessment.hebesatz": _t("document", "decimal", "der Hebesatz"),
    "assessment.small_amount_rule": _t("document", "bool", "die Kleinbetragsregel"),
    "assessment.annual_payment": _t("document", "bool", "die Jahreszahlung"),
    "assessment.business": _t("document", "text", "der Gewerbebetrieb"),
    "assessment.prepayments": _t("document", "bool", "die Angabe, ob Vorauszahlungen festgesetzt werden"),
    # ---- recipient
    "buyer.customer_number": _t("buyer", "text", "die Kundennummer"),
    "buyer.kind": _t("buyer", "text", "die Art des Empfängers"),
    "buyer.name": _t("buyer", "text", "der Name des Empfängers"),
    "buyer.salutation": _t("buyer", "text", "die Anrede"),
    "buyer.street": _t("buyer", "text", "Straße und Hausnummer"),
    "buyer.supplement": _t("buyer", "text", "der Adresszusatz"),
    "buyer.post_code": _t("buyer", "text", "die Postleitzahl"),
    "buyer.city": _t("buyer", "text", "der Ort"),
    "buyer.country_code": _t("buyer", "text", "das Land"),
    "buyer.email": _t("buyer", "text", "die E-Mail-Adresse"),
    "buyer.leitweg_id": _t("buyer", "text", "die Leitweg-ID des Empfängers"),
    "buyer.vat_id": _t("buyer", "text", "die USt-IdNr. des Empfängers"),
    "buyer.channels": _t("buyer", "text", "die Zustellkanäle"),
    "buyer.consents": _t("buyer", "text", "die Einwilligungen"),
    # ---- lines (invoice lines, fee items, dogs)
    "lines.name": _t("line", "text", "die Bezeichnung der Position"),
    "lines.description": _t("line", "text", "die Beschreibung der Position"),
    "lines.quantity": _t("line", "decimal", "die Menge"),
    "lines.unit_price": _t("line", "decimal", "der Einzelpreis"),
    "lines.amount": _t("line", "decimal", "der Betrag der Position"),
    "lines.unit_code": _t("line", "text", "der Einheitencode (UN/ECE Rec 20, z. B. C62)"),
    "lines.unit": _t("line", "text", "die Einheit"),
    "lines.rate_unit": _t("line", "text", "die Einheit des Satzes"),
    "lines.vat_category": _t("line", "code", "die Umsatzsteuerkategorie", tuple(c.value for c in VatCategory)),
    "lines.vat_rate": _t("line", "decimal", "der Umsatzsteuersatz"),
    "lines.sellers_id": _t("line", "text", "die Tarifstelle / Artikelnummer"),
    "lines.note": _t("line", "text", "der Hinweis zur Position"),
    "lines.period_start": _t("line", "date", "der Beginn des Leistungszeitraums"),
    "lines.period_end": _t("line", "date", "das Ende des Leistungszeitraums"),
    "lines.months": _t("line", "int", "die Zahl der Monate"),
    "lines.dangerous": _t("line", "bool", "die Angabe 'gefährlicher Hund'"),
    "lines.vat_exemption_reason": _t("line", "text", "der Grund der Steuerbefreiung der Position"),
}
_BUYER_FIELDS = {k.removeprefix("buyer."): k for k in FIELDS if k.startswith("buyer.")}


# ============================================================================================== the profile


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KindRule(_Strict):
    default: DocumentKind = DocumentKind.INVOICE
    column: str | None = None
    values: dict[str, DocumentKind] = Field(default_factory=dict)
    negative_total: Literal["credit_note", "error"] = "credit_note"


class Formats(_Strict):
    decimal_separator: Literal[",", ".", "auto"] = "auto"
    german: bool = False
    dates: tuple[str, ...] = ("DD.MM.YYYY", "YYYY-MM-DD")
    implied_decimals: dict[str, int] = Field(default_factory=dict)  # field: digits after an unwritten comma

    @field_validator("dates")
    @classmethod
    def _patterns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from pydantic_core import PydanticCustomError

        for pattern in v:
            problem = values.check_date_pattern(pattern)
            if problem:
                raise PydanticCustomError("config", "{problem}", {
                    "problem": f"{pattern!r}: kein Datumsformat",
                    "fix": "verwenden Sie DD, MM, YYYY oder YY mit Trennzeichen, z. B. DD.MM.YYYY, oder EXCEL"})
        return v


class AmountColumn(_Strict):
    """One of several amount columns of a row (care, meals, materials), each a line of its own: ``name`` is the
    line's name (a text, ``{column}`` templates allowed), ``line`` sets other line fields for this line only."""

    column: str = Field(min_length=1)
    name: str = Field(min_length=1)
    line: dict[str, Any] = Field(default_factory=dict)


class SkipRule(_Strict):
    """A row that is no record (``Summe``, ``Gesamt``, a page total): ``matches`` is a regular expression tried at
    the start of the value in ``column`` (default: the file's first column), capitals ignored."""

    column: str | None = None
    matches: str

    @field_validator("matches")
    @classmethod
    def _regex(cls, v: str) -> str:
        from pydantic_core import PydanticCustomError

        try:
            re.compile(v)
        except re.error as exc:
            raise PydanticCustomError("config", "{problem}", {
                "problem": f"{v!r} ist kein gültiger regulärer Ausdruck ({exc})",
                "fix": "z. B. matches = \"Summe|Gesamt\" (| trennt Alternativen)"}) from None
        return v

    def applies(self, record: RawRecord, first_column: str | None) -> bool:
        column = self.column or first_column
        return bool(column) and re.match(self.matches, record.get(column or "").strip(), re.IGNORECASE) is not None


class MappingProfile(_Strict):
    description: str = ""
    group_by: tuple[str, ...] = ()
    values: dict[str, dict[str, str | int | float | bool]] = Field(default_factory=dict)  # field: {file: value}
    skip: tuple[SkipRule, ...] = ()  # rows that are no records: [[skip]] matches = "Summe|Gesamt"
    amounts: tuple[AmountColumn, ...] = ()  # several amount columns: one line each ([[amounts]])
    reader: ReaderOptions = Field(default_factory=ReaderOptions)  # where the records stand in the file
    kind: KindRule = Field(default_factory=KindRule)
    formats: Formats = Field(default_factory=Formats)
    columns: dict[str, str] = Field(default_factory=dict)
    constants: dict[str, Any] = Field(default_factory=dict)
    identity: IdentityRule = Field(default_factory=IdentityRule)  # issue 11: see .identity
    source: str = "mapping.toml"

    @field_validator("group_by", mode="before")
    @classmethod
    def _one_or_more(cls, v: Any) -> Any:
        return (v,) if isinstance(v, str) else v

    @field_validator("skip", mode="before")
    @classmethod
    def _one_rule_or_more(cls, v: Any) -> Any:
        return (v,) if isinstance(v, dict) else v

    def maps(self, target: str) -> bool:
        if self.amounts and target in ("lines.name", "lines.amount", "lines.unit_price", "lines.quantity"):
            return True
        return target in self.columns or target in self.constants

    def column(self, target: str) -> str | None:
        return self.columns.get(target)

    def used_columns(self) -> tuple[str, ...]:
        """The columns the file must have; a template stands for the columns it names."""
        mapped = [c for v in self.columns.values() for c in (template_columns(v) or (v,))]
        cols = list(self.group_by) + mapped + ([self.kind.column] if self.kind.column else []) \
            + [r.column for r in self.skip if r.column] \
            + [c for a in self.amounts for c in (a.column, *template_columns(a.name))]
        return tuple(dict.fromkeys(cols))


#: A column in a template: ``"{Vorname} {Nachname}"`` combines two columns into one value.
_TEMPLATE_COLUMN = re.compile(r"\{([^{}]+)\}")


def template_columns(value: str) -> tuple[str, ...]:
    """The columns a ``[columns]`` template names (empty: ``value`` is a plain column name)."""
    return tuple(c.strip() for c in _TEMPLATE_COLUMN.findall(value))


def fill_template(template: str, record: RawRecord) -> str:
    """``template`` with each ``{column}`` replaced by the record's value; an empty column leaves no double
    space and no dangling separator (``"{Nachname}, {Vorname}"`` with no first name gives ``"Meier"``)."""
    text = _TEMPLATE_COLUMN.sub(lambda m: record.get(m[1].strip()).strip(), template)
    return " ".join(text.split()).strip(" ,;/")


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _flatten_to_fields(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``[values]``: dotted keys down to a field of ``FIELDS``, whose table (file value -> value) stays whole."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and full not in FIELDS and any(f.startswith(full + ".") for f in FIELDS):
            out.update(_flatten_to_fields(value, full + "."))
        else:
            out[full] = value
    return out


def _value_table_problems(profile: MappingProfile, file: str) -> list[ConfigProblem]:
    """``[values]``: each table belongs to a field with a column, and each value it gives fits the field."""
    out: list[ConfigProblem] = []
    for target, table in profile.values.items():
        key = f"values.{target}"
        if target not in FIELDS:
            close = difflib.get_close_matches(target, list(FIELDS), n=1)
            out.append(ConfigProblem(file, key, None, "ist kein bekanntes Feld",
                                     (f"meinten Sie {close[0]}? " if close else "")
                                     + "die Felder stehen in erechnung.intake.mapping.FIELDS"))
            continue
        if target not in profile.columns:
            out.append(ConfigProblem(file, key, None, "das Feld hat keine Spalte unter [columns]",
                                     f"ordnen Sie {target} unter [columns] einer Spalte zu oder entfernen Sie "
                                     "die Wertetabelle"))
        if target.startswith("buyer."):
            continue
        for given, value in table.items():
            try:
                _constant(target, value, profile.formats)
            except RecordError as exc:
                out.append(ConfigProblem(file, f"{key}.{given}", repr(value), exc.problem, exc.fix))
    return out


def _profile_problems(profile: MappingProfile, file: str) -> list[ConfigProblem]:
    """What the field catalogue says about a parsed profile: unknown fields, constants of the wrong type,
    required fields neither mapped nor constant."""
    out: list[ConfigProblem] = []
    for section, table in (("columns", profile.columns), ("constants", profile.constants)):
        for target, value in table.items():
            if target not in FIELDS:
                close = difflib.get_close_matches(target, list(FIELDS), n=1)
                out.append(ConfigProblem(file, f"{section}.{target}", repr(value), "ist kein bekanntes Feld",
                                         (f"meinten Sie {close[0]}? " if close else "")
                                         + "die Felder stehen in erechnung.intake.mapping.FIELDS"))
            elif section == "columns" and not (isinstance(value, str) and value.strip()):
                out.append(ConfigProblem(file, f"columns.{target}", repr(value), "ist kein Spaltenname",
                                         "schreiben Sie den Spaltennamen aus der Kopfzeile in Anführungszeichen"))
            elif section == "columns" and ("{" in value or "}" in value) and (
                    not template_columns(value) or _TEMPLATE_COLUMN.sub("", value).count("{")
                    + _TEMPLATE_COLUMN.sub("", value).count("}") or not all(template_columns(value))):
                out.append(ConfigProblem(file, f"columns.{target}", repr(value),
                                         "ist keine gültige Vorlage: jede Spalte steht in {...}, Klammern paarweise",
                                         "z. B. buyer.name = \"{Vorname} {Nachname}\""))
    for target, value in profile.constants.items():
        if target in FIELDS:
            try:
                _constant(target, value, profile.formats)
            except RecordError as exc:
                out.append(ConfigProblem(file, f"constants.{target}", repr(value), exc.problem, exc.fix))
    both = set(profile.columns) & set(profile.constants)
    for target in sorted(both):
        out.append(ConfigProblem(file, f"constants.{target}", repr(profile.constants[target]),
                                 "ist zugleich Spalte und Konstante", "entfernen Sie eines von beiden"))
    kinds = {profile.kind.default, *profile.kind.values.values()}
    for kind in sorted(kinds):
        for need, fix in _required(kind, profile):
            out.append(ConfigProblem(file, f"columns.{need}", None, f"fehlt für {_KIND_NAME[kind]}", fix))
    placeholders = {m for v in profile.constants.values() if isinstance(v, str) for m in _PLACEHOLDER.findall(v)}
    for name in sorted(placeholders - set(FIELDS)):
        out.append(ConfigProblem(file, "constants", f"{{{name}}}", "unbekannter Platzhalter",
                                 "Platzhalter nennen ein Feld, z. B. {assessment.year}"))
    out += _value_table_problems(profile, file)
    for target, digits in profile.formats.implied_decimals.items():
        if FIELDS.get(target, _t("line", "", "")).type != "decimal" or not 0 <= digits <= 6:
            out.append(ConfigProblem(file, f"formats.implied_decimals.{target}", repr(digits),
                                     "braucht ein Zahlenfeld und 0 bis 6 Nachkommastellen",
                                     "z. B. implied_decimals = { \"lines.unit_price\" = 2 } für Beträge in Cent"))
    for i, entry in enumerate(profile.amounts):
        for key, value in entry.line.items():
            target = f"lines.{key}"
            if target not in FIELDS:
                out.append(ConfigProblem(file, f"amounts[{i}].line.{key}", repr(value), "ist kein Feld einer Position",
                                         "erlaubt: " + ", ".join(f.removeprefix("lines.") for f in FIELDS
                                                                 if f.startswith("lines."))))
                continue
            try:
                _constant(target, value, profile.formats)
            except RecordError as exc:
                out.append(ConfigProblem(file, f"amounts[{i}].line.{key}", repr(value), exc.problem, exc.fix))
    if profile.kind.column and not profile.kind.values:
        out.append(ConfigProblem(file, "kind.values", None, "kind.column ist gesetzt, aber keine Werte",
                                 "values = { RE = \"invoice\", GS = \"credit_note\" }"))
    return out


_KIND_NAME = {DocumentKind.INVOICE: "Rechnungen", DocumentKind.CREDIT_NOTE: "Gutschriften",
              DocumentKind.NOTICE: "Bescheide"}


def _required(kind: str, profile: MappingProfile) -> list[tuple[str, str]]:
    """(field, fix) of what a profile for ``kind`` must map or set."""
    need: list[tuple[str, str]] = []
    m = profile.maps
    if not m("lines.name") and profile.constants.get("notice_type") not in ASSESSED_TYPES:
        need.append(("lines.name", "ordnen Sie die Spalte mit der Bezeichnung der Position zu"))
    if not m("buyer.customer_number") and not m("buyer.name"):
        need.append(("buyer.customer_number", "ordnen Sie die Kundennummer (Empfängerverzeichnis) oder "
                                              "buyer.name, buyer.street, buyer.post_code, buyer.city zu"))
    if not m("buyer.customer_number"):
        for inline in ("buyer.street", "buyer.post_code", "buyer.city"):
            if not m(inline):
                need.append((inline, "ohne Kundennummer braucht der Empfänger eine vollständige Anschrift"))
    if kind == DocumentKind.NOTICE:
        for target in ("notice_type", "file_number", "subject", "legal_basis"):
            if not m(target):
                need.append((target, f"ordnen Sie {FIELDS[target].meaning} einer Spalte zu oder setzen Sie "
                                     "sie unter [constants]"))
        notice_type = profile.constants.get("notice_type")
        if notice_type == "hundesteuerbescheid":
            need += [(t, "die Hundesteuer braucht Jahr und Steuersätze (Hundesteuersatzung)")
                     for t in ("assessment.year", "assessment.tiers") if not m(t)]
        elif notice_type == "grundsteuerbescheid":
            need += [(t, "die Grundsteuer braucht Jahr, Grundstück, Messbetrag und Hebesatz") for t in (
                "assessment.year", "assessment.property", "assessment.messbetrag", "assessment.hebesatz")
                if not m(t)]
        elif notice_type == "gewerbesteuerbescheid":
            need += [(t, "die Gewerbesteuer braucht Jahr, Gewerbebetrieb, Messbetrag und Hebesatz") for t in (
                "assessment.year", "assessment.business", "assessment.messbetrag", "assessment.hebesatz")
                if not m(t)]
        elif notice_type and not (m("lines.unit_price") and m("lines.quantity")):
            need.append(("lines.unit_price", "Gebühren brauchen Menge (lines.quantity) und Gebührensatz "
                                             "(lines.unit_price)"))
    else:
        if not (m("lines.unit_price") or m("lines.amount")):
            need.append(("lines.unit_price", "ordnen Sie den Einzelpreis oder den Betrag (lines.amount) zu"))
        if not m("lines.vat_category"):
            need.append(("lines.vat_category", "setzen Sie die Umsatzsteuerkategorie, für hoheitliche Gebühren "
                                               "lines.vat_category = \"O\" unter [constants]"))
        if not m("buyer.customer_number") and not (m("buyer.email") or m("buyer.leitweg_id")):
            need.append(("buyer.email", "eine XRechnung braucht die elektronische Adresse des Empfängers (BT-49)"))
    return need


def parse_profile(text: str | bytes, name: str = "mapping.toml") -> MappingProfile:
    """A mapping profile from TOML; ``ConfigError`` lists every mistake."""
    data = toml_table(text, name)
    for section in ("columns", "constants"):
        if isinstance(data.get(section), dict):
            data[section] = _flatten(data[section])
    if isinstance(data.get("values"), dict):
        data["values"] = _flatten_to_fields(data["values"])
    if isinstance(data.get("formats"), dict) and isinstance(data["formats"].get("implied_decimals"), dict):
        data["formats"] = {**data["formats"], "implied_decimals": _flatten(data["formats"]["implied_decimals"])}
    data.pop("source", None)
    try:
        profile = MappingProfile.model_validate({**data, "source": name})
    except ValidationError as exc:
        problems = problems_from(exc, name, data, model=MappingProfile)
        # the field catalogue's checks as well, on what could be read, so that every mistake shows at once
        bad = {p.key.split(".")[0] for p in problems}
        lenient = MappingProfile.model_construct(
            columns=data.get("columns") if isinstance(data.get("columns"), dict) and "columns" not in bad else {},
            constants=data.get("constants") if isinstance(data.get("constants"), dict) and "constants" not in bad
            else {}, kind=_or_default(KindRule, data.get("kind")), formats=_or_default(Formats, data.get("formats")),
            group_by=(), description="", source=name)
        seen = {p.key for p in problems}
        raise ConfigError(problems + [p for p in _profile_problems(lenient, name) if p.key not in seen]) from None
    problems = _profile_problems(profile, name)
    if problems:
        raise ConfigError(problems)
    return profile


def _or_default(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data if isinstance(data, dict) else {})
    except ValidationError:
        return model()


def load_profile(path: str | Path) -> MappingProfile:
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(file), "", None, f"kann nicht gelesen werden: {exc.strerror or exc}",
                                         "prüfen Sie den Pfad unter mapping in der Konfiguration")]) from None
    return parse_profile(data, str(file))


@dataclass(frozen=True)
class ProfileCheck:
    """Every department's mapping profile, checked on its own: ``profiles`` of the departments whose profile is
    sound, ``broken`` the ConfigError of each department whose profile is not (one broken department fails
    alone: it is skipped and reported before any of its files is claimed, the others run)."""

    profiles: Mapping[str, MappingProfile]
    broken: Mapping[str, ConfigError]


def _department_profile(config: Config, dep: Department) -> MappingProfile:
    """The department's profile and what must fit between it and the configuration; ConfigError lists every
    mistake, each naming the file, the key, what is wrong and how to fix it."""
    profile = load_profile(config.path(dep.mapping or ""))
    problems: list[ConfigProblem] = []
    if not profile.maps("number") and dep.number_range is None and profile.kind.default != DocumentKind.NOTICE:
        problems.append(ConfigProblem(config.source, f"departments.{dep.id}.number_range", None,
                                      "das Mapping-Profil liefert keine Belegnummer und die Abteilung hat "
                                      "keinen Nummernkreis",
                                      "number_range = { prefix = \"RE-2026-\", width = 6 } oder columns.number "
                                      "im Profil"))
    if profile.maps("debit.iban") and not config.municipality.creditor_id:
        problems.append(ConfigProblem(config.source, "municipality.creditor_id", None,
                                      f"das Profil von {dep.id} sieht Lastschriften vor, aber es ist keine "
                                      "Gläubiger-ID angegeben", "creditor_id = \"DE98ZZZ09999999999\""))
    if problems:
        raise ConfigError(problems)
    return profile


def check_profiles(config: Config) -> ProfileCheck:
    """The mapping profile of every department that has one, each checked on its own (see ``ProfileCheck``)."""
    profiles: dict[str, MappingProfile] = {}
    broken: dict[str, ConfigError] = {}
    for dep in config.departments.values():
        if not dep.mapping:
            continue
        try:
            profiles[dep.id] = _department_profile(config, dep)
        except ConfigError as exc:
            broken[dep.id] = exc
    return ProfileCheck(profiles, broken)


def load_profiles(config: Config) -> dict[str, MappingProfile]:
    """The mapping profile of every department that has one; ``ConfigError`` lists every mistake of all of them
    and what does not fit the configuration (a number needed but neither column nor number range)."""
    check = check_profiles(config)
    if check.broken:
        raise ConfigError([p for exc in check.broken.values() for p in exc.problems])
    return dict(check.profiles)


# ============================================================================================== values


_PLACEHOLDER = re.compile(r"\{([a-z_]+(?:\.[a-z_]+)*)\}")


def _constant(target: str, value: Any, formats: Formats) -> Any:
    """A constant from the profile in the type of its field (TOML numbers and booleans accepted as such)."""
    t = FIELDS[target]
    if t.type in ("list", "decimals"):
        items = value if isinstance(value, list) else [value]
        if t.type == "decimals":
            return tuple(_constant_decimal(v, formats) for v in items)
        if not all(isinstance(v, str) for v in items):
            raise RecordError(value=str(value), problem="ist kein Text", fix="Texte in Anführungszeichen")
        return tuple(items)
    if isinstance(value, bool):
        if t.type != "bool":
            raise RecordError(value=str(value), problem=f"ein Wahrheitswert passt nicht zu {t.meaning}",
                              fix="geben Sie einen passenden Wert an")
        return value
    if isinstance(value, (int, float)) and t.type in ("decimal", "int"):
        return _constant_decimal(value, formats) if t.type == "decimal" else values.parse_int(str(value))
    if isinstance(value, date) and t.type == "date":
        return value
    if not isinstance(value, str):
        raise RecordError(value=str(value), problem=f"passt nicht zu {t.meaning}",
                          fix="schreiben Sie den Wert in Anführungszeichen")
    if _PLACEHOLDER.search(value) and t.type in ("text", "list"):
        return value
    return _parse(target, value, native=False, formats=formats)


def _constant_decimal(value: Any, formats: Formats) -> Decimal:
    if isinstance(value, bool):
        raise RecordError(value=str(value), problem="keine Zahl", fix="schreiben Sie eine Zahl")
    if isinstance(value, (int, float)):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return values.parse_decimal(str(value), decimal_separator=formats.decimal_separator, german=formats.german)


def _parse(target: str, text: str, *, native: bool, formats: Formats) -> Any:
    """``text`` in the type of ``target``; a native value (Excel number or date cell, JSON number) is in its
    canonical form whatever the profile's formats say."""
    t = FIELDS[target]
    text = text.strip()
    if t.type == "decimal" and not native and formats.implied_decimals.get(target):
        return _implied(text, formats.implied_decimals[target])
    if t.type == "decimal":
        if native:
            try:
                return Decimal(text)
            except InvalidOperation:
                raise RecordError(value=text, problem="keine Zahl", fix="tragen Sie eine Zahl ein") from None
        return values.parse_decimal(text, decimal_separator=formats.decimal_separator, german=formats.german)
    if t.type == "decimals":
        return tuple(values.parse_decimal(p, decimal_separator=formats.decimal_separator, german=formats.german)
                     for p in re.split(r"[;|]", text) if p.strip())
    if t.type == "date":
        if native and re.fullmatch(r"\d+(?:\.0+)?", text):
            return values.parse_date(text, ("EXCEL",))
        return values.parse_date(text, formats.dates)
    if t.type == "int":
        return values.parse_int(text, minimum=1, maximum=12) if target == "lines.months" else values.parse_int(text)
    if t.type == "bool":
        return values.parse_bool(text)
    if t.type == "iban":
        return identifiers.parse_iban(text)
    if t.type == "email":
        return identifiers.parse_email(text)
    if t.type == "leitweg":
        return identifiers.parse_leitweg_id(text)
    if t.type == "code":
        code = text.upper() if target in ("lines.vat_category", "currency", "assessment.tax_type") else text.lower()
        if code not in t.choices:
            raise RecordError(value=text, problem=f"{text!r} ist nicht erlaubt als {t.meaning}",
                              fix="erlaubt: " + ", ".join(t.choices))
        return code
    if t.type == "list":
        return (text,)
    return text


def _implied(text: str, digits: int) -> Decimal:
    """Digits without a separator whose last ``digits`` are the fraction (amounts in cents: ``0001250`` is 12.50),
    the sign before or after them (``0001250-``)."""
    m = re.fullmatch(r"([+-]?)\s*(\d+)\s*([+-]?)", text)
    if not m or (m[1] and m[3]):
        raise RecordError(value=text, problem=f"keine Zahl aus Ziffern mit {digits} Nachkommastellen ohne Komma",
                          fix="nur Ziffern, das Vorzeichen davor oder dahinter (z. B. 0001250 oder 0001250-)")
    value = Decimal(int(m[2])).scaleb(-digits)
    return -value if "-" in (m[1], m[3]) else value


def _show(value: Any) -> str:
    if isinstance(value, date):
        return f"{value:%d.%m.%Y}"
    if isinstance(value, Decimal):
        return _euro(value) if value == value.quantize(CENT) else f"{value:f}".replace(".", ",")
    if isinstance(value, tuple):
        return ", ".join(_show(v) for v in value)
    return str(value)


_euro = de_amount  # 1.234,56


def _fill(value: Any, known: Mapping[str, Any]) -> Any:
    if isinstance(value, tuple):
        return tuple(_fill(v, known) for v in value)
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: _show(known[m[1]]) if known.get(m[1]) not in (None, "") else "", value)
    return value


# ============================================================================================== drafts


class DocumentDraft(BaseModel):
    """One document as mapped from one or more rows, before it is built.

    ``invoice`` holds the keyword arguments of ``erechnung.builder.build_invoice`` as plain data (``buyer``: those
    of ``customer``, ``lines``: those of ``item_line``, ``direct_debit``: mandate and debited account) without
    the seller and the municipality's account, which ``build`` takes from the configuration; ``notice`` holds
    the data of an ``erechnung.notices.NoticeDraft`` without the authority and the accounts. ``number`` is None
    when the department's number range gives it at build time. ``columns`` names the column of each field, so
    that a problem found while building names the column.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    department: str
    batch: str
    key: str
    kind: DocumentKind
    notice_type: str | None = None
    rows: tuple[int, ...]
    recipient_ref: str | None
    recipient: Recipient
    number: str | None
    invoice: dict[str, Any] | None = None
    notice: dict[str, Any] | None = None
    columns: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class Quarantined:
    """A document that cannot be made, with all its rows and every reason."""

    batch: str
    key: str
    rows: tuple[int, ...]
    errors: tuple[RecordError, ...]
    records: tuple[RawRecord, ...] = ()
    draft: DocumentDraft | None = None


@dataclass(frozen=True)
class MappingResult:
    """``skipped``: the rows the profile's ``[[skip]]`` rules say are no records (sums), left out, not lost."""

    drafts: tuple[DocumentDraft, ...]
    quarantined: tuple[Quarantined, ...]
    skipped: tuple[int, ...] = ()

    @property
    def errors(self) -> tuple[RecordError, ...]:
        return tuple(e for q in self.quarantined for e in q.errors)


@dataclass
class _Group:
    key: str
    records: list[RawRecord] = field(default_factory=list)


def _group(batch: Batch, profile: MappingProfile) -> tuple[list[_Group], list[Quarantined]]:
    groups: dict[str, _Group] = {}
    alone: list[Quarantined] = []
    for record in batch.records:
        if not record.fields:  # nothing readable (a JSON line that is no object): its problem says why
            alone.append(Quarantined(batch.name, f"Zeile {record.row}", (record.row,), record.problems, (record,)))
            continue
        if not profile.group_by:  # one row, one document (its nested positions share its row number)
            groups.setdefault(f"Zeile {record.row}", _Group(f"Zeile {record.row}")).records.append(record)
            continue
        parts = [record.get(c).strip() for c in profile.group_by]
        if not all(parts):
            missing = next(c for c, p in zip(profile.group_by, parts) if not p)
            error = record.located(RecordError(
                batch=batch.name, row=record.row, column=missing, value="",
                problem=f"{missing} ist leer, die Zeile gehört so zu keinem Beleg",
                fix=f"tragen Sie {missing} ein (Zeilen mit gleichem Wert bilden einen Beleg)"), missing)
            # a row the reader could not split has its values shifted: its reading problem is its one message
            alone.append(Quarantined(batch.name, f"Zeile {record.row}", (record.row,),
                                     record.problems or (error,), (record,)))
            continue
        key = " / ".join(parts)
        groups.setdefault(key, _Group(key)).records.append(record)
    return list(groups.values()), alone


def _where(record: RawRecord, seen_from: RawRecord) -> str:
    """Where ``record`` stands, for a message about another record of the same document: its row, and its
    nested position (alone, when both stand in the same row)."""
    if record.position is None:
        return f"Zeile {record.row}"
    if record.row == seen_from.row:
        return f"Position {record.position}"
    return f"Zeile {record.row}, Position {record.position}"


def _with_templates(batch: Batch, profile: MappingProfile) -> Batch:
    """The records with the value of each ``[columns]`` template added under the template's text, so that the
    template is read, checked and named in messages like a column of the file."""
    templates = [v for v in profile.columns.values() if template_columns(v)]
    if not templates:
        return batch
    records = tuple(replace(r, fields={**r.fields, **{t: fill_template(t, r) for t in templates}},
                            position_columns=r.position_columns | {  # a template naming a position's column
                                t for t in templates if set(template_columns(t)) & r.position_columns})
                    for r in batch.records)
    return replace(batch, records=records)


def _without_summary_rows(batch: Batch, profile: MappingProfile) -> tuple[Batch, tuple[int, ...]]:
    """The batch without the rows a ``[[skip]]`` rule matches, and their row numbers."""
    if not profile.skip:
        return batch, ()
    first = batch.columns[0] if batch.columns else None
    skipped = tuple(r.row for r in batch.records if any(rule.applies(r, first) for rule in profile.skip))
    if not skipped:
        return batch, ()
    return replace(batch, records=tuple(r for r in batch.records if r.row not in skipped)), skipped


def map_batch(batch: Batch, department: Department | str, config: Config, profile: MappingProfile,
              recipients: RecipientRegister, *, today: date | None = None) -> MappingResult:
    """The documents of ``batch``: drafts for the groups of rows without problems, the others quarantined."""
    dep = config.department(department) if isinstance(department, str) else department
    if not batch.ok:
        return MappingResult((), (Quarantined(batch.name, "Datei", (), batch.errors),))
    missing = [c for c in profile.used_columns() if c not in batch.columns]
    if missing and batch.records:
        have = ", ".join(batch.columns) or "(keine)"
        error = RecordError(batch=batch.name, column=missing[0], problem=(
            f"die Spalte{'n' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)} "
            f"fehl{'en' if len(missing) > 1 else 't'} in der Datei"),
            fix=f"das Mapping-Profil {Path(profile.source).name} erwartet sie; die Datei hat: {have}")
        return MappingResult((), (Quarantined(batch.name, "Datei", tuple(r.row for r in batch.records), (error,),
                                              batch.records),))
    batch = _with_templates(batch, profile)
    batch, skipped = _without_summary_rows(batch, profile)
    groups, quarantined = _group(batch, profile)
    drafts: list[DocumentDraft] = []
    mapper = _Mapper(batch, dep, config, profile, recipients, today or date.today())
    for group in groups:
        rows = tuple(r.row for r in group.records)
        draft, errors = mapper.document(group)
        if errors or draft is None:
            quarantined.append(Quarantined(batch.name, group.key, rows, tuple(errors), tuple(group.records)))
        else:
            drafts.append(draft)
    quarantined.sort(key=lambda q: q.rows[:1] or (0,))
    return MappingResult(tuple(drafts), tuple(quarantined), skipped)


class _Mapper:
    def __init__(self, batch: Batch, department: Department, config: Config, profile: MappingProfile,
                 recipients: RecipientRegister, today: date) -> None:
        self.batch, self.department, self.config, self.profile = batch, department, config, profile
        self.recipients, self.today = recipients, today
        self.formats = profile.formats
        self.constants = {t: _constant(t, v, profile.formats) for t, v in profile.constants.items()}
        self.tables = {t: {k.strip().casefold(): v for k, v in table.items()} for t, table in profile.values.items()}
        self.amount_lines = {a.column: {f"lines.{k}": _constant(f"lines.{k}", v, profile.formats)
                                        for k, v in a.line.items()} for a in profile.amounts}

    def _error(self, record: RawRecord | None, target: str | None, problem: str, fix: str,
               value: str | None = None, *, of_document: bool = False) -> RecordError:
        """A problem with ``target``'s value in ``record``: in its nested position when the value stands there,
        unless the problem is ``of_document`` (a total), found where the value stands."""
        column = self.profile.column(target) if target else None
        if record is not None and column is not None and value is None:
            value = record.get(column)
        if target and value:
            value = self._shown(target, value)
        error = RecordError(batch=self.batch.name, row=record.row if record else None, column=column,
                            value=value, problem=problem, fix=fix)
        return record.located(error, column) if record is not None and not of_document else error

    @staticmethod
    def _shown(target: str, text: str) -> str:
        """A value for a message: a date written as an Excel serial day number is shown with its date."""
        field = FIELDS.get(target)
        return values.shown_date(text) if field is not None and field.type == "date" else text

    # ------------------------------------------------------------------------------------------ rows

    def _row_values(self, record: RawRecord, errors: list[RecordError]) -> dict[str, Any]:
        """Every mapped field of one row, parsed; problems into ``errors``. Empty cells are left out."""
        out: dict[str, Any] = {}
        for target, column in self.profile.columns.items():
            text = record.get(column).strip()
            if not text:
                continue
            try:
                if target in self.tables:
                    out[target] = self._looked_up(target, text)
                elif target.startswith("buyer."):  # checked when the recipient is made
                    out[target] = text
                else:
                    out[target] = _parse(target, text, native=column in record.native, formats=self.formats)
            except RecordError as exc:
                errors.append(record.located(exc.at(batch=self.batch.name, row=record.row, column=column,
                                                    value=self._shown(target, text)), column))
        return out

    def _looked_up(self, target: str, text: str) -> Any:
        """``text`` through the field's value table (``[values]``, case and spaces ignored); a value the table
        gives is accepted as written as well (``C62`` where the table turns ``Stk`` into ``C62``)."""
        table = self.tables[target]
        given = text.casefold()
        if given in table:
            value = table[given]
        elif given in {str(v).strip().casefold() for v in table.values()}:
            value = text
        else:
            raise RecordError(value=text, problem=f"{text!r} steht nicht in der Wertetabelle für "
                              f"{FIELDS[target].meaning}",
                              fix="erlaubt: " + ", ".join(self.profile.values[target])
                              + f"; oder ergänzen Sie [values] {target} im Mapping-Profil")
        if target.startswith("buyer."):
            return str(value)
        return _constant(target, value, self.formats)

    def document(self, group: _Group) -> tuple[DocumentDraft | None, list[RecordError]]:
        errors: list[RecordError] = [p for r in group.records for p in r.problems]
        # One bad value, one message: a row the reader could not split (a field too many) has shifted values;
        # its reading problem is its message, and the document's other rows are still checked.
        group = _Group(group.key, [r for r in group.records if not r.problems])
        if not group.records:
            return None, errors
        rows = [(r, self._row_values(r, errors)) for r in group.records]
        first = group.records[0]
        doc: dict[str, Any] = dict(self.constants)
        for target, target_def in FIELDS.items():
            if target_def.level == "line" or target not in self.profile.columns:
                continue
            seen: tuple[RawRecord, Any, str] | None = None
            for record, vals in rows:
                text = record.get(self.profile.columns[target]).strip()
                if not text:
                    continue
                if seen is None:
                    seen = (record, vals.get(target), text)
                    if target in vals:
                        doc[target] = vals[target]
                elif text != seen[2]:
                    errors.append(self._error(record, target, f"weicht ab von {_where(seen[0], record)} "
                                              f"({self._shown(target, seen[2])!r}), "
                                              "obwohl beide zum selben Beleg gehören",
                                              f"{FIELDS[target].meaning} muss in allen Zeilen eines Belegs gleich "
                                              "sein (oder leer)"))
        kind = self._kind(group, errors)
        recipient, ref = self._recipient(first, doc, group, errors)
        lines = [line for record, vals in rows for line in self._lines(record, vals, errors)]
        if self.profile.amounts and not lines and not errors:
            errors.append(RecordError(batch=self.batch.name, row=first.row, column=self.profile.amounts[0].column,
                                      value="", problem="keine der Betragsspalten "
                                      + ", ".join(repr(a.column) for a in self.profile.amounts) + " hat einen Betrag",
                                      fix="tragen Sie mindestens einen Betrag ein"))
        if kind == DocumentKind.NOTICE:
            data = self._notice(first, doc, lines, recipient, ref, errors)
        else:
            data, kind = self._invoice(first, doc, lines, recipient, ref, kind, errors)
        if errors or recipient is None or data is None:
            # said once: a value of the record around nested positions is read with each of them
            return None, list(dict.fromkeys(errors))
        columns = {t: c for t, c in self.profile.columns.items()}
        number = doc.get("number")
        return DocumentDraft(
            department=self.department.id, batch=self.batch.name, key=group.key, kind=kind,
            notice_type=doc.get("notice_type") if kind == DocumentKind.NOTICE else None,
            rows=tuple(r.row for r in group.records), recipient_ref=ref, recipient=recipient, number=number,
            invoice=data if kind != DocumentKind.NOTICE else None,
            notice=data if kind == DocumentKind.NOTICE else None,
            columns=columns), []

    def _kind(self, group: _Group, errors: list[RecordError]) -> DocumentKind:
        rule = self.profile.kind
        if not rule.column:
            return rule.default
        chosen: DocumentKind | None = None
        table = {k.strip().lower(): v for k, v in rule.values.items()}
        for record in group.records:
            text = record.get(rule.column).strip()
            if not text:
                continue
            kind = table.get(text.lower())
            if kind is None:
                errors.append(record.located(RecordError(
                    batch=self.batch.name, row=record.row, column=rule.column, value=text,
                    problem="unbekannte Belegart", fix="erlaubt: " + ", ".join(rule.values)), rule.column))
            elif chosen is not None and kind != chosen:
                errors.append(record.located(RecordError(
                    batch=self.batch.name, row=record.row, column=rule.column, value=text,
                    problem="andere Belegart als die übrigen Zeilen desselben Belegs",
                    fix="alle Zeilen eines Belegs brauchen dieselbe Belegart"), rule.column))
            chosen = chosen or kind
        return chosen or rule.default

    def _recipient(self, record: RawRecord, doc: Mapping[str, Any], group: _Group,
                   errors: list[RecordError]) -> tuple[Recipient | None, str | None]:
        ref = (doc.get("buyer.customer_number") or "").strip() or None
        if ref is not None:
            found = self.recipients.get(ref)
            left_out = self.recipients.left_out_row(ref) if found is None else None
            if left_out is not None:  # the register has the recipient, in a row it could not take
                errors.append(self._error(record, "buyer.customer_number", f"die Kundennummer steht in Zeile "
                                          f"{left_out} des Empfängerverzeichnisses, die wegen eines Fehlers nicht "
                                          "übernommen wurde", "berichtigen Sie diese Zeile im Empfängerverzeichnis "
                                          "(der Fehlerbericht des Empfängerverzeichnisses nennt den Fehler)",
                                          value=ref))
            elif found is None:
                errors.append(self._error(record, "buyer.customer_number", "unbekannte Kundennummer: nicht im "
                                          "Empfängerverzeichnis",
                                          "korrigieren Sie die Kundennummer oder legen Sie den Empfänger im "
                                          "Empfängerverzeichnis an", value=ref))
            return found, ref
        fields = {short: str(doc.get(target, "")) for short, target in _BUYER_FIELDS.items()
                  if short != "customer_number" and (target in self.profile.columns or target in doc)}
        for short in ("channels", "consents"):
            value = self.constants.get(f"buyer.{short}")
            if isinstance(value, str):
                fields[short] = value
        fields["customer_number"] = f"{self.department.id}:{group.key}"
        columns = {short: self.profile.columns.get(target, target) for short, target in _BUYER_FIELDS.items()}
        try:
            return recipient_from_fields(fields, columns), None
        except RecipientProblems as exc:
            for problem in exc.errors:
                column = problem.column
                row = self._row_of(group, column) or record
                errors.append(row.located(problem.at(batch=self.batch.name, row=row.row), column))
            return None, None

    def _row_of(self, group: _Group, column: str | None) -> RawRecord | None:
        """The first row of the group with a value in ``column`` (where a wrong value stands)."""
        if not column:
            return None
        return next((r for r in group.records if r.get(column).strip()), None)

    def _lines(self, record: RawRecord, vals: Mapping[str, Any], errors: list[RecordError]) -> list[dict[str, Any]]:
        """The row's line, or with ``[[amounts]]`` one line per amount column that holds an amount other than 0:
        quantity 1, the amount as price, the entry's name and line fields."""
        if not self.profile.amounts:
            return [self._line(record, vals, errors)]
        base = {t.removeprefix("lines."): v for t, v in self.constants.items() if t.startswith("lines.")}
        base.update({t.removeprefix("lines."): v for t, v in vals.items() if t.startswith("lines.")})
        out = []
        for entry in self.profile.amounts:
            text = record.get(entry.column).strip()
            if not text:
                continue
            try:
                amount = _parse("lines.amount", text, native=entry.column in record.native, formats=self.formats)
            except RecordError as exc:
                errors.append(record.located(exc.at(batch=self.batch.name, row=record.row, column=entry.column,
                                                    value=text), entry.column))
                continue
            if amount == 0:
                continue
            line = {**base, **{t.removeprefix("lines."): v for t, v in self.amount_lines[entry.column].items()}}
            name = fill_template(entry.name, record) if template_columns(entry.name) else entry.name
            line.update(name=name, quantity=Decimal(1), unit_price=amount, _record=record)
            line.pop("amount", None)
            out.append(line)
        return out

    def _line(self, record: RawRecord, vals: Mapping[str, Any], errors: list[RecordError]) -> dict[str, Any]:
        line = {t.removeprefix("lines."): v for t, v in self.constants.items() if t.startswith("lines.")}
        line.update({t.removeprefix("lines."): v for t, v in vals.items() if t.startswith("lines.")})
        line["_record"] = record
        if not line.get("name") and self.profile.maps("lines.name"):
            errors.append(self._error(record, "lines.name", f"{FIELDS['lines.name'].meaning} fehlt",
                                      "tragen Sie die Bezeichnung der Position ein"))
        return line

    # ------------------------------------------------------------------------------------------ invoices

    def _invoice(self, record: RawRecord, doc: dict[str, Any], lines: list[dict[str, Any]],
                 recipient: Recipient | None, ref: str | None, kind: DocumentKind,
                 errors: list[RecordError]) -> tuple[dict[str, Any] | None, DocumentKind]:
        start = len(errors)
        item_lines = [self._item_line(line, errors) for line in lines]
        if len(errors) > start or recipient is None or not all(item_lines):
            return None, kind
        total = sum((Decimal(str(l["quantity"])) * Decimal(str(l["unit_price"]))).quantize(CENT, ROUND_HALF_UP)
                    for l in item_lines)
        if total < 0:
            if kind == DocumentKind.CREDIT_NOTE or self.profile.kind.negative_total == "error":
                errors.append(self._error(record, "lines.unit_price" if self.profile.maps("lines.unit_price")
                                          else "lines.amount", f"der Beleg ergibt einen negativen Betrag "
                                          f"({_euro(total)} €)", "prüfen Sie die Vorzeichen der Beträge",
                                          of_document=True))
                return None, kind
            kind = DocumentKind.CREDIT_NOTE
            item_lines = [{**l, "quantity": -l["quantity"]} for l in item_lines]
        elif kind == DocumentKind.CREDIT_NOTE:
            pass  # a credit note given with positive amounts is credited as given
        address = recipient.electronic_address
        if address is None and recipient.receives_xrechnung:  # a citizen's letter needs no BT-49 (issue 11)
            errors.append(self._error(record, "buyer.customer_number" if ref else "buyer.email",
                                      "der Empfänger hat keine elektronische Adresse (E-Mail oder Leitweg-ID), die "
                                      "eine XRechnung braucht (BT-49)",
                                      "ergänzen Sie die E-Mail-Adresse im Empfängerverzeichnis bzw. in der Datei",
                                      value=ref or ""))
            return None, kind
        categories = {VatCategory(l["vat_category"]) for l in item_lines}
        reasons = self._exemption_reasons(lines, doc.get("vat_exemption_reason"), errors)
        if reasons is None:
            return None, kind
        missing = {c for c in categories & EXEMPTION_REASON_CATEGORIES if not reasons.get(c.value)}
        if missing:
            errors.append(self._error(record, "vat_exemption_reason", "für steuerfreie oder nicht steuerbare "
                                      "Positionen fehlt der Grund (BT-120)",
                                      "setzen Sie vat_exemption_reason im Mapping-Profil oder ordnen Sie "
                                      "lines.vat_exemption_reason einer Spalte zu", value=""))
            return None, kind
        issue_date = doc.get("issue_date") or self.today
        due_date = doc.get("due_date")
        if due_date is None:
            due_date = issue_date + timedelta(days=doc.get("due_days", self.config.municipality.due_days))
        if due_date < issue_date:
            errors.append(self._error(record, "due_date", "die Fälligkeit liegt vor dem Belegdatum",
                                      "prüfen Sie beide Daten"))
            return None, kind
        buyer = {"name": recipient.name, "street": recipient.street, "post_code": recipient.post_code,
                 "city": recipient.city, "country_code": recipient.country_code,
                 "electronic_address": address and address[0],
                 "electronic_address_scheme": address and address[1], "vat_id": recipient.vat_id,
                 "identifier": ref}
        debit = None
        if doc.get("debit.iban"):
            if not doc.get("debit.mandate_reference"):
                errors.append(self._error(record, "debit.mandate_reference", "Lastschrift ohne Mandatsreferenz",
                                          "tragen Sie die Mandatsreferenz des SEPA-Lastschriftmandats ein"))
                return None, kind
            debit = {"debited_account_id": doc["debit.iban"], "mandate_reference": doc["debit.mandate_reference"]}
        period = (doc.get("period_start"), doc.get("period_end"))
        notes = _fill(doc.get("notes", ()), doc)
        data: dict[str, Any] = {
            "issue_date": issue_date, "due_date": due_date,
            "type_code": "381" if kind == DocumentKind.CREDIT_NOTE else "380",
            "currency_code": doc.get("currency", "EUR"), "kassenzeichen": doc.get("kassenzeichen"),
            "payment_terms": _fill(doc.get("payment_terms"), doc),
            "leitweg_id": doc.get("leitweg_id") or recipient.leitweg_id or ref or None,
            "notes": list(notes), "buyer": buyer, "lines": item_lines, "direct_debit": debit,
            "invoicing_period": period if any(period) else None, "delivery_date": doc.get("delivery_date"),
            "preceding_invoices": [(doc["preceding_number"], doc.get("preceding_date"))]
            if doc.get("preceding_number") else [],
            "exemption_reasons": {c.value: reasons[c.value] for c in categories & EXEMPTION_REASON_CATEGORIES},
            "purchase_order_reference": doc.get("order_reference"),
            "project_reference": doc.get("project_reference"), "contract_reference": doc.get("contract_reference"),
        }
        return data, kind

    def _exemption_reasons(self, lines: list[dict[str, Any]], default: str | None,
                           errors: list[RecordError]) -> dict[str, str] | None:
        """The exemption reason (BT-120) of each VAT category: a line's own (``lines.vat_exemption_reason``) or
        the document's. EN 16931 gives one reason per category of the VAT breakdown (BG-23), so lines of one
        category with different reasons cannot be one document (``None``, the rows named in ``errors``)."""
        reasons: dict[str, tuple[str, RawRecord]] = {}
        ok = True
        for line in lines:
            category = str(line.get("vat_category", "S")).upper()
            if VatCategory(category) not in EXEMPTION_REASON_CATEGORIES:
                continue
            reason = line.get("vat_exemption_reason") or default
            if not reason:
                continue
            seen = reasons.setdefault(category, (reason, line["_record"]))
            if seen[0] != reason:
                ok = False
                errors.append(self._error(line["_record"], "lines.vat_exemption_reason",
                                          f"weicht ab vom Befreiungsgrund in {_where(seen[1], line['_record'])} "
                                          f"({seen[0]!r}) für "
                                          f"dieselbe Kategorie {category}",
                                          "eine Rechnung hat je Umsatzsteuerkategorie einen Grund (BT-120): "
                                          "vereinheitlichen Sie den Text oder stellen Sie die Positionen auf "
                                          "getrennte Belege", value=reason))
        return {c: r for c, (r, _) in reasons.items()} if ok else None

    def _written(self, record: RawRecord, target: str) -> bool:
        """Whether ``record`` has a value in ``target``'s column (read or not)."""
        column = self.profile.column(target)
        return bool(column and record.get(column).strip())

    def _item_line(self, line: dict[str, Any], errors: list[RecordError]) -> dict[str, Any]:
        record: RawRecord = line["_record"]
        quantity: Decimal = line.get("quantity", Decimal(1))
        price, amount = line.get("unit_price"), line.get("amount")
        if price is None and amount is None:
            target = "lines.unit_price" if self.profile.maps("lines.unit_price") else "lines.amount"
            column = self.profile.column(target)
            if column and record.get(column).strip():
                return {}  # there is a value, and why it is no number was reported with it
            errors.append(self._error(record, target, f"{FIELDS[target].meaning} fehlt", "tragen Sie ihn ein"))
            return {}
        if price is None:
            if quantity == 0:
                errors.append(self._error(record, "lines.quantity", "die Menge ist 0", "tragen Sie die Menge ein"))
                return {}
            price = (amount / quantity).quantize(Decimal("0.0001"), ROUND_HALF_UP).normalize()
            if (quantity * price).quantize(CENT, ROUND_HALF_UP) != amount:
                errors.append(self._error(record, "lines.amount", f"der Betrag {_euro(amount)} lässt sich nicht "
                                          f"durch die Menge {quantity} teilen", "geben Sie den Einzelpreis an"))
                return {}
        elif amount is not None and (quantity * price).quantize(CENT, ROUND_HALF_UP) != amount:
            errors.append(self._error(record, "lines.amount", f"der Betrag ist nicht Menge × Einzelpreis = "
                                      f"{_euro((quantity * price).quantize(CENT, ROUND_HALF_UP))}",
                                      "korrigieren Sie Betrag, Menge oder Einzelpreis"))
            return {}
        if price < 0:  # EN 16931 BR-27: the price is never negative; the sign goes to the quantity
            price, quantity = -price, -quantity
        if any(line.get(target.removeprefix("lines.")) is None and self._written(record, target)
               for target in ("lines.vat_category", "lines.vat_rate")):
            return {}  # a value that is none was reported with it; no second message about its absence
        category = line.get("vat_category", "S")
        rate = line.get("vat_rate")
        if category == "S" and rate is None:
            errors.append(self._error(record, "lines.vat_rate", "Umsatzsteuersatz fehlt für Kategorie S",
                                      "tragen Sie den Steuersatz ein (z. B. 19) oder setzen Sie lines.vat_rate",
                                      value=""))
            return {}
        start, end = line.get("period_start"), line.get("period_end")
        return {"name": line.get("name", ""), "quantity": quantity, "unit_price": price, "vat_category": category,
                "vat_rate": rate, "unit_code": line.get("unit_code", "C62"), "description": line.get("description"),
                "note": line.get("note"), "sellers_id": line.get("sellers_id"),
                "period": (start, end) if start or end else None}

    # ------------------------------------------------------------------------------------------ notices

    def _notice(self, record: RawRecord, doc: dict[str, Any], lines: list[dict[str, Any]],
                recipient: Recipient | None, ref: str | None, errors: list[RecordError]) -> dict[str, Any] | None:
        notice_type = doc.get("notice_type")
        if not notice_type:
            errors.append(self._error(record, "notice_type", "die Bescheidart fehlt",
                                      "erlaubt: " + ", ".join(NOTICE_TYPES), value=""))
            return None
        for target in ("file_number", "subject", "legal_basis"):
            if not doc.get(target):
                errors.append(self._error(record, target, f"{FIELDS[target].meaning} fehlt",
                                          f"tragen Sie {FIELDS[target].meaning} ein", value=""))
        if notice_type == "hundesteuerbescheid":
            assessment = {"year": doc.get("assessment.year"), "tiers": list(doc.get("assessment.tiers", ())),
                          "dangerous_rate": doc.get("assessment.dangerous_rate"),
                          "dogs": [{"name": l.get("name", ""), "dangerous": bool(l.get("dangerous", False)),
                                    "months": l.get("months", 12)} for l in lines]}
        elif notice_type in ASSESSED_TYPES:
            assessment = {k.removeprefix("assessment."): v for k, v in doc.items()
                          if k.startswith("assessment.") and k != "assessment.tiers" and v is not None}
        else:
            assessment = {"items": [self._fee_item(l, errors) for l in lines]}
            if not errors:
                self._negative_fee_total(record, assessment["items"], errors)
        if errors or recipient is None:
            return None
        contact = self.config.contact_of(self.department)
        official = {"name": doc.get("official.name") or contact.name,
                    "phone": doc.get("official.phone") or contact.phone,
                    "email": doc.get("official.email") or contact.email,
                    "room": doc.get("official.room"), "signs_as": doc.get("official.signs_as") or "Im Auftrag"}
        addressee: dict[str, Any] = {
            "name": recipient.name, "customer_number": ref, "electronic_address": recipient.email,
            "address": {"street": recipient.street, "supplement": recipient.supplement,
                        "post_code": recipient.post_code, "city": recipient.city,
                        "country_code": recipient.country_code}}
        if recipient.salutation:
            addressee["salutation"] = recipient.salutation
        known = dict(doc)
        return {
            "kind": notice_type, "number": doc.get("number"), "file_number": _fill(doc["file_number"], known),
            "issue_date": doc.get("issue_date") or self.today, "subject": _fill(doc["subject"], known),
            "official": official, "addressee": addressee,
            "legal_basis": list(_fill(doc["legal_basis"], known)), "reasons": list(_fill(doc.get("reasons", ()),
                                                                                         known)),
            "kassenzeichen": doc.get("kassenzeichen"), "already_paid": doc.get("already_paid", Decimal(0)),
            "automated": bool(doc.get("automated", False)), "due_date": doc.get("due_date"),
            "assessment": assessment,
            **({"account_iban": doc["payment.account_iban"]} if doc.get("payment.account_iban") else {}),
        }

    def _negative_fee_total(self, record: RawRecord, items: list[dict[str, Any]],
                            errors: list[RecordError]) -> None:
        """A notice fixes an amount owed (§ 157 AO); a negative fixed amount is no notice. With
        ``negative_total = "error"`` that is the profile's rule, and a notice cannot become the credit note the
        default ``"credit_note"`` asks for either: either way the document goes to quarantine, said once."""
        total = sum(((Decimal(str(i["quantity"])) * Decimal(str(i["rate"]))
                      * (Decimal(i["months"]) / 12 if i.get("months") else 1)).quantize(CENT, ROUND_HALF_UP)
                     for i in items), Decimal(0))
        if total >= 0:
            return
        fix = ("prüfen Sie die Vorzeichen von Menge und Satz" if self.profile.kind.negative_total == "error" else
               "prüfen Sie die Vorzeichen; eine Erstattung wird als Bescheid mit bereits gezahltem Betrag "
               "(already_paid) festgesetzt, ein Bescheid kann keine Gutschrift werden")
        errors.append(self._error(record, "lines.unit_price" if self.profile.maps("lines.unit_price")
                                  else "lines.quantity", f"der Bescheid ergibt einen negativen festgesetzten "
                                  f"Betrag ({_euro(total)} €)", fix, of_document=True))

    def _fee_item(self, line: dict[str, Any], errors: list[RecordError]) -> dict[str, Any]:
        record: RawRecord = line["_record"]
        for target in ("lines.quantity", "lines.unit_price"):
            column = self.profile.column(target)
            if line.get(target.removeprefix("lines.")) is None and not (column and record.get(column).strip()):
                errors.append(self._error(record, target, f"{FIELDS[target].meaning} fehlt", "tragen Sie sie ein"))
        return {"description": line.get("name", ""), "quantity": line.get("quantity"),
                "unit": line.get("unit") or "Stück", "rate": line.get("unit_price"),
                "rate_unit": line.get("rate_unit"), "months": line.get("months")}


# ============================================================================================== building


class NumberSource(Protocol):
    """Where numbers come from when the data has none: one counter per department and prefix. The state store
    implements it with ``erechnung.state.repository.allocate_number(session, department, prefix, width=width)``
    (its ``.number``), inside the transaction that stores the document."""

    def next_number(self, department: str, prefix: str, *, width: int, start: int) -> str: ...


class CounterNumbers:
    """Counters in memory (tests, dry runs)."""

    def __init__(self) -> None:
        self.counters: dict[tuple[str, str], int] = {}

    def next_number(self, department: str, prefix: str, *, width: int, start: int) -> str:
        value = self.counters.get((department, prefix), start - 1) + 1
        self.counters[(department, prefix)] = value
        return f"{prefix}{value:0{width}d}"


class DocumentRejected(RecordError):
    """The builder refused a draft; ``errors`` are the reasons, located on the draft's rows."""

    def __init__(self, errors: Sequence[RecordError]) -> None:
        self.errors = tuple(errors)
        first = self.errors[0]
        super().__init__(problem=first.problem, fix=first.fix, batch=first.batch, row=first.row,
                         column=first.column, value=first.value)


_PLACEHOLDER_NUMBER = "ENTWURF-OHNE-NUMMER"


def build(draft: DocumentDraft, config: Config, *, numbers: NumberSource | None = None,
          notice_config: Any = None) -> Any:
    """The ``Invoice`` or ``Notice`` of ``draft``. A draft without a number gets the next one of its department's
    number range, and only when it could be built, so a refused draft uses up no number. Raises
    ``DocumentRejected`` with the reasons located on the draft's first row."""
    department = config.department(draft.department)
    try:
        document = _build_invoice(draft, config, department) if draft.kind != DocumentKind.NOTICE else \
            _build_notice(draft, config, department, notice_config)
    except DocumentRejected:
        raise
    except Exception as exc:  # BuildError, CalculationError, NoticeError, pydantic ValidationError
        raise DocumentRejected([_located(draft, exc)]) from exc
    if draft.number is None:
        if department.number_range is None:
            if draft.kind == DocumentKind.NOTICE:
                return document
            raise DocumentRejected([RecordError(
                batch=draft.batch, row=draft.rows[0], problem="der Beleg hat keine Nummer und die Abteilung keinen "
                "Nummernkreis", fix="Nummernkreis (number_range) in der Konfiguration der Abteilung eintragen")])
        if numbers is None:
            raise DocumentRejected([RecordError(batch=draft.batch, row=draft.rows[0], problem="keine Nummernquelle",
                                                fix="build(..., numbers=...) mit dem Nummernkreis-Speicher aufrufen")])
        rng = department.number_range
        document = _renumber(document, numbers.next_number(department.id, rng.prefix, width=rng.width,
                                                           start=rng.start))
    return document


def _renumber(document: Any, number: str) -> Any:
    """``document`` with ``number`` where the placeholder stood (number, Kassenzeichen that defaulted to it)."""
    def swap(value: Any) -> Any:
        return number if value == _PLACEHOLDER_NUMBER else value

    update: dict[str, Any] = {"number": number}
    if getattr(document, "buyer_reference", None) == _PLACEHOLDER_NUMBER:
        update["buyer_reference"] = number
    if hasattr(document, "payment_instructions"):
        update["payment_instructions"] = tuple(
            p.model_copy(update={"remittance_information": swap(p.remittance_information)})
            for p in document.payment_instructions)
    elif getattr(document, "payment", None) is not None:
        update["payment"] = document.payment.model_copy(update={"kassenzeichen": swap(document.payment.kassenzeichen)})
    return document.model_copy(update=update)


def _located(draft: DocumentDraft, exc: BaseException) -> RecordError:
    text = str(exc)
    if isinstance(exc, ValidationError):
        text = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False))
    field_name = getattr(exc, "field", None)  # NoticeError names the field (``assessment.dangerous_rate``)
    column = draft.columns.get(field_name) if isinstance(field_name, str) else None
    return RecordError(batch=draft.batch, row=draft.rows[0], column=column,
                       problem=f"der Beleg lässt sich nicht erstellen: {text}",
                       fix="prüfen Sie die Angaben dieses Belegs in den Quelldaten")


def _register_debit(recipient: Recipient, creditor_id: str | None) -> dict[str, str] | None:
    """The direct debit of a recipient whose register entry holds a SEPA mandate (issue 15), when the municipality
    has a creditor id to collect under; a record's own mandate columns take precedence over it."""
    if recipient.sepa_mandate_id and recipient.iban and creditor_id:
        return {"mandate_reference": recipient.sepa_mandate_id, "debited_account_id": recipient.iban}
    return None


def _build_invoice(draft: DocumentDraft, config: Config, department: Department) -> Any:
    from ..builder import build_invoice, customer, item_line, municipality
    from ..model import DirectDebit, PaymentInstructions

    assert draft.invoice is not None
    data = dict(draft.invoice)
    m, contact = config.municipality, config.contact_of(department)
    seller = municipality(
        m.name, street=m.address.street, post_code=m.address.post_code, city=m.address.city,
        country_code=m.address.country_code, contact_name=contact.name, contact_phone=contact.phone,
        contact_email=contact.email, electronic_address=m.electronic_address,
        electronic_address_scheme=m.electronic_address_scheme if "@" in m.electronic_address else "0204",
        vat_id=m.vat_id, tax_number=m.tax_number, legal_registration_id=m.municipality_key)
    buyer = customer(**{k: v for k, v in data.pop("buyer").items() if v is not None or k == "electronic_address"})
    lines = [item_line(**{k: v for k, v in line.items() if v is not None}) for line in data.pop("lines")]
    number = draft.number or _PLACEHOLDER_NUMBER
    kassenzeichen = data.pop("kassenzeichen") or number
    debit = data.pop("direct_debit") or _register_debit(draft.recipient, m.creditor_id)
    account = config.account_of(department)
    extra: dict[str, Any] = {k: v for k, v in data.items() if v not in (None, [], {}, "")}
    extra.pop("leitweg_id", None)
    if debit:
        extra["payment_means_code"] = "59"
        extra["payment_instructions"] = (PaymentInstructions(
            means_code="59", remittance_information=kassenzeichen,
            direct_debit=DirectDebit(mandate_reference=debit["mandate_reference"], creditor_id=m.creditor_id,
                                     debited_account_id=debit["debited_account_id"])),)
        iban = None
    else:
        iban = account.iban
    return build_invoice(number=number, seller=seller, buyer=buyer, lines=lines,
                         leitweg_id=data.get("leitweg_id") or number, iban=iban, bic=account.bic if iban else None,
                         account_name=account.account_holder if iban else None, kassenzeichen=kassenzeichen,
                         **extra)


def _named_account(config: Config, iban: str | None) -> Any:
    """The municipality's account a record names (``payment.account_iban``: a dunning letter is paid to the
    account of the claim it dunns); None without one. An IBAN that is none of the configured accounts is refused:
    a document never asks for payment to an account the configuration does not know."""
    if not iban:
        return None
    from ..notices import NoticeError

    for account in config.municipality.bank_accounts.values():
        if account.iban.replace(" ", "") == iban.replace(" ", ""):
            return account
    raise NoticeError(f"das Konto {iban} ist keines der Konten der Gemeinde", field="payment.account_iban",
                      fix="tragen Sie das Konto unter [municipality.bank_accounts] ein oder geben Sie eines der "
                          "dort genannten an")


def _build_notice(draft: DocumentDraft, config: Config, department: Department, notice_config: Any) -> Any:
    from ..notices import NoticeDraft, assess

    assert draft.notice is not None
    data = dict(draft.notice)
    m, contact = config.municipality, config.contact_of(department)
    account = _named_account(config, data.pop("account_iban", None)) or config.account_of(department)
    number = draft.number or (_PLACEHOLDER_NUMBER if department.number_range else None)
    kassenzeichen = data.pop("kassenzeichen") or number or data["file_number"]
    data["number"] = number
    data["authority"] = {
        "name": m.name, "head": m.head, "office": department.name,
        "address": {"street": m.address.street, "post_code": m.address.post_code, "city": m.address.city,
                    "country_code": m.address.country_code},
        "phone": contact.phone, "email": contact.email, "website": m.website, "opening_hours": m.opening_hours,
        "municipality_key": m.municipality_key, "electronic_address": m.electronic_address}
    data["payment"] = {"kassenzeichen": kassenzeichen, "accounts": [
        {"iban": account.iban, "bic": account.bic, "bank_name": account.bank_name,
         "account_holder": account.account_holder}]}
    # a dunning letter asks for a transfer: what the mandate would have collected is what stayed unpaid
    debit = None if data.get("kind") == "mahnung" else _register_debit(draft.recipient, m.creditor_id)
    if debit:  # the notice announces the collection (SEPA pre-notification) instead of asking for a transfer
        data["payment"]["direct_debit"] = {"mandate_reference": debit["mandate_reference"],
                                           "creditor_id": m.creditor_id, "debited_iban": debit["debited_account_id"]}
    return assess(NoticeDraft.model_validate(data), notice_config)


@dataclass(frozen=True)
class BuildResult:
    documents: tuple[tuple[DocumentDraft, Any], ...]
    quarantined: tuple[Quarantined, ...]


def build_all(drafts: Iterable[DocumentDraft], config: Config, *, numbers: NumberSource | None = None,
              notice_config: Any = None) -> BuildResult:
    """Every draft built; those the builder refuses quarantined with their reasons (the rest goes on)."""
    built, quarantined = [], []
    for draft in drafts:
        try:
            built.append((draft, build(draft, config, numbers=numbers, notice_config=notice_config)))
        except DocumentRejected as exc:
            quarantined.append(Quarantined(draft.batch, draft.key, draft.rows, exc.errors, draft=draft))
    return BuildResult(tuple(built), tuple(quarantined))


__all__ = ["BuildResult", "CounterNumbers", "DocumentDraft", "DocumentRejected", "FIELDS", "Formats", "KindRule",
           "MappingProfile", "MappingResult", "NumberSource", "ProfileCheck", "Quarantined", "build", "build_all",
           "check_profiles", "load_profile", "load_profiles", "map_batch", "parse_profile"]
