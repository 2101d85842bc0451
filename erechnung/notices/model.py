"""The model of an official notice (Bescheid) of a municipality, as German administrative law shapes it.

A notice is an administrative act in writing (§ 35, § 37 VwVfG; for taxes and levies § 118, § 119, § 157 AO,
which the Länder's Kommunalabgabengesetze (KAG) apply to municipal levies). What the law requires of it is
what this model holds, and every field says which norm asks for it, the way the invoice model names its
EN 16931 business terms: ``Notice.model_fields["file_number"].json_schema_extra["law"]``.

Two layers:

* ``NoticeDraft``: what a specialised procedure (Fachverfahren) hands over: header, addressee, and the
  *facts* of the assessment for one notice kind (number of dogs and the statute's tiers, Messbetrag and
  Hebesatz, fee items and rates).
* ``Notice``: the complete notice, as ``erechnung.notices.calculator.assess`` derives it from a draft: assessment
  items with their amounts, totals rounded to cents, due dates or instalments, the appeal instructions filled
  in from configuration. Its validator re-checks the sums, so a hand-made ``Notice`` cannot disagree with itself.

All amounts are ``Decimal`` in euro; all collections are tuples; every class is frozen.
"""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..model.terms import Frozen

_REQUIRED: Any = ...
CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    """An amount rounded half up to whole cents (the rounding of § 157 AO assessments and of EN 16931)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def law(ref: str, meaning: str, default: Any = _REQUIRED, **kwargs: Any) -> Any:
    """A field that holds what norm ``ref`` requires (``"§ 37 Abs. 3 VwVfG"``, ``"erlassende Behörde"``)."""
    return Field(default, description=f"{meaning} ({ref})", json_schema_extra={"law": ref, "meaning": meaning},
                 **kwargs)


def law_of(model: type[Frozen], field: str) -> str:
    """The norm a field of ``model`` stands for (``Notice.law_of("file_number")``)."""
    return str((model.model_fields[field].json_schema_extra or {}).get("law", ""))


class NoticeError(ValueError):
    """A notice cannot be assessed, rendered or sealed; the message names the field and what to do."""

    def __init__(self, problem: str, *, field: str | None = None, fix: str | None = None) -> None:
        self.problem, self.field, self.fix = problem, field, fix
        text = f"{field}: {problem}" if field else problem
        super().__init__(f"{text} - {fix}" if fix else text)


# ============================================================================================== kinds


class NoticeKind(StrEnum):
    """The kind of notice; it chooses the calculator, the appeal instructions and the wording (configuration)."""

    FEE = "gebuehrenbescheid"  # Verwaltungs-/Benutzungs-/Sondernutzungsgebühr (GebG, KAG, StrWG)
    WASTE_FEES = "abfallgebuehrenbescheid"  # Benutzungsgebühren der Abfallentsorgung (KAG, Abfallgebührensatzung)
    DOG_TAX = "hundesteuerbescheid"  # örtliche Aufwandsteuer (Art. 105 Abs. 2a GG, KAG, Hundesteuersatzung)
    PROPERTY_TAX = "grundsteuerbescheid"  # Realsteuer (GrStG, Hebesatzsatzung; AO unmittelbar, § 1 Abs. 2 AO)
    TRADE_TAX = "gewerbesteuerbescheid"  # Realsteuer (GewStG, Hebesatzsatzung; AO unmittelbar, § 1 Abs. 2 AO)
    DUNNING = "mahnung"  # Zahlungserinnerung/Mahnung der Stadtkasse (§ 259 AO; VwVG und Kostenordnung des Landes)


# ============================================================================================== parties


class Address(Frozen):
    """A German postal address as DIN 5008 prints it in the address window."""

    street: str = law("DIN 5008", "Straße und Hausnummer oder Postfach")
    supplement: str | None = law("DIN 5008", "Adresszusatz (c/o, Gebäudeteil)", None)
    post_code: str = law("DIN 5008", "Postleitzahl")
    city: str = law("DIN 5008", "Ort")
    country_code: str = law("ISO 3166-1", "Staat (Alpha-2), DE wird nicht gedruckt", "DE")


class Authority(Frozen):
    """The issuing authority (Behörde): a written administrative act must show which authority issued it."""

    name: str = law("§ 37 Abs. 3 Satz 1 VwVfG; § 119 Abs. 3 Satz 1 AO", "erlassende Behörde (Körperschaft)")
    head: str | None = law("Gemeindeordnung", "Behördenleitung, unter der die Behörde handelt "
                                              "('Der Bürgermeister')", None)
    office: str = law("Organisationsverfügung", "Amt oder Fachbereich, das den Bescheid bearbeitet")
    address: Address = law("§ 37 Abs. 3 VwVfG", "Anschrift der Behörde (auch für Rechtsbehelfe)")
    phone: str | None = law("DIN 5008", "Telefon der Dienststelle", None)
    email: str | None = law("§ 3a VwVfG", "E-Mail-Adresse der Dienststelle", None)
    website: str | None = law("DIN 5008", "Internetauftritt", None)
    opening_hours: str | None = law("DIN 5008", "Sprechzeiten", None)
    municipality_key: str = law("§ 1 Gemeindeschlüssel (Destatis)", "Amtlicher Gemeindeschlüssel (AGS); in der "
                                "XRechnung die Kennung der Behörde (BT-30), weil hoheitliche Leistungen keine "
                                "USt-IdNr. tragen (BR-O-02, BR-CO-26)")
    electronic_address: str = law("§ 4 E-Rechnungsverordnung; XRechnung BT-34",
                                  "elektronische Adresse der Behörde für Zahlungsforderungen")


class Official(Frozen):
    """The official in charge (Sachbearbeiter/in). A written act carries the signature or the name of the
    head of the authority, a representative or a person acting on their behalf (``Im Auftrag``)."""

    name: str = law("§ 37 Abs. 3 Satz 1 VwVfG; § 119 Abs. 3 Satz 2 AO", "Name der/des Bediensteten")
    phone: str | None = law("DIN 5008", "Durchwahl", None)
    email: str | None = law("DIN 5008", "persönliche dienstliche E-Mail", None)
    room: str | None = law("DIN 5008", "Zimmer", None)
    signs_as: str = law("§ 37 Abs. 3 Satz 1 VwVfG", "Zeichnungsvermerk ('Im Auftrag', 'In Vertretung')",
                        "Im Auftrag")


class Addressee(Frozen):
    """The person the notice is addressed to and the levy is assessed against (Inhalts- und
    Bekanntgabeadressat; for taxes the tax debtor, § 157 Abs. 1 Satz 2 AO)."""

    name: str = law("§ 37 Abs. 1 VwVfG; § 157 Abs. 1 Satz 2 AO", "Adressat/Schuldner (hinreichend bestimmt)")
    address: Address = law("§ 41 VwVfG; § 122 AO", "Anschrift für die Bekanntgabe")
    salutation: str = law("DIN 5008", "Anrede im Brief", "Sehr geehrte Damen und Herren,")
    customer_number: str | None = law("Kassenwesen", "Personenkonto/Kundennummer bei der Stadtkasse", None)
    electronic_address: str | None = law("XRechnung BT-49", "elektronische Adresse (E-Mail) für die eingebettete "
                                         "Zahlungsforderung", None)


# ============================================================================================== assessment


class AssessmentItem(Frozen):
    """One line of the assessment (Festsetzung): the levy, its basis, the rate, the amount."""

    description: str = law("§ 157 Abs. 1 Satz 2 AO", "festgesetzte Abgabe nach Art und Zeitraum")
    basis: Decimal = law("§ 157 Abs. 1 Satz 2 AO; Satzung", "Bemessungsgrundlage (Anzahl Hunde, "
                         "Grundsteuermessbetrag in €, Behältervolumen, Tage)")
    basis_unit: str = law("Satzung", "Einheit der Bemessungsgrundlage ('Hund', '€', 'Tag', 'l')")
    rate: Decimal = law("Satzung; § 25 GrStG", "Steuersatz, Gebührensatz oder Hebesatz")
    rate_unit: str = law("Satzung", "Einheit des Satzes ('€ je Hund und Jahr', '%', '€ je Tag')")
    rate_is_percent: bool = law("§ 25 GrStG", "Satz ist ein Hundertsatz (Hebesatz): Betrag = Basis × Satz / 100",
                                False)
    months: int | None = law("Satzung (Beginn/Ende der Steuerpflicht)", "Monate im Jahr, für die die Abgabe "
                             "anteilig entsteht (Betrag × Monate / 12)", None, ge=1, le=12)
    amount: Decimal = law("§ 157 Abs. 1 Satz 2 AO", "festgesetzter Betrag, auf Cent gerundet")

    def expected_amount(self) -> Decimal:
        """basis × rate (÷ 100 for a Hebesatz) (× months / 12), rounded half up to cents."""
        value = self.basis * self.rate
        if self.rate_is_percent:
            value /= 100
        if self.months is not None:
            value = value * self.months / 12
        return cents(value)


class Instalment(Frozen):
    """A due date with the amount due then (Fälligkeit; for property tax § 28 GrStG)."""

    due_date: date = law("§ 28 GrStG; § 220 AO; Satzung", "Fälligkeitstag")
    amount: Decimal = law("§ 28 GrStG", "an diesem Tag fälliger Betrag")


class BankAccount(Frozen):
    """An account of the municipal treasury (Stadtkasse) for payment."""

    iban: str = law("SEPA-Verordnung (EU) 260/2012", "IBAN")
    bic: str | None = law("SEPA-Verordnung (EU) 260/2012", "BIC", None)
    bank_name: str | None = law("Kassenwesen", "Kreditinstitut", None)
    account_holder: str | None = law("Kassenwesen", "Kontoinhaber ('Stadtkasse Musterstadt')", None)

    @field_validator("iban")
    @classmethod
    def _iban(cls, value: str) -> str:
        from ..builder import BuildError, normalize_iban

        try:
            return normalize_iban(value)
        except BuildError as exc:
            raise ValueError(str(exc)) from exc


class DirectDebit(Frozen):
    """The debtor's SEPA mandate: the notice then announces the collection (pre-notification) instead of asking
    for a transfer (issue 15)."""

    mandate_reference: str = law("SEPA Core Direct Debit Rulebook; XRechnung BT-89", "Mandatsreferenz",
                                 max_length=35)
    creditor_id: str = law("SEPA Core Direct Debit Rulebook; XRechnung BT-90", "Gläubiger-Identifikationsnummer")
    debited_iban: str = law("SEPA Core Direct Debit Rulebook; XRechnung BT-91", "belastetes Konto (IBAN)")

    @field_validator("debited_iban")
    @classmethod
    def _iban(cls, value: str) -> str:
        return BankAccount._iban(value)


class Payment(Frozen):
    """How to pay: the Kassenzeichen identifies the claim at the treasury and must go with every payment."""

    kassenzeichen: str = law("Kommunale Kassenverordnung; XRechnung BT-83", "Kassenzeichen (Verwendungszweck)")
    accounts: tuple[BankAccount, ...] = law("Kassenwesen", "Bankverbindungen der Stadtkasse", min_length=1)
    direct_debit: DirectDebit | None = law("SEPA Core Direct Debit Rulebook", "SEPA-Lastschrift mit Mandat", None)


class Period(Frozen):
    """The assessment period (Veranlagungs-/Erhebungszeitraum, e.g. the calendar year)."""

    start: date = law("§ 9 GrStG; Satzung", "Beginn")
    end: date = law("§ 9 GrStG; Satzung", "Ende")


# ---------------------------------------------------------------------------------------------- assessment facts


class FeeItemInput(Frozen):
    """A fee position as the fee schedule (Gebührentarif) states it: quantity × rate."""

    description: str = law("GebG/KAG; Gebührentarif", "Gebührentatbestand (Tarifstelle)")
    quantity: Decimal = law("Gebührentarif", "Menge (Tage, m², Leerungen, Stück)")
    unit: str = law("Gebührentarif", "Einheit der Menge")
    rate: Decimal = law("Gebührentarif", "Gebührensatz je Einheit")
    rate_unit: str | None = law("Gebührentarif", "Einheit des Satzes (Standard: '€ je <Einheit>')", None)
    months: int | None = law("Satzung", "anteilige Monate eines Jahressatzes", None, ge=1, le=12)


class FeeAssessment(Frozen):
    """Facts of a fee notice: positions from the fee schedule (Gebührenbescheid, Abfallgebührenbescheid)."""

    items: tuple[FeeItemInput, ...] = law("§ 4 ff. KAG; Gebührensatzung", "Gebührenpositionen", min_length=1)


class Dog(Frozen):
    """A dog kept in the household (Steuergegenstand nach der Hundesteuersatzung)."""

    name: str = law("Hundesteuersatzung", "Rufname oder Steuermarke des Hundes")
    dangerous: bool = law("Hundesteuersatzung; LHundG", "gefährlicher Hund (eigener, erhöhter Steuersatz)", False)
    months: int = law("Hundesteuersatzung (Beginn/Ende der Steuerpflicht)", "steuerpflichtige Monate im Jahr",
                      12, ge=1, le=12)


class DogTaxAssessment(Frozen):
    """Facts of a dog tax notice: the dogs and the statute's tiered annual rates."""

    year: int = law("Hundesteuersatzung", "Kalenderjahr (Erhebungszeitraum)")
    dogs: tuple[Dog, ...] = law("Hundesteuersatzung", "gehaltene Hunde, in der Reihenfolge der Anmeldung",
                                min_length=1)
    tiers: tuple[Decimal, ...] = law("Hundesteuersatzung (Steuersatz)", "Jahressteuer für den 1., 2., 3. ... Hund; "
                                     "der letzte Satz gilt für jeden weiteren Hund", min_length=1)
    dangerous_rate: Decimal | None = law("Hundesteuersatzung", "Jahressteuer je gefährlichen Hund", None)


