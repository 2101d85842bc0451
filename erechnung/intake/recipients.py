"""The recipient register (``model.recipients``) imported from CSV, with the same row errors as a batch, and the
recipient of a finished invoice delivered as it is.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import RecordError
from ..model import identifiers
from ..model.delivery import Channel
from ..model.recipients import (CHANNEL_ADDRESS, MANDATE_ID, Consent, OptOut, Recipient, RecipientKind,
                                RecipientRegister)
from . import values
from .formats import read_batch


def recipient_of_invoice(invoice: Any, register: RecipientRegister, fallback_ref: str) -> tuple[str, Recipient]:
    """The recipient of a finished invoice (passed through as delivered): the register's entry when BT-10 (buyer
    reference) is a customer number or a public body's Leitweg-ID in the register, or BT-46 (buyer identifier)
    is a customer number; else a recipient made from BG-7 itself (BT-44 name, BG-8 address, BT-49 electronic
    address: a Leitweg-ID (EAS 0204) makes it a public body reached by Peppol, an e-mail address (EM) a company
    reached by e-mail), stored under ``fallback_ref``. Returns (customer number, recipient)."""
    buyer = invoice.buyer
    candidates = [invoice.buyer_reference, buyer.identifier.value if buyer.identifier else None]
    for ref in candidates:
        if ref and register.get(ref) is not None:
            return ref.strip(), register.get(ref)  # type: ignore[return-value]
    leitweg = None
    if buyer.electronic_address and buyer.electronic_address.scheme_id == "0204":
        leitweg = buyer.electronic_address.value
    for r in register:
        if r.leitweg_id and r.leitweg_id in (leitweg, invoice.buyer_reference):
            return r.customer_number, r
    email = buyer.electronic_address.value if buyer.electronic_address and \
        buyer.electronic_address.scheme_id == "EM" else None
    a = buyer.address
    street = a.line1 or a.line2 or "–"
    channels = [Channel.PEPPOL] if leitweg else [Channel.EMAIL] if email else []
    return fallback_ref, Recipient(
        customer_number=fallback_ref, kind=RecipientKind.PUBLIC_BODY if leitweg else RecipientKind.COMPANY,
        name=buyer.name, street=street, supplement=a.line2 if a.line1 and a.line2 else None,
        post_code=a.post_code or "", city=a.city or "–", country_code=a.country_code, email=email,
        leitweg_id=leitweg, vat_id=buyer.vat_id, channels=tuple(channels) + (Channel.PRINT,))


# ============================================================================================== CSV import

#: CSV column -> field; German headers as the Finanzverfahren exports them, and the field names themselves.
COLUMNS: Mapping[str, str] = {
    "kundennummer": "customer_number", "personenkonto": "customer_number", "art": "kind",
    "name": "name", "anrede": "salutation", "straße": "street", "strasse": "street", "adresszusatz": "supplement",
    "plz": "post_code", "ort": "city", "land": "country_code", "e-mail": "email", "email": "email",
    "bundid-postfach": "bundid_postbox", "bundid": "bundid_postbox", "mailboxuuid": "bundid_postbox",
    "elster-konto": "elster_account", "elster": "elster_account", "leitweg-id": "leitweg_id",
    "peppol-id": "peppol_id", "ust-idnr": "vat_id", "ust-idnr.": "vat_id", "kanäle": "channels",
    "kanaele": "channels", "einwilligungen": "consents", "sepa-mandat": "sepa_mandate_id",
    "mandatsreferenz": "sepa_mandate_id", "mandatsdatum": "sepa_mandate_date", "iban": "iban", "bic": "bic",
    # consents and objections with their day and source (README, "Einwilligung und Widerspruch")
    **{f"einwilligung{sep}{what}": field for sep in ("s", "-", "_", " ")
       for what, field in (("datum", "consent_date"), ("quelle", "consent_source"))},
    "widerspruch": "opt_outs", "widersprüche": "opt_outs", "widersprueche": "opt_outs",
    **{f"widerspruch{sep}{what}": field for sep in ("s", "-", "_", " ")
       for what, field in (("datum", "opt_out_date"), ("quelle", "opt_out_source"))},
    **{f: f for f in Recipient.model_fields},
}
_KINDS = {"bürger": "citizen", "buerger": "citizen", "bürgerin": "citizen", "privat": "citizen",
          "unternehmen": "company", "firma": "company", "behörde": "public_body", "behoerde": "public_body",
          "öffentliche stelle": "public_body", **{k.value: k.value for k in RecipientKind}}
_CHANNELS = {"post": "print", "brief": "print", "druck": "print", "e-mail": "email", "mail": "email",
             **{c.value: c.value for c in Channel}}
_CONSENTS = {"e-mail-rechnung": "email_invoices", "abruf": "notice_retrieval", "abruf-bescheide": "notice_retrieval",
             "§ 41 abs. 2a vwvfg": "notice_retrieval", **{c.value: c.value for c in Consent}}
#: Widerspruch: what the objection covers (every electronic notice, or one postbox)
_OPT_OUTS = {"alle": "notice_retrieval", "abruf": "notice_retrieval", "elektronisch": "notice_retrieval",
             "postfach": "notice_retrieval", "bundid": "bundid", "bundid-postfach": "bundid", "elster": "elster",
             "elster-postfach": "elster", **{o.value: o.value for o in OptOut}}
_LIST = re.compile(r"[,|/ ]+")



def _mandate_id(text: str) -> str:
    if not MANDATE_ID.fullmatch(text):
        raise RecordError(value=text, problem="keine gültige Mandatsreferenz (höchstens 35 Zeichen: Buchstaben, "
                                              "Ziffern und + ? / - : ( ) . , ' ohne Leerzeichen und Umlaute)",
                          fix="übernehmen Sie die Mandatsreferenz genau wie auf dem unterschriebenen Mandat, "
                              "z. B. M-2026-000117")
    return text


_VALUE_CHECKS = {"post_code": None, "email": identifiers.parse_email, "leitweg_id": identifiers.parse_leitweg_id,
                 "bundid_postbox": values.parse_uuid, "vat_id": identifiers.parse_vat_id,
                 "iban": identifiers.parse_iban, "bic": identifiers.parse_bic, "sepa_mandate_id": _mandate_id,
                 "sepa_mandate_date": values.parse_date, "consent_date": values.parse_date,
                 "opt_out_date": values.parse_date}


@dataclass(frozen=True)
class RecipientImport:
    register: RecipientRegister
    errors: tuple[RecordError, ...]


def _codes(text: str, table: Mapping[str, str], what: str, column: str) -> list[str]:
    out = []
    for part in (p for p in _LIST.split(text.strip().lower()) if p):
        if part not in table:
            raise RecordError(column=column, value=text, problem=f"{part!r} ist kein bekannter Wert für {what}",
                              fix="erlaubt: " + ", ".join(sorted(set(table.values()))))
        out.append(table[part])
    return out


def recipient_from_fields(fields: Mapping[str, str], columns: Mapping[str, str] | None = None) -> Recipient:
    """A recipient from text fields keyed by field name; ``columns`` names the column of each field for errors.
    Raises RecordError (the first problem) or a list of them via ``RecipientProblems``."""
    columns = columns or {f: f for f in fields}
    errors: list[RecordError] = []
    data: dict[str, Any] = {}
    for field, text in fields.items():
        text = text.strip()
        column = columns.get(field, field)
        if not text:
            continue
        try:
            if field == "kind":
                data[field] = _codes(text, _KINDS, "die Art", column)[0]
            elif field == "channels":
                data[field] = tuple(_codes(text, _CHANNELS, "die Kanäle", column))
            elif field == "consents":
                data[field] = frozenset(_codes(text, _CONSENTS, "die Einwilligungen", column))
            elif field == "opt_outs":
                data[field] = frozenset(_codes(text, _OPT_OUTS, "den Widerspruch", column))
            elif field == "post_code":
                data[field] = identifiers.parse_post_code(text, fields.get("country_code", "").strip() or "DE")
            elif field in _VALUE_CHECKS and _VALUE_CHECKS[field]:
                data[field] = _VALUE_CHECKS[field](text)
            else:
                data[field] = text
        except RecordError as exc:
            errors.append(exc.at(column=column, value=text))
    for required, what, whom in (("customer_number", "die Kundennummer", "die Kundennummer"),
                                 ("name", "der Name", "den Namen"), ("street", "Straße und Hausnummer",
                                                                     "Straße und Hausnummer"),
                                 ("post_code", "die Postleitzahl", "die Postleitzahl"), ("city", "der Ort", "den Ort")):
        if required not in data and not any(e.column == columns.get(required, required) for e in errors):
            errors.append(RecordError(column=columns.get(required, required), value="",
                                      problem=f"{what} fehlt", fix=f"tragen Sie {whom} des Empfängers ein"))
    for channel in data.get("channels", ()):
        need = CHANNEL_ADDRESS[Channel(channel)]
        if need and not any(data.get(f) for f in need) and not any(
                e.column in (columns.get(f, f) for f in need) for e in errors):
            what = " oder ".join(columns.get(f, f) for f in need)
            errors.append(RecordError(column=columns.get("channels", "channels"), value=fields.get("channels", ""),
                                      problem=f"der Kanal {channel} ist gewählt, aber {what} fehlt",
                                      fix=f"tragen Sie {what} ein oder streichen Sie den Kanal"))
    if data.get("sepa_mandate_id"):
        for needed, what in (("sepa_mandate_date", "das Mandatsdatum"), ("iban", "die IBAN")):
            if needed not in data and not any(e.column == columns.get(needed, needed) for e in errors):
                errors.append(RecordError(column=columns.get(needed, needed), value="",
                                          problem=f"ein SEPA-Mandat ist angegeben, aber {what} fehlt",
                                          fix=f"tragen Sie {what} aus dem unterschriebenen Mandat ein"))
    errors += _dated_without_what(data, fields, columns, errors)
    if errors:
        raise RecipientProblems(errors)
    try:
        return Recipient.model_validate(data)
    except ValueError as exc:  # pragma: no cover - every rule of the model is checked above
        raise RecipientProblems([RecordError(problem=f"ungültige Angaben: {exc}", fix="prüfen Sie die Zeile")]) \
            from None


def _dated_without_what(data: Mapping[str, Any], fields: Mapping[str, str], columns: Mapping[str, str],
                        errors: list[RecordError]) -> list[RecordError]:
    """A consent's or an objection's day or source stands beside it: one without it is a row error (what is
    dated is unknown, and the pipeline would have to guess)."""
    out = []
    for what, header, name, dated in (
            ("consents", "Einwilligungen", "eine Einwilligung", ("consent_date", "consent_source")),
            ("opt_outs", "Widerspruch", "ein Widerspruch", ("opt_out_date", "opt_out_source"))):
        header = columns.get(what, header)
        if what in data or any(e.column == header for e in errors):
            continue
        for field in dated:
            if field in data:
                column = columns.get(field, field)
                out.append(RecordError(column=column, value=fields.get(field, "").strip(),
                                       problem=f"{column} ist angegeben, aber {name} nicht ({header} ist leer)",
                                       fix=f"tragen Sie in {header} ein, worauf sich {column} bezieht, oder "
                                           "löschen Sie den Wert"))
    return out


class RecipientProblems(RecordError):
    """Several problems with one recipient (``errors``); the first is this error's own text."""

    def __init__(self, errors: list[RecordError]) -> None:
        self.errors = tuple(errors)
        first = errors[0]
        super().__init__(problem=first.problem, fix=first.fix, batch=first.batch, row=first.row,
                         column=first.column, value=first.value)