class PropertyTaxAssessment(Frozen):
    """Facts of a property tax notice: Messbetrag from the tax office, Hebesatz from the municipality."""

    year: int = law("§ 9, § 27 GrStG", "Kalenderjahr, für das die Grundsteuer festgesetzt wird")
    tax_type: Literal["A", "B", "C"] = law("§ 25 Abs. 4, 5 GrStG", "Grundsteuer A (land- und forstwirtschaftlich), "
                                           "B (Grundstücke) oder C (baureife Grundstücke)", "B")
    property: str = law("§ 2 GrStG", "Steuergegenstand (Lage, Flur/Flurstück)")
    tax_office_file_number: str | None = law("§ 184 AO", "Aktenzeichen des Finanzamts (Messbescheid)", None)
    messbetrag: Decimal = law("§ 13 GrStG; § 184 AO", "Grundsteuermessbetrag in € laut Messbescheid")
    hebesatz: Decimal = law("§ 25 GrStG; Hebesatzsatzung", "Hebesatz in %")
    small_amount_rule: bool = law("§ 28 Abs. 2 GrStG", "Gemeinde hat Kleinbetragsfälligkeiten bestimmt "
                                  "(≤ 15 € am 15.8.; ≤ 30 € je zur Hälfte am 15.2. und 15.11.)", True)
    annual_payment: bool = law("§ 28 Abs. 3 GrStG", "auf Antrag: Jahresbetrag in einem Betrag am 1. Juli", False)


class TradeTaxAssessment(Frozen):
    """Facts of a trade tax notice (Gewerbesteuerbescheid), which the municipality issues where the Land leaves
    assessment and collection to it (as in NRW; § 1 GewStG, § 16 GewStG): the Messbetrag comes from the tax office's
    Gewerbesteuermessbescheid (§ 14 GewStG, § 184 AO) and binds the municipality (§ 182 Abs. 1 AO), the
    Hebesatz from the municipality's Hebesatzsatzung. ``prepayments``: a notice of the prepayments for ``year``
    (§ 19 GewStG), else the assessment of the tax for ``year`` (Abschlusszahlung, § 20 GewStG)."""

    year: int = law("§ 14 GewStG", "Erhebungszeitraum (Kalenderjahr)")
    business: str = law("§ 2 GewStG", "Steuergegenstand: der Gewerbebetrieb (Name, Betriebsstätte)")
    tax_office_file_number: str | None = law("§ 184 AO", "Steuernummer/Aktenzeichen des Finanzamts (Messbescheid)",
                                             None)
    messbetrag: Decimal = law("§ 14 GewStG; § 184 AO", "Gewerbesteuermessbetrag in € laut Messbescheid", ge=0)
    hebesatz: Decimal = law("§ 16 GewStG; Hebesatzsatzung", "Hebesatz in % (mindestens 200 %, § 16 Abs. 4 GewStG)",
                            ge=200)
    prepayments: bool = law("§ 19 GewStG", "Bescheid über die Vorauszahlungen des Jahres (sonst: Festsetzung der "
                            "Jahressteuer, § 20 GewStG)", True)