def import_recipients_csv(data: bytes, name: str = "empfaenger.csv", *, encoding: str = "auto",
                          delimiter: str = "auto") -> RecipientImport:
    """The register from a CSV (headers as in ``COLUMNS``: ``Kundennummer;Art;Name;Straße;PLZ;Ort;E-Mail;...``).
    Every bad row is left out with its errors (row, column, value, problem, fix); the rest is imported."""
    batch = read_batch(data, name, format="csv", encoding=encoding, delimiter=delimiter)
    if not batch.ok:
        return RecipientImport(RecipientRegister(), batch.errors)
    unknown = [c for c in batch.columns if c.lower() not in COLUMNS]
    if unknown:
        return RecipientImport(RecipientRegister(), (RecordError(
            batch=name, column=unknown[0], problem=f"unbekannte Spalte {unknown[0]!r}",
            fix="erlaubt: Kundennummer, Art, Name, Anrede, Straße, Adresszusatz, PLZ, Ort, Land, E-Mail, "
                "BundID-Postfach, ELSTER-Konto, Leitweg-ID, Peppol-ID, USt-IdNr, Kanäle, Einwilligungen, "
                "Einwilligungsdatum, Einwilligungsquelle, Widerspruch, Widerspruchsdatum, Widerspruchsquelle, "
                "SEPA-Mandat, Mandatsdatum, IBAN, BIC"),))
    field_of = {c: COLUMNS[c.lower()] for c in batch.columns}
    columns = {f: c for c, f in field_of.items()}
    recipients: list[Recipient] = []
    left_out: list[tuple[str, int]] = []
    seen: dict[str, int] = {}
    errors: list[RecordError] = list(batch.errors)
    for record in batch.records:
        if record.problems:
            continue
        fields = {field_of[c]: v for c, v in record.fields.items()}
        try:
            recipient = recipient_from_fields(fields, columns)
        except RecipientProblems as exc:
            errors += [e.at(batch=name, row=record.row) for e in exc.errors]
            if (fields.get("customer_number") or "").strip():
                left_out.append((fields["customer_number"].strip(), record.row))
            continue
        if recipient.customer_number in seen:
            errors.append(RecordError(batch=name, row=record.row, column=columns["customer_number"],
                                      value=recipient.customer_number,
                                      problem=f"die Kundennummer steht schon in Zeile {seen[recipient.customer_number]}",
                                      fix="jede Kundennummer darf nur einmal vorkommen"))
            continue
        seen[recipient.customer_number] = record.row
        recipients.append(recipient)
    return RecipientImport(RecipientRegister(tuple(recipients), tuple(left_out)), tuple(errors))


def register_of(recipients: Iterable[Recipient]) -> RecipientRegister:
    return RecipientRegister(tuple(recipients))