#: The facts each notice kind needs (the others: fee positions).
FACTS: dict[NoticeKind, type[Frozen]] = {NoticeKind.DOG_TAX: DogTaxAssessment,
                                         NoticeKind.PROPERTY_TAX: PropertyTaxAssessment,
                                         NoticeKind.TRADE_TAX: TradeTaxAssessment}


class AmendedNotice(Frozen):
    """The notice a notice changes (Änderungsbescheid): it takes that one's place for the same matter."""

    number: str = law("§ 37 Abs. 1 VwVfG (Bestimmtheit)", "Nummer bzw. Kassenzeichen des geänderten Bescheids")
    issue_date: date = law("§ 37 Abs. 1 VwVfG (Bestimmtheit)", "Datum des geänderten Bescheids")


# ============================================================================================== draft and notice


class _Header(Frozen):
    """What every notice states, draft and complete alike."""

    kind: NoticeKind = law("Satzung", "Art des Bescheids")
    number: str | None = law("Kassenwesen", "Bescheidnummer (Standard: das Kassenzeichen); Rechnungsnummer "
                             "der eingebetteten Zahlungsforderung", None)
    file_number: str = law("§ 37 Abs. 1 VwVfG (Bestimmtheit); Aktenordnung", "Aktenzeichen")
    issue_date: date = law("§ 37 VwVfG; § 122 AO", "Datum des Bescheids (Bekanntgabe folgt, § 41 VwVfG/§ 122 AO)")
    subject: str = law("§ 37 Abs. 1 VwVfG", "Gegenstand ('Hundesteuer 2026'); gedruckt als 'Bescheid über ...'")
    authority: Authority = law("§ 37 Abs. 3 VwVfG; § 119 Abs. 3 AO", "erlassende Behörde")
    official: Official = law("§ 37 Abs. 3 VwVfG; § 119 Abs. 3 AO", "zuständige/r Bedienstete/r")
    addressee: Addressee = law("§ 37 Abs. 1 VwVfG; § 157 AO", "Adressat")
    legal_basis: tuple[str, ...] = law("§ 39 Abs. 1 VwVfG; § 121 AO (Begründung)", "Rechtsgrundlagen "
                                       "('§ 1, § 5 Hundesteuersatzung der Stadt Musterstadt', 'KAG NRW')",
                                       min_length=1)
    reasons: tuple[str, ...] = law("§ 39 Abs. 1 VwVfG; § 121 Abs. 1 AO", "Begründung/Erläuterungen", ())
    payment: Payment | None = law("§ 220 AO; Kassenwesen", "Zahlungsweg; nötig, wenn zu zahlen ist", None)
    already_paid: Decimal = law("§ 31 GrStG; § 218 AO", "bereits entrichtete/angerechnete Beträge (Soll-Ist)",
                                Decimal("0"))
    automated: bool = law("§ 35a VwVfG; § 155 Abs. 4 AO", "vollständig automatisiert erlassen (Hinweis wird "
                          "gedruckt)", False)
    amends: AmendedNotice | None = law("§§ 48, 49 VwVfG; §§ 172 ff. AO", "der Bescheid, den dieser ändert "
                                       "(Änderungsbescheid); None: ein erster Bescheid", None)


class NoticeDraft(_Header):
    """A notice as a specialised procedure hands it over: the facts of the assessment, nothing computed."""

    assessment: FeeAssessment | DogTaxAssessment | PropertyTaxAssessment | TradeTaxAssessment = law(
        "§ 157 AO; Satzung", "Tatsachen der Festsetzung, je nach Art des Bescheids")
    due_date: date | None = law("§ 220 AO; Satzung", "Fälligkeit (ohne Angabe: ein Monat nach Bescheiddatum); "
                                "Grundsteuer: § 28 GrStG; Gewerbesteuer-Vorauszahlungen: § 19 GewStG", None)

    @model_validator(mode="before")
    @classmethod
    def _assessment_of_kind(cls, data: Any) -> Any:
        """Read ``assessment`` as the facts the notice kind needs (a dog tax notice needs dogs and tiers)."""
        if isinstance(data, dict) and isinstance(data.get("assessment"), dict):
            kind = NoticeKind(data.get("kind"))
            facts = FACTS.get(kind, FeeAssessment)
            data = {**data, "assessment": facts.model_validate(data["assessment"])}
        return data

    @model_validator(mode="after")
    def _kind_matches(self) -> NoticeDraft:
        expected = FACTS.get(self.kind, FeeAssessment)
        if not isinstance(self.assessment, expected):
            raise ValueError(f"assessment: a {self.kind.value} needs {expected.__name__}, "
                             f"not {type(self.assessment).__name__}")
        return self


class Notice(_Header):
    """The complete notice: assessment, totals, due dates and the texts, consistent with each other."""

    period: Period | None = law("§ 9 GrStG; Satzung", "Veranlagungszeitraum", None)
    items: tuple[AssessmentItem, ...] = law("§ 157 Abs. 1 Satz 2 AO", "Festsetzung", min_length=1)
    total: Decimal = law("§ 157 Abs. 1 Satz 2 AO", "festgesetzter Gesamtbetrag (Summe der Positionen)")
    balance: Decimal = law("§ 218 AO", "noch zu zahlen (> 0) oder zu erstatten (< 0): total - already_paid")
    instalments: tuple[Instalment, ...] = law("§ 28 GrStG; § 220 AO", "Fälligkeiten des zu zahlenden Betrags", ())
    appeal_instructions: str = law("§ 37 Abs. 6 VwVfG; § 58 VwGO; § 356 AO", "Rechtsbehelfsbelehrung")
    automation_note: str | None = law("§ 35a, § 37 Abs. 5 VwVfG; § 155 Abs. 4, § 119 Abs. 3 AO",
                                      "Hinweis auf den automatisierten Erlass", None)
    remarks: tuple[str, ...] = law("Satzung", "Hinweise (Dauerbescheid, Zahlungsweise)", ())

    @property
    def payment_due(self) -> bool:
        """Whether the notice demands a payment (and so carries a structured claim)."""
        return self.balance > 0

    @property
    def reference(self) -> str:
        """The notice's number: given, else the Kassenzeichen, else the file number."""
        return self.number or (self.payment.kassenzeichen if self.payment else self.file_number)

    @model_validator(mode="after")
    def _consistent(self) -> Notice:
        for i, item in enumerate(self.items):
            if item.amount != item.expected_amount():
                raise ValueError(f"items[{i}].amount {item.amount} is not basis × rate = {item.expected_amount()}")
        if self.total != sum((i.amount for i in self.items), Decimal("0")):
            raise ValueError(f"total {self.total} is not the sum of the items")
        if self.balance != self.total - self.already_paid:
            raise ValueError(f"balance {self.balance} is not total - already_paid")
        if self.payment_due:
            if self.payment is None:
                raise ValueError("payment: a notice that demands payment needs the Kassenzeichen and an account")
            if not self.instalments:
                raise ValueError("instalments: a notice that demands payment needs at least one due date")
            if sum((i.amount for i in self.instalments), Decimal("0")) != self.balance:
                raise ValueError(f"instalments add up to {sum(i.amount for i in self.instalments)}, "
                                 f"not the balance {self.balance}")
        elif self.instalments:
            raise ValueError("instalments: nothing is to be paid, so there are no due dates")
        return self
